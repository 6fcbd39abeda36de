"""Anki export: the .apkg opened as the SQLite collection it is, the text import file, cloze placement and escaping,
stable GUIDs, filters, atomic writes."""

from __future__ import annotations

import asyncio
import csv
import html
import json
import re
import sqlite3
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import genanki
import orjson
import pytest

from mksap_assets.domain.engine.pipeline import QuestionPipeline
from mksap_assets.domain.engine.store import ArtifactStore, read_json, write_json_atomic
from mksap_assets.domain.exports import anki
from mksap_assets.domain.exports.anki import (
    MODEL_ID,
    PARENT_DECK_ID,
    AnkiExportError,
    AnkiOptions,
    deck_id_for,
    escape_field,
    render_cloze,
    statement_guid,
    write_anki_export,
)
from mksap_assets.domain.exports.document import ExportDocument, iter_exports
from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.domain.inputs.bank import discover_questions
from mksap_assets.domain.statements import Extraction, Statement
from mksap_assets.domain.validation import validate_extraction
from mksap_assets_tests.conftest import SAMPLE_DIR

CLOZE_RE = re.compile(r"\{\{c(\d+)::(.*?)\}\}", re.DOTALL)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 2, 1, tzinfo=UTC)


# ------------------------------------------------------------------------------------------------ helpers


def run_pipeline(root: Path) -> Path:
    """The domain pipeline over the bundled sample bank, offline; returns the output dir."""
    output_dir = root / "output"
    pipeline = QuestionPipeline(
        data_dir=SAMPLE_DIR, output_dir=output_dir, store=ArtifactStore(root / "store"), extractor=OfflineExtractor()
    )
    ids = [q.question_id for q in discover_questions(SAMPLE_DIR)]

    async def run_all():
        return await asyncio.gather(*(pipeline.run(question_id) for question_id in ids))

    outcomes = asyncio.run(run_all())
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    return output_dir


def open_apkg(path: Path, tmp_path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in ("collection.anki21", "collection.anki2") if n in archive.namelist())
        database = tmp_path / f"{path.stem}-{len(list(tmp_path.iterdir()))}.sqlite"
        database.write_bytes(archive.read(name))
    with sqlite3.connect(database) as connection:
        notes = connection.execute("SELECT id, guid, mid, tags, flds, mod FROM notes").fetchall()
        cards = connection.execute("SELECT nid, did, ord FROM cards").fetchall()
        decks_json, models_json = connection.execute("SELECT decks, models FROM col").fetchone()
    by_note: dict[int, list[tuple[int, int]]] = {}
    for nid, did, ord_ in cards:
        by_note.setdefault(nid, []).append((did, ord_))
    return {
        "notes": {
            guid: {
                "mid": mid, "tags": tags.split(), "fields": flds.split("\x1f"), "cards": sorted(by_note.get(nid, [])),
                "mod": mod,
            }
            for nid, guid, mid, tags, flds, mod in notes
        },
        "note_rows": len(notes),
        "cards": len(cards),
        "decks": {int(k): v["name"] for k, v in json.loads(decks_json).items()},
        "models": {int(k): v for k, v in json.loads(models_json).items()},
    }


def cloze_numbers(text: str) -> set[int]:
    return {int(n) for n, _ in CLOZE_RE.findall(text)}


def assert_well_formed(text: str) -> None:
    """Renders at least one card, and no cloze syntax is left over outside the clozes."""
    clozes = CLOZE_RE.findall(text)
    assert clozes, text
    for number, content in clozes:
        assert int(number) >= 1 and content.strip() and "::" not in content and "{" not in content, text
    rest = CLOZE_RE.sub("", text)
    assert "{{" not in rest and "}}" not in rest and "::" not in rest, text


def plain(text: str) -> str:
    """The field back to the statement's text: clozes opened, entities decoded."""
    return html.unescape(CLOZE_RE.sub(lambda m: m.group(2), text).replace("<br>", "\n"))


def item(
    statement: str,
    candidates: list[str],
    issues: list[tuple[str, str]] = (),
    extra: str | None = None,
    blocked_by: list[str] | None = None,
) -> dict:
    """A stored statement. With `blocked_by` it carries the gate as the current validator writes it (passed,
    blocked_by); without, it looks like an export from before the per-statement gate (issues only)."""
    stored = {
        "statement": statement,
        "extra_field": extra,
        "cloze_candidates": candidates,
        "issues": [{"code": code, "severity": sev, "message": code, "span": None} for code, sev in issues],
    }
    if blocked_by is not None:
        stored.update(passed=not blocked_by, blocked_by=list(blocked_by))
    return stored


