"""Batch mode (MKSAP_LLM_MODE=batch) through the real SDK against the fake API's Message Batches endpoints: the sensor
submits, polls, caches and then launches runs that make no sync request for a succeeded answer; errored, expired
and canceled requests go sync; a process killed at any point never makes a second submission; and the money of the
batch is charged, at batch prices, once, to the question that uses each answer."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import orjson
import pytest

from mksap_assets.cli import cmd_run, main
from mksap_assets.domain.config import LLMConfig
from mksap_assets.domain.engine.stages import EXTRACTED
from mksap_assets.domain.exports.document import export_path
from mksap_assets.domain.extraction.batch_mode import (
    batch_api,
    batch_command,
    batch_mode_off_reason,
    batch_step,
    question_requests,
)
from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question
from mksap_assets.domain.llm.batches.api import BatchRejected, BatchRequest
from mksap_assets.domain.llm.batches.coordinator import MAX_BATCH_BYTES, split
from mksap_assets.domain.llm.batches.state import (
    STATE_FILE,
    BatchState,
    BatchStateError,
)
from mksap_assets.domain.llm.pricing import cost_usd
from mksap_assets.domain.llm.providers.anthropic.batches import AnthropicBatches
from mksap_assets.settings import Settings
from mksap_assets_tests.helpers import sample_ids
from mksap_assets_tests.test_sensor import Harness
from mksap_devtools import fake_api

API_KEY = "sk-ant-test-0123456789"
FIRST_PASS_TOOL = "record_statements"


@pytest.fixture
def batch_settings(settings: Settings, tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    llm = LLMConfig(provider="anthropic", mode="batch", cache_dir=tmp_path / "llm-cache", max_retries=2, timeout=5.0)
    return settings.replace(llm=llm)


class FakeClock:
    """The fake API's wall clock, moved on by the test: a batch ends when the test says so, never by a race."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name: str):
        return getattr(time, name)


BATCH_DELAY = 60.0


@pytest.fixture
def fake(fake_api_factory, monkeypatch):
    """The fake API, whose batches end only when the test moves its clock on (`end_batches`)."""
    clock = FakeClock()
    monkeypatch.setattr(fake_api, "time", clock)
    made = fake_api_factory(batch_delay=BATCH_DELAY)
    made.clock = clock
    monkeypatch.setenv("ANTHROPIC_BASE_URL", made.url)
    return made


def end_batches(fake) -> None:
    """Every batch created so far is due: the next look at it ends it (the next step collects it)."""
    fake.clock.offset += BATCH_DELAY + 1


def first_pass_count(settings: Settings) -> int:
    raws = [load_raw_question(f) for f in discover_questions(settings.data_dir)]
    return sum(1 + bool(r.key_points) + len(r.educational_tables) for r in raws)


def step(settings: Settings, submit: bool = True):
    """One step of the cycle over every question, as a fresh process makes it (nothing kept between calls)."""
    return batch_step(settings.llm, settings.dagster_home, discover_questions(settings.data_dir), submit=submit)


def state_records(settings: Settings, home: Path | None = None):
    """The batches recorded in the instance at `home` (default: the settings' DAGSTER_HOME)."""
    with BatchState.locked(home or settings.dagster_home) as state:
        return list(state.records)


def keys_of(settings: Settings) -> dict[str, str]:
    """Each first-pass request's key -> its question id."""
    api = batch_api(settings.llm)
    try:
        built, _ = question_requests(api, discover_questions(settings.data_dir), settings.llm.cloze_mode)
    finally:
        api.close()
    return {request.key: question.question_id for question in built for request in question.requests}


def export(settings: Settings, key: str) -> dict:
    return orjson.loads(export_path(settings.output_dir, key).read_bytes())


def extraction_usage(settings: Settings, key: str) -> dict:
    """The extraction's own usage (the export's llm_usage adds the sync repair turn's)."""
    return orjson.loads((settings.store_dir / EXTRACTED / f"{key}.json").read_bytes())["usage"]


