"""What lies beside the Anki deck: its manifest, the previous deck kept after a build that shrank it, where its card
preview goes (preview.py writes it), and whether the deck is current. No genanki here, so the summary can read it
cheaply.

The manifest (`mksap.json` beside `mksap.apkg`) records the deck's counts, when it was built and what from: for each
question, the `exported_at` of the export it was read from. The exports' own `exported_at` now, against that map,
tells how many questions were exported since the deck was built.

The guard: a build with fewer than 4/5 of the previous deck's notes (an empty deck is the extreme case) first copies
the previous files to `mksap.previous.*`. A kept deck is replaced only by one at least as large, so a series of
shrinking builds keeps the largest deck, never an empty one.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mksap_assets.domain.engine.store import atomic_target, read_json, write_json_atomic

ANKI_DIR = "anki"
FILE_STEM = "mksap"
PREVIEW_DIR = "preview"
PREVIEW_INDEX = "index.html"
KEPT_SUFFIX = ".previous"
# A build keeps the previous deck when it has fewer notes than SHRINK_NUMERATOR/SHRINK_DENOMINATOR of it.
SHRINK_NUMERATOR, SHRINK_DENOMINATOR = 4, 5
REBUILD_HINT = "rebuild: mksap run, or the running sensor does it"


@dataclass(frozen=True)
class DeckFiles:
    apkg: Path
    txt: Path
    manifest: Path

    @classmethod
    def named(cls, folder: Path, stem: str) -> DeckFiles:
        return cls(folder / f"{stem}.apkg", folder / f"{stem}.txt", folder / f"{stem}.json")

    @property
    def preview_dir(self) -> Path:
        """The deck's card preview (preview.py): anki/preview/ for the whole bank, anki/preview-<code>/ for one
        system."""
        return self.apkg.parent / (PREVIEW_DIR + self.apkg.stem.removeprefix(FILE_STEM))

    @property
    def preview_index(self) -> Path:
        return self.preview_dir / PREVIEW_INDEX

    @property
    def note_times(self) -> Path:
        """Each note's fields digest and modification time (note_times.py)."""
        return self.apkg.with_name(f"{self.apkg.stem}.notes.json")

    @property
    def retired(self) -> Path:
        """The notes this deck no longer has, to tag in Anki: retired.txt for the whole deck."""
        stem = self.apkg.stem
        return self.apkg.with_name("retired.txt" if stem == FILE_STEM else f"{stem}.retired.txt")

    def kept(self) -> DeckFiles:
        """Where the previous deck is kept: mksap.previous.apkg/.txt/.json."""
        return DeckFiles.named(self.apkg.parent, self.apkg.stem + KEPT_SUFFIX)

    def read_manifest(self) -> dict[str, Any] | None:
        try:
            manifest = read_json(self.manifest)
        except (OSError, ValueError):
            return None
        return manifest if isinstance(manifest, dict) else None

    def notes(self) -> int | None:
        """The deck's note count: from its manifest, else (a deck built before manifests) the rows of its .txt;
        None when there is no deck."""
        manifest = self.read_manifest()
        if manifest is not None and isinstance(manifest.get("notes"), int):
            return manifest["notes"]
        try:
            with self.txt.open(encoding="utf-8") as rows:
                return sum(1 for row in rows if row.strip() and not row.startswith("#"))  # "#" opens a header
        except OSError:
            return None


def whole_deck_files(output_dir: Path) -> DeckFiles:
    """The deck of every system: <output dir>/anki/mksap.*."""
    return DeckFiles.named(output_dir / ANKI_DIR, FILE_STEM)


# ---------------------------------------------------------------------------------------------------------------
# Writing: the guard, then the manifest


@dataclass(frozen=True)
class KeptDeck:
    apkg: Path
    notes: int


def shrinks(previous_notes: int, notes: int) -> bool:
    return notes * SHRINK_DENOMINATOR < previous_notes * SHRINK_NUMERATOR


