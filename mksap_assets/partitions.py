"""One dynamic partition per question id, kept in the Dagster instance."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

question_partitions = dg.DynamicPartitionsDefinition(name="question")

# Range runs are cut into chunks of at most this many questions.
MAX_KEYS_PER_RUN = 500


def new_partition_keys(discovered: Iterable[str], existing: Iterable[str]) -> list[str]:
    """Keys to add, sorted, so that insertion order (which defines ranges) follows question-id order."""
    known = set(existing)
    return sorted(key for key in set(discovered) if key not in known)


def contiguous_ranges(ordered_keys: list[str], wanted: set[str], max_len: int = MAX_KEYS_PER_RUN) -> list[tuple[str, str]]:
    """(first, last) pairs covering the wanted keys in partition order, each at most max_len keys long."""
    ranges: list[tuple[str, str]] = []
    run: list[str] = []
    for key in ordered_keys:
        if key in wanted and len(run) < max_len:
            run.append(key)
            continue
        if run:
            ranges.append((run[0], run[-1]))
        run = [key] if key in wanted else []
    if run:
        ranges.append((run[0], run[-1]))
    return ranges


def range_tags(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
