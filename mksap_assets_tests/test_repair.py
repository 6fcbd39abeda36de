"""The repair turn: statements the gate keeps off the deck go back to the model once per question, through the real
SDK against the fake Messages API; what comes back passing replaces them, what does not stays out."""

import asyncio
import re

import orjson
import pytest

from mksap_assets.domain.config import LLMConfig
from mksap_assets.domain.engine.pipeline import VALIDATED, QuestionPipeline
from mksap_assets.domain.engine.store import ArtifactStore
from mksap_assets.domain.extraction import prompts
from mksap_assets.domain.extraction.schemas import (
    REPAIRS_TOOL,
    STATEMENTS_TOOL,
    Repairs,
)
from mksap_assets.domain.statements import ValidatedStatements
from mksap_assets.resources import PipelineResource
from mksap_assets.settings import Settings
from mksap_devtools.fake_api import last_user_text, repairs_input, statements_input

QUESTION = "cvmcq26001"
INVENTED = " in 97 percent of cases"  # a number no sample source gives: number_not_in_source


@pytest.fixture
def claude_settings(settings: Settings, tmp_path, monkeypatch, fake_api) -> Settings:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    llm = LLMConfig(provider="anthropic", cache_dir=tmp_path / "llm-cache", max_retries=0, timeout=5.0)
    return settings.replace(llm=llm)


def _sent(body: dict) -> list[dict]:
    """The statements a repair request lists (one JSON object per line inside <statements>)."""
    block = re.search(r"<statements>\n(.*)\n</statements>", last_user_text(body["messages"]), re.DOTALL)
    return [orjson.loads(line) for line in block.group(1).splitlines()]


def _is_clean(statement: str) -> bool:
    """A copied critique sentence with no fault of its own (no case narration, no option citation)."""
    return not re.search(r"patient|Option|\b(?:she|he|her|his)\b", statement)


def _responder(repair):
    """The critique's first clean statement gets an invented number; `repair(sent)` answers the repair request."""

    def respond(body: dict, tool_name: str | None):
        if tool_name == REPAIRS_TOOL:
            return repair(_sent(body))
        text = last_user_text(body["messages"])
        if tool_name != STATEMENTS_TOOL or 'kind="critique"' not in text:
            return None
        answer = statements_input(text, body["tools"][0])
        target = next(item for item in answer["statements"] if _is_clean(item["statement"]))
        target["statement"] = target["statement"].rstrip(".") + INVENTED + "."
        return answer

    return respond


def _corrected(sent: list[dict]) -> dict:
    return {"repairs": [
        {"index": item["index"], "statement": item["statement"].replace(INVENTED, ""), "extra_field": None,
         "cloze_primary": item["cloze_candidates"][0], "cloze_secondary": []}
        for item in sent
    ]}


def _run(settings: Settings, tmp_path) -> tuple[dict, ValidatedStatements]:
    extractor = PipelineResource.from_settings(settings).build_extractor()
    store = ArtifactStore(tmp_path / "store")
    pipeline = QuestionPipeline(settings.data_dir, tmp_path / "output", store, extractor)

    async def run():
        try:
            return await pipeline.run(QUESTION)
        finally:
            await pipeline.aclose()

    outcome = asyncio.run(run())
    assert outcome.ok, outcome.error
    metadata = next(r.metadata for r in outcome.results if r.stage == VALIDATED)
    return metadata, store.load(VALIDATED, QUESTION, ValidatedStatements)


def _first(validated: ValidatedStatements):
    """The statement that got the invented number (the first clean one)."""
    return next(s for s in validated.from_critique if _is_clean(s.repaired_from or s.statement))


def _invented_statements(validated: ValidatedStatements) -> list:
    return [s for _, _, s in validated.checked() if INVENTED in s.statement]


def test_a_repair_that_fixes_the_statement_puts_it_back_in_the_deck(claude_settings, fake_api, tmp_path):
    fake_api.set_responder(_responder(_corrected))
    metadata, validated = _run(claude_settings, tmp_path)
    first = _first(validated)
    assert first.passed and not first.blocked_by and INVENTED in first.repaired_from
    assert INVENTED not in first.statement and not _invented_statements(validated)
    repair = validated.validation.repair
    assert repair.statements_sent >= 1 and repair.statements_repaired >= 1 and repair.failure is None
    assert repair.usage.calls == 1 and repair.usage.output_tokens > 0 and repair.usage.cost_usd > 0
    assert metadata["repair_saved"] == repair.statements_repaired and metadata["repair_llm_calls"] == 1
    assert metadata["statements_passed"] == validated.validation.statements_passed
    repair_requests = [r for r in fake_api.requests if REPAIRS_TOOL in str(r.body.get("tool_choice"))]
    assert len(repair_requests) == 1  # one call per question, whatever the number of statements


def test_a_repair_request_answered_429_is_counted_in_the_validation_metadata(claude_settings, fake_api, tmp_path):
    fake_api.set_responder(_responder(lambda sent: {"repairs": "not a list"}))  # invalid: the repair is not cached
    _run(claude_settings, tmp_path / "first")
    fake_api.set_responder(_responder(_corrected))
    fake_api.script_faults(["rate_limit"])  # the extraction's answers are cached: the repair request is the first
    retrying = claude_settings.replace(llm=claude_settings.llm.replace(max_retries=1))
    metadata, validated = _run(retrying, tmp_path / "second")
    assert fake_api.stats.faults == {"rate_limit": 1} and _first(validated).passed
    assert metadata["repair_llm_calls"] == 2 and metadata["repair_retries"] == 1
    assert metadata["repair_rate_limited"] == 1


