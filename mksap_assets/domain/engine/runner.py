"""Run many questions concurrently on a background event loop and hand back each outcome as it finishes.

The caller (the Dagster asset) records every outcome, and recording blocks: on SQLite each materialization event
is a synchronous write of several milliseconds. Were the questions running on the caller's own event loop, every
write would stall every in-flight question. On a loop in its own thread, LLM calls, parsing and validation go on
while the caller writes events, so bookkeeping overlaps the work instead of adding to it.

In one process the loop still shares the GIL with the caller's event writes, and at a few thousand questions each
side needs most of a core. `separate_process=True` runs the loop in an engine process instead (spawned, given
a picklable pipeline factory such as `partial(build_pipeline, config)`, engine/spec.py), which sends each outcome back over a pipe.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass

import psutil

from mksap_assets.domain.engine.pipeline import QuestionOutcome, QuestionPipeline

_DONE = object()
# How long a cancelled engine process gets to cancel its questions and stop its workers before it is killed.
ENGINE_STOP_SECONDS = 30.0


@dataclass
class _Crash:
    error: BaseException


def stream_outcomes(
    build_pipeline: Callable[[Collection[str]], QuestionPipeline],
    question_ids: Sequence[str],
    stages: Collection[str],
    concurrency: int,
    *,
    separate_process: bool = False,
) -> Iterator[QuestionOutcome]:
    """Yield one outcome per question, in completion order. Closing the iterator early cancels the rest."""
    if separate_process:
        return _stream_from_engine_process(build_pipeline, question_ids, stages, concurrency)
    return _stream_from_thread(build_pipeline, question_ids, stages, concurrency)


def _stream_from_thread(
    build_pipeline: Callable[[Collection[str]], QuestionPipeline],
    question_ids: Sequence[str],
    stages: Collection[str],
    concurrency: int,
) -> Iterator[QuestionOutcome]:
    outcomes: queue.Queue = queue.Queue()
    started = threading.Event()
    loop_and_task: list = []

    async def run_all() -> None:
        pipeline = build_pipeline(stages)  # clients are created on the loop that will use them
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


def _stream_from_engine_process(
    build_pipeline: Callable[[Collection[str]], QuestionPipeline],
    question_ids: Sequence[str],
    stages: Collection[str],
    concurrency: int,
) -> Iterator[QuestionOutcome]:
    # spawn, not fork: the caller has threads (Dagster's) that fork would copy mid-state.
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    cancel = context.Event()
    engine = context.Process(
        target=_run_engine,
        args=(build_pipeline, list(question_ids), set(stages), concurrency, sender, cancel),
        name="mksap-engine",
    )
    engine.start()
    sender.close()  # the engine holds the only sending end, so its exit ends the stream
    finished = False
    try:
        while True:
            try:
                kind, value = receiver.recv()
            except EOFError:
                raise RuntimeError(f"the engine process stopped unexpectedly (exit code {engine.exitcode})") from None
            if kind == "done":
                break
            if kind == "crash":
                raise value
            yield value
        finished = True
    finally:
        if finished:  # everything is written; the engine exits on its own (joined at this interpreter's exit)
            receiver.close()
        else:
            cancel.set()
            _stop_engine(engine, receiver)


def _stop_engine(engine, receiver) -> None:
    """Wait for the engine to finish, reading (and dropping) what it still sends so that it never blocks on a full
    pipe; kill it if it takes longer than ENGINE_STOP_SECONDS."""
    deadline = time.monotonic() + ENGINE_STOP_SECONDS
    while engine.is_alive() and time.monotonic() < deadline:
        try:
            if receiver.poll(0.1):
                receiver.recv()
        except EOFError:  # it closed its end; it is exiting
            engine.join(0.1)
    if engine.is_alive():
        # Its validation workers (and resource tracker) first: killed with it, the engine could not stop them, and
        # they would wait for its work forever.
        try:
            for child in psutil.Process(engine.pid).children(recursive=True):
                child.kill()
        except psutil.NoSuchProcess:  # it exited meanwhile
            pass
        engine.kill()
        engine.join()
    receiver.close()


def _run_engine(build_pipeline, question_ids, stages, concurrency, sender, cancel) -> None:
    """The engine process: the in-thread stream, each outcome sent as it comes; stops early once `cancel` is set.

    "done" goes with the last question's outcome, before the pipeline closes (its validation workers take a second
    or so to exit): the caller then need not wait for that."""
    stream = _stream_from_thread(build_pipeline, question_ids, stages, concurrency)
    remaining = len(question_ids)
    try:
        if not remaining:
            sender.send(("done", None))
        for outcome in stream:
            if cancel.is_set():
                break
            sender.send(("outcome", outcome))
            remaining -= 1
            if not remaining:
                sender.send(("done", None))
    except BaseException as error:  # handed to the caller, raised there
        try:
            sender.send(("crash", error))
        except Exception:  # the error itself cannot be pickled: send its description
            sender.send(("crash", RuntimeError(f"{type(error).__name__}: {error}")))
    finally:
        stream.close()
        sender.close()
