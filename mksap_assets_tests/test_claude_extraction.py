"""Claude extraction through the real SDK against the fake Messages API: runs, cache, retries, repair, failures."""

import asyncio
import errno
import sqlite3
from collections.abc import Callable
from contextlib import closing

import dagster as dg
import diskcache
import orjson
import pytest

from mksap_assets.definitions import build_definitions
from mksap_assets.domain.config import LLMConfig
from mksap_assets.domain.exports.document import export_path
from mksap_assets.domain.exports.summary import summarise_exports
from mksap_assets.domain.extraction.schemas import MAX_ITEMS_PER_CALL
from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question
from mksap_assets.domain.llm.client import ExtractionError
from mksap_assets.domain.validation.structure import (
    MAX_CLOZE_CHARS,
    MAX_EXTRA_FIELD_CHARS,
    MAX_STATEMENT_CHARS,
    check_structure,
)
from mksap_assets.partitions import question_partitions, range_tags
from mksap_assets.resources import PipelineResource
from mksap_assets.settings import Settings
from mksap_assets_tests.conftest import SAMPLE_DIR
from mksap_assets_tests.helpers import call_and_close, sample_ids
from mksap_devtools.fake_api import FakeAnthropic

API_KEY = "sk-ant-test-0123456789"


@pytest.fixture
def claude_settings(settings: Settings, tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    llm = LLMConfig(provider="anthropic", cache_dir=tmp_path / "llm-cache", max_retries=4, timeout=5.0)
    return settings.replace(llm=llm)


def _point_at(fake: FakeAnthropic, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)


def _run_all(settings: Settings, instance: dg.DagsterInstance):
    keys = sample_ids(settings.data_dir)
    instance.add_dynamic_partitions("question", keys)
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    return keys, job.execute_in_process(instance=instance, tags=range_tags(keys[0], keys[-1]), raise_on_error=False)


def test_full_run_through_dagster_then_warm_cache_makes_no_call(claude_settings, fake_api, monkeypatch):
    _point_at(fake_api, monkeypatch)
    with dg.DagsterInstance.ephemeral() as instance:
        keys, result = _run_all(claude_settings, instance)
        assert result.success
        calls = fake_api.stats.total_requests
        raws = [load_raw_question(f) for f in discover_questions(claude_settings.data_dir)]
        validated = [e.materialization.metadata for e in result.get_asset_materialization_events()
                     if e.asset_key == dg.AssetKey("validated_statements")]
        repairs = sum(m["repair_llm_calls"].value for m in validated)
        assert repairs == sum(m["repair_sent"].value > 0 for m in validated)  # one repair call per question at most
        expected = sum(1 + bool(r.key_points) + len(r.educational_tables) for r in raws)
        assert calls == expected + repairs  # folded clozes: one call per source, plus the repair turns
        for key in keys:
            document = orjson.loads(export_path(claude_settings.output_dir, key).read_bytes())
            provenance = document["provenance"]
            assert provenance["extractor"] == "anthropic" and provenance["model"] == "claude-haiku-5-5"
            assert provenance["endpoint"] == fake_api.url  # the fake serves on 127.0.0.1: never Anthropic's API
            assert provenance["llm_usage"]["calls"] >= 1 and provenance["llm_usage"]["output_tokens"] > 0
            for item in document["true_statements"]["from_critique"]:
                assert all(c in item["statement"] for c in item["cloze_candidates"])
        extracted = [e for e in result.get_asset_materialization_events()
                     if e.asset_key == dg.AssetKey("extracted_statements")]
        assert sum(e.materialization.metadata["llm_calls"].value for e in extracted) == calls - repairs
        assert all(e.materialization.metadata["cost_usd"].value > 0 for e in extracted)
        assert all(e.materialization.metadata["endpoint"].value == fake_api.url for e in extracted)
        assert all(e.materialization.metadata["billed"].value is False for e in extracted)
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
        port = fake_api.url.rsplit(":", 1)[1]
        assert any(f"anthropic API at 127.0.0.1:{port} (not api.anthropic.com); costs are estimates, not billed"
                   in message for message in messages)
        assert any("questions done" in message and f"; not billed: answered by {fake_api.url}" in message
                   for message in messages)
        [report] = [e.materialization.metadata for e in result.get_asset_materialization_events()
                    if e.asset_key == dg.AssetKey("pipeline_report")]
        assert report["unbilled_cost_usd"].value == report["cost_usd"].value > 0
        assert "not billed (answered by an endpoint other than Anthropic's API)" in report["report"].value
        summary = summarise_exports(claude_settings.output_dir).render()
        assert f"extractor:          anthropic at {fake_api.url}\n" in summary
        assert f"127.0.0.1:{port} (not api.anthropic.com); costs are estimates, not billed" in summary

        fake_api.reset_stats()
        _, again = _run_all(claude_settings, instance)
        assert again.success and fake_api.stats.total_requests == 0
        extracted = [e for e in again.get_asset_materialization_events()
                     if e.asset_key == dg.AssetKey("extracted_statements")]
        assert sum(e.materialization.metadata["cache_hits"].value for e in extracted) == calls - repairs


def test_prompt_prefix_is_cached_and_the_key_is_sent_as_bearer(claude_settings, fake_api, monkeypatch):
    _point_at(fake_api, monkeypatch)
    raw = load_raw_question(discover_questions(SAMPLE_DIR)[0])
    extractor = PipelineResource.from_settings(claude_settings).build_extractor()
    first = asyncio.run(extractor.extract(raw))
    assert first.usage.cache_creation_input_tokens > 0
    other = load_raw_question(discover_questions(SAMPLE_DIR)[1])
    extractor = PipelineResource.from_settings(claude_settings).build_extractor()
    second = asyncio.run(extractor.extract(other))
    assert second.usage.cache_read_input_tokens > 0  # same instructions prefix, different question
    assert fake_api.last_request.headers["authorization"] == f"Bearer {API_KEY}"


def test_answers_from_another_endpoint_are_never_served_to_the_real_api(claude_settings, fake_api_factory,
                                                                        monkeypatch):
    index = _without_tables_or_key_points()
    first = fake_api_factory()
    _point_at(first, monkeypatch)
    raw, extraction = _extract_one(claude_settings, index)
    assert extraction.endpoint == first.url and first.stats.total_requests == 1
    first.reset_stats()
    _extract_one(claude_settings, index)
    assert first.stats.total_requests == 0  # the same endpoint again: a cache hit

    second = fake_api_factory()
    _point_at(second, monkeypatch)
    assert _extract_one(claude_settings, index)[1].endpoint == second.url
    assert second.stats.total_requests == 1  # another endpoint: its own request, not the first one's answer

    # Anthropic's API, with the same cache: neither fake's answer may come back as a cache hit.
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    extractor = PipelineResource.from_settings(claude_settings).build_extractor()
    assert extractor.client.endpoint is None
    sent = []

    async def not_sent(request):
        sent.append(request)
        raise ExtractionError("a test sends nothing to Anthropic")

    monkeypatch.setattr(extractor.client, "_create", not_sent)
    with pytest.raises(ExtractionError, match="sends nothing"):
        call_and_close(extractor, lambda e: e.extract(raw))
    assert len(sent) == 1


def _extract_one(settings: Settings, index: int = 0):
    raw = load_raw_question(discover_questions(SAMPLE_DIR)[index])
    extractor = PipelineResource.from_settings(settings).build_extractor()
    return raw, call_and_close(extractor, lambda e: e.extract(raw))


def _without_tables_or_key_points() -> int:
    """Index of a sample question that makes exactly one call (a vdx question: critique only)."""
    files = discover_questions(SAMPLE_DIR)
    return next(i for i, f in enumerate(files) if f.question_id[2:5] == "vdx" and not f.table_paths())


@pytest.mark.parametrize("fault", ["rate_limit", "overloaded", "server_error"])
def test_transient_errors_are_retried_by_the_sdk(claude_settings, fake_api_factory, monkeypatch, fault):
    fake = fake_api_factory(error_retry_after_ms=20)
    _point_at(fake, monkeypatch)
    fake.script_faults([fault, fault])
    _, extraction = _extract_one(claude_settings, _without_tables_or_key_points())
    assert extraction.from_critique
    assert fake.stats.total_requests == 3 and extraction.usage.retries == 2 and extraction.usage.calls == 3
    assert extraction.usage.rate_limited == (2 if fault == "rate_limit" else 0)


def test_retry_after_is_honoured(claude_settings, fake_api_factory, monkeypatch):
    fake = fake_api_factory(rpm=2, period=1.0)  # refuses the 3rd quick request with retry-after
    _point_at(fake, monkeypatch)
    settings = claude_settings.replace(llm=claude_settings.llm.replace(rpm=None))
    raw, extraction = _extract_one(settings, next(i for i, f in enumerate(discover_questions(SAMPLE_DIR))
                                               if len(f.table_paths()) >= 1 and f.question_id[2:5] != "vdx"))
    assert extraction.statement_count > 0
    assert fake.stats.refused_by_limit <= 2  # learned the limit from the headers after the first refusal


def test_malformed_output_is_repaired_by_one_re_ask(claude_settings, fake_api, monkeypatch):
    _point_at(fake_api, monkeypatch)
    fake_api.script_faults(["malformed"])
    _, extraction = _extract_one(claude_settings, _without_tables_or_key_points())
    assert extraction.from_critique and fake_api.stats.total_requests == 2
    repair = fake_api.last_request.body["messages"]
    assert repair[-1]["content"][0]["type"] == "tool_result" and repair[-1]["content"][0]["is_error"]


def test_twice_malformed_fails_the_question_with_a_reason(claude_settings, fake_api, monkeypatch):
    _point_at(fake_api, monkeypatch)
    fake_api.script_faults(["malformed", "malformed"])
    with pytest.raises(ExtractionError, match="invalid output after one repair"):
        _extract_one(claude_settings, _without_tables_or_key_points())


def test_truncated_output_is_retried_with_a_larger_budget(claude_settings, fake_api, monkeypatch):
    _point_at(fake_api, monkeypatch)
    fake_api.script_faults(["truncated"])
    _, extraction = _extract_one(claude_settings, _without_tables_or_key_points())
    budgets = [r.body["max_tokens"] for r in fake_api.requests]
    assert extraction.from_critique and budgets[1] == 2 * budgets[0]


def test_refusal_fails_only_that_question(claude_settings, fake_api, monkeypatch):
    _point_at(fake_api, monkeypatch)
    fake_api.script_faults(["refusal"])  # whichever call comes first is refused
    with dg.DagsterInstance.ephemeral() as instance:
        keys, result = _run_all(claude_settings, instance)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        description = failure.step_failure_data.user_failure_data.description
        assert description.startswith("1 of 16 questions failed") and "refusal" in description
        [refused] = [key for key in keys if key in description]
        exported = {p.stem for p in claude_settings.output_dir.glob("[a-z][a-z]/*.json")}
        assert exported == set(keys) - {refused}
        statuses = instance.get_status_by_partition(dg.AssetKey("extracted_statements"), keys, question_partitions)
        assert [k for k, v in statuses.items() if v.value == "FAILED"] == [refused]


def test_separate_cloze_mode_adds_one_call_per_question(claude_settings, fake_api, monkeypatch):
    _point_at(fake_api, monkeypatch)
    settings = claude_settings.replace(llm=claude_settings.llm.replace(cloze_mode="separate"))
    _, extraction = _extract_one(settings, _without_tables_or_key_points())
    assert fake_api.stats.by_tool == {"record_statements": 1, "record_clozes": 1}
    assert all(s.cloze_candidates and all(c in s.statement for c in s.cloze_candidates)
               for s in extraction.from_critique)


def test_requests_in_flight_never_exceed_the_concurrency(claude_settings, fake_api_factory, monkeypatch):
    # Questions in flight are twice the concurrency (so that questions in validation leave no API slot idle);
    # the limiter still holds the requests themselves to MKSAP_LLM_CONCURRENCY.
    fake = fake_api_factory(latency=0.05, max_in_flight=3)
    _point_at(fake, monkeypatch)
    settings = claude_settings.replace(llm=claude_settings.llm.replace(concurrency=3))
    assert PipelineResource.from_settings(settings).questions_in_flight() == 6
    with dg.DagsterInstance.ephemeral() as instance:
        _, result = _run_all(settings, instance)
    assert result.success and fake.stats.refused_by_limit == 0
    assert fake.stats.max_in_flight == 3  # reached, never passed


def _cache_rows(settings: Settings) -> list[tuple[str, bytes]]:
    """(key, stored bytes) of every response cache entry, whatever the cache's layout, read with sqlite alone."""
    rows = []
    for database in settings.llm.cache_dir.rglob("cache.db"):
        with closing(sqlite3.connect(database)) as connection:
            for key, value, filename in connection.execute("SELECT key, value, filename FROM Cache"):
                stored = (database.parent / filename).read_bytes() if filename else value
                rows.append((key, stored.encode() if isinstance(stored, str) else bytes(stored)))
    return rows


def _overwrite_cache_values(settings: Settings, value: bytes) -> None:
    for database in settings.llm.cache_dir.rglob("cache.db"):
        with closing(sqlite3.connect(database)) as connection, connection:
            connection.execute("UPDATE Cache SET value = ?, mode = 1, filename = NULL", (value,))


@pytest.mark.parametrize("stored", [b"\x80\x04garbled", orjson.dumps({"tool_input": {"statements": 5}})])
def test_an_unusable_cache_entry_costs_one_call_and_never_fails_the_question(claude_settings, fake_api, monkeypatch,
                                                                             stored):
    _point_at(fake_api, monkeypatch)
    one_call = _without_tables_or_key_points()
    _extract_one(claude_settings, one_call)
    _overwrite_cache_values(claude_settings, stored)  # garbled bytes; JSON that no longer validates
    fake_api.reset_stats()
    _, extraction = _extract_one(claude_settings, one_call)
    assert extraction.from_critique and fake_api.stats.total_requests == 1 and extraction.usage.cache_misses == 1
    _, again = _extract_one(claude_settings, one_call)  # the entry was replaced by the new answer
    assert again.usage.cache_hits == 1 and fake_api.stats.total_requests == 1


def test_a_cache_that_cannot_write_keeps_the_paid_answer(claude_settings, fake_api, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    _point_at(fake_api, monkeypatch)
    monkeypatch.setattr(diskcache.Cache, "set", disk_full)
    with dg.DagsterInstance.ephemeral() as instance:
        _, result = _run_all(claude_settings, instance)
        assert result.success  # every question, though no answer could be cached
        extracted = [e.materialization.metadata for e in result.get_asset_materialization_events()
                     if e.asset_key == dg.AssetKey("extracted_statements")]
        calls = sum(m["llm_calls"].value for m in extracted)
        assert calls > 0 and sum(m["cache_write_errors"].value for m in extracted) == calls
        log = "\n".join(e.message or "" for e in instance.all_logs(result.run_id))
        assert f"cache_write_errors={calls}" in log  # the run's totals line


def _statements_answer(statements: list[dict]) -> Callable[[dict, str | None], dict | None]:
    return lambda body, tool_name: {"statements": statements} if tool_name == "record_statements" else None


def test_the_cache_stores_the_validated_answer_without_unknown_keys(claude_settings, fake_api, monkeypatch):
    _point_at(fake_api, monkeypatch)
    statement = {"statement": "Gout most often affects the first toe.", "extra_field": None,
                 "cloze_primary": "first toe", "cloze_secondary": [], "unknown_in_statement": "u" * 1000}
    answer = _statements_answer([statement])
    fake_api.set_responder(lambda body, tool: {**answer(body, tool), "unknown_at_top": "t" * 1000})
    _, extraction = _extract_one(claude_settings, _without_tables_or_key_points())
    rows = _cache_rows(claude_settings)
    assert extraction.from_critique and len(rows) == 1
    assert b"first toe" in rows[0][1] and b"unknown_" not in rows[0][1]


def test_model_strings_over_their_caps_are_cut_and_blocked(claude_settings, fake_api, monkeypatch):
    _point_at(fake_api, monkeypatch)
    long_text = "Gout affects the toe. " * 250  # 5,500 characters, over every cap
    fake_api.set_responder(_statements_answer([
        {"statement": long_text, "extra_field": long_text, "cloze_primary": long_text, "cloze_secondary": []},
    ]))
    _, extraction = _extract_one(claude_settings, _without_tables_or_key_points())
    [item] = extraction.from_critique
    assert len(item.statement) == MAX_STATEMENT_CHARS + 1 and len(item.extra_field) == MAX_EXTRA_FIELD_CHARS + 1
    assert len(item.cloze_candidates[0]) == MAX_CLOZE_CHARS + 1
    over = {issue.field: issue for issue in check_structure(item) if issue.code == "over_size_cap"}
    assert set(over) == {"statement", "extra_field", "cloze_candidates"}
    assert all(issue.severity == "error" for issue in over.values())


def test_an_answer_with_too_many_statements_fails_with_the_reason(claude_settings, fake_api, monkeypatch):
    _point_at(fake_api, monkeypatch)
    statement = {"statement": "Gout most often affects the first toe.", "extra_field": None,
                 "cloze_primary": "first toe", "cloze_secondary": []}
    fake_api.set_responder(_statements_answer([statement] * (MAX_ITEMS_PER_CALL + 1)))
    with pytest.raises(ExtractionError, match=f"at most {MAX_ITEMS_PER_CALL} are accepted"):
        _extract_one(claude_settings, _without_tables_or_key_points())
    assert fake_api.stats.total_requests == 2  # the answer and its one repair turn