def document(
    question_id: str,
    *,
    critique: list[dict] = (),
    key_points: list[dict] = (),
    tables: list[dict] = (),
    name: str | None = None,
    objective: str = "Know the thing.",
    validation: dict | None = None,
) -> dict:
    items = [*critique, *key_points, *tables]
    passed = sum(1 for it in items if not it.get("blocked_by"))
    return {
        "question_id": question_id,
        "category": question_id[:2],
        "category_name": name or {"cv": "Cardiovascular Medicine", "np": "Nephrology"}.get(question_id[:2], "Other"),
        "educational_objective": objective,
        "true_statements": {"from_critique": list(critique), "from_key_points": list(key_points)},
        "table_statements": {
            "statements": [dict(t, table_source=t.get("table_source", "xxtab.html")) for t in tables],
            "tables_processed": len(tables),
            "tables_skipped": 0,
        },
        "validation": validation or {
            "statements": len(items), "statements_passed": passed,
            "pass_rate": round(passed / len(items), 4) if items else 0.0,
            "errors": 0, "warnings": 0, "infos": 0, "issues": [],
        },
        "provenance": {"extractor": "test"},
    }


def write_docs(output_dir: Path, *docs: dict) -> Path:
    for doc in docs:
        write_json_atomic(output_dir / doc["question_id"][:2] / f"{doc['question_id']}.json", doc)
    return output_dir


# ------------------------------------------------------------------------------------------------ the sample bank


@pytest.fixture(scope="module")
def sample_output(tmp_path_factory) -> Path:
    return run_pipeline(tmp_path_factory.mktemp("anki_sample"))


def expected_notes(output_dir: Path) -> dict[str, tuple[str, str]]:
    """guid -> (question id, section) for the statements that should be exported by default, computed directly:
    every statement the gate let through (`blocked_by` empty), whatever the rest of its question."""
    expected = {}
    for path in sorted(output_dir.glob("[a-z][a-z]/*.json")):  # the system folders, not anki/mksap.json
        doc = read_json(path)
        sections = [
            ("critique", doc["true_statements"]["from_critique"]),
            ("key_point", doc["true_statements"]["from_key_points"]),
            ("table", doc["table_statements"]["statements"]),
        ]
        for section, items in sections:
            for it in items:
                assert it["passed"] == (not it["blocked_by"])
                if it["blocked_by"]:
                    continue
                if not any(c.strip() and c.strip() in it["statement"] for c in it["cloze_candidates"]):
                    continue
                guid = statement_guid(doc["question_id"], section, it["statement"])
                expected.setdefault(guid, (doc["question_id"], section))
    return expected


