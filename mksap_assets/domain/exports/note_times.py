"""Each note's modification time, kept across deck builds: it changes only when the note's fields change.

genanki stamps every note with the build time, and Anki's import updates a note whose file copy is newer than the
collection's, so every rebuild would overwrite a learner's own edits of notes that did not change. Here each note
keeps the time of the build that last changed its fields (text, Extra, tags), recorded beside the deck
(`<deck>.notes.json`: GUID -> [fields digest, seconds since the epoch]); a new or changed note gets the build time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import genanki

from mksap_assets.domain.engine.store import read_json, write_json_atomic


def fields_digest(fields: Iterable[str]) -> str:
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()[:16]


class StampedNote(genanki.Note):
    """A genanki note written with its own modification time instead of the package's."""

    def __init__(self, *args, modified: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.modified = modified

    def write_to_db(self, cursor, timestamp: float, deck_id, id_gen) -> None:
        super().write_to_db(cursor, self.modified, deck_id, id_gen)


def read_note_times(path: Path) -> dict[str, tuple[str, int]]:
    """The recorded times (empty when there are none or the file cannot be read: every note then counts as new)."""
    try:
        recorded = read_json(path)
    except (OSError, ValueError):
        return {}
    if not isinstance(recorded, dict):
        return {}
    return {guid: (entry[0], int(entry[1])) for guid, entry in recorded.items()
            if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)}


def note_times(notes: Sequence[tuple[str, Sequence[str]]], recorded: dict[str, tuple[str, int]],
               now: float) -> dict[str, tuple[str, int]]:
    """GUID -> (fields digest, modification time) for (guid, fields) pairs: the recorded time where the fields are
    unchanged, `now` otherwise."""
    times = {}
    for guid, fields in notes:
        digest = fields_digest(fields)
        previous = recorded.get(guid)
        times[guid] = (digest, previous[1] if previous and previous[0] == digest else int(now))
    return times


def write_note_times(path: Path, times: dict[str, tuple[str, int]]) -> None:
    write_json_atomic(path, {guid: list(entry) for guid, entry in sorted(times.items())})
