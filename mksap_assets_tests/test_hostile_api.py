"""A hostile API cannot hold a run: trickled answers, hour-long retry-afters, tiny limits in the headers, 200s that
are no answer. Every wait is bounded by a setting, the question that cannot finish fails with a reason naming it,
and what it paid is counted. Deadlines and caps are tiny here, so each test takes seconds."""

import asyncio
import re
import time

import dagster as dg
import pytest

from mksap_assets.definitions import build_definitions
from mksap_assets.domain.engine.pipeline import EXTRACTED, RAW
from mksap_assets.domain.engine.spec import build_pipeline
from mksap_assets.domain.inputs.bank import discover_questions
from mksap_assets.domain.llm.client import ExtractionError
from mksap_assets.domain.llm.limiter import RateLimiter
from mksap_assets.partitions import range_tags
from mksap_assets.resources import PipelineResource
from mksap_assets.settings import ConfigError, Settings, resolve_settings
from mksap_assets_tests.conftest import SAMPLE_DIR
from mksap_assets_tests.helpers import sample_ids
from mksap_assets_tests.test_claude_extraction import (  # noqa: F401 (claude_settings: a fixture)
    _extract_one,
    _point_at,
    _run_all,
    _without_tables_or_key_points,
    claude_settings,
)


@pytest.fixture
def hostile_settings(claude_settings: Settings) -> Settings:
    """The Claude path's settings, with one retry and a deadline and a pause cap small enough for a test."""
    llm = claude_settings.llm.replace(max_retries=1, request_deadline=0.5, max_pause=0.2)
    return claude_settings.replace(llm=llm)


def test_a_trickled_answer_is_cut_at_the_request_deadline_and_fails_its_question(
        hostile_settings, fake_api_factory, monkeypatch):
    fake = fake_api_factory()
    _point_at(fake, monkeypatch)
    fake.script_faults(["trickle", "trickle"])  # one byte per 0.2 s: each read is quick, the answer never ends
    with pytest.raises(ExtractionError, match=r"request deadline of 0\.5 s"):
        _extract_one(hostile_settings, _without_tables_or_key_points())
    assert fake.stats.total_requests == 2  # the first attempt, and the SDK's one retry


def test_a_retry_after_of_an_hour_is_capped(hostile_settings, fake_api_factory, monkeypatch):
    fake = fake_api_factory()
    _point_at(fake, monkeypatch)
    fake.script_faults(["rate_limit_hour"])  # 429 with retry-after: 3600
    _, extraction = _extract_one(hostile_settings, _without_tables_or_key_points())
    assert extraction.from_critique
    assert extraction.usage.rate_limited == 1 and extraction.usage.pauses_capped == 1


@pytest.mark.parametrize("fault", ["html_200", "error_200"])
def test_a_200_that_is_not_a_messages_answer_is_retried_then_named(
        hostile_settings, fake_api_factory, monkeypatch, fault):
    fake = fake_api_factory()
    _point_at(fake, monkeypatch)
    fake.script_faults([fault])
    _, extraction = _extract_one(hostile_settings, _without_tables_or_key_points())
    assert extraction.from_critique and extraction.usage.retries == 1

    fake.script_faults([fault, fault])
    settings = hostile_settings.replace(llm=hostile_settings.llm.replace(cache_enabled=False))
    with pytest.raises(ExtractionError, match="not a Messages answer"):
        _extract_one(settings, _without_tables_or_key_points())


def test_tiny_limits_in_the_headers_cannot_stall_the_run():
    limiter = RateLimiter(rpm=1000, itpm=2_000_000, otpm=400_000, clock=lambda: 1000.0)  # time stands still
    limiter.observe({
        "anthropic-ratelimit-requests-limit": "0.01", "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-input-tokens-limit": "1", "anthropic-ratelimit-input-tokens-remaining": "0",
    })
    assert limiter.requests.limit == 50 and limiter.input_tokens.limit == 100_000  # 5% of the starting limits
    assert limiter.requests.wait_time(1) == pytest.approx(60 / 50)
    # A request estimated at more than a whole minute's budget takes one minute's, so the next waits a minute at most.
    limiter.input_tokens.give_back(100_000)
    limiter.input_tokens.take(10_000_000)
    assert limiter.input_tokens.wait_time(5000) <= 60