def test_sample_bank_deck_opens_with_every_note_card_tag_and_deck(sample_output: Path, tmp_path: Path):
    summary = write_anki_export(sample_output, now=T0)
    assert summary.apkg_path == sample_output / "anki" / "mksap.apkg"
    deck = open_apkg(summary.apkg_path, tmp_path)
    expected = expected_notes(sample_output)
    merged = summary.skipped.get("merged_duplicate", 0)  # one card per fact (dedup.py): a duplicate is no note
    # 55 notes measured with the offline extractor v5 (v4 made 76, v3 86, v2 158, more of them poor cards)
    assert summary.notes == deck["note_rows"] == len(deck["notes"]) == len(expected) - merged >= 55
    assert set(deck["notes"]) <= set(expected)
    assert summary.cards == deck["cards"]
    assert summary.questions == 16 and len(summary.per_system) == 16
    blocked = [
        it for p in sample_output.glob("[a-z][a-z]/*.json") for section in (
            read_json(p)["true_statements"]["from_critique"], read_json(p)["true_statements"]["from_key_points"],
            read_json(p)["table_statements"]["statements"]) for it in section if it["blocked_by"]
    ]
    assert summary.skipped.get("blocked", 0) == len(blocked) and "warning" not in summary.skipped

    documents = {p.stem: read_json(p) for p in sample_output.glob("[a-z][a-z]/*.json")}
    assert deck["decks"][PARENT_DECK_ID] == "MKSAP"
    for doc in documents.values():
        assert deck["decks"][deck_id_for(doc["category"])] == f"MKSAP::{doc['category_name']}"
    assert deck["models"][MODEL_ID]["type"] == 1  # cloze
    assert [f["name"] for f in deck["models"][MODEL_ID]["flds"]] == ["Text", "Extra"]

    for guid, note in deck["notes"].items():
        question_id, section = expected[guid]
        doc = documents[question_id]
        text, extra = note["fields"]
        assert note["mid"] == MODEL_ID
        assert_well_formed(text)
        numbers = cloze_numbers(text)
        assert numbers <= {1, 2} and 1 in numbers  # AnKing: one or two cards per note
        # genanki made one card per cloze number, in the system's sub-deck
        assert note["cards"] == [(deck_id_for(doc["category"]), n - 1) for n in sorted(numbers)]
        system_tag = "MKSAP::" + doc["category_name"].replace(" ", "_")
        assert sorted(note["tags"]) == sorted([system_tag, f"MKSAP::{question_id[2:5]}", f"MKSAP::source::{section}"])
        assert f"MKSAP {question_id}" in extra and html.escape(doc["category_name"]) in extra
        assert escape_field(doc["educational_objective"]) in extra
        statement = plain(text)
        assert statement_guid(question_id, section, statement) == guid  # the text is the statement, clozed


def test_text_import_file_matches_the_package(sample_output: Path, tmp_path: Path):
    summary = write_anki_export(sample_output, now=T0)
    deck = open_apkg(summary.apkg_path, tmp_path)
    lines = summary.txt_path.read_text(encoding="utf-8").split("\n")
    assert lines[:6] == [
        "#separator:tab", "#html:true", "#notetype:Cloze", "#tags column:3", "#deck column:4", "#guid column:5"
    ]
    rows = [line for line in lines if line and not line.startswith("#")]
    assert len(rows) == summary.notes
    parsed = list(csv.reader(rows, delimiter="\t", quoting=csv.QUOTE_NONE))
    for text, extra, tags, deck_name, guid in parsed:
        note = deck["notes"][guid]
        assert note["fields"] == [text, extra]
        assert sorted(tags.split(" ")) == sorted(note["tags"])
        assert deck_name in deck["decks"].values() and deck_name.startswith("MKSAP::")
        assert not text.startswith('"') and '"' not in text + extra


def test_guids_are_stable_across_exports_and_a_rerun(sample_output: Path, tmp_path: Path):
    first = open_apkg(write_anki_export(sample_output, now=T0).apkg_path, tmp_path)
    second = open_apkg(write_anki_export(sample_output, now=T1).apkg_path, tmp_path)
    assert {g: n["fields"] for g, n in first["notes"].items()} == {g: n["fields"] for g, n in second["notes"].items()}
    assert first["decks"] == second["decks"]

    rerun = run_pipeline(tmp_path / "rerun")  # same content, new timestamps in the documents
    third = open_apkg(write_anki_export(rerun, now=T1).apkg_path, tmp_path)
    assert set(third["notes"]) == set(first["notes"])


def test_guid_identity_ignores_extra_case_spacing_and_final_period():
    base = statement_guid("cvmcq26001", "critique", "Apixaban is a factor Xa inhibitor.")
    assert statement_guid("cvmcq26001", "critique", "  apixaban is a  factor Xa inhibitor ") == base
    assert statement_guid("cvmcq26001", "key_point", "Apixaban is a factor Xa inhibitor.") != base
    assert statement_guid("cvmcq26002", "critique", "Apixaban is a factor Xa inhibitor.") != base
    assert statement_guid("cvmcq26001", "critique", "Apixaban is a direct factor Xa inhibitor.") != base


def test_editing_extra_or_candidates_keeps_the_note(tmp_path: Path):
    out = tmp_path / "output"
    statement = "Apixaban is reduced to 2.5 mg twice daily in older adults."
    write_docs(out, document("cvmcq26001", critique=[item(statement, ["Apixaban"], extra="old")]))
    before = open_apkg(write_anki_export(out, now=T0).apkg_path, tmp_path)["notes"]
    write_docs(out, document("cvmcq26001", critique=[item(statement, ["2.5 mg", "older adults"], extra="new")]))
    after = open_apkg(write_anki_export(out, now=T1).apkg_path, tmp_path)["notes"]
    assert list(before) == list(after)
    [note] = after.values()
    assert note["fields"][0].startswith("Apixaban is reduced to {{c1::2.5 mg}}") and note["fields"][1].startswith("new")
    assert len(note["cards"]) == 2


