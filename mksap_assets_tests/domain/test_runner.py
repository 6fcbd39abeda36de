"""The background runner: concurrency bound, completion order, early close cancels, crashes surface."""

import asyncio
import errno
import functools
import threading
import time

import pytest

from mksap_assets.domain.engine.pipeline import QuestionOutcome
from mksap_assets.domain.engine.runner import stream_outcomes
from mksap_assets.domain.engine.spec import build_pipeline


class SlowPipeline:
    def __init__(self, delay: float = 0.02):
        self.delay = delay
        self.in_flight = self.peak = self.started = 0
        self.closed = threading.Event()

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
    built_for = []
    outcomes = list(stream_outcomes(lambda stages: built_for.append(stages) or pipeline, ids, {"raw_question"}, 8))
    assert sorted(o.question_id for o in outcomes) == sorted(ids)
    assert 1 < pipeline.peak <= 8 and pipeline.closed.is_set()
    assert built_for == [{"raw_question"}]  # the pipeline is built once, for the run's stages


def test_work_continues_while_the_consumer_is_busy():
    pipeline = SlowPipeline(delay=0.01)
    stream = stream_outcomes(lambda stages: pipeline, [f"q{i}" for i in range(20)], set(), concurrency=20)
    next(stream)
    time.sleep(0.2)  # the consumer "writes an event" slowly; the others finish meanwhile
    assert pipeline.started == 20 and pipeline.in_flight == 0
    assert len(list(stream)) == 19


def test_closing_early_cancels_the_rest():
    pipeline = SlowPipeline(delay=0.2)
    stream = stream_outcomes(lambda stages: pipeline, [f"q{i}" for i in range(50)], set(), concurrency=2)
    next(stream)
    stream.close()
    assert pipeline.started < 50 and pipeline.closed.is_set()


def test_a_crash_is_raised_to_the_consumer():
    class Broken(SlowPipeline):
        async def run(self, question_id, stages):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        list(stream_outcomes(lambda stages: Broken(), ["q1"], set(), concurrency=1))


# The engine process: the same outcomes, crashes and early close, across a process boundary.


def offline_spec(tmp_path, validation_workers: int):
    from mksap_assets.domain.config import LLMConfig, PipelineConfig
    from mksap_assets.settings import PROJECT_ROOT

    return PipelineConfig(
        data_dir=PROJECT_ROOT / "data" / "questions", output_dir=tmp_path / "out", store_dir=tmp_path / "store",
        llm=LLMConfig(provider="offline", model="-", concurrency=4, cache_dir=tmp_path / "cache", cache_enabled=False,
                      rpm=None, itpm=None, otpm=None, timeout=10.0, max_retries=0, request_deadline=30.0,
                      max_pause=5.0),
        question_budget=600.0, validation_workers=validation_workers,
    )


def test_the_engine_process_yields_what_the_thread_yields(tmp_path):
    from mksap_assets.domain.engine.pipeline import STAGES
    from mksap_assets.settings import PROJECT_ROOT
    from mksap_assets_tests.helpers import sample_ids

    ids = sample_ids(PROJECT_ROOT / "data" / "questions")[:3]

    def run(folder, separate_process):
        spec = offline_spec(tmp_path / folder, validation_workers=1 if separate_process else 0)
        outcomes = stream_outcomes(
            functools.partial(build_pipeline, spec), ids, STAGES, 4, separate_process=separate_process
        )
        return {o.question_id: o for o in outcomes}, tmp_path / folder / "out"

    in_thread, thread_out = run("thread", False)
    in_process, process_out = run("process", True)
    assert sorted(in_process) == sorted(ids) and all(o.ok for o in in_process.values())
    for key, outcome in in_process.items():
        assert [r.stage for r in outcome.results] == [r.stage for r in in_thread[key].results]
        assert outcome.results[-1].metadata["fingerprint"] == in_thread[key].results[-1].metadata["fingerprint"]
    written = sorted(p.relative_to(process_out) for p in process_out.rglob("*.json"))
    assert written and written == sorted(p.relative_to(thread_out) for p in thread_out.rglob("*.json"))


def _broken_pipeline(stages):
    raise ValueError("no pipeline today")


def test_an_engine_crash_is_raised_to_the_consumer():
    with pytest.raises(ValueError, match="no pipeline today"):
        list(stream_outcomes(_broken_pipeline, ["q1"], set(), concurrency=1, separate_process=True))


