"""Replay mode of the fake Messages API: the real Claude code path gets the recorded statements.

The recorded set is written here, for the bundled sample question cvmcq26001 (critique, two key points, one
educational table), with this test's own sentences.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mksap_assets.domain.config import LLMConfig
from mksap_assets.domain.extraction import prompts
from mksap_assets.domain.extraction.schemas import (
    STATEMENTS_ONLY_TOOL,
    STATEMENTS_WITH_CLOZES_TOOL,
)
from mksap_assets.domain.inputs.bank import load_raw_question, question_file_for
from mksap_assets.domain.statements import Statement
from mksap_assets.resources import PipelineResource
from mksap_assets.settings import PROJECT_ROOT, Settings
from mksap_assets_tests.conftest import SAMPLE_DIR
from mksap_assets_tests.helpers import call_and_close, load_benchmark
from mksap_devtools.fake_api import FakeAnthropic, Replay, load_recording

RECORDED_ID = "cvmcq26001"
UNRECORDED_ID = "idmcq26001"  # critique, key points and a table too, but no recording
CAPTION = "Dose Adjustment of Direct Oral Anticoagulants in Nonvalvular Atrial Fibrillation"


def _item(statement: str, primary: str, secondary: list[str] | None = None, extra: str | None = None):
    return {"statement": statement, "extra_field": extra, "cloze_primary": primary, "cloze_secondary": secondary or []}


CRITIQUE = [
    _item(
        "Apixaban is halved to 2.5 mg twice daily when two of three dose-reduction criteria are met.",
        "2.5 mg twice daily",
        extra="Age, body weight and serum creatinine are the three criteria.",
    ),
    _item("Age greater than 79 years is one apixaban dose-reduction criterion.", "greater than 79 years", ["apixaban"]),
    _item("Aspirin is not recommended for stroke prevention in atrial fibrillation.", "Aspirin"),
]
KEY_POINTS = [
    _item("Reduce apixaban to 2.5 mg twice daily when two dose-reduction criteria are present.", "2.5 mg twice daily"),
    _item("Aspirin does not replace oral anticoagulation in atrial fibrillation.", "oral anticoagulation"),
]
TABLE = [
    _item("The standard rivaroxaban dose is 20 mg once daily with the evening meal.", "20 mg once daily"),
    _item("Dabigatran is a direct thrombin inhibitor.", "direct thrombin inhibitor", extra="not the caption"),
]


def _recording(question_id: str = RECORDED_ID, objective: str | None = None, **changes: Any) -> dict[str, Any]:
    raw = load_raw_question(question_file_for(SAMPLE_DIR, RECORDED_ID))
    document = {
        "question_id": question_id,
        "educational_objective": objective or raw.educational_objective,
        "critique": {"statements": CRITIQUE},
        "key_points": {"statements": KEY_POINTS},
        "tables": [{"caption": CAPTION, "statements": TABLE}],
    }
    return {**document, **changes}


def _write(folder: Path, *documents: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for document in documents:
        (folder / f"{document['question_id']}.json").write_text(json.dumps(document), encoding="utf-8")
    return folder


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    return _write(tmp_path / "recorded", _recording())


@pytest.fixture
def claude_settings(settings: Settings, tmp_path: Path, monkeypatch) -> Settings:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-replay")
    llm = LLMConfig(provider="anthropic", cache_dir=tmp_path / "llm-cache", cache_enabled=False, timeout=5.0)
    return settings.replace(llm=llm)


def _extract(settings: Settings, fake: FakeAnthropic, monkeypatch, question_id: str, cloze_mode: str = "folded"):
    """The real LLMExtractor with the anthropic provider (built as a run builds it) against `fake`."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    raw = load_raw_question(question_file_for(SAMPLE_DIR, question_id))
    settings = settings.replace(llm=settings.llm.replace(cloze_mode=cloze_mode))
    extractor = PipelineResource.from_settings(settings).build_extractor()
    return call_and_close(extractor, lambda e: e.extract(raw))


