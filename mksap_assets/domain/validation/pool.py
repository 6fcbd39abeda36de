"""Validation in worker processes, so that its CPU runs beside the event loop that drives the LLM calls.

Validation is the pipeline's CPU: spaCy parses and regular expressions, about 40 ms per question. Run on the event
loop it stalls every in-flight API call for that long, and in one process it shares one core (the GIL) with
Dagster's event writes. Worker processes put it on the machine's other cores. With no workers (tests, tiny runs)
it runs in the calling thread, with the same results.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from mksap_assets.domain.engine.waits import add_wait
from mksap_assets.domain.inputs.bank import RawQuestion
from mksap_assets.domain.nlp import parsing
from mksap_assets.domain.statements import Extraction, ValidatedStatements
from mksap_assets.domain.validation.validate import validate_extraction


@dataclass
class TimedValidation:
    validated: ValidatedStatements
    wall_ms: float
    cpu_ms: float


# A worker parses each question's texts once (extraction's parses live in the run's process), so a large document
# cache would only cost memory (benchmarks/results.md: a worker's peak RSS with the default cache and with this one).
WORKER_DOC_CACHE_SIZE = 8


def _start_worker(nlp_model: str) -> None:
    parsing.use_model(nlp_model)
    parsing.DOC_CACHE.maxsize = WORKER_DOC_CACHE_SIZE
    parsing.get_nlp()  # import spaCy and build the pipeline now, not in the first question's validation


def timed_validation(extraction: Extraction, raw: RawQuestion) -> TimedValidation:
    cpu_started, started = time.thread_time(), time.perf_counter()
    validated = validate_extraction(extraction, raw)
    return TimedValidation(
        validated, (time.perf_counter() - started) * 1000, (time.thread_time() - cpu_started) * 1000
    )


class ValidationPool:
    """`await pool.validate(extraction, raw)`; the processes start at `start()` or on first use, stop at `close()`."""

    def __init__(self, workers: int, nlp_model: str = ""):
        if workers < 0:
            raise ValueError(f"validation workers must be 0 or more, not {workers}")
        self.workers = workers
        self.nlp_model = nlp_model  # the spaCy pipeline the workers use (parsing.use_model)
        self._executor: ProcessPoolExecutor | None = None

    async def validate(self, extraction: Extraction, raw: RawQuestion) -> TimedValidation:
        """The validation's CPU time is its work; the rest of the time until its result is back (queued for a free
        worker, waiting for a core) is counted as the question's wait (waits.py)."""
        submitted = time.perf_counter()
        if self.workers == 0:
            timed = timed_validation(extraction, raw)
        else:
            executor = self._started()
            timed = await asyncio.get_running_loop().run_in_executor(executor, timed_validation, extraction, raw)
        add_wait(time.perf_counter() - submitted - timed.cpu_ms / 1000)
        return timed

    def start(self) -> None:
        """Start the workers now: each takes seconds to import spaCy and build its pipeline, which can then happen
        while the first questions wait for their API calls instead of after."""
        if self.workers and self._executor is None:
            executor = self._started()
            for _ in range(self.workers):  # the executor starts a process per task submitted while none is idle
                executor.submit(int)

    def _started(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the run's process has threads (event loop, Dagster's) that fork would copy mid-state.
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_start_worker,
                                                 initargs=(self.nlp_model,))
        return self._executor

    def close(self) -> None:
        # Waits for the workers to exit: without waiting, an interpreter exiting right after can deadlock joining
        # a worker that never received its stop sentinel (seen with Python 3.11).
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
