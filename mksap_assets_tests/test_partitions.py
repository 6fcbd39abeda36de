from mksap_assets.partitions import (
    QUESTIONS_TAG,
    QuestionRun,
    contiguous_ranges,
    new_partition_keys,
    question_runs,
    run_config,
    run_tags,
)


def test_new_keys_are_sorted_and_exclude_existing():
    assert new_partition_keys(["c", "a", "b", "a"], ["b"]) == ["a", "c"]


def test_contiguous_ranges_follow_partition_order_and_cap_length():
    ordered = ["a", "b", "c", "d", "e", "f"]
    assert contiguous_ranges(ordered, {"a", "b", "d", "e", "f"}) == [("a", "b"), ("d", "f")]
    assert contiguous_ranges(ordered, set(ordered), max_len=4) == [("a", "d"), ("e", "f")]
    assert contiguous_ranges(ordered, set()) == []
    assert contiguous_ranges(ordered, {"f"}) == [("f", "f")]


def test_contiguous_stretches_stay_range_runs():
    ordered = [f"q{i:02d}" for i in range(20)]
    assert question_runs(ordered, set(ordered), max_len=8) == [
        QuestionRun("q00", "q07"), QuestionRun("q08", "q15"), QuestionRun("q16", "q19")]
    # three separate edits: three small runs, each of which Dagster marks failed on its own if it fails
    assert question_runs(ordered, {"q01", "q09", "q15"}) == [
        QuestionRun("q01", "q01"), QuestionRun("q09", "q09"), QuestionRun("q15", "q15")]


def test_a_scattered_set_becomes_covering_runs_that_list_their_questions():
    ordered = [f"q{i:04d}" for i in range(2198)]
    scattered = set(ordered[::7][:300])  # 300 questions spread over 2,198 partitions: 300 ranges
    [run] = question_runs(ordered, scattered)
    assert (run.first, run.last) == ("q0000", ordered[299 * 7]) and list(run.questions) == sorted(scattered)
    assert run_tags(run)[QUESTIONS_TAG] == "300 listed in the run config"
    assert run_config(run) == {"ops": {"question_assets": {"config": {"questions": sorted(scattered)}}}}
    chunked = question_runs(ordered, scattered, max_len=128)
    assert [len(r.questions) for r in chunked] == [128, 128, 44]
    assert [k for r in chunked for k in r.questions] == sorted(scattered)
    assert run_config(QuestionRun("a", "b")) == {} and QUESTIONS_TAG not in run_tags(QuestionRun("a", "b"))