def test_the_sensor_submits_polls_caches_then_runs_with_no_sync_request_for_succeeded_answers(batch_settings, fake):
    keys = sample_ids(batch_settings.data_dir)
    with dg.DagsterInstance.ephemeral() as instance:
        home = Path(instance.root_directory)
        harness = Harness(batch_settings, instance)
        first = harness.tick()
        assert not first.run_requests  # every question waits for its batch
        harness.apply(first)
        assert (fake.stats.batches, fake.stats.batch_requests) == (1, first_pass_count(batch_settings))
        waiting = harness.tick()
        assert isinstance(waiting, dg.SkipReason) and "waiting for 1 open batch" in waiting.skip_message
        assert fake.stats.batches == 1  # polled, not submitted again
        end_batches(fake)
        assert harness.apply(harness.tick()) == keys
        assert all(result.success for result in harness.results)
        assert fake.stats.by_tool.get(FIRST_PASS_TOOL, 0) == 0  # every first-pass answer came from the batch
        assert fake.stats.batch_results["succeeded"] == first_pass_count(batch_settings)
        assert isinstance(harness.tick(), dg.SkipReason) and fake.stats.batches == 1
        [record] = state_records(batch_settings, home)
    usages = [extraction_usage(batch_settings, key) for key in keys]
    assert sum(u["batch_calls"] for u in usages) == sum(u["calls"] for u in usages) == first_pass_count(batch_settings)
    # The questions paid, between them, exactly the batch's tokens (prompt-cache reads and writes included)...
    batch_tokens = fake.stats.batch_usage
    assert {name: sum(u[name] for u in usages) for name in batch_tokens} == batch_tokens
    # ... at batch prices: what the state records for the batch, and half of what the same tokens cost sync.
    assert record.status == "collected" and record.results == {"succeeded": first_pass_count(batch_settings)}
    paid = sum(u["cost_usd"] for u in usages)
    assert paid == pytest.approx(record.usage.cost_usd) and paid > 0
    assert paid == pytest.approx(cost_usd(
        "claude-haiku-5-5", input_tokens=batch_tokens["input_tokens"], output_tokens=batch_tokens["output_tokens"],
        cache_write=batch_tokens["cache_creation_input_tokens"], cache_read=batch_tokens["cache_read_input_tokens"],
    ) / 2)


def test_the_results_come_out_of_order_and_are_matched_by_key(batch_settings, fake):
    requests = keys_of(batch_settings)
    step(batch_settings)
    end_batches(fake)
    api = batch_api(batch_settings.llm)
    try:
        [record] = state_records(batch_settings)
        order = [answer.key for answer in api.results(record.batch_id)]
    finally:
        api.close()
    assert sorted(order) == sorted(requests) and order != list(requests)
    collected = step(batch_settings)
    assert sorted(collected.ready) == sample_ids(batch_settings.data_dir) and not collected.waiting


def test_errored_and_expired_requests_fall_back_to_sync(batch_settings, fake):
    requests = keys_of(batch_settings)
    errored, expired = list(requests)[:2]
    fake.batches.set_faults(errored=[errored], expired=[expired])
    step(batch_settings)
    end_batches(fake)
    done = step(batch_settings)
    assert not done.waiting
    [record] = state_records(batch_settings)
    assert record.results == {"succeeded": len(requests) - 2, "errored": 1, "expired": 1}
    assert cmd_run(batch_settings, []) == 0
    assert fake.stats.by_tool[FIRST_PASS_TOOL] == 2  # exactly the two failed requests, made sync
    assert fake.stats.batches == 1  # never submitted again
    for key in {requests[errored], requests[expired]}:
        usage = extraction_usage(batch_settings, key)
        assert usage["calls"] > usage["batch_calls"]  # its failed request was a sync call


def test_a_restart_before_the_results_never_submits_again(batch_settings, fake):
    first = step(batch_settings)
    assert len(first.submitted) == 1 and sorted(first.waiting) == sample_ids(batch_settings.data_dir)
    again = step(batch_settings)  # a fresh process: the state file is all it knows
    assert not again.submitted and again.waiting == first.waiting
    end_batches(fake)
    assert not step(batch_settings).waiting
    assert fake.stats.batches == 1


class Killed(BaseException):
    """A kill at a chosen point (not an Exception: nothing may catch it)."""