# ------------------------------------------------------------------------------------------------ cloze placement


def test_primary_is_c1_and_secondaries_share_c2():
    result = render_cloze("Apixaban is reduced from 5 mg to 2.5 mg at age 80 years.", ["Apixaban", "5 mg", "80 years"])
    assert result.text == "{{c1::Apixaban}} is reduced from {{c2::5 mg}} to 2.5 mg at age {{c2::80 years}}."
    assert result.card_numbers == (1, 2) and not result.dropped


def test_a_whole_word_occurrence_is_preferred():
    result = render_cloze("Reduce 2.5 mg to 1.5 mg after 5 mg doses.", ["Reduce", "5 mg"])
    assert result.text == "{{c1::Reduce}} 2.5 mg to 1.5 mg after {{c2::5 mg}} doses."


def test_overlapping_candidates_drop_the_later_one_or_use_a_free_occurrence():
    statement = "Nonvalvular atrial fibrillation needs anticoagulation."
    result = render_cloze(statement, ["Nonvalvular atrial fibrillation", "atrial fibrillation", "anticoagulation"])
    assert result.text == "{{c1::Nonvalvular atrial fibrillation}} needs {{c2::anticoagulation}}."
    assert result.dropped == (("atrial fibrillation", "overlaps"),)

    nested = render_cloze(statement, ["atrial fibrillation", "Nonvalvular atrial fibrillation"])
    assert nested.text == "Nonvalvular {{c1::atrial fibrillation}} needs anticoagulation."
    assert nested.dropped == (("Nonvalvular atrial fibrillation", "overlaps"),)

    again = render_cloze("Valvular atrial fibrillation differs from nonvalvular atrial fibrillation.", [
        "Valvular atrial fibrillation", "atrial fibrillation"])
    assert again.text == "{{c1::Valvular atrial fibrillation}} differs from nonvalvular {{c2::atrial fibrillation}}."

    partial = render_cloze("Severe aortic stenosis causes syncope.", ["Severe aortic", "aortic stenosis"])
    assert partial.text == "{{c1::Severe aortic}} stenosis causes syncope."  # partial overlap: primary wins


def test_bad_candidates_are_dropped_with_reasons_and_the_next_is_promoted():
    result = render_cloze(
        "Metformin is first-line therapy for type 2 diabetes.",
        ["metformin", "", "first-line", "first-line", "Metformin is first-line therapy for type 2 diabetes", "type 2"],
    )
    assert dict((c, r) for c, r in result.dropped) == {
        "metformin": "not_in_statement", "": "empty", "first-line": "duplicate",
        "Metformin is first-line therapy for type 2 diabetes": "covers_statement",
    }
    assert result.text == "Metformin is {{c1::first-line}} therapy for {{c2::type 2}} diabetes."


def test_more_than_two_secondaries_are_capped():
    result = render_cloze("a1 b2 c3 d4 e5", ["a1", "b2", "c3", "d4"])
    assert result.text == "{{c1::a1}} {{c2::b2}} {{c2::c3}} d4 e5" and result.dropped == (("d4", "over_limit"),)


def test_statements_without_a_usable_candidate_are_skipped_with_a_reason(tmp_path: Path):
    out = write_docs(
        tmp_path / "output",
        document("cvmcq26001", critique=[
            item("Beta-blockers reduce mortality after myocardial infarction.", ["ACE inhibitors"]),
            item("Statins lower LDL cholesterol in most patients.", []),
            item("Aspirin is given to every patient with acute coronary syndrome.", ["Aspirin"]),
        ]),
    )
    summary = write_anki_export(out, now=T0)
    assert summary.notes == 1 and summary.skipped == {"no_usable_cloze": 2}
    details = {r.index: r.detail for r in summary.skip_log}
    assert details[0] == "'ACE inhibitors': not_in_statement" and details[1] == "no candidate"
    assert summary.dropped_candidates == {"not_in_statement": 1}


