"""Validation in worker processes gives what validation in the calling thread gives, and fails the same way."""

import asyncio
import time

import pytest

from mksap_assets.domain.engine.waits import wait_clock
from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.domain.inputs.bank import load_raw_question, question_file_for
from mksap_assets.domain.statements import Statement
from mksap_assets.domain.validation.pool import TimedValidation, ValidationPool
from mksap_assets.settings import PROJECT_ROOT, Settings
from mksap_assets_tests.helpers import sample_ids

SAMPLES = PROJECT_ROOT / "data" / "questions"


def _questions(count: int):
    raws = [load_raw_question(question_file_for(SAMPLES, key)) for key in sample_ids(SAMPLES)[:count]]
    return [(asyncio.run(OfflineExtractor().extract(raw)), raw) for raw in raws]


async def _validate_all(pool: ValidationPool, questions):
    try:
        return await asyncio.gather(*(pool.validate(extraction, raw) for extraction, raw in questions))
    finally:
        pool.close()


def test_workers_validate_exactly_as_the_calling_thread_does():
    questions = _questions(4)
    in_thread = asyncio.run(_validate_all(ValidationPool(0), questions))
    in_workers = asyncio.run(_validate_all(ValidationPool(2), questions))
    assert [t.validated for t in in_workers] == [t.validated for t in in_thread]
    assert all(t.cpu_ms > 0 and t.wall_ms >= t.cpu_ms * 0.5 for t in in_workers)


def test_an_error_in_a_worker_reaches_the_caller_and_the_pool_goes_on():
    (extraction, raw), = _questions(1)
    broken = extraction.model_copy(update={"from_critique": [Statement.model_construct(statement=None)]})
    pool = ValidationPool(1)

    async def run():
        try:
            with pytest.raises(AttributeError):  # raised in the worker, re-raised here
                await pool.validate(broken, raw)
            return await pool.validate(extraction, raw)
        finally:
            pool.close()

    assert asyncio.run(run()).validated.validation.statements > 0
    pool.close()  # closing twice is harmless


def test_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MKSAP_VALIDATION_WORKERS", "0")
    assert Settings.from_env().validation_workers == 0
    monkeypatch.setenv("MKSAP_VALIDATION_WORKERS", "3")
    assert Settings.from_env().validation_workers == 3
    monkeypatch.delenv("MKSAP_VALIDATION_WORKERS")
    assert Settings.from_env().validation_workers >= 1
    with pytest.raises(ValueError):
        ValidationPool(-1)


def test_a_worker_keeps_only_a_small_document_cache():
    from mksap_assets.domain.nlp import parsing
    from mksap_assets.domain.validation import pool as pool_module

    (extraction, raw), = _questions(1)
    pool = ValidationPool(1)

    async def run():
        try:
            await pool.validate(extraction, raw)
            future = pool._executor.submit(_doc_cache_size)
            return await asyncio.wrap_future(future)
        finally:
            pool.close()

    assert asyncio.run(run()) == pool_module.WORKER_DOC_CACHE_SIZE < parsing.CACHE_SIZE


def _doc_cache_size() -> int:
    from mksap_assets.domain.nlp import parsing

    return parsing.DOC_CACHE.maxsize


def test_start_launches_every_worker_with_its_nlp_pipeline_built_before_any_validation():
    pool = ValidationPool(2)
    try:
        pool.start()
        pool.start()  # a second call starts nothing more
        checks = [pool._executor.submit(_nlp_built) for _ in range(4)]
        assert all(check.result(timeout=120) for check in checks)
        assert len(pool._executor._processes) == 2
    finally:
        pool.close()


def test_a_pipeline_starts_its_workers_only_for_runs_that_validate(tmp_path):
    from mksap_assets.domain.engine.pipeline import RAW, STAGES
    from mksap_assets.domain.engine.spec import build_pipeline
    from mksap_assets_tests.domain.test_runner import offline_spec

    spec = offline_spec(tmp_path, validation_workers=1)
    raw_only, everything = build_pipeline(spec, [RAW]), build_pipeline(spec, STAGES)
    try:
        assert raw_only.validation._executor is None and everything.validation._executor is not None
    finally:
        everything.validation.close()


def _nlp_built() -> bool:
    from mksap_assets.domain.nlp import parsing

    return parsing.get_nlp.cache_info().currsize == 1


def test_the_time_a_validation_waits_for_a_busy_worker_is_its_question_wait():
    questions = _questions(3)
    pool = ValidationPool(1)

    async def question(extraction, raw) -> tuple[float, TimedValidation, float]:
        with wait_clock() as clock:
            started = time.perf_counter()
            timed = await pool.validate(extraction, raw)
            return clock.seconds, timed, time.perf_counter() - started

    async def run():
        try:
            await pool.validate(*questions[0])  # the worker is up before the three are queued
            return await asyncio.gather(*(question(extraction, raw) for extraction, raw in questions))
        finally:
            pool.close()

    (_, first, _), (_, second, _), (last_waited, last, last_elapsed) = asyncio.run(run())
    assert last_waited >= (first.wall_ms + second.wall_ms) / 1000 * 0.95  # one worker: it waits for the other two
    assert last_waited + last.cpu_ms / 1000 <= last_elapsed  # its own validation is its work, not a wait
