"""Loading questions: the bundled samples, the real corpus, and every kind of bad input."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import orjson
import pytest

from mksap_assets.domain.engine.changes import ExtractorIdentity, expected_fingerprint
from mksap_assets.domain.errors import InputError
from mksap_assets.domain.inputs.bank import (
    MAX_TABLE_BYTES,
    discover_questions,
    input_sha256,
    is_safe_question_id,
    load_raw_question,
    question_file_for,
)
from mksap_assets.domain.inputs.question import SYSTEM_NAMES
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


# A critique in the bank's shapes, written for this test: inline markup, a list glued to its lead-in and
# to the next sentence, a flattened exponent.
MARKED_CRITIQUE = (
    'A low D<small class="small-caps">lco</small> with <i>normal</i> spirometry suggests vascular disease '
    "(Option B). Look for these causes:Pulmonary embolismAnemiaPulmonary hypertension (rare)Treat the cause. "
    'Eosinophils of 0.3 × 109/L <a href="https://example.org/guide" target="_blank">favour</a> asthma; '
    "H<sub>2</sub>O and Ca<sup>2+</sup> stay readable, as does 10<sup>9</sup>/L."
)
MARKED_CRITIQUE_NORMALISED = (
    "A low DLCO with normal spirometry suggests vascular disease (Option B). Look for these causes: Pulmonary "
    "embolism; Anemia; Pulmonary hypertension (rare); Treat the cause. Eosinophils of 0.3 × 10^9/L favour "
    "asthma; H2O and Ca2+ stay readable, as does 10^9/L."
)


def test_raw_question_renders_markup_splits_lists_and_repairs_exponents(sample_bank: Path):
    qid = sample_ids(sample_bank)[0]
    edit_question(
        sample_bank,
        qid,
        critique=MARKED_CRITIQUE,
        key_points=["Count 4 × 10<sup>9</sup>/L cells.", "Risks:SmokingObesity"],
        educational_objective="Treat <i>Plasmodium vivax</i>&nbsp;malaria.",
    )
    raw = load_raw_question(question_file_for(sample_bank, qid))
    assert raw.critique == MARKED_CRITIQUE_NORMALISED
    assert raw.key_points == ["Count 4 × 10^9/L cells.", "Risks: Smoking; Obesity"]
    assert raw.educational_objective == "Treat Plasmodium vivax malaria."
    assert raw.question.critique == MARKED_CRITIQUE  # the input is kept as written


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("critique", "A fine sentence with a <span>span</span>."),
        ("educational_objective", '<b onclick="run()">Bold</b> objective.'),
        ("key_points", ['A <a href="javascript:run()">link</a>.']),
    ],
)
def test_markup_other_than_inline_formatting_is_an_input_error(sample_bank: Path, field: str, value):
    qid = sample_ids(sample_bank)[0]
    edit_question(sample_bank, qid, **{field: value})
    assert _error_for(sample_bank, qid).field.split(".")[0] == field


@pytest.mark.corpus
def test_corpus_normalised_text_has_no_markup_or_flattened_exponent(corpus_dir: Path):
    # a tag such as the bank uses (the tables' "<LLN but >60" is a comparison), a flattened exponent, an entity
    leftover = re.compile(r"</?(?:[a-z]+|[a-z]+\s[^<>]*=[^<>]*)>|×\s?10\s?(?:9|6|3|12)\s?/|&[a-z]+;")
    for question_file in discover_questions(corpus_dir):
        raw = load_raw_question(question_file)
        for text in (raw.critique, raw.educational_objective, *raw.key_points):
            assert not leftover.search(text), (question_file.question_id, leftover.search(text).group(0))
        for table in raw.tables:
            assert not leftover.search(table.to_text()), (question_file.question_id, table.source)


def _within(seconds: float, call):
    """call() in a thread; fails (instead of hanging the suite) when it has not returned in time."""
    outcome: list = []

    def target():
        try:
            outcome.append(call())
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]


def _table_of(bank: Path):
    with_table = next(f for f in discover_questions(bank) if f.table_paths())
    return with_table, with_table.table_paths()[0]


@pytest.mark.parametrize("make, reason", [
    (lambda table, _: (table.unlink(), os.mkfifo(table)), "a FIFO, not a regular file"),
    (lambda table, _: (table.unlink(), table.symlink_to("/dev/zero")), "a link to /dev/zero, outside the bank"),
    (lambda table, outside: (table.unlink(), table.symlink_to(outside)), "outside the bank"),
    (lambda table, _: (table.unlink(), table.symlink_to(table)), "Too many levels of symbolic links"),
])
def test_a_table_that_is_not_a_file_in_the_bank_fails_its_question_only(sample_bank: Path, tmp_path: Path, make,
                                                                         reason):
    outside = tmp_path / "elsewhere.html"
    outside.write_text("<table><tr><td>from outside the bank</td></tr></table>")
    question, table = _table_of(sample_bank)
    make(table, outside)
    error = _within(10, lambda: load_raw_question(question))
    assert isinstance(error, InputError) and error.path == str(table) and error.field == "file"
    assert reason in error.reason
    # hashing for the plan neither blocks nor reads it: the question is planned, and fails with that reason
    digest, _ = _within(10, lambda: expected_fingerprint(question, ExtractorIdentity("offline", None, "p", "v")))
    assert digest.startswith("unreadable:") and reason in digest
    others = [f for f in discover_questions(sample_bank) if f.question_id != question.question_id]
    assert all(load_raw_question(f).question_id == f.question_id for f in others)


def test_a_question_file_that_is_a_fifo_or_a_device_is_reported(sample_bank: Path):
    first, second = discover_questions(sample_bank)[:2]
    first.path.unlink()
    os.mkfifo(first.path)
    second.path.unlink()
    second.path.symlink_to("/dev/zero")
    assert {f.question_id for f in discover_questions(sample_bank)} >= {first.question_id, second.question_id}
    for question, reason in ((first, "a FIFO"), (second, "outside the bank")):
        error = _within(10, lambda q=question: load_raw_question(q))
        assert isinstance(error, InputError) and error.path == str(question.path) and reason in error.reason


def test_a_symlink_inside_the_bank_is_followed(sample_bank: Path):
    question, table = _table_of(sample_bank)
    shared = sample_bank / question.system / "shared.html"
    table.rename(shared)
    table.symlink_to(shared)
    assert load_raw_question(question).tables


def test_oversized_files_are_refused_before_they_are_read(sample_bank: Path):
    question, table = _table_of(sample_bank)
    with table.open("ab") as handle:
        handle.truncate(MAX_TABLE_BYTES + 1)
    error = _error_for(sample_bank, question.question_id)
    assert error.path == str(table) and error.field == "file" and str(MAX_TABLE_BYTES) in error.reason


def test_a_span_bomb_table_fails_its_question(sample_bank: Path):
    question, table = _table_of(sample_bank)
    table.write_text("<table>" + ("<tr>" + '<td colspan="1000">x</td>' * 200 + "</tr>") * 200 + "</table>")
    error = _error_for(sample_bank, question.question_id)
    assert error.path == str(table) and error.field == "rows" and "cells" in error.reason


@pytest.mark.parametrize("question_id", ["encor２５０９５", "encor25095\n", "encor25095\r"])
def test_ids_are_ascii_and_whole(question_id: str):
    assert not is_safe_question_id(question_id)
    assert is_safe_question_id("encor25095")