def test_a_kill_between_the_create_call_and_recording_its_id_is_reconciled(batch_settings, fake, monkeypatch):
    create = AnthropicBatches.create

    def create_then_die(self, requests: list[BatchRequest]):
        create(self, requests)
        raise Killed  # the API created the batch; this process never learnt its id

    monkeypatch.setattr(AnthropicBatches, "create", create_then_die)
    with pytest.raises(Killed):
        step(batch_settings)
    [record] = state_records(batch_settings)
    assert record.status == "submitting" and record.batch_id is None
    monkeypatch.setattr(AnthropicBatches, "create", create)
    resumed = step(batch_settings)
    assert not resumed.submitted and resumed.waiting
    assert any("msgbatch_fake000000000001" in note for note in resumed.notes)
    end_batches(fake)
    assert not step(batch_settings).waiting
    assert fake.stats.batches == 1
    [record] = state_records(batch_settings)
    assert record.batch_id == "msgbatch_fake000000000001" and record.status == "collected"


def test_a_kill_before_the_create_call_reached_the_api_submits_once(batch_settings, fake, monkeypatch):
    create = AnthropicBatches.create

    def die(self, requests):
        raise Killed

    monkeypatch.setattr(AnthropicBatches, "create", die)
    with pytest.raises(Killed):
        step(batch_settings)
    monkeypatch.setattr(AnthropicBatches, "create", create)
    resumed = step(batch_settings)
    assert len(resumed.submitted) == 1 and any("never created" in note for note in resumed.notes)
    assert fake.stats.batches == 1 and len(state_records(batch_settings)) == 1