def _expected(items: list[dict[str, Any]], extra_field: str | None = None) -> list[Statement]:
    return [
        Statement(
            statement=item["statement"],
            extra_field=extra_field or item["extra_field"],
            cloze_candidates=[item["cloze_primary"], *item["cloze_secondary"]],
        )
        for item in items
    ]


def test_the_claude_path_gets_exactly_the_recorded_statements(claude_settings, fake_api_factory, recorded, monkeypatch):
    fake = fake_api_factory(replay_dir=recorded)
    extraction = _extract(claude_settings, fake, monkeypatch, RECORDED_ID)
    critique = _expected(CRITIQUE)
    # The extractor's own normalisation: comparator phrases become symbols, in the statement and its clozes.
    critique[1] = Statement(
        statement="Age > 79 years is one apixaban dose-reduction criterion.",
        extra_field=None,
        cloze_candidates=["> 79 years", "apixaban"],
    )
    assert extraction.from_critique == critique
    assert extraction.from_key_points == _expected(KEY_POINTS)
    # ... and a table statement's extra_field is the caption, whatever was recorded.
    assert [s.model_dump(exclude={"table_source"}) for s in extraction.table_statements] == [
        s.model_dump() for s in _expected(TABLE, extra_field=CAPTION)
    ]
    assert {s.table_source for s in extraction.table_statements} == {"cvtab26001.html"}
    stats = fake.stats
    assert (stats.replayed, stats.replay_misses, stats.ok) == (3, 0, 3)
    assert extraction.usage.output_tokens > 0  # usage is reported as for any answer


def test_an_unrecorded_question_gets_the_default_answer_and_is_counted(
    claude_settings, fake_api_factory, recorded, monkeypatch
):
    replaying = fake_api_factory(replay_dir=recorded)
    fallback = _extract(claude_settings, replaying, monkeypatch, UNRECORDED_ID)
    default = _extract(claude_settings, fake_api_factory(), monkeypatch, UNRECORDED_ID)
    assert list(fallback.statements()) == list(default.statements()) and fallback.statement_count > 0
    assert (replaying.stats.replayed, replaying.stats.replay_misses) == (0, fallback.usage.calls) == (0, 3)


def test_separate_clozes_the_cloze_request_is_a_miss(claude_settings, fake_api_factory, recorded, monkeypatch):
    fake = fake_api_factory(replay_dir=recorded)
    extraction = _extract(claude_settings, fake, monkeypatch, RECORDED_ID, cloze_mode="separate")
    assert [s.statement for s in extraction.from_key_points] == [item["statement"] for item in KEY_POINTS]
    # The statements-only tool got items without clozes; the clozes came from the default record_clozes answer.
    assert [s.cloze_candidates for s in extraction.from_key_points] == [["reduction"], ["anticoagulation"]]
    assert (fake.stats.replayed, fake.stats.replay_misses) == (3, 1)
    assert fake.stats.by_tool == {"record_statements": 3, "record_clozes": 1}


def test_a_repair_turn_is_answered_from_the_recording(claude_settings, fake_api_factory, recorded, monkeypatch):
    fake = fake_api_factory(replay_dir=recorded)
    fake.script_faults(["malformed"])  # the first request (whichever source) gets invalid input, then is repaired
    extraction = _extract(claude_settings, fake, monkeypatch, RECORDED_ID)
    assert extraction.from_key_points == _expected(KEY_POINTS) and len(extraction.table_statements) == len(TABLE)
    assert fake.stats.faults == {"malformed": 1}
    assert (fake.stats.replayed, fake.stats.replay_misses, fake.stats.ok) == (3, 0, 4)  # a fault is not a miss