def test_a_repair_that_still_fails_keeps_the_original_out_of_the_deck(claude_settings, fake_api, tmp_path):
    def unchanged(sent):
        return {"repairs": [{"index": item["index"], "statement": item["statement"], "extra_field": None,
                             "cloze_primary": item["cloze_candidates"][0], "cloze_secondary": []} for item in sent]}

    fake_api.set_responder(_responder(unchanged))
    metadata, validated = _run(claude_settings, tmp_path)
    first = _first(validated)
    assert not first.passed and "number_not_in_source" in first.blocked_by and first.repaired_from is None
    assert validated.validation.repair.statements_repaired == 0 and metadata["repair_saved"] == 0
    assert metadata["repair_sent"] >= 1 and metadata["repair_llm_calls"] == 1


def test_a_repair_that_returns_garbage_keeps_the_originals_and_the_question(claude_settings, fake_api, tmp_path):
    fake_api.set_responder(_responder(lambda sent: {"repairs": "not a list"}))
    metadata, validated = _run(claude_settings, tmp_path)
    repair = validated.validation.repair
    assert repair.failure and "record_repairs" in repair.failure and repair.statements_repaired == 0
    assert repair.usage.calls == 2  # the invalid answer, and the one re-ask of the client
    assert not _first(validated).passed and _first(validated).repaired_from is None
    assert metadata["statements"] == validated.validation.statements


def test_answers_for_indexes_it_was_not_given_are_ignored(claude_settings, fake_api, tmp_path):
    def wrong_index(sent):
        answer = _corrected(sent)
        for item in answer["repairs"]:
            item["index"] = len(sent) + 5
        return answer

    fake_api.set_responder(_responder(wrong_index))
    _, validated = _run(claude_settings, tmp_path)
    assert validated.validation.repair.statements_repaired == 0 and not _first(validated).passed


def test_a_rerun_takes_the_repair_from_the_response_cache(claude_settings, fake_api, tmp_path):
    fake_api.set_responder(_responder(_corrected))
    _run(claude_settings, tmp_path)
    fake_api.reset_stats()
    metadata, validated = _run(claude_settings, tmp_path / "again")
    assert fake_api.stats.total_requests == 0
    assert metadata["repair_saved"] >= 1 and metadata["repair_llm_calls"] == 0 and _first(validated).passed


def test_the_fakes_default_repair_answers_every_listed_statement_by_its_rules():
    listed = [
        {"index": 1, "source": "critique", "statement": "This patient needs a stress test (Option C).",
         "extra_field": None, "cloze_candidates": ["stress test"], "issues": ["patient_specific (statement): …"]},
        {"index": 2, "source": "critique", "statement": "Warfarin is reversed with vitamin K.", "extra_field": None,
         "cloze_candidates": ["vitamin K"], "issues": []},
    ]
    message = prompts.repair_message("An objective.", [("critique", "Some source text.")], listed)
    answer = repairs_input(message)["repairs"]
    assert [item["index"] for item in answer] == [1, 2]
    assert answer[0]["statement"] == "A patient needs a stress test."
    assert all(item["cloze_primary"] in item["statement"] for item in answer)
    Repairs.model_validate({"repairs": answer})


def test_the_repair_prompt_is_versioned_apart_from_extraction(monkeypatch):
    """Editing the repair prompt re-validates questions (their fingerprint changes) but keeps the cache keys of
    their extraction requests, so a rerun pays only for the repair turns."""
    before = (prompts.combined_prompt_version(), prompts.repair_prompt_version())
    original = prompts.prompt_text
    for cached in (prompts.prompt_text, prompts.combined_prompt_version, prompts.repair_prompt_version,
                   prompts.prompt_versions):
        cached.cache_clear()
    monkeypatch.setattr(prompts, "prompt_text", lambda name: original(name) + ("\nBe brief." if name == "repair" else ""))
    try:
        assert prompts.combined_prompt_version() == before[0]
        assert prompts.repair_prompt_version() != before[1]
    finally:
        for cached in (prompts.combined_prompt_version, prompts.repair_prompt_version, prompts.prompt_versions):
            cached.cache_clear()


def test_a_claude_export_has_the_fingerprint_the_sensor_expects(claude_settings, fake_api, tmp_path):
    from mksap_assets.domain.engine.changes import expected_fingerprint
    from mksap_assets.domain.exports.document import export_path
    from mksap_assets.domain.inputs.bank import question_file_for

    fake_api.set_responder(_responder(_corrected))
    _run(claude_settings, tmp_path)
    document = orjson.loads(export_path(tmp_path / "output", QUESTION).read_bytes())
    identity = PipelineResource.from_settings(claude_settings).extractor_identity()
    _, expected = expected_fingerprint(question_file_for(claude_settings.data_dir, QUESTION), identity)
    assert document["provenance"]["fingerprint"] == expected
    assert "+repair." in document["provenance"]["validator_version"]
