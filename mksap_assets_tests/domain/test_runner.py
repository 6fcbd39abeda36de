"""The background runner: concurrency bound, completion order, early close cancels, crashes surface."""

import asyncio
import threading
import time

import pytest

from mksap_assets.domain.pipeline import QuestionOutcome
from mksap_assets.domain.runner import stream_outcomes


class SlowPipeline:
    def __init__(self, delay: float = 0.02):
        self.delay = delay
        self.in_flight = self.peak = self.started = 0
        self.closed = threading.Event()
        self.started_for = None

    def start(self, stages):
        self.started_for = stages

    async def run(self, question_id, stages):
        self.started += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        return QuestionOutcome(question_id)

    async def aclose(self):
        self.closed.set()


def test_every_question_comes_back_within_the_concurrency_bound():
    pipeline = SlowPipeline()
    ids = [f"q{i}" for i in range(40)]
    outcomes = list(stream_outcomes(lambda: pipeline, ids, {"raw_question"}, concurrency=8))
    assert sorted(o.question_id for o in outcomes) == sorted(ids)
    assert 1 < pipeline.peak <= 8 and pipeline.closed.is_set()
    assert pipeline.started_for == {"raw_question"}  # told the run's stages before the first question


def test_work_continues_while_the_consumer_is_busy():
    pipeline = SlowPipeline(delay=0.01)
    stream = stream_outcomes(lambda: pipeline, [f"q{i}" for i in range(20)], set(), concurrency=20)
    next(stream)
    time.sleep(0.2)  # the consumer "writes an event" slowly; the others finish meanwhile
    assert pipeline.started == 20 and pipeline.in_flight == 0
    assert len(list(stream)) == 19


def test_closing_early_cancels_the_rest():
    pipeline = SlowPipeline(delay=0.2)
    stream = stream_outcomes(lambda: pipeline, [f"q{i}" for i in range(50)], set(), concurrency=2)
    next(stream)
    stream.close()
    assert pipeline.started < 50 and pipeline.closed.is_set()


def test_a_crash_is_raised_to_the_consumer():
    class Broken(SlowPipeline):
        async def run(self, question_id, stages):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        list(stream_outcomes(Broken, ["q1"], set(), concurrency=1))