def test_matching_ignores_prompt_wording_case_and_spacing(claude_settings, fake_api_factory, recorded, monkeypatch):
    rewritten = [{"type": "text", "text": "Entirely different instructions.", "cache_control": {"type": "ephemeral"}}]
    monkeypatch.setattr(prompts, "instructions", lambda task: ("Entirely different instructions.",))
    fake = fake_api_factory(replay_dir=recorded)
    extraction = _extract(claude_settings, fake, monkeypatch, RECORDED_ID)
    assert extraction.from_key_points == _expected(KEY_POINTS) and fake.stats.replay_misses == 0
    assert fake.requests[0].body["system"] == rewritten

    replay = Replay([load_recording(recorded / f"{RECORDED_ID}.json")])
    objective = load_raw_question(question_file_for(SAMPLE_DIR, RECORDED_ID)).educational_objective
    shouted = "  ".join(objective.upper().split())
    assert replay.recorded_statements(f'Objective:\n{shouted}\n<source kind="key points">1. x</source>') == KEY_POINTS
    assert replay.recorded_statements(f'{objective}<source kind="table">{CAPTION.lower()}\nA | B</source>') == TABLE


def test_a_caption_quoted_in_the_critique_does_not_make_it_a_table(recorded):
    replay = Replay([load_recording(recorded / f"{RECORDED_ID}.json")])
    objective = _recording()["educational_objective"]
    critique = f'{objective}<source kind="critique">As the table "{CAPTION}" shows, the dose depends.</source>'
    assert replay.recorded_statements(critique) == CRITIQUE
    assert replay.recorded_statements(f'{objective}<source kind="table">Another table\nA | B</source>') is None
    assert replay.recorded_statements(f'{objective}<source kind="summary">text</source>') is None
    assert replay.recorded_statements(f'{objective} with no task label') is None


def test_questions_that_share_an_objective_are_not_replayed(tmp_path: Path):
    shared = _write(tmp_path / "shared", _recording(), _recording("cvmcq26002"))
    replay = Replay.from_directory(shared)
    objective = _recording()["educational_objective"]
    assert replay.questions == 2
    assert replay.recorded_statements(f'{objective}<source kind="critique">text</source>') is None
    longer = Replay.from_directory(_write(tmp_path / "longer", _recording(objective=f"{objective} Then more.")))
    assert longer.recorded_statements(f'{objective}<source kind="critique">text</source>') is None


def test_a_null_key_points_part_is_not_replayed(tmp_path: Path):
    replay = Replay.from_directory(_write(tmp_path / "r", _recording(key_points=None)))
    objective = _recording()["educational_objective"]
    assert replay.recorded_statements(f'{objective}<source kind="key_points">1. x</source>') is None
    assert replay.recorded_statements(f'{objective}<source kind="critique">x</source>') == CRITIQUE


def test_tool_input_follows_the_tool_schema_and_ignores_other_tools(recorded):
    replay = Replay.from_directory(recorded)
    text = f'{_recording()["educational_objective"]}<source kind="critique">x</source>'
    assert replay.tool_input(text, "record_statements", STATEMENTS_WITH_CLOZES_TOOL) == {"statements": CRITIQUE}
    plain = [{"statement": item["statement"], "extra_field": item["extra_field"]} for item in CRITIQUE]
    assert replay.tool_input(text, "record_statements", STATEMENTS_ONLY_TOOL) == {"statements": plain}
    assert replay.tool_input(text, "record_repair", {"input_schema": {"type": "object"}}) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"question_id": "other"}, "question_id must be the file name"),
        ({"educational_objective": " "}, "educational_objective"),
        ({"critique": {"statements": [{"statement": 3}]}}, "critique.statements[0]"),
        ({"key_points": []}, "key_points.statements must be a list"),
        ({"tables": [{"caption": "", "statements": []}]}, "tables[0].caption"),
        ({"repairs": {"statement": "x"}}, "repairs must be a list"),
        ({"repairs": [{"statement": "x", "repair": {"extra_field": None}}]}, "repairs[0]"),
    ],
)
def test_a_malformed_recording_names_its_file_and_field(tmp_path: Path, change, message):
    path = tmp_path / f"{RECORDED_ID}.json"
    path.write_text(json.dumps({**_recording(), **change}), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        FakeAnthropic(replay_dir=tmp_path)
    assert str(path) in str(caught.value)


def test_an_empty_replay_folder_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="no recorded"):
        FakeAnthropic(replay_dir=tmp_path)