def test_cancel_shows_in_the_state_and_the_canceled_requests_go_sync(batch_settings, fake_api_factory, monkeypatch,
                                                                     capsys):
    slow = fake_api_factory(batch_delay=BATCH_DELAY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", slow.url)
    step(batch_settings)
    [record] = state_records(batch_settings)
    lines = batch_command(batch_settings.llm, batch_settings.dagster_home, "cancel")
    assert any(f"{record.batch_id}: canceling" in line for line in lines)
    with pytest.raises(ValueError, match="not an open batch"):
        batch_command(batch_settings.llm, batch_settings.dagster_home, "cancel", "msgbatch_unknown")
    done = step(batch_settings)
    assert not done.waiting and not done.submitted  # canceled requests are never submitted again
    [record] = state_records(batch_settings)
    assert record.status == "collected" and record.results == {"canceled": len(record.keys)}
    assert cmd_run(batch_settings, []) == 0
    assert slow.stats.by_tool[FIRST_PASS_TOOL] == len(record.keys)


def test_mksap_run_submits_and_returns_then_wait_runs(batch_settings, fake, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(batch_settings.dagster_home))
    assert cmd_run(batch_settings, []) == 0
    out = capsys.readouterr().out
    assert "submitted msgbatch_fake000000000001" in out and "Nothing run yet" in out and "mksap batch status" in out
    assert not export_path(batch_settings.output_dir, sample_ids(batch_settings.data_dir)[0]).exists()
    real_sleep, polls = time.sleep, []

    def first_poll_waits_until_the_batch_ends(seconds: float) -> None:
        polls.append(seconds)
        end_batches(fake)
        time.sleep = real_sleep

    monkeypatch.setattr(time, "sleep", first_poll_waits_until_the_batch_ends)
    assert cmd_run(batch_settings, [], wait=5.0) == 0
    out = capsys.readouterr().out
    assert polls == [5.0]  # it waited once, then collected and ran
    assert "collected msgbatch_fake000000000001" in out and "questions exported: 16" in out
    assert fake.stats.by_tool.get(FIRST_PASS_TOOL, 0) == 0 and fake.stats.batches == 1


def test_mksap_batch_status_lists_the_batches(batch_settings, fake, monkeypatch, capsys):
    for name, value in {"MKSAP_DATA_DIR": batch_settings.data_dir, "DAGSTER_HOME": batch_settings.dagster_home,
                        "MKSAP_LLM_CACHE_DIR": batch_settings.llm.cache_dir, "MKSAP_LLM_PROVIDER": "anthropic",
                        "MKSAP_OUTPUT_DIR": batch_settings.output_dir, "MKSAP_LLM_MODE": "batch"}.items():
        monkeypatch.setenv(name, str(value))
    assert main(["batch", "status"]) == 0
    assert capsys.readouterr().out.strip() == "no message batches in this instance"
    step(batch_settings)
    assert main(["batch", "status"]) == 0
    assert "msgbatch_fake000000000001: in_progress, " in capsys.readouterr().out


def test_a_batch_answer_is_charged_once_at_half_the_sync_price(batch_settings, fake):
    """The same requests cost half in a batch: each answer's tokens priced as the sync path prices them, halved,
    and charged to the first question that uses it, never again."""
    key = sample_ids(batch_settings.data_dir)[0]
    step(batch_settings)
    end_batches(fake)
    step(batch_settings)
    assert cmd_run(batch_settings, [key]) == 0
    usage = extraction_usage(batch_settings, key)
    assert usage["batch_calls"] == usage["calls"] >= 1 and usage["cache_hits"] == usage["calls"]
    sync_price = cost_usd("claude-haiku-5-5", input_tokens=usage["input_tokens"],
                          output_tokens=usage["output_tokens"], cache_write=usage["cache_creation_input_tokens"],
                          cache_read=usage["cache_read_input_tokens"])
    assert usage["cost_usd"] == pytest.approx(sync_price / 2, rel=1e-9) and sync_price > 0
    assert cmd_run(batch_settings, [key]) == 0  # a rerun finds the answers cached, already paid for
    rerun = extraction_usage(batch_settings, key)
    assert (rerun["calls"], rerun["batch_calls"], rerun["cost_usd"]) == (0, 0, 0.0)
    assert rerun["cache_hits"] == usage["calls"]


def test_batch_mode_is_meaningless_offline_and_needs_the_cache(tmp_path):
    offline = LLMConfig(provider="offline", mode="batch", cache_dir=tmp_path)
    assert "does nothing with the offline extractor" in batch_mode_off_reason(offline)
    uncached = LLMConfig(provider="anthropic", mode="batch", cache_dir=tmp_path, cache_enabled=False)
    assert "needs the response cache" in batch_mode_off_reason(uncached)
    assert batch_mode_off_reason(LLMConfig(provider="anthropic", mode="batch", cache_dir=tmp_path)) is None
    assert batch_mode_off_reason(LLMConfig(provider="anthropic", cache_dir=tmp_path)) is None


def test_requests_are_split_at_the_api_limits(monkeypatch):
    from mksap_assets.domain.llm.batches import coordinator

    body = {"text": "x" * 1000}
    requests = [BatchRequest(f"k{n}", body) for n in range(25)]
    monkeypatch.setattr(coordinator, "MAX_BATCH_REQUESTS", 10)
    assert [len(batch) for batch in split(requests)] == [10, 10, 5]
    monkeypatch.setattr(coordinator, "MAX_BATCH_REQUESTS", 100)
    monkeypatch.setattr(coordinator, "MAX_BATCH_BYTES", coordinator.BATCH_BYTES_MARGIN + 3 * 1040)
    assert [len(batch) for batch in split(requests)] == [3] * 8 + [1]
    assert MAX_BATCH_BYTES == 256 * 1024 * 1024


def test_an_unreadable_state_file_names_itself(tmp_path):
    path = tmp_path / STATE_FILE
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(BatchStateError, match=str(path)), BatchState.locked(tmp_path):
        pass


def test_a_step_for_some_questions_collects_every_answer_of_the_batch(batch_settings, fake):
    """`mksap run --partition X` while the sensor's batch is open: collecting it caches every question's answers."""
    step(batch_settings)
    end_batches(fake)
    one = discover_questions(batch_settings.data_dir)[:1]
    collected = batch_step(batch_settings.llm, batch_settings.dagster_home, one)
    assert collected.ready == [one[0].question_id] and len(collected.collected) == 1
    [record] = state_records(batch_settings)
    assert record.results == {"succeeded": first_pass_count(batch_settings)}
    assert sorted(step(batch_settings).ready) == sample_ids(batch_settings.data_dir)


def test_a_succeeded_answer_that_does_not_validate_is_made_again_sync(batch_settings, fake):
    critique_of = {load_raw_question(f).question_id: load_raw_question(f).critique
                   for f in discover_questions(batch_settings.data_dir)}
    target = sample_ids(batch_settings.data_dir)[0]
    marker = critique_of[target][:60]

    def invalid_for_target(body, tool_name):
        return {"statements": "not a list"} if marker in body["messages"][0]["content"] else None

    fake.set_responder(invalid_for_target)
    step(batch_settings)
    end_batches(fake)
    step(batch_settings)
    [record] = state_records(batch_settings)
    assert record.results["not cached: invalid"] >= 1
    fake.set_responder(None)
    assert cmd_run(batch_settings, [target]) == 0
    assert fake.stats.by_tool[FIRST_PASS_TOOL] == record.results["not cached: invalid"]
    usage = extraction_usage(batch_settings, target)
    assert usage["calls"] > usage["batch_calls"]


def test_the_plan_recommends_batch_mode_from_a_measured_saving():
    from mksap_assets.domain.llm.cost_plan import (
        BATCH_WORTH_USD,
        DEFAULT_PER_QUESTION,
        CostEstimate,
        mode_advice,
    )

    one = CostEstimate(1, "claude-haiku-5-5", DEFAULT_PER_QUESTION)
    per_question = one.usd(batch=False) - one.usd(batch=True)
    size = math.ceil(BATCH_WORTH_USD / per_question)
    small, large = (CostEstimate(n, "claude-haiku-5-5", DEFAULT_PER_QUESTION) for n in (size - 1, size))
    assert mode_advice(small, "sync") is None and mode_advice(large, "batch") is None
    assert "batch mode recommended" in mode_advice(large, "sync") and f"from {size:,} questions" in mode_advice(
        large, "sync")
    assert "saves only" in mode_advice(small, "batch")
    assert mode_advice(CostEstimate(size, "claude-unpriced-9", DEFAULT_PER_QUESTION), "sync") is None


def test_a_batch_the_api_refuses_leaves_its_questions_to_sync_runs(batch_settings, fake, monkeypatch):
    def refuse(self, requests):
        raise BatchRejected("the API refused the batch: 413 RequestTooLargeError")

    monkeypatch.setattr(AnthropicBatches, "create", refuse)
    refused = step(batch_settings)
    assert sorted(refused.ready) == sample_ids(batch_settings.data_dir) and not refused.submitted
    assert any("413" in note and "run sync" in note for note in refused.notes)
    assert state_records(batch_settings) == [] and fake.stats.batches == 0


def test_batches_collected_29_days_ago_are_forgotten(batch_settings, fake):
    step(batch_settings)
    end_batches(fake)
    step(batch_settings)
    with BatchState.locked(batch_settings.dagster_home) as state:
        [record] = state.records
        record.collected_at -= timedelta(days=30)
        state.save()
    assert step(batch_settings, submit=False).ready and state_records(batch_settings) == []


def test_batch_answers_go_to_the_shared_cache_the_runs_read(batch_settings, fake, redis_url):
    """With MKSAP_LLM_CACHE_URL the answers are collected into Redis, where the runs of every machine look."""
    import redis

    from mksap_assets.domain.llm.cache.redis import NAMESPACE

    shared = batch_settings.replace(llm=batch_settings.llm.replace(cache_url=redis_url))
    keys = keys_of(shared)
    try:
        step(shared)
        end_batches(fake)
        assert not step(shared).waiting
        assert cmd_run(shared, []) == 0
        assert fake.stats.by_tool.get(FIRST_PASS_TOOL, 0) == 0 and fake.stats.batches == 1
        assert not (shared.llm.cache_dir).exists()  # nothing went to the disk cache
        usages = [extraction_usage(shared, key) for key in sample_ids(shared.data_dir)]
        assert sum(u["batch_calls"] for u in usages) == len(keys)
    finally:
        client = redis.Redis.from_url(redis_url)
        client.delete(*(f"{NAMESPACE}:answer:{key}" for key in keys))
        client.close()