def keep_previous_if_shrinking(files: DeckFiles, notes: int) -> tuple[int | None, KeptDeck | None]:
    """Before a build of `notes` notes replaces `files`: the previous deck's note count, and the kept deck if this
    build keeps one (the previous deck copied to mksap.previous.*, unless a larger deck is kept there already)."""
    previous = files.notes()
    if previous is None or not shrinks(previous, notes):
        return previous, None
    kept = files.kept()
    already = kept.notes()
    if already is not None and already > previous:
        return previous, KeptDeck(kept.apkg, already)
    for source, target in ((files.apkg, kept.apkg), (files.txt, kept.txt), (files.manifest, kept.manifest)):
        if source.is_file():
            with atomic_target(target) as tmp_path:
                shutil.copyfile(source, tmp_path)
        else:  # a deck built before manifests: no stale manifest may speak for it
            target.unlink(missing_ok=True)
    return previous, KeptDeck(kept.apkg, previous)


def write_manifest(
    files: DeckFiles,
    *,
    notes: int,
    cards: int,
    questions: int,
    strict: bool,
    system: str | None,
    built_at: str,
    built_from: Mapping[str, str],
) -> None:
    write_json_atomic(files.manifest, {
        "notes": notes,
        "cards": cards,
        "questions": questions,
        "strict": strict,
        "system": system,
        "built_at": built_at,
        "built_from": dict(sorted(built_from.items())),  # question id -> exported_at of the export read
    })


# ---------------------------------------------------------------------------------------------------------------
# Reading: is the deck current?


@dataclass(frozen=True)
class DeckStatus:
    files: DeckFiles
    notes: int | None  # None: no deck yet
    built_at: str | None = None
    known: bool = False  # a manifest says what the deck was built from
    exported_since: int = 0  # questions exported (new or again) since the deck was built
    removed_since: int = 0  # questions the deck has whose export is gone
    kept: KeptDeck | None = None

    @property
    def current(self) -> bool:
        return self.notes is not None and self.known and not self.exported_since and not self.removed_since

    def state(self) -> str:
        if self.notes is None:
            return "no deck yet"
        if not self.known:
            return "built before deck manifests: whether it is current is unknown (the next build records it)"
        if self.current:
            return "current"
        changes = []
        if self.exported_since:
            changes.append(f"{self.exported_since} question{'s' if self.exported_since != 1 else ''} exported")
        if self.removed_since:
            changes.append(f"{self.removed_since} removed")
        return f"stale: {' and '.join(changes)} since the deck was built ({REBUILD_HINT})"

    def lines(self) -> list[str]:
        if self.notes is None:
            lines = [f"Anki deck:          no deck yet ({REBUILD_HINT})"]
        else:
            built = f", built {self.built_at}" if self.built_at else ""
            lines = [f"Anki deck:          {self.notes} notes in {self.files.apkg}{built}",
                     f"deck status:        {self.state()}"]
            if self.files.preview_index.is_file():
                lines.append(f"card preview:       {self.files.preview_index}")
        if self.kept is not None:
            lines.append(f"kept deck:          {self.kept.notes} notes in {self.kept.apkg} "
                         f"(kept when a build had fewer than {SHRINK_NUMERATOR}/{SHRINK_DENOMINATOR} of its notes)")
        return lines


def deck_status(output_dir: Path, stamps: Mapping[str, str]) -> DeckStatus:
    """The whole-bank deck against the exports now (question id -> the stamp (ExportDocument.stamp) of each export)."""
    files = whole_deck_files(output_dir)
    kept_files = files.kept()
    kept_notes = kept_files.notes() if kept_files.apkg.is_file() else None
    kept = KeptDeck(kept_files.apkg, kept_notes) if kept_notes is not None else None
    if not files.apkg.is_file():
        return DeckStatus(files, None, kept=kept)
    manifest = files.read_manifest()
    built_from = manifest.get("built_from") if manifest else None
    if not isinstance(built_from, dict):
        return DeckStatus(files, files.notes(), kept=kept)
    return DeckStatus(
        files,
        files.notes(),
        built_at=str(manifest.get("built_at") or "") or None,
        known=True,
        exported_since=sum(1 for qid, stamp in stamps.items() if built_from.get(qid) != stamp),
        removed_since=len(built_from.keys() - stamps.keys()),
        kept=kept,
    )
