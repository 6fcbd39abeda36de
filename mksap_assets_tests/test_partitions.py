from mksap_assets.partitions import contiguous_ranges, new_partition_keys


def test_new_keys_are_sorted_and_exclude_existing():
    assert new_partition_keys(["c", "a", "b", "a"], ["b"]) == ["a", "c"]


def test_contiguous_ranges_follow_partition_order_and_cap_length():
    ordered = ["a", "b", "c", "d", "e", "f"]
    assert contiguous_ranges(ordered, {"a", "b", "d", "e", "f"}) == [("a", "b"), ("d", "f")]
    assert contiguous_ranges(ordered, set(ordered), max_len=4) == [("a", "d"), ("e", "f")]
    assert contiguous_ranges(ordered, set()) == []
    assert contiguous_ranges(ordered, {"f"}) == [("f", "f")]