# ------------------------------------------------------------------------------------------------ escaping


@pytest.mark.parametrize(
    ("statement", "candidates"),
    [
        ("Write {{c1::x}} literally; it is not a cloze.", ["literally"]),
        ("The ratio a::b and the set {x} matter.", ["a::b", "{x}"]),
        ("Potassium <3.5 mEq/L & sodium >145 mEq/L are \"abnormal\" or 'odd'.", ["<3.5 mEq/L", "& sodium"]),
        ("A closing brace}} ends here and {{ opens there.", ["brace}}", "{{ opens"]),
        ("Ends with a colon: then :: double and ::: triple.", [":: double", "::: triple"]),
        ("#1 cause is hypertension.", ["#1 cause"]),
    ],
)
def test_escaping_keeps_cloze_syntax_valid_and_the_text_intact(statement: str, candidates: list[str]):
    result = render_cloze(statement, candidates)
    assert not result.dropped
    assert_well_formed(result.text)
    assert cloze_numbers(result.text) == ({1, 2} if len(candidates) > 1 else {1})
    assert [html.unescape(c) for _, c in CLOZE_RE.findall(result.text)] == sorted(
        candidates, key=statement.find
    )
    assert plain(result.text) == statement
    assert "<" not in CLOZE_RE.sub("", result.text) and '"' not in result.text


def test_newlines_and_tabs_never_reach_a_field(tmp_path: Path):
    out = write_docs(
        tmp_path / "output",
        document("cvmcq26001", name="Cardio :: Vascular / Medicine", objective="Line one\nline\ttwo <b>",
                 critique=[item("First\tline\nsecond line of this statement.", ["second"], extra="Extra\nline\t&")]),
    )
    summary = write_anki_export(out, now=T0)
    deck = open_apkg(summary.apkg_path, tmp_path)
    [note] = deck["notes"].values()
    text, extra = note["fields"]
    assert text == "First line<br>{{c1::second}} line of this statement."
    assert extra.startswith("Extra<br>line &amp;") and "Line one<br>line two &lt;b&gt;" in extra
    assert "MKSAP::Cardio_Vascular_Medicine" in note["tags"]
    assert deck["decks"][deck_id_for("cv")] == "MKSAP::Cardio : Vascular / Medicine"
    rows = [r for r in summary.txt_path.read_text().splitlines() if not r.startswith("#")]
    assert len(rows) == 1 and rows[0].count("\t") == 4


def test_text_file_escapes_a_leading_hash(tmp_path: Path):
    doc = document("cvmcq26001", critique=[item("#1 cause is hypertension.", ["cause"])])
    out = write_docs(tmp_path / "output", doc)
    summary = write_anki_export(out, now=T0)
    rows = summary.txt_path.read_text().splitlines()[len(anki.TXT_HEADER) :]
    assert rows[0].startswith("&#35;1 {{c1::cause}}")


# ------------------------------------------------------------------------------------------------ filters


CUTS_NUMBER = "Apixaban is reduced to 2.5 mg in older adults."  # "5 mg" cuts 2.5 mg: a card-breaking warning


def filter_docs(out: Path) -> Path:
    return write_docs(
        out,
        document("cvmcq26001", critique=[
            item("Clean statement about warfarin dosing here.", ["warfarin"], blocked_by=[]),
            item("Info statement about heparin dosing here.", ["heparin"], [("style", "info")], blocked_by=[]),
            item("Warning statement about dabigatran dosing.", ["dabigatran"], [("too_long", "warning")],
                 blocked_by=[]),
            item("Error statement about edoxaban dosing here.", ["edoxaban"], [("cloze_not_in_statement", "error")],
                 blocked_by=["cloze_not_in_statement"]),
            item("Both statement about rivaroxaban dosing.", ["rivaroxaban"], [("a", "warning"), ("b", "error")],
                 blocked_by=["b"]),
            item(CUTS_NUMBER, ["5 mg"], [("cloze_cuts_number", "warning")], blocked_by=["cloze_cuts_number"]),
        ], key_points=[item("Clean statement about warfarin dosing here.", ["warfarin"], blocked_by=[])],
            tables=[item("Clean table row about digoxin dosing here.", ["digoxin"], extra="Table title",
                         blocked_by=[])]),
        # One statement with an error: the question does not pass as a whole, its other statement goes on.
        document("cvmcq26002", critique=[
            item("Edoxaban needs 90 mg daily in every patient.", ["90 mg"], [("number_not_in_source", "error")],
                 blocked_by=["number_not_in_source"]),
            item("Clean statement in a question with an error.", ["question"], blocked_by=[]),
        ]),
        document("npmcq26001", critique=[
            item("Hyperkalemia needs calcium gluconate first.", ["calcium gluconate"], blocked_by=[]),
            item("Hyperkalemia needs calcium gluconate first.", ["Hyperkalemia"], blocked_by=[]),
        ]),
    )


