"""The deck's manifest, the guard that keeps the previous deck when a build shrinks it, and the deck's status in
`mksap summary`."""

from __future__ import annotations

from pathlib import Path

from mksap_assets.domain.engine.store import read_json, write_json_atomic
from mksap_assets.domain.exports.anki import AnkiOptions, write_anki_export
from mksap_assets.domain.exports.deck_files import (
    DeckFiles,
    deck_status,
    whole_deck_files,
)
from mksap_assets.domain.exports.summary import summarise_exports
from mksap_assets_tests.domain.test_anki import T0, T1, document, item, write_docs


def _question(question_id: str, statements: int, exported_at: str = "2026-01-01T00:00:00+00:00") -> dict:
    """An export with `statements` passing statements (one note each: each names its question, so that one card
    per fact does not merge the questions' statements)."""
    doc = document(question_id, critique=[
        item(f"Drug {question_id}-{n} is given at {n + 1} mg daily.", [f"{n + 1} mg"], blocked_by=[])
        for n in range(statements)
    ])
    doc["provenance"]["exported_at"] = exported_at
    return doc


def _bank(out: Path, notes: int) -> Path:
    """Ten exports, cvmcq26000…cvmcq26009, with `notes` notes in all (some questions may have none)."""
    per = [notes // 10 + (1 if n < notes % 10 else 0) for n in range(10)]
    return write_docs(out, *(_question(f"cvmcq2600{n}", count) for n, count in enumerate(per)))


def test_the_manifest_records_counts_build_time_and_the_exports_read(tmp_path: Path):
    out = _bank(tmp_path / "output", 20)
    summary = write_anki_export(out, now=T0)
    manifest = read_json(out / "anki" / "mksap.json")
    assert summary.manifest_path == out / "anki" / "mksap.json"
    assert (manifest["notes"], manifest["questions"], manifest["built_at"]) == (20, 10, T0.isoformat())
    assert manifest["built_from"]["cvmcq26003"] == "2026-01-01T00:00:00+00:00" and len(manifest["built_from"]) == 10
    assert summary.previous_notes is None and summary.kept is None and summary.kept_line() is None


def test_a_build_with_fewer_than_four_fifths_keeps_the_previous_deck(tmp_path: Path, caplog):
    out = _bank(tmp_path / "output", 20)
    first = write_anki_export(out, now=T0)
    assert first.notes == 20

    _bank(out, 16)  # exactly 4/5: not a shrink
    steady = write_anki_export(out, now=T1)
    assert steady.previous_notes == 20 and steady.kept is None
    assert not (out / "anki" / "mksap.previous.apkg").exists()

    previous_apkg, previous_txt = steady.apkg_path.read_bytes(), steady.txt_path.read_bytes()
    _bank(out, 12)  # fewer than 4/5 of 16
    shrunk = write_anki_export(out, now=T1)
    kept = whole_deck_files(out).kept()
    assert (shrunk.notes, shrunk.previous_notes) == (12, 16)
    assert shrunk.kept is not None and (shrunk.kept.apkg, shrunk.kept.notes) == (kept.apkg, 16)
    assert kept.apkg.read_bytes() == previous_apkg and kept.txt.read_bytes() == previous_txt
    assert read_json(kept.manifest)["notes"] == 16 and read_json(out / "anki" / "mksap.json")["notes"] == 12
    assert "12 notes, fewer than 4/5 of the previous deck's 16" in shrunk.kept_line()
    assert str(kept.apkg) in shrunk.kept_line()
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [shrunk.kept_line()]


def test_an_empty_deck_never_replaces_the_kept_one(tmp_path: Path):
    out = _bank(tmp_path / "output", 118)
    write_anki_export(out, now=T0)
    kept = whole_deck_files(out).kept()

    _bank(out, 0)  # the exports are still there, but no statement passes
    empty = write_anki_export(out, now=T1)
    assert (empty.notes, empty.previous_notes, empty.kept.notes) == (0, 118, 118)
    kept_bytes = kept.apkg.read_bytes()

    again = write_anki_export(out, now=T1)  # 0 after 0: nothing shrinks, the kept deck stays
    assert (again.previous_notes, again.kept) == (0, None)
    assert kept.apkg.read_bytes() == kept_bytes and kept.notes() == 118

    _bank(out, 50)
    write_anki_export(out, now=T1)
    _bank(out, 10)  # shrinks again from 50: the larger kept deck (118) is not replaced by the 50-note one
    shrunk = write_anki_export(out, now=T1)
    assert (shrunk.previous_notes, shrunk.kept.notes) == (50, 118) and kept.apkg.read_bytes() == kept_bytes


def test_a_deck_from_before_manifests_is_counted_from_its_text_file(tmp_path: Path):
    out = _bank(tmp_path / "output", 20)
    write_anki_export(out, now=T0)
    (out / "anki" / "mksap.json").unlink()
    assert whole_deck_files(out).notes() == 20
    _bank(out, 5)
    shrunk = write_anki_export(out, now=T1)
    assert shrunk.previous_notes == 20 and shrunk.kept.notes == 20
    assert not whole_deck_files(out).kept().manifest.exists()  # no manifest to copy: none is made up


def test_a_system_deck_has_its_own_manifest(tmp_path: Path):
    out = write_docs(tmp_path / "output", _question("cvmcq26001", 2), _question("npmcq26001", 3))
    summary = write_anki_export(out, AnkiOptions(system="np"))
    manifest = read_json(out / "anki" / "mksap-np.json")
    assert summary.manifest_path == out / "anki" / "mksap-np.json"
    assert (manifest["notes"], manifest["system"], list(manifest["built_from"])) == (3, "np", ["npmcq26001"])


# ------------------------------------------------------------------------------------------------ deck status


def test_no_deck_yet(tmp_path: Path):
    out = _bank(tmp_path / "output", 5)
    status = summarise_exports(out).deck
    assert status.notes is None and not status.current
    assert "Anki deck:          no deck yet (rebuild: mksap run, or the running sensor does it)" in summarise_exports(out).render()


def test_the_deck_is_current_until_a_question_is_exported_again_added_or_removed(tmp_path: Path):
    out = _bank(tmp_path / "output", 20)
    write_anki_export(out, now=T0)
    summary = summarise_exports(out)
    assert summary.deck.current
    rendered = summary.render()
    assert f"Anki deck:          20 notes in {out / 'anki' / 'mksap.apkg'}, built {T0.isoformat()}" in rendered
    assert "deck status:        current" in rendered
    assert f"card preview:       {out / 'anki' / 'preview' / 'index.html'}" in rendered

    write_docs(out, _question("cvmcq26001", 2, exported_at="2026-03-01T00:00:00+00:00"))  # exported again
    write_docs(out, _question("npmcq26001", 1))  # a new question
    (out / "cv" / "cvmcq26009.json").unlink()  # a removed one
    status = summarise_exports(out).deck
    assert (status.current, status.exported_since, status.removed_since) == (False, 2, 1)
    assert ("deck status:        stale: 2 questions exported and 1 removed since the deck was built "
            "(rebuild: mksap run, or the running sensor does it)") in summarise_exports(out).render()

    write_anki_export(out, now=T1)
    assert summarise_exports(out).deck.current


def test_summary_names_a_kept_deck_and_an_unknown_status(tmp_path: Path):
    out = _bank(tmp_path / "output", 20)
    write_anki_export(out, now=T0)
    _bank(out, 0)
    write_anki_export(out, now=T1)
    (out / "anki" / "mksap.json").unlink()  # as a deck built before manifests
    rendered = summarise_exports(out).render()
    assert "Anki deck:          0 notes in" in rendered
    assert "whether it is current is unknown" in rendered
    kept = out / "anki" / "mksap.previous.apkg"
    assert f"kept deck:          20 notes in {kept} (kept when a build had fewer than 4/5 of its notes)" in rendered


def test_status_is_read_from_the_manifest_without_opening_the_deck(tmp_path: Path):
    files = whole_deck_files(tmp_path)
    files.apkg.parent.mkdir(parents=True)
    files.apkg.write_bytes(b"not a zip: never opened")
    write_json_atomic(files.manifest, {"notes": 7, "built_at": "t", "built_from": {"cvmcq26001": "a"}})
    status = deck_status(tmp_path, {"cvmcq26001": "a"})
    assert (status.notes, status.current) == (7, True)
    assert DeckFiles.named(tmp_path, "x").kept().apkg.name == "x.previous.apkg"