class ReportingSlowPipeline(SlowPipeline):
    """Writes how many questions it started when it is closed (in the engine process)."""

    def __init__(self, report, stages):
        super().__init__(delay=0.5)
        self.report = report

    async def aclose(self):
        self.report.write_text(str(self.started))
        await super().aclose()


def test_closing_the_engine_stream_early_cancels_the_rest_in_the_engine(tmp_path):
    import functools
    import multiprocessing

    report = tmp_path / "started"
    build = functools.partial(ReportingSlowPipeline, report)
    stream = stream_outcomes(build, [f"q{i}" for i in range(200)], set(), 2, separate_process=True)
    assert next(stream).question_id.startswith("q")
    stream.close()
    assert not multiprocessing.active_children()
    assert int(report.read_text()) < 200  # the engine cancelled the rest and closed its pipeline: not killed



# A start that fails after the validation workers started stops them: no process it started outlives it (the
# processes are found by an environment variable they inherit, so that orphans of a killed engine count too).


@pytest.fixture
def started_here(monkeypatch):
    """Returns the processes (pids) started since the fixture, once they are gone or 10 s have passed."""
    import multiprocessing.resource_tracker
    import uuid

    import psutil

    marker = uuid.uuid4().hex
    monkeypatch.setenv("MKSAP_TEST_PROCESS_MARKER", marker)

    def marked() -> set[int]:
        pids = set()
        for process in psutil.process_iter():
            try:
                if (process.status() != psutil.STATUS_ZOMBIE
                        and process.environ().get("MKSAP_TEST_PROCESS_MARKER") == marker):
                    pids.add(process.pid)
            except psutil.Error:
                pass
        # This process's resource tracker serves every multiprocessing object of the process and exits with it.
        return pids - {multiprocessing.resource_tracker._resource_tracker._pid}

    def left() -> set[int]:
        deadline = time.monotonic() + 10
        while (pids := marked()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return pids

    return left


def test_a_failed_start_leaves_no_validation_worker(tmp_path, monkeypatch, started_here):
    from mksap_assets.domain.engine import spec as spec_module
    from mksap_assets.domain.engine.pipeline import STAGES

    def unusable_cache(config):
        raise OSError("no space left on device")

    monkeypatch.setattr(spec_module, "build_extractor", unusable_cache)
    with pytest.raises(OSError, match="no space left") as raised:  # kept, as Dagster keeps the error it reports
        spec_module.build_pipeline(offline_spec(tmp_path, validation_workers=1), STAGES)
    assert started_here() == set()
    assert raised.value


def _failing_extractor(config):
    raise OSError(errno.ENOSPC, "No space left on device")


def _pipeline_whose_extractor_fails(config, stages):
    """Fails where an unusable extractor would (a full disk, a bad client setting): after the workers started. Runs
    in the engine process, which it alone uses, so the patch goes nowhere else."""
    from mksap_assets.domain.engine import spec as spec_module

    spec_module.build_extractor = _failing_extractor
    return spec_module.build_pipeline(config, stages)


def test_a_failed_start_in_the_engine_leaves_no_process(tmp_path, started_here):
    from mksap_assets.domain.engine.pipeline import STAGES

    build = functools.partial(_pipeline_whose_extractor_fails, offline_spec(tmp_path, validation_workers=1))
    with pytest.raises(Exception, match="No space left"):
        list(stream_outcomes(build, ["q1"], STAGES, 1, separate_process=True))
    assert started_here() == set()  # the engine, its workers and its own resource tracker


class _StuckPipeline:
    """Starts its validation workers, answers the first question, and never the others (nor closes)."""

    def __init__(self, stages):
        from mksap_assets.domain.validation.pool import ValidationPool

        self.validation = ValidationPool(1)
        self.validation.start()
        self.answered = False

    async def run(self, question_id, stages):
        if self.answered:
            await asyncio.Event().wait()
        self.answered = True
        return QuestionOutcome(question_id)

    async def aclose(self):
        await asyncio.Event().wait()


def test_an_engine_killed_for_not_stopping_takes_its_workers_with_it(monkeypatch, started_here):
    import mksap_assets.domain.engine.runner as runner

    monkeypatch.setattr(runner, "ENGINE_STOP_SECONDS", 1.0)
    stream = stream_outcomes(_StuckPipeline, ["q1", "q2"], set(), 2, separate_process=True)
    assert next(stream).question_id == "q1"
    stream.close()  # the engine does not stop within ENGINE_STOP_SECONDS: it is killed
    assert started_here() == set()