DEFAULT_TEXTS = sorted([
    "Clean statement about warfarin dosing here.",  # critique; the key point's same text is merged into it
    "Info statement about heparin dosing here.",
    "Warning statement about dabigatran dosing.",  # an ordinary warning is advice, not a gate
    "Clean table row about digoxin dosing here.",
    "Clean statement in a question with an error.",
    "Hyperkalemia needs calcium gluconate first.",
])


def _texts(summary, tmp_path: Path) -> list[str]:
    return sorted(plain(n["fields"][0]) for n in open_apkg(summary.apkg_path, tmp_path)["notes"].values())


def test_default_leaves_out_blocked_statements_only(tmp_path: Path):
    summary = write_anki_export(filter_docs(tmp_path / "output"), now=T0)
    deck = open_apkg(summary.apkg_path, tmp_path)
    assert _texts(summary, tmp_path) == DEFAULT_TEXTS
    assert summary.skipped == {"blocked": 4, "duplicate_statement": 1, "merged_duplicate": 1}
    assert summary.skipped_issue_codes == {
        "cloze_not_in_statement": 1, "b": 1, "cloze_cuts_number": 1, "number_not_in_source": 1,
    }
    details = {(r.question_id, r.index): (r.reason, r.detail) for r in summary.skip_log}
    assert details[("cvmcq26001", 4)] == ("blocked", "b")  # its blocking codes, not its warning
    assert details[("cvmcq26001", 5)] == ("blocked", "cloze_cuts_number")
    assert details[("cvmcq26002", 0)] == ("blocked", "number_not_in_source")
    assert details[("cvmcq26001", 0)] == ("merged_duplicate", "into cvmcq26001 critique[0] (100)")
    assert summary.per_system["cv"].notes == 5 and summary.per_system["np"].notes == 1
    unmerged = write_anki_export(tmp_path / "output", AnkiOptions(merge_duplicates=False), now=T0)
    assert _texts(unmerged, tmp_path) == sorted([*DEFAULT_TEXTS, "Clean statement about warfarin dosing here."])
    assert unmerged.skipped == {"blocked": 4, "duplicate_statement": 1} and unmerged.per_system["cv"].notes == 6
    table_note = next(n for n in deck["notes"].values() if "digoxin" in n["fields"][0])
    assert "MKSAP::source::table" in table_note["tags"] and table_note["fields"][1].startswith("Table title<div")


def test_a_question_with_one_erroring_statement_exports_its_other_statements(tmp_path: Path):
    doc = read_json(filter_docs(tmp_path / "output") / "cv" / "cvmcq26002.json")
    notes, skips, _ = anki.notes_from_document(ExportDocument.model_validate(doc))
    assert [plain(n.text) for n in notes] == ["Clean statement in a question with an error."]
    assert [(r.index, r.reason) for r in skips] == [(0, "blocked")]
    assert not {"question_not_passed", "error"} & {r.reason for r in skips}


def test_a_card_breaking_warning_blocks_and_an_ordinary_warning_does_not():
    doc = document("cvmcq26001", critique=[
        item(CUTS_NUMBER, ["5 mg"], [("cloze_cuts_number", "warning")], blocked_by=["cloze_cuts_number"]),
        item("Warfarin interacts with many drugs, and warfarin needs INR checks.", ["warfarin"],
             [("cloze_repeated", "warning")], blocked_by=["cloze_repeated"]),
        item("Warning statement about dabigatran dosing.", ["dabigatran"], [("too_long", "warning")], blocked_by=[]),
    ])
    notes, skips, _ = anki.notes_from_document(ExportDocument.model_validate(doc))
    assert [plain(n.text) for n in notes] == ["Warning statement about dabigatran dosing."]
    assert [(r.index, r.reason, r.detail) for r in skips] == [
        (0, "blocked", "cloze_cuts_number"), (1, "blocked", "cloze_repeated"),
    ]


