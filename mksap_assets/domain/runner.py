"""Run many questions concurrently on a background event loop and hand back each outcome as it finishes.

The caller (the Dagster asset) records every outcome, and recording blocks: on SQLite each materialization event
is a synchronous write of several milliseconds. Were the questions running on the caller's own event loop, every
write would stall every in-flight question. On a loop in its own thread, LLM calls, parsing and validation go on
while the caller writes events, so bookkeeping overlaps the work instead of adding to it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass

from mksap_assets.domain.pipeline import QuestionOutcome, QuestionPipeline

_DONE = object()


@dataclass
class _Crash:
    error: BaseException


def stream_outcomes(
    build_pipeline: Callable[[], QuestionPipeline],
    question_ids: Sequence[str],
    stages: Collection[str],
    concurrency: int,
) -> Iterator[QuestionOutcome]:
    """Yield one outcome per question, in completion order. Closing the iterator early cancels the rest."""
    outcomes: queue.Queue = queue.Queue()
    started = threading.Event()
    loop_and_task: list = []

    async def run_all() -> None:
        pipeline = build_pipeline()  # clients are created on the loop that will use them
        pipeline.start(stages)
        semaphore = asyncio.Semaphore(concurrency)

        async def run_one(question_id: str) -> None:
            async with semaphore:
                outcomes.put(await pipeline.run(question_id, stages))

        try:
            await asyncio.gather(*(run_one(question_id) for question_id in question_ids))
        finally:
            await pipeline.aclose()

    def work() -> None:
        loop = asyncio.new_event_loop()
        try:
            task = loop.create_task(run_all())
            loop_and_task.extend([loop, task])
            started.set()
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        except BaseException as error:  # handed to the caller, raised there
            outcomes.put(_Crash(error))
        finally:
            started.set()
            loop.close()
            outcomes.put(_DONE)

    worker = threading.Thread(target=work, name="mksap-questions", daemon=True)
    worker.start()
    finished = False
    try:
        while (item := outcomes.get()) is not _DONE:
            if isinstance(item, _Crash):
                raise item.error
            yield item
        finished = True
    finally:
        if not finished:
            started.wait()
            if loop_and_task:
                loop, task = loop_and_task
                try:
                    loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:  # the loop already finished and closed
                    pass
        worker.join()