def test_cli_replay_option(recorded):
    code = (
        "import argparse; from mksap_devtools.fake_api import add_arguments, run_from_args;"
        "p = argparse.ArgumentParser(); add_arguments(p); raise SystemExit(run_from_args(p.parse_args()))"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-c", code, "--port", "0", "--replay", str(recorded)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert "ANTHROPIC_BASE_URL=http://127.0.0.1:" in proc.stdout.readline()
        assert proc.stdout.readline().startswith(f"replaying 1 recorded questions from {recorded}")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0  # a loaded machine can take seconds to stop the server
        assert "0 replayed, 0 not replayed" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- the reference outputs of the corpus, converted by benchmarks/quality.py ------------------------------------------


def test_reference_outputs_become_a_valid_recording(tmp_path: Path):
    quality = load_benchmark("quality")
    raw = load_raw_question(question_file_for(SAMPLE_DIR, RECORDED_ID))

    def original(statement: str, clozes: list[str], **extra: Any) -> dict[str, Any]:
        return {"statement": statement, "extra_field": "an explanation", "cloze_candidates": clozes, **extra}

    document = {
        "question_id": RECORDED_ID,
        "true_statements": {
            "from_critique": [original("Warfarin needs INR monitoring.", ["Warfarin", "INR", "monitoring", "needs"])],
            "from_key_points": [],
        },
        "table_statements": {
            "statements": [
                original("Apixaban is a factor Xa inhibitor.", ["Apixaban"], table_source="cvtab26001.html"),
            ],
        },
    }
    converted = quality.recording_from_reference(document, raw)
    _write(tmp_path, converted)
    replay = Replay.from_directory(tmp_path)  # loads: the format is valid
    objective = raw.educational_objective
    assert replay.recorded_statements(f'{objective}<source kind="critique">x</source>') == [
        {"statement": "Warfarin needs INR monitoring.", "extra_field": None, "cloze_primary": "Warfarin",
         "cloze_secondary": ["INR", "monitoring"]},  # cut to the tool schema's two secondary clozes
    ]
    assert replay.recorded_statements(f'{objective}<source kind="key_points">1. x</source>') == []
    table_text = raw.educational_tables[0].to_text()
    table = replay.recorded_statements(f'{objective}<source kind="table">{table_text}</source>')
    assert [item["statement"] for item in table] == ["Apixaban is a factor Xa inhibitor."]


def test_a_validation_repair_request_gets_no_corrections_from_a_replay(claude_settings, fake_api_factory, recorded,
                                                                      monkeypatch):
    from mksap_assets.domain.extraction.repair import StatementToRepair
    from mksap_assets.domain.statements import Issue

    fake = fake_api_factory(replay_dir=recorded)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    raw = load_raw_question(question_file_for(SAMPLE_DIR, RECORDED_ID))
    extractor = PipelineResource.from_settings(claude_settings).build_extractor()
    item = StatementToRepair("from_critique", 0, Statement(statement="This patient has 7 symptoms.",
                                                           cloze_candidates=["symptoms"]),
                             [Issue(code="patient_specific", severity="error", message="case")])
    answer = call_and_close(extractor, lambda e: e.repair(raw, [item]))
    assert answer.statements == {} and answer.failure is None and answer.usage.calls == 1
    assert (fake.stats.replayed, fake.stats.replay_misses) == (0, 1)


def test_recorded_repairs_answer_the_statements_a_repair_request_lists(claude_settings, fake_api_factory, tmp_path,
                                                                       monkeypatch):
    from mksap_assets.domain.extraction.repair import StatementToRepair
    from mksap_assets.domain.statements import Issue

    wrong = "This patient has 7 symptoms."
    recording = {**_recording(), "repairs": [
        {"statement": "An unrelated statement.", "repair": _item("Something else entirely.", "else")},
        {"statement": wrong, "repair": _item("Atrial fibrillation raises the risk of stroke.", "stroke")},
        {"statement": "A statement the model gave up on.", "repair": None},
    ]}
    fake = fake_api_factory(replay_dir=_write(tmp_path / "with-repairs", recording))
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    raw = load_raw_question(question_file_for(SAMPLE_DIR, RECORDED_ID))
    extractor = PipelineResource.from_settings(claude_settings).build_extractor()
    issue = [Issue(code="patient_specific", severity="error", message="case")]
    items = [StatementToRepair("from_key_points", 2, Statement(statement="A statement the model gave up on."), issue),
             StatementToRepair("from_critique", 4, Statement(statement=wrong), issue)]

    answer = call_and_close(extractor, lambda e: e.repair(raw, items))
    assert answer.statements == {("from_critique", 4): Statement(
        statement="Atrial fibrillation raises the risk of stroke.", cloze_candidates=["stroke"])}
    assert (fake.stats.replayed, fake.stats.replay_misses) == (1, 0)


def test_captured_requests_answered_offline_replay_as_a_recording(claude_settings, fake_api_factory, recorded,
                                                                  tmp_path: Path, monkeypatch):
    """quality.py --capture-requests writes what the model is given; recordings_from_answers.py turns answers to
    those requests into a recording that the replay gives back to the same requests, evidence fields included."""
    quality, assemble = load_benchmark("quality"), load_benchmark("recordings_from_answers")
    fake = fake_api_factory(replay_dir=recorded)
    _extract(claude_settings, fake, monkeypatch, RECORDED_ID)
    requests = tmp_path / "requests"
    assert quality.write_extraction_requests(fake, requests) == 3
    folder = requests / RECORDED_ID
    assert sorted(p.name for p in folder.iterdir()) == ["critique.json", "key_points.json", "table-1.json"]
    critique = json.loads((folder / "critique.json").read_text())
    assert critique["tool"]["name"] == "record_statements" and "<question_context>" in critique["user"]
    assert "".join(critique["system"]).startswith(prompts.prompt_text("system").strip()[:40])

    answers = tmp_path / "answers" / RECORDED_ID
    answers.mkdir(parents=True)
    answered = {part: {"source_quote": f"quote of {part}", "statement": f"Warfarin is an anticoagulant ({part}).",
                       "extra_field": None, "cloze_primary": "Warfarin", "cloze_secondary": [],
                       "source_concern": None}
                for part in ("critique", "key_points", "table-1")}
    for part, item in answered.items():
        (answers / f"{part}.json").write_text(json.dumps({"statements": [item]}))
    _write(tmp_path / "rerun", assemble.recording(RECORDED_ID, folder, answers))
    extraction = _extract(claude_settings, fake_api_factory(replay_dir=tmp_path / "rerun"), monkeypatch, RECORDED_ID)
    got = {section: [(s.statement, s.source_quote) for s in items] for section, items in (
        ("critique", extraction.from_critique), ("key_points", extraction.from_key_points),
        ("table-1", extraction.table_statements))}
    assert got == {part: [(item["statement"], item["source_quote"])] for part, item in answered.items()}


def test_a_request_without_an_answer_names_the_missing_file(tmp_path: Path):
    assemble = load_benchmark("recordings_from_answers")
    requests, answers = tmp_path / "requests", tmp_path / "answers"
    requests.mkdir()
    answers.mkdir()
    (requests / "critique.json").write_text(json.dumps({"user": "<educational_objective>o</educational_objective>"}))
    with pytest.raises(ValueError, match="critique.json: no answer"):
        assemble.recording("cvmcq26001", requests, answers)
