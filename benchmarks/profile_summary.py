"""Summarise a py-spy raw profile (collapsed stacks) of the benchmark: share of samples by where they were spent.

With `py-spy record --subprocesses --gil` (`make profile`) a sample is a thread running Python code in one of the
benchmark's processes, so the shares are shares of the CPU time those processes spent in Python."""

import sys
from collections import Counter
from pathlib import Path

CATEGORIES = [  # first match wins: (label, substring of the collapsed stack)
    ("Dagster run creation: per-partition planned events", "_log_asset_planned_events"),
    ("Dagster event writes (store_event)", "store_event"),
    ("the fake API (a separate process standing in for Anthropic's servers)", "fake_api.py"),
    ("validation: spaCy parse (tokenizer, sentences, negation, quantities, abbreviations)", "DocCache.parse"),
    ("validation: grounding and the other checks", "validate_extraction"),
    ("extraction: the SDK's request and HTTP (middleware, limiter included)", "AsyncMessages.create"),
    ("extraction: prompts, response cache, parsing the tool output", "extract ("),
    ("our atomic file writes (fsync)", "atomic_target"),
    ("loading and parsing question files", "load_raw_question"),
    ("imports and start-up of a process", "_find_and_load"),
    ("Dagster run: other", "dagster_run (bench_extraction.py"),
]


def main(path: str) -> None:
    counts: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        label = next((name for name, marker in CATEGORIES if marker in stack), "everything else")
        counts[label] += samples
    for label, samples in counts.most_common():
        print(f"{samples / total * 100:5.1f}%  {label}")


if __name__ == "__main__":
    main(sys.argv[1])
