"""Export document layout, atomic writes, and the change fingerprint."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from mksap_assets.domain.export import build_export, export_path, output_fingerprint
from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.domain.inputs import discover_questions, load_raw_question
from mksap_assets.domain.store import write_json_atomic
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
    assert set(item) == {"statement", "extra_field", "cloze_candidates", "issues"}
    assert set(document["table_statements"]) == {"statements", "tables_processed", "tables_skipped"}
    assert document["validation"]["passed"] in (True, False)
    provenance = document["provenance"]
    assert provenance["extractor"] == "offline" and len(provenance["fingerprint"]) == 64
    assert provenance["source_path"] == question_file.relative_path


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