def test_the_gate_comes_from_validation():
    good = "Aspirin reduces the risk of recurrent myocardial infarction."
    statements = [
        Statement(statement=good, cloze_candidates=["aspirin therapy"]),  # error
        Statement(statement=CUTS_NUMBER, cloze_candidates=["5 mg"]),  # card-breaking warning
        Statement(statement=good, cloze_candidates=["Aspirin", "the"]),  # ordinary warning (trivial cloze)
        Statement(statement="Statins lower LDL cholesterol in most adults.", cloze_candidates=["Statins"]),
    ]
    extraction = Extraction(question_id="cvmcq26001", extractor="offline", model=None, prompt_version="t",
                            from_critique=statements, from_key_points=[], table_statements=[], tables_processed=0,
                            tables_skipped=0)
    validated = validate_extraction(extraction)
    doc = ExportDocument.model_validate(
        document("cvmcq26001", critique=[s.model_dump(mode="json") for s in validated.from_critique])
    )
    notes, skips, _ = anki.notes_from_document(doc)
    assert [n.index for n in notes] == [2, 3]
    assert [(r.index, r.reason, r.detail) for r in skips] == [
        (0, "blocked", "cloze_not_in_statement"), (1, "blocked", "cloze_cuts_number"),
    ]
    strict_notes, strict_skips, _ = anki.notes_from_document(doc, AnkiOptions(strict=True))
    assert [n.index for n in strict_notes] == [3] and strict_skips[-1].reason == "warning"


def test_an_old_document_without_blocked_by_is_judged_from_its_issues(tmp_path: Path):
    old = document("cvmcq26001", critique=[
        item("Clean statement in an old export here.", ["old"]),
        item("Old error statement about edoxaban here.", ["edoxaban"], [("number_not_in_source", "error")]),
        item("Old statement: warfarin then warfarin again.", ["warfarin"], [("cloze_repeated", "warning")]),
        item("Old warning statement about dabigatran.", ["dabigatran"], [("too_long", "warning")]),
        item("Old info statement about heparin here.", ["heparin"], [("style", "info")]),
    ], validation={"passed": False, "statements": 5, "errors": 1, "warnings": 2, "infos": 1, "issues": []})
    assert all("blocked_by" not in it for it in old["true_statements"]["from_critique"])
    summary = write_anki_export(write_docs(tmp_path / "output", old), now=T0)
    assert _texts(summary, tmp_path) == sorted([  # the old question-level "passed": false no longer decides
        "Clean statement in an old export here.",
        "Old warning statement about dabigatran.",
        "Old info statement about heparin here.",
    ])
    assert summary.skipped == {"blocked": 2}
    assert summary.skipped_issue_codes == {"number_not_in_source": 1, "cloze_repeated": 1}
    strict = write_anki_export(tmp_path / "output", AnkiOptions(strict=True), now=T0)
    assert strict.skipped == {"blocked": 2, "warning": 1}


def test_strict_also_leaves_out_statements_with_any_warning(tmp_path: Path):
    summary = write_anki_export(filter_docs(tmp_path / "output"), AnkiOptions(strict=True), now=T0)
    texts = _texts(summary, tmp_path)
    assert texts == sorted(t for t in DEFAULT_TEXTS if "dabigatran" not in t)
    assert "Info statement about heparin dosing here." in texts  # info is never a reason
    assert not any(word in text for text in texts for word in ("edoxaban", "rivaroxaban", "Apixaban"))
    assert summary.skipped == {"blocked": 4, "warning": 1, "duplicate_statement": 1, "merged_duplicate": 1}
    assert summary.skipped_issue_codes["too_long"] == 1 and "a" not in summary.skipped_issue_codes
    [warning] = [r for r in summary.skip_log if r.reason == "warning"]
    assert (warning.question_id, warning.index, warning.detail) == ("cvmcq26001", 2, "too_long")


def test_the_old_options_are_gone():
    assert AnkiOptions().strict is False
    with pytest.raises(TypeError):
        AnkiOptions(include_warnings=True)
    assert not hasattr(anki, "SKIP_QUESTION_NOT_PASSED") and not hasattr(anki, "SKIP_ERROR")


