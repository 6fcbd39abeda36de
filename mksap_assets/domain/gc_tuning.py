"""Garbage-collector settings for the processes the project starts (engine, validation workers).

They allocate millions of short-lived objects (spaCy tokens, pydantic models, HTTP messages), and with CPython's
default thresholds the collector runs every 700 net allocations and rescans everything start-up imported
(spaCy, the SDK) at each full collection. Freezing what exists after start-up and collecting the youngest
generation every 20,000 allocations cut the pipeline's CPU by about a quarter in one profile of 300 questions
(benchmarks/results.md). Only these processes are tuned: the run's own process belongs to Dagster.
"""

import gc

YOUNGEST_GENERATION_THRESHOLD = 20_000
OLDER_GENERATION_THRESHOLD = 20


def tune_for_throughput() -> None:
    gc.freeze()  # start-up's objects (modules, models) are never scanned again
    gc.set_threshold(YOUNGEST_GENERATION_THRESHOLD, OLDER_GENERATION_THRESHOLD, OLDER_GENERATION_THRESHOLD)
