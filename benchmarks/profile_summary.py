"""Summarise a py-spy raw profile (collapsed stacks) of the benchmark: share of samples by where they were spent."""

import sys
from collections import Counter
from pathlib import Path

CATEGORIES = [  # first match wins: (label, substring of the collapsed stack)
    ("Dagster run creation: per-partition planned events", "_log_asset_planned_events"),
    ("Dagster event writes (store_event)", "store_event"),
    ("our atomic file writes (fsync)", "atomic_target"),
    ("validation", "validate_extraction"),
    ("extraction (Claude client, SDK, JSON)", "extract ("),
    ("Dagster run: other", "dagster_run (bench_extraction.py"),
]


def main(path: str) -> None:
    counts: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        label = next((name for name, marker in CATEGORIES if marker in stack), "outside the Dagster runs / idle")
        counts[label] += samples
    for label, samples in counts.most_common():
        print(f"{samples / total * 100:5.1f}%  {label}")


if __name__ == "__main__":
    main(sys.argv[1])