@pytest.mark.parametrize("system", ["np", "NP", "nephrology"])
def test_one_system_only(tmp_path: Path, system: str):
    summary = write_anki_export(filter_docs(tmp_path / "output"), AnkiOptions(system=system), now=T0)
    assert summary.apkg_path.name == "mksap-np.apkg" and summary.txt_path.name == "mksap-np.txt"
    deck = open_apkg(summary.apkg_path, tmp_path)
    assert summary.questions == 1 and summary.notes == len(deck["notes"]) == 1
    assert set(deck["decks"]) == {1, PARENT_DECK_ID, deck_id_for("np")}
    assert not (tmp_path / "output" / "anki" / "mksap.apkg").exists()


def test_unknown_system_and_empty_output_raise(tmp_path: Path):
    with pytest.raises(AnkiExportError, match="systems present: cv .*np"):
        write_anki_export(filter_docs(tmp_path / "output"), AnkiOptions(system="zz"))
    with pytest.raises(AnkiExportError, match="no exported questions"):
        write_anki_export(tmp_path / "empty")


def test_an_unreadable_document_is_reported_not_fatal(tmp_path: Path):
    out = filter_docs(tmp_path / "output")
    (out / "cv" / "cvmcq26009.json").write_text("{not json")
    summary = write_anki_export(out, now=T0)
    assert summary.notes == len(DEFAULT_TEXTS) and summary.unreadable == [str(out / "cv" / "cvmcq26009.json")]


# ------------------------------------------------------------------------------------------------ ids and files


def test_model_and_deck_ids_are_fixed_constants():
    assert (MODEL_ID, PARENT_DECK_ID) == (2134153929, 1548112554)
    assert deck_id_for("cv") == 2003706706 and deck_id_for("CV") == deck_id_for("cv")
    codes = [q.question_id[:2] for q in discover_questions(SAMPLE_DIR)]
    ids = {deck_id_for(code) for code in codes}
    assert len(ids) == len(set(codes)) == 16 and PARENT_DECK_ID not in ids
    assert all((1 << 30) <= i < (1 << 31) for i in ids)


def test_files_are_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    out = filter_docs(tmp_path / "output")
    summary = write_anki_export(out, now=T0)
    before = summary.apkg_path.read_bytes()

    def broken(self, file, timestamp=None):
        Path(file).write_bytes(b"half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(genanki.Package, "write_to_file", broken)
    with pytest.raises(OSError, match="disk full"):
        write_anki_export(out, now=T1)
    assert summary.apkg_path.read_bytes() == before
    written = ["mksap.apkg", "mksap.json", "mksap.notes.json", "mksap.txt", "preview", "retired.txt"]
    assert sorted(p.name for p in (out / "anki").iterdir()) == written


def test_exports_are_read_from_every_system_folder_only(tmp_path: Path):
    out = filter_docs(tmp_path / "output")
    (out / "anki").mkdir(exist_ok=True)
    (out / "anki" / "stray.json").write_bytes(orjson.dumps({"question_id": "zzmcq1"}))
    (out / "top.json").write_text("{}")
    paths = [export.path.name for export in iter_exports(out)]
    assert paths == ["cvmcq26001.json", "cvmcq26002.json", "npmcq26001.json"]


def test_one_system_keeps_one_deck_name_when_documents_disagree(tmp_path: Path):
    out = write_docs(
        tmp_path / "output",
        document("cvmcq26001", name="Cardiovascular Medicine", critique=[item("Alpha beta gamma delta.", ["beta"])]),
        document("cvmcq26002", name="Cardiology", critique=[item("Epsilon zeta eta theta.", ["zeta"])]),
    )
    summary = write_anki_export(out, now=T0)
    deck = open_apkg(summary.apkg_path, tmp_path)
    assert deck["decks"][deck_id_for("cv")] == "MKSAP::Cardiovascular Medicine"
    assert all("MKSAP::Cardiovascular_Medicine" in n["tags"] for n in deck["notes"].values())
    assert {row.split("\t")[3] for row in summary.txt_path.read_text().splitlines()[len(anki.TXT_HEADER) :]} == {
        "MKSAP::Cardiovascular Medicine"
    }