def test_a_question_over_its_budget_fails_named_and_the_next_one_runs(
        hostile_settings, fake_api_factory, monkeypatch):
    fake = fake_api_factory()
    _point_at(fake, monkeypatch)
    fake.script_faults(["trickle"])
    settings = hostile_settings.replace(llm=hostile_settings.llm.replace(request_deadline=60.0), question_budget=3.0)
    resource = PipelineResource.from_settings(settings)
    question_ids = [f.question_id for f in discover_questions(SAMPLE_DIR)]
    first, second = question_ids[_without_tables_or_key_points()], question_ids[0]

    async def run_both():
        pipeline = build_pipeline(resource.spec(), [RAW, EXTRACTED])
        try:
            return [await pipeline.run(question_id, [RAW, EXTRACTED]) for question_id in (first, second)]
        finally:
            await pipeline.aclose()

    over, fine = asyncio.run(run_both())
    assert over.failed_stage == EXTRACTED
    assert over.error == f"{first} ran over its time budget of 3 s (MKSAP_QUESTION_BUDGET) in {EXTRACTED}"
    assert over.usage.calls == 1  # the trickled request, charged to the question that made it
    assert fine.ok


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("MKSAP_LLM_CONCURRENCY", "0", "greater than or equal to 1"),
    ("MKSAP_LLM_CONCURRENCY", "-1", "greater than or equal to 1"),
    ("MKSAP_LLM_CONCURRENCY", "lots", "valid integer"),
    ("MKSAP_LLM_REQUEST_DEADLINE", "0", "greater than 0"),
    ("MKSAP_QUESTION_BUDGET", "-5", "greater than 0"),
    ("MKSAP_LLM_MAX_PAUSE", "0", "greater than 0"),
    ("MKSAP_LLM_CACHE_ENABLED", "maybe", "valid boolean"),
])
def test_a_setting_that_would_hang_the_run_is_refused_by_name(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"^{variable}: Input should be [^;]*{expected}.*\\(got '{value}'\\)$"):
        resolve_settings()
    with pytest.raises(dg.Failure, match=variable):  # the same, from a resource that reads it at run start
        PipelineResource().spec()


def test_a_run_config_value_out_of_range_is_named_by_its_field(hostile_settings):
    resource = PipelineResource.from_settings(hostile_settings).overridden({"llm": {"concurrency": 0}})
    with pytest.raises(dg.Failure, match="run config llm.concurrency: Input should be greater than or equal to 1"):
        resource.spec()


def test_what_a_failed_question_paid_is_in_the_run_totals(hostile_settings, fake_api_factory, monkeypatch):
    fake = fake_api_factory()
    _point_at(fake, monkeypatch)
    fake.script_faults(["refusal"])  # a paid answer that fails its question
    with dg.DagsterInstance.ephemeral() as instance:
        _, result = _run_all(hostile_settings, instance)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        table = failure.step_failure_data.user_failure_data.metadata["failed_questions"].value
        [row] = [line for line in table.splitlines() if "refusal" in line]
        failed_calls, failed_cost = int(row.split("|")[4]), float(row.split("|")[5])
        assert failed_calls >= 1 and failed_cost > 0  # at least the refused answer, which was paid for
        extracted = [e.materialization.metadata for e in result.get_asset_materialization_events()
                     if e.asset_key == dg.AssetKey("extracted_statements")]
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
        [totals] = [m for m in messages if "questions done" in m]
        llm_calls = int(re.search(r"LLM: llm_calls=(\d+)", totals).group(1))
        assert llm_calls == sum(m["llm_calls"].value for m in extracted) + failed_calls


def test_a_run_with_concurrency_zero_fails_at_once_naming_the_variable(hostile_settings, fake_api, monkeypatch):
    _point_at(fake_api, monkeypatch)
    monkeypatch.setenv("MKSAP_LLM_CONCURRENCY", "0")
    # The launchpad's way: every value given in the run config except the concurrency, which the run reads from
    # its environment when it starts.
    values = PipelineResource.from_settings(hostile_settings).config.model_dump(mode="json", exclude_none=True)
    del values["llm"]["concurrency"]
    keys = sample_ids(hostile_settings.data_dir)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("question", keys)
        result = build_definitions().resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, tags=range_tags(keys[0], keys[-1]), raise_on_error=False,
            run_config={"resources": {"pipeline": {"config": {"config": values}}}},
        )
        assert not result.success and fake_api.stats.total_requests == 0
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        assert "MKSAP_LLM_CONCURRENCY: Input should be greater than or equal to 1 (got '0')" in (
            failure.step_failure_data.user_failure_data.description)


def test_a_failed_call_cancels_its_questions_other_calls():
    from mksap_assets.domain.extraction.claude import _all_or_nothing

    stopped: list[str] = []

    async def refused():
        raise ExtractionError("record_statements: Claude declined to answer (stop_reason=refusal)")

    async def still_running():
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append("sibling")

    async def stopped_when_the_failure_arrives() -> list[str]:
        with pytest.raises(ExtractionError, match="refusal"):  # raised as itself
            await _all_or_nothing(still_running(), refused())
        return list(stopped)

    assert asyncio.run(stopped_when_the_failure_arrives()) == ["sibling"]  # asyncio.gather would leave it running


def test_a_retry_after_given_as_an_http_date_is_read_so_it_can_be_capped():
    from email.utils import formatdate

    from mksap_assets.domain.llm.limiter import retry_after_seconds

    in_an_hour = retry_after_seconds({"retry-after": formatdate(time.time() + 3600, usegmt=True)})
    assert 3500 < in_an_hour <= 3600
    assert retry_after_seconds({"retry-after": "not a date"}) is None
