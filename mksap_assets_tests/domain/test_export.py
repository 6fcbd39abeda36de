"""Export document layout, atomic writes, and the change fingerprint."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from mksap_assets.domain.engine.pipeline import EXTRACTED, RAW, QuestionPipeline
from mksap_assets.domain.engine.store import (
    ArtifactStore,
    UnreadableFileError,
    write_json_atomic,
)
from mksap_assets.domain.exports.document import (
    EXPORT_MISSING,
    EXPORT_UNREADABLE,
    build_export,
    export_path,
    export_problem,
    iter_exports,
    output_fingerprint,
    read_export,
)
from mksap_assets.domain.exports.summary import summarise_exports
from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question
from mksap_assets.domain.validation import validate_extraction
from mksap_assets_tests.conftest import SAMPLE_DIR


def _export(question_file):
    raw = load_raw_question(question_file)
    extraction = asyncio.run(OfflineExtractor().extract(raw))
    validated = validate_extraction(extraction)
    return raw, extraction, validated, build_export(
        raw, extraction, validated, nlp_pipeline="rules", now=datetime(2026, 1, 1, tzinfo=UTC)
    )


def test_export_keeps_every_input_field_unchanged_and_adds_outputs():
    question_file = discover_questions(SAMPLE_DIR)[0]
    original = orjson.loads(question_file.path.read_bytes())
    *_, document = _export(question_file)
    for name, value in original.items():
        assert document[name] == value, name
    assert list(document)[: len(original)] == list(original)  # input key order kept
    item = document["true_statements"]["from_critique"][0]
    assert set(item) == {"id", "statement", "extra_field", "cloze_candidates", "issues", "passed", "blocked_by"}
    assert set(document["table_statements"]) == {"statements", "tables_processed", "tables_skipped"}
    assert document["retired_statements"] == []  # a first export retires nothing
    assert "passed" not in document["validation"]  # a question passes in part: statements_passed and pass_rate
    assert isinstance(document["validation"]["statements_passed"], int)
    provenance = document["provenance"]
    assert provenance["extractor"] == "offline" and len(provenance["fingerprint"]) == 64
    assert provenance["source_path"] == question_file.relative_path


def test_export_carries_each_statements_gate_and_the_share_that_passed():
    validated_docs = [_export(question_file)[2:] for question_file in discover_questions(SAMPLE_DIR)[:4]]
    for validated, document in validated_docs:
        items = [
            *document["true_statements"]["from_critique"], *document["true_statements"]["from_key_points"],
            *document["table_statements"]["statements"],
        ]
        checked = [item for _, _, item in validated.checked()]
        assert [(i["statement"], i["passed"], i["blocked_by"]) for i in items] == [
            (c.statement, c.passed, c.blocked_by) for c in checked
        ]
        for item in items:
            assert item["passed"] == (not item["blocked_by"]) and "repaired_from" not in item
        summary = document["validation"]
        assert summary["statements"] == len(items)
        assert summary["statements_passed"] == sum(i["passed"] for i in items) == validated.validation.statements_passed
        assert summary["pass_rate"] == pytest.approx(summary["statements_passed"] / len(items), abs=1e-4)
        assert summary["statements_with_errors"] == sum(
            any(issue["severity"] == "error" for issue in i["issues"]) for i in items
        )


def test_a_blocked_statement_is_marked_in_the_export_and_its_question_goes_on():
    raw, extraction, _, _ = _export(discover_questions(SAMPLE_DIR)[0])
    first = extraction.from_critique[0]
    broken = first.model_copy(update={"cloze_candidates": ["words the statement does not contain"]})
    extraction = extraction.model_copy(update={"from_critique": [broken, *extraction.from_critique[1:]]})
    validated = validate_extraction(extraction)
    document = build_export(raw, extraction, validated, nlp_pipeline="rules", now=datetime(2026, 1, 1, tzinfo=UTC))
    blocked, *others = document["true_statements"]["from_critique"]
    assert blocked["passed"] is False and "cloze_not_in_statement" in blocked["blocked_by"]
    summary = document["validation"]
    assert 0 < summary["statements_passed"] < summary["statements"]
    assert summary["statements_passed"] == sum(i["passed"] for i in others) + sum(
        i["passed"] for i in document["true_statements"]["from_key_points"] + document["table_statements"]["statements"]
    )


def test_repaired_from_is_exported_when_a_repair_replaced_the_text():
    raw, extraction, validated, _ = _export(discover_questions(SAMPLE_DIR)[0])
    items = list(validated.from_critique)
    items[0] = items[0].model_copy(update={"repaired_from": "The text before the repair."})
    validated = validated.model_copy(update={"from_critique": items})
    document = build_export(raw, extraction, validated, nlp_pipeline="rules", now=datetime(2026, 1, 1, tzinfo=UTC))
    assert document["true_statements"]["from_critique"][0]["repaired_from"] == "The text before the repair."
    assert all("repaired_from" not in i for i in document["true_statements"]["from_critique"][1:])


def test_provenance_names_an_endpoint_other_than_anthropics():
    raw, extraction, validated, document = _export(discover_questions(SAMPLE_DIR)[0])
    assert document["provenance"]["endpoint"] is None  # offline: no API at all
    at_fake = extraction.model_copy(update={"model": "claude-haiku-5-5", "endpoint": "http://127.0.0.1:8765"})
    provenance = build_export(raw, at_fake, validated, nlp_pipeline="rules")["provenance"]
    assert provenance["endpoint"] == "http://127.0.0.1:8765"


def test_offline_extraction_metadata_names_no_endpoint_and_no_bill(tmp_path: Path):
    pipeline = QuestionPipeline(SAMPLE_DIR, tmp_path / "output", ArtifactStore(tmp_path / "store"), OfflineExtractor())
    question_id = discover_questions(SAMPLE_DIR)[0].question_id
    outcome = asyncio.run(pipeline.run(question_id, {RAW, EXTRACTED}))
    metadata = outcome.results[-1].metadata
    assert (metadata["extractor"], metadata["endpoint"], metadata["billed"]) == ("offline", "-", False)


def test_fingerprint_changes_with_input_prompt_and_model():
    raw, extraction, validated, _ = _export(discover_questions(SAMPLE_DIR)[0])
    base = output_fingerprint(raw, extraction, validated)
    assert base == output_fingerprint(raw, extraction, validated)
    assert base != output_fingerprint(raw.model_copy(update={"input_sha256": "0" * 64}), extraction, validated)
    assert base != output_fingerprint(raw, extraction.model_copy(update={"prompt_version": "other"}), validated)
    assert base != output_fingerprint(raw, extraction.model_copy(update={"model": "claude-x"}), validated)


def test_export_path_is_by_system():
    assert export_path(Path("/out"), "cvmcq26001") == Path("/out/cv/cvmcq26001.json")


def test_atomic_write_leaves_the_old_file_when_serialisation_fails(tmp_path: Path):
    target = tmp_path / "a" / "q.json"
    write_json_atomic(target, {"ok": 1})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"bad": object()})
    assert orjson.loads(target.read_bytes()) == {"ok": 1}
    assert [p.name for p in target.parent.iterdir()] == ["q.json"]  # no temp file left behind


def test_a_corrupt_store_file_is_named_in_its_error(tmp_path: Path):
    store = ArtifactStore(tmp_path / "store")
    raw = load_raw_question(discover_questions(SAMPLE_DIR)[0])
    path = store.save(RAW, raw.question_id, raw)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(UnreadableFileError) as caught:
        store.load(RAW, raw.question_id, type(raw))
    assert str(path) in str(caught.value) and "not valid JSON" in str(caught.value)
    path.write_bytes(b'{"question": 1}')  # valid JSON, not the stored model
    with pytest.raises(UnreadableFileError) as caught:
        store.load(RAW, raw.question_id, type(raw))
    assert str(path) in str(caught.value)


def test_summary_reports_unreadable_exports_instead_of_failing(tmp_path: Path):
    good, corrupt, listed = discover_questions(SAMPLE_DIR)[:3]
    for question_file in (good, corrupt, listed):
        write_json_atomic(export_path(tmp_path, question_file.question_id), _export(question_file)[3])
    export_path(tmp_path, corrupt.question_id).write_bytes(b'{"question_id": "tr')
    export_path(tmp_path, listed.question_id).write_bytes(b"[1, 2]")
    summary = summarise_exports(tmp_path)
    assert summary.questions == 1
    lines = [line for line in summary.render().splitlines() if line.startswith("unreadable export:")]
    assert len(lines) == 2
    assert str(export_path(tmp_path, corrupt.question_id)) in lines[0] + lines[1]
    assert str(export_path(tmp_path, listed.question_id)) in lines[0] + lines[1]
    # as `mksap run --partition X` asks for it: only X, whose old export is corrupt
    only = summarise_exports(tmp_path, [corrupt.question_id])
    assert only.questions == 0 and len(only.unreadable) == 1


def test_export_problem_notices_a_missing_emptied_or_truncated_export(tmp_path: Path):
    question_file = discover_questions(SAMPLE_DIR)[0]
    path = export_path(tmp_path, question_file.question_id)
    assert export_problem(path) == EXPORT_MISSING
    write_json_atomic(path, _export(question_file)[3])
    assert export_problem(path) is None
    content = path.read_bytes()
    for cut in (b"", content[:-1], content[: content.rindex(b"  }\n") + 4], content[:-2]):
        path.write_bytes(cut)
        assert export_problem(path) == EXPORT_UNREADABLE, cut[-10:]


# ------------------------------------------------------------------------------------------------ reading exports


def test_a_written_export_reads_back_as_the_typed_document(tmp_path: Path):
    question_file = discover_questions(SAMPLE_DIR)[0]
    _, extraction, validated, document = _export(question_file)
    write_json_atomic(export_path(tmp_path, question_file.question_id), document)
    [export] = iter_exports(tmp_path)
    read = export.document
    assert export.error is None and read.question_id == question_file.question_id
    assert read.category == question_file.system and read.stamp == "2026-01-01T00:00:00+00:00"
    assert [s.statement for s in read.true_statements.from_critique] == [
        s.statement for s in validated.from_critique
    ]
    read_statements = [*read.true_statements.from_critique, *read.true_statements.from_key_points,
                       *read.table_statements.statements]
    assert [s.blocking_codes() for s in read_statements] == [s.blocked_by for _, _, s in validated.checked()]
    assert read.provenance.extractor == extraction.extractor and read.provenance.model is None
    assert read.provenance.llm_usage == extraction.usage


def test_an_older_export_with_fewer_or_other_fields_still_reads(tmp_path: Path):
    path = export_path(tmp_path, "cvmcq26001")
    path.parent.mkdir(parents=True)
    path.write_bytes(orjson.dumps({
        "question_id": "cvmcq26001", "final_clozes": ["from the original system"],
        "true_statements": {"from_critique": [{"statement": "S.", "issues": [
            {"code": "cloze_repeated", "severity": "warning", "message": "m", "span": None}]}]},
        "provenance": {"extractor": "anthropic", "llm_usage": {"calls": 2, "cost_usd": 0.5, "a_later_field": 1}},
    }))
    document = read_export(path).document
    assert document is not None and document.table_statements.statements == []
    [statement] = document.true_statements.from_critique
    assert statement.blocked_by is None and statement.blocking_codes() == ["cloze_repeated"]
    assert document.provenance.endpoint is None and document.provenance.llm_usage.calls == 2
    assert document.stamp == "" and document.validation.errors == 0


def test_iter_exports_reads_the_two_letter_system_folders_only(tmp_path: Path):
    for relative in ("cv/cvmcq26001.json", "np/npmcq26001.json", "anki/mksap.json", "report/x.json",
                     "card/cvmcq26002.json", "_removed/20260101T000000Z/cvmcq26003.json", "top.json",
                     "cv/.cvmcq26001.json.abc.tmp", "cv/.hidden.json", "cv/notes.txt"):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps({"question_id": path.stem}))
    assert [export.path.relative_to(tmp_path).as_posix() for export in iter_exports(tmp_path)] == [
        "cv/cvmcq26001.json", "np/npmcq26001.json",
    ]
    assert list(iter_exports(tmp_path / "absent")) == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"question_id": "cvmcq2', "not valid JSON"),
        (b"[1, 2]", "a JSON list, not an export"),
        (b"{}", "not an export document: question_id: Field required"),
        (b'{"question_id": "cvmcq26001", "true_statements": {"from_critique": "S."}}',
         "not an export document: true_statements.from_critique: Input should be a valid list"),
        (b'{"question_id": "cvmcq26001", "provenance": {"llm_usage": {"calls": "many"}}}',
         "not an export document: provenance.llm_usage.calls"),
    ],
)
def test_an_unreadable_export_comes_back_with_its_error_naming_the_file_and_the_field(
    tmp_path: Path, content: bytes, reason: str
):
    path = export_path(tmp_path, "cvmcq26001")
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    [export] = iter_exports(tmp_path)
    assert export.document is None and export.error.startswith(f"{path}: {reason}")
    summary = summarise_exports(tmp_path)  # the summary lists it, the deck and the report count it
    assert summary.questions == 0 and summary.unreadable == [export.error]
