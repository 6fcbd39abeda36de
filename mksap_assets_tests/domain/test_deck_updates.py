"""A deck that updates in place (issue 17): notes keyed by statement id, modification times that change only with
a note's fields (so a re-import leaves a learner's edits of unchanged notes alone), and retired.txt listing the notes
the deck no longer has."""

from __future__ import annotations

from pathlib import Path

from mksap_assets.domain.exports.anki import RETIRED_TAG, AnkiOptions, write_anki_export
from mksap_assets.domain.exports.identity import statement_guid
from mksap_assets_tests.domain.test_anki import (
    T0,
    T1,
    document,
    item,
    open_apkg,
    write_docs,
)

KEPT = "Apixaban is a direct factor Xa inhibitor used for stroke prevention."
EDITED = "Dabigatran is a direct thrombin inhibitor."


def _docs(extra: str | None = None, retired: list[dict] | None = None) -> list[dict]:
    first = document("cvmcq26001", critique=[
        {**item(KEPT, ["factor Xa inhibitor"], blocked_by=[]), "id": "id-kept"},
        {**item(EDITED, ["direct thrombin inhibitor"], blocked_by=[], extra=extra), "id": "id-edited"},
    ])
    first["retired_statements"] = retired or []
    legacy = document("cvmcq26002", critique=[item("Warfarin needs INR monitoring.", ["INR"], blocked_by=[])])
    return [first, legacy]


def test_note_guids_are_statement_ids_and_exports_before_ids_keep_their_text_guid(tmp_path: Path):
    out = write_docs(tmp_path / "output", *_docs())
    summary = write_anki_export(out, now=T0)
    notes = open_apkg(summary.apkg_path, tmp_path)["notes"]
    legacy = statement_guid("cvmcq26002", "critique", "Warfarin needs INR monitoring.")
    assert set(notes) == {"id-kept", "id-edited", legacy}


def test_a_rebuild_keeps_the_modification_time_of_every_unchanged_note(tmp_path: Path):
    out = write_docs(tmp_path / "output", *_docs())
    first = open_apkg(write_anki_export(out, now=T0).apkg_path, tmp_path)["notes"]
    assert {note["mod"] for note in first.values()} == {int(T0.timestamp())}
    write_docs(out, *_docs(extra="It blocks thrombin directly."))  # one note's Extra changes
    second = open_apkg(write_anki_export(out, now=T1).apkg_path, tmp_path)["notes"]
    assert second["id-edited"]["mod"] == int(T1.timestamp())
    assert {guid: note["mod"] for guid, note in second.items() if guid != "id-edited"} == {
        guid: int(T0.timestamp()) for guid in first if guid != "id-edited"}


def test_retired_and_merged_notes_are_listed_for_anki_with_the_retired_tag(tmp_path: Path):
    retired = [{"id": "id-gone", "section": "critique", "statement": "Edoxaban is avoided in high clearance.",
                "cloze_candidates": ["Edoxaban"], "retired_at": "2026-01-15T00:00:00+00:00"}]
    duplicate = document("cvmcq26003", critique=[{**item(KEPT, ["factor Xa inhibitor"], blocked_by=[]),
                                                  "id": "id-duplicate"}])
    out = write_docs(tmp_path / "output", *_docs(retired=retired), duplicate)
    summary = write_anki_export(out, AnkiOptions(), now=T0)
    rows = [line.split("\t") for line in summary.retired_path.read_text().splitlines() if not line.startswith("#")]
    by_guid = {row[4]: row for row in rows}
    assert set(by_guid) == {"id-gone", "id-duplicate"}  # the retired statement and the merged duplicate
    assert all(RETIRED_TAG in row[2].split() for row in rows)
    assert "{{c1::Edoxaban}}" in by_guid["id-gone"][0] and "merged into cvmcq26001" in by_guid["id-duplicate"][1]
    text = summary.retired_path.read_text()
    assert f"search tag:{RETIRED_TAG}" in text and "#guid column:5" in text
    deck = open_apkg(summary.apkg_path, tmp_path)["notes"]
    assert "id-gone" not in deck and "id-duplicate" not in deck


def test_retired_txt_is_rewritten_empty_when_nothing_is_retired(tmp_path: Path):
    out = write_docs(tmp_path / "output", *_docs())
    summary = write_anki_export(out, now=T0)
    assert [line for line in summary.retired_path.read_text().splitlines() if not line.startswith("#")] == []


def test_two_exports_of_the_same_extraction_keep_every_id_and_note(tmp_path: Path):
    """The whole pipeline twice over the sample bank (the second run re-extracts from a fresh store and finds the
    first export as its previous one): the same ids, the same deck GUIDs and modification times, nothing retired."""
    import shutil

    from mksap_assets.domain.exports.document import iter_exports
    from mksap_assets_tests.domain.test_anki import run_pipeline

    first_out = run_pipeline(tmp_path / "first")
    first_ids = {e.document.question_id: [s.id for s in e.document.true_statements.from_critique]
                 for e in iter_exports(first_out)}
    first_deck = open_apkg(write_anki_export(first_out, now=T0).apkg_path, tmp_path)["notes"]
    shutil.copytree(first_out, tmp_path / "second" / "output")
    second_out = run_pipeline(tmp_path / "second")
    second = {e.document.question_id: e.document for e in iter_exports(second_out)}
    assert {q: [s.id for s in d.true_statements.from_critique] for q, d in second.items()} == first_ids
    assert all(not d.retired_statements for d in second.values())
    second_deck = open_apkg(write_anki_export(second_out, now=T1).apkg_path, tmp_path)["notes"]
    assert {g: n["mod"] for g, n in second_deck.items()} == {g: n["mod"] for g, n in first_deck.items()}
