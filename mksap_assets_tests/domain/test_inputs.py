"""Loading questions: the bundled samples, the real corpus, and every kind of bad input."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from mksap_assets.domain.errors import InputError
from mksap_assets.domain.inputs import (
    discover_questions,
    input_sha256,
    load_raw_question,
    question_file_for,
)
from mksap_assets.domain.question import SYSTEM_NAMES
from mksap_assets_tests.conftest import SAMPLE_DIR
from mksap_assets_tests.helpers import edit_question, question_json, sample_ids


def test_samples_cover_every_system_and_load():
    files = discover_questions(SAMPLE_DIR)
    assert {f.system for f in files} == set(SYSTEM_NAMES)
    for question_file in files:
        raw = load_raw_question(question_file)
        assert raw.question.category == question_file.system
        assert raw.question.category_name == SYSTEM_NAMES[question_file.system]


GLUED = re.compile(r"[a-z)]\.[A-Z][a-z]")


def test_samples_carry_the_real_banks_quirks():
    raws = [load_raw_question(f) for f in discover_questions(SAMPLE_DIR)]
    critiques = [r.question.critique for r in raws]
    assert sum(bool(GLUED.search(c)) for c in critiques) >= 8
    assert all("(Option " in c for c in critiques)
    assert any("this patient" in c.lower() for c in critiques)
    vdx = [r for r in raws if r.question.question_type == "vdx"]
    assert vdx and all(r.question.key_points == [] and r.question.references == "" for r in vdx)
    tables = [t for r in raws for t in r.tables]
    assert any(t.kind == "lab_values" for t in tables)
    educational = [t for t in tables if t.kind == "educational"]
    assert any("<thead" not in (SAMPLE_DIR / _folder(raws, t.source) / "tables" / t.source).read_text() for t in educational)
    assert any(cell.is_header for t in educational for row in t.body_rows for cell in row)  # row headers
    assert any(cell.row_span > 1 or cell.col_span > 1 for t in educational for row in (*t.header_rows, *t.body_rows)
               for cell in row)


def _folder(raws, table_source: str) -> str:
    raw = next(r for r in raws if any(t.source == table_source for t in r.tables))
    return f"{raw.question.system}/{raw.question_id}"


def test_raw_question_repairs_glued_sentences_and_keeps_the_input():
    for question_file in discover_questions(SAMPLE_DIR):
        raw = load_raw_question(question_file)
        assert not GLUED.search(raw.critique), raw.question_id
        assert raw.question.critique == orjson.loads(question_file.path.read_bytes())["critique"]


@pytest.mark.corpus
def test_every_corpus_file_loads(corpus_dir: Path):
    files = discover_questions(corpus_dir)
    assert len(files) == 42
    for question_file in files:
        raw = load_raw_question(question_file)
        assert raw.critique and raw.input_sha256


def test_input_hash_covers_tables(sample_bank: Path):
    with_table = next(f for f in discover_questions(sample_bank) if f.table_paths())
    before = input_sha256(with_table)
    table = with_table.table_paths()[0]
    table.write_text(table.read_text().replace("</caption>", " </caption>", 1))
    assert input_sha256(with_table) != before


def _error_for(bank: Path, question_id: str) -> InputError:
    with pytest.raises(InputError) as caught:
        load_raw_question(question_file_for(bank, question_id))
    return caught.value


def test_malformed_json_names_file_and_field(sample_bank: Path):
    qid = sample_ids(sample_bank)[0]
    question_json(sample_bank, qid).write_text('{"question_id": ')
    error = _error_for(sample_bank, qid)
    assert error.field == "json" and error.path.endswith(f"{qid}.json")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"critique": None}, "critique"),
        ({"critique": ""}, "critique"),
        ({"key_points": "one string"}, "key_points"),
        ({"options": [{"letter": "A", "text": "x", "peer_percentage": 0}, {"letter": 7, "text": "y"}]}, "options.1.letter"),
        ({"educational_objective": 12}, "educational_objective"),
        ({"category": "zz"}, "category"),
    ],
)
def test_missing_or_mistyped_fields(sample_bank: Path, changes: dict, field: str):
    qid = sample_ids(sample_bank)[0]
    edit_question(sample_bank, qid, **changes)
    assert _error_for(sample_bank, qid).field == field


def test_id_that_does_not_match_its_path(sample_bank: Path):
    first, second = sample_ids(sample_bank)[:2]
    edit_question(sample_bank, first, question_id=second)
    error = _error_for(sample_bank, first)
    assert error.field == "question_id" and second in error.reason


def test_unsafe_id_is_refused_before_reading(tmp_path: Path):
    folder = tmp_path / "cv" / "cv..bad"
    folder.mkdir(parents=True)
    (folder / "cv..bad.json").write_text("{}")
    [question_file] = discover_questions(tmp_path)
    with pytest.raises(InputError) as caught:
        load_raw_question(question_file)
    assert caught.value.field == "question_id"


def test_unreadable_or_missing_table(sample_bank: Path):
    with_table = next(f for f in discover_questions(sample_bank) if f.table_paths())
    table = with_table.table_paths()[0]
    table.write_bytes(b"\xff\xfe not utf-8 \xff")
    error = _error_for(sample_bank, with_table.question_id)
    assert error.path == str(table) and error.field == "file"
    table.unlink()
    error = _error_for(sample_bank, with_table.question_id)
    assert error.field.startswith("media.tables")


def test_table_without_a_table_element(sample_bank: Path):
    with_table = next(f for f in discover_questions(sample_bank) if f.table_paths())
    table = with_table.table_paths()[0]
    table.write_text("<p>no table here</p>")
    error = _error_for(sample_bank, with_table.question_id)
    assert error.path == str(table) and error.field == "table"


def test_discovery_ignores_hidden_folders_and_strays(tmp_path: Path):
    (tmp_path / ".checkpoints").mkdir()
    (tmp_path / "cv" / "cvmcq26001").mkdir(parents=True)
    (tmp_path / "cv" / "cvmcq26001" / "cvmcq26001.json.backup").write_text("{}")
    (tmp_path / "cv" / "cvmcq26002").mkdir()
    (tmp_path / "cv" / "cvmcq26002" / "cvmcq26002.json").write_text("{}")
    assert [f.question_id for f in discover_questions(tmp_path)] == ["cvmcq26002"]
