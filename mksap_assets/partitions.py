"""One dynamic partition per question id, kept in the Dagster instance, and how a set of questions becomes runs."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from mksap_assets.settings import partitions_per_run_from_env

question_partitions = dg.DynamicPartitionsDefinition(name="question")

# Range runs are cut into chunks of at most this many questions.
MAX_KEYS_PER_RUN = 500
# MKSAP_PARTITIONS_PER_RUN (the cluster profile's N, docs/CLUSTER.md): read when the code location loads, as Dagster
# reads a backfill policy then. Unset: one run per contiguous range (of at most MAX_KEYS_PER_RUN), as on one machine.
PARTITIONS_PER_RUN = partitions_per_run_from_env()
# The sensor's runs and a backfill's runs are cut to the same size.
RUN_SIZE = min(PARTITIONS_PER_RUN or MAX_KEYS_PER_RUN, MAX_KEYS_PER_RUN)
# Past this many runs more than the fewest possible, a scattered set is run as covering ranges instead.
EXTRA_RANGE_RUNS = 2
# A covering run says so in a tag; its questions are in the config of the question step (assets/questions.py).
QUESTIONS_TAG = "mksap/questions"
QUESTION_STEP = "question_assets"


def new_partition_keys(discovered: Iterable[str], existing: Iterable[str]) -> list[str]:
    """Keys to add, sorted, so that insertion order (which defines ranges) follows question-id order."""
    known = set(existing)
    return sorted(key for key in set(discovered) if key not in known)


def contiguous_ranges(ordered_keys: list[str], wanted: set[str], max_len: int = RUN_SIZE) -> list[tuple[str, str]]:
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


def backfill_policy(partitions_per_run: int | None = PARTITIONS_PER_RUN) -> dg.BackfillPolicy:
    """A backfill's runs: one per contiguous range (what `dagster asset materialize --partition-range` requires), or,
    with N set, runs of at most N partitions, so that a backfill spreads over N-sized runs the queue runs at once."""
    if partitions_per_run is None:
        return dg.BackfillPolicy.single_run()
    return dg.BackfillPolicy.multi_run(min(partitions_per_run, MAX_KEYS_PER_RUN))


def range_tags(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


@dataclass(frozen=True)
class QuestionRun:
    """One run: the partition range [first, last], and, when the range also holds questions that must be left as
    they are, the questions to work on (the run's `questions` config)."""

    first: str
    last: str
    questions: tuple[str, ...] | None = None


def question_runs(ordered_keys: list[str], wanted: set[str], max_len: int = RUN_SIZE) -> list[QuestionRun]:
    """As few runs as Dagster allows for the wanted keys. A run covers one range of partitions (Dagster has no run of
    a scattered subset), so contiguous stretches are runs of their own, and a scattered set (300 questions spread over
    2,198 partitions would be about 300 ranges) becomes runs over covering ranges that work only on the listed
    questions, up to max_len questions each."""
    ranges = contiguous_ranges(ordered_keys, wanted, max_len)
    if len(ranges) <= math.ceil(len(wanted) / max_len) + EXTRA_RANGE_RUNS:
        return [QuestionRun(first, last) for first, last in ranges]
    in_order = [key for key in ordered_keys if key in wanted]
    chunks = [in_order[start : start + max_len] for start in range(0, len(in_order), max_len)]
    return [QuestionRun(chunk[0], chunk[-1], tuple(chunk)) for chunk in chunks]


def run_tags(run: QuestionRun) -> dict[str, str]:
    tags = range_tags(run.first, run.last)
    if run.questions is not None:
        tags[QUESTIONS_TAG] = f"{len(run.questions)} listed in the run config"
    return tags


def run_config(run: QuestionRun) -> dict:
    return {"ops": {QUESTION_STEP: {"config": {"questions": list(run.questions)}}}} if run.questions else {}
