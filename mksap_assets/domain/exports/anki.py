"""Anki export: the exported statements as cloze notes, in an .apkg (genanki) and a tab-separated import file.

Plain Python, no Dagster. Reads the exports (`<output dir>/<system>/<question id>.json`, document.iter_exports) and
writes `<output dir>/anki/mksap.apkg`, `<output dir>/anki/mksap.txt` and the manifest `mksap.json` (with a system
filter: `mksap-<code>.*`), each atomically (temp file in the same folder + rename), and the card preview,
`<output dir>/anki/preview/` (preview.py). A build with fewer than 4/5 of the previous deck's notes keeps the previous
files as `mksap.previous.*` (deck_files.py).

Design decisions
----------------
Cloze numbering (AnKing convention: 1-2 cards per note). The primary candidate (cloze_candidates[0]) is `{{c1::…}}`;
every secondary candidate (at most MAX_SECONDARY) shares `{{c2::…}}`. A note therefore renders one card (primary only)
or two (card 1 hides the key fact, card 2 hides the supporting details together) and never three.

Placement. Each candidate must be an exact substring of the statement. A candidate that is empty, repeats an earlier
one, covers the whole statement, is not in the statement, or overlaps an already placed cloze is dropped, with its
reason logged and counted; candidates are placed in priority order (primary first), so the primary always wins an
overlap. Of a candidate's occurrences the first whole-word one that does not overlap is used ("5 mg" in "2.5 mg or
5 mg" takes the second), else the first non-overlapping one. When the primary itself cannot be placed, the first
placeable secondary is promoted to c1. A statement with no placeable candidate is skipped ("no_usable_cloze").

Stable identity. GUID = genanki.guid_for("mksap", question id, section, normalised statement), section one of
critique / key_point / table, normalisation = NFKC, casefold, whitespace collapsed, trailing ".;: " stripped. So a
rerun that yields the same statement text (up to case, spacing and the final period) updates the same note; the
Extra field, the cloze candidates, tags and the issues are not part of the identity (editing them keeps the card and
its review history). A statement repeated within one question and section is written once
("duplicate_statement"). Model id, parent deck id are fixed constants; a system's deck id is a fixed function of its
code (deck_id_for), so it never changes between exports.

Filters, per statement (card_gate.py). A statement is exported unless an error or a card-breaking warning blocks it
(`blocked_by` in the export; documents written before the gate are judged from their issues); the other statements of
its question are exported all the same. Other warnings are advice. strict=True also leaves out statements with any
warning. system= keeps one system (its code, e.g. "cv", or its name, case-insensitive).

Escaping. Fields are HTML: `& < > " '` become entities, `{` and `}` become `&#123;`/`&#125;` and the first colon of
a colon followed by another colon becomes `&#58;`, so statement text can never open, close or hint a cloze; newlines
become <br>, tabs spaces. Fields contain no double quote (attributes are unquoted), so the TSV needs no CSV quoting.

Text import file: columns Text, Extra, Tags, Deck, GUID with the headers #separator:tab, #html:true, #notetype:Cloze,
#tags column:3, #deck column:4, #guid column:5 (Anki 2.1.55+). Text and Extra map by position onto the stock Cloze
note type's Text and Back Extra (no #columns line: Anki would map by name and miss "Back Extra"); the GUID column makes
a re-import update notes in place. A leading "#" of a row is written &#35; (Anki would read the line as a comment).

One card per fact (dedup.py, option merge_duplicates, on by default). After the gate, near-duplicate notes (same
c1 answer, numbers and negation, similar wording), within a question or across the bank, are merged: the survivor
(fewest words, then question id, section, index) keeps its GUID and its Extra gains "Also taught by: <the other
source questions>"; each merged statement is a skip with reason "merged_duplicate" naming its survivor.

Tags are `MKSAP::<System_Name>`, `MKSAP::<question type>` (question_id[2:5]) and
`MKSAP::source::<critique|key_point|table>`, each component reduced to letters, digits and `_-.&+`.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import genanki

from mksap_assets.domain.cloze_placement import free_start
from mksap_assets.domain.engine.store import atomic_target, write_bytes_atomic
from mksap_assets.domain.exports.deck_files import (
    ANKI_DIR,
    FILE_STEM,
    SHRINK_DENOMINATOR,
    SHRINK_NUMERATOR,
    DeckFiles,
    KeptDeck,
    keep_previous_if_shrinking,
    write_manifest,
)
from mksap_assets.domain.exports.dedup import DuplicateGroup, Statement, find_duplicates
from mksap_assets.domain.exports.document import (
    ExportDocument,
    ExportedStatement,
    ExportFile,
    iter_exports,
)
from mksap_assets.domain.exports.identity import statement_guid
from mksap_assets.domain.exports.note_times import (
    StampedNote,
    note_times,
    read_note_times,
    write_note_times,
)

log = logging.getLogger(__name__)

MODEL_ID = 2134153929
MODEL_NAME = "MKSAP Cloze"
PARENT_DECK_ID = 1548112554
PARENT_DECK_NAME = "MKSAP"
TAG_ROOT = "MKSAP"
MAX_SECONDARY = 2  # secondary candidates per note (all numbered c2)

# (export document location, section label used in GUIDs and tags, label shown in Extra)
SECTIONS: tuple[tuple[tuple[str, str], str, str], ...] = (
    (("true_statements", "from_critique"), "critique", "critique"),
    (("true_statements", "from_key_points"), "key_point", "key point"),
    (("table_statements", "statements"), "table", "table"),
)
SECTION_LABELS = tuple(label for _, label, _ in SECTIONS)

# Statement skip reasons
SKIP_BLOCKED = "blocked"  # an error or a card-breaking warning
SKIP_WARNING = "warning"  # strict mode only
SKIP_EMPTY = "empty_statement"
SKIP_NO_CLOZE = "no_usable_cloze"
SKIP_DUPLICATE = "duplicate_statement"
SKIP_MERGED = "merged_duplicate"  # the same fact as another note's (dedup.py), which carries it
# Candidate drop reasons (the note is still written when another candidate was placed)
DROP_EMPTY = "empty"
DROP_DUPLICATE = "duplicate"
DROP_COVERS = "covers_statement"
DROP_NOT_FOUND = "not_in_statement"
DROP_OVERLAP = "overlaps"
DROP_LIMIT = "over_limit"

CSS = """.card {
 font-family: arial;
 font-size: 20px;
 text-align: center;
 color: black;
 background-color: white;
}
.cloze {
 font-weight: bold;
 color: blue;
}
.nightMode .cloze {
 color: lightblue;
}
.mksap-source {
 margin-top: 1em;
 font-size: 14px;
 color: #666;
}
.nightMode .mksap-source {
 color: #aaa;
}
"""

MODEL = genanki.Model(
    MODEL_ID,
    MODEL_NAME,
    model_type=genanki.Model.CLOZE,
    fields=[{"name": "Text"}, {"name": "Extra"}],
    templates=[{"name": "Cloze", "qfmt": "{{cloze:Text}}", "afmt": "{{cloze:Text}}<br>\n{{Extra}}"}],
    css=CSS,
)

TXT_HEADER = (
    "#separator:tab",
    "#html:true",
    "#notetype:Cloze",
    "#tags column:3",
    "#deck column:4",
    "#guid column:5",
)


class AnkiExportError(ValueError):
    """Nothing to export: no export documents, or the system filter matches none."""


@dataclass(frozen=True)
class AnkiOptions:
    strict: bool = False  # also leave out statements with any warning
    system: str | None = None  # a system code ("cv") or name ("Cardiovascular Medicine"), case-insensitive
    merge_duplicates: bool = True  # one note per fact (dedup.py)


# ---------------------------------------------------------------------------------------------------------------
# Text: escaping, tags, deck names, identity


def escape_field(text: str) -> str:
    """Plain text -> Anki field HTML that cannot be read as markup or cloze syntax."""
    text = html.escape(text, quote=True)
    text = text.replace("{", "&#123;").replace("}", "&#125;")
    text = re.sub(r":(?=:)", "&#58;", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")
    return text.replace("\t", " ")


def tag_component(text: str) -> str:
    """One level of a hierarchical tag: no spaces, no "::", nothing Anki's tag parser treats specially."""
    text = unicodedata.normalize("NFKC", text).strip()
    text = re.sub(r"[^\w\-.&+]+", "_", text)
    return re.sub(r"_+", "_", text).strip("_") or "unknown"


def deck_component(text: str) -> str:
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()
    text = re.sub(r":{2,}", ":", text).replace('"', "")
    return text or "Unknown"


def deck_id_for(system_code: str) -> int:
    """The fixed deck id of a system's sub-deck: a pure function of the code, so it is the same in every export."""
    digest = hashlib.sha256(f"mksap-deck::{system_code.lower()}".encode()).digest()
    return (1 << 30) + int.from_bytes(digest[:4], "big") % (1 << 30)


# ---------------------------------------------------------------------------------------------------------------
# Cloze placement


@dataclass(frozen=True)
class ClozeSpan:
    start: int
    end: int
    number: int
    candidate: str


@dataclass(frozen=True)
class ClozeResult:
    text: str  # field HTML; "" when no candidate could be placed
    spans: tuple[ClozeSpan, ...]
    dropped: tuple[tuple[str, str], ...]  # (candidate, reason)

    @property
    def card_numbers(self) -> tuple[int, ...]:
        return tuple(sorted({s.number for s in self.spans}))


def render_cloze(statement: str, candidates: Sequence[str], *, max_secondary: int = MAX_SECONDARY) -> ClozeResult:
    """The statement as cloze text: first placed candidate c1, later ones c2 (at most max_secondary of them)."""
    text = statement.strip()
    core = text.rstrip(".").strip()
    spans: list[ClozeSpan] = []
    dropped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in candidates:
        candidate = (raw or "").strip()
        if not candidate:
            dropped.append((raw or "", DROP_EMPTY))
            continue
        if candidate in seen:
            dropped.append((candidate, DROP_DUPLICATE))
            continue
        seen.add(candidate)
        if candidate.rstrip(".").strip() == core:
            dropped.append((candidate, DROP_COVERS))
            continue
        if candidate not in text:
            dropped.append((candidate, DROP_NOT_FOUND))
            continue
        start = free_start(text, candidate, ((t.start, t.end) for t in spans))
        if start is None:
            dropped.append((candidate, DROP_OVERLAP))
            continue
        if len(spans) > max_secondary:
            dropped.append((candidate, DROP_LIMIT))
            continue
        spans.append(ClozeSpan(start, start + len(candidate), 1 if not spans else 2, candidate))
    if not spans:
        return ClozeResult("", (), tuple(dropped))
    pieces: list[str] = []
    position = 0
    for span in sorted(spans, key=lambda s: s.start):
        pieces.append(escape_field(text[position : span.start]))
        pieces.append(f"{{{{c{span.number}::{escape_field(text[span.start : span.end])}}}}}")
        position = span.end
    pieces.append(escape_field(text[position:]))
    return ClozeResult("".join(pieces), tuple(spans), tuple(dropped))


# ---------------------------------------------------------------------------------------------------------------
# Notes from export documents


@dataclass(frozen=True)
class ClozeNote:
    guid: str
    question_id: str
    system: str
    system_name: str
    section: str
    index: int
    text: str
    extra: str
    tags: tuple[str, ...]
    card_numbers: tuple[int, ...]
    statement: str  # the exported statement and its c1 answer, as plain text: what dedup compares
    answer: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.question_id, self.section, self.index)

    @property
    def deck_name(self) -> str:
        return f"{PARENT_DECK_NAME}::{deck_component(self.system_name)}"

    @property
    def fields(self) -> tuple[str, ...]:
        """What a learner sees and may edit: the note's fields and tags (a change gives the note a new mod time)."""
        return (self.text, self.extra, " ".join(self.tags))

    def to_genanki(self, modified: float) -> genanki.Note:
        return StampedNote(model=MODEL, fields=[self.text, self.extra], tags=list(self.tags), guid=self.guid,
                           modified=modified)


@dataclass(frozen=True)
class SkipRecord:
    question_id: str
    section: str
    index: int | None  # None: the whole question
    reason: str
    detail: str = ""
    duplicate_of: tuple[str, str, int] | None = None  # merged_duplicate: the survivor's key (question, section, index)


@dataclass
class SystemCount:
    name: str
    questions: int = 0
    notes: int = 0
    cards: int = 0
    skipped: int = 0


@dataclass
class AnkiExportSummary:
    output_dir: Path
    options: AnkiOptions
    apkg_path: Path | None = None
    txt_path: Path | None = None
    manifest_path: Path | None = None
    preview_path: Path | None = None  # the card preview's index.html (preview.py)
    questions: int = 0  # export documents read (after the system filter)
    notes: int = 0
    cards: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # statements not written, by reason
    skipped_issue_codes: Counter[str] = field(default_factory=Counter)  # issue codes of blocked/warning skips
    dropped_candidates: Counter[str] = field(default_factory=Counter)  # candidates not clozed, by reason
    unreadable: list[str] = field(default_factory=list)  # documents that could not be read
    per_system: dict[str, SystemCount] = field(default_factory=dict)
    skip_log: list[SkipRecord] = field(default_factory=list)
    built_from: dict[str, str] = field(default_factory=dict)  # question id -> the stamp of the export read
    retired: list[ClozeNote] = field(default_factory=list)  # notes no longer in the deck (retired.txt)
    retired_path: Path | None = None
    previous_notes: int | None = None  # the notes of the deck this build replaced; None: there was none
    kept: KeptDeck | None = None  # set when this build shrank the deck: where the previous (or a larger) deck is

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def merged(self) -> int:
        return self.skipped[SKIP_MERGED]

    def kept_line(self) -> str | None:
        """A warning for the run log when this build shrank the deck, None otherwise."""
        if self.kept is None:
            return None
        return (
            f"anki: this deck has {self.notes} notes, fewer than {SHRINK_NUMERATOR}/{SHRINK_DENOMINATOR} of the "
            f"previous deck's {self.previous_notes}; kept deck: {self.kept.notes} notes in {self.kept.apkg}"
        )

    def render(self) -> str:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(self.skipped.items())) or "none"
        retired = f"; {len(self.retired)} retired notes listed in {self.retired_path}" if self.retired else ""
        return (
            f"anki: {self.notes} notes ({self.cards} cards) from {self.questions} questions; "
            f"skipped {self.skipped_total} statements ({reasons}) -> {self.apkg_path}{retired}"
        )


def system_of(document: ExportDocument) -> tuple[str, str]:
    code = (document.category or document.question_id[:2]).strip().lower()
    name = (document.category_name or code).strip() or code
    return code, name


def _extra_html(item: ExportedStatement, document: ExportDocument, system_name: str, section_display: str) -> str:
    source = " · ".join(
        (f"MKSAP {escape_field(document.question_id)}", escape_field(system_name), escape_field(section_display))
    )
    if section_display == "table" and item.table_source:
        source += f" ({escape_field(item.table_source)})"
    objective = (document.educational_objective or "").strip()
    if objective:
        source += f"<br>Educational objective: {escape_field(objective)}"
    own = escape_field(item.extra_field.strip()) if item.extra_field and item.extra_field.strip() else ""
    return f"{own}<div class=mksap-source>{source}</div>"  # no quotes anywhere: safe in the TSV


def _tags(question_id: str, system_name: str, section: str) -> tuple[str, ...]:
    return (
        f"{TAG_ROOT}::{tag_component(system_name)}",
        f"{TAG_ROOT}::{tag_component(question_id[2:5].lower())}",
        f"{TAG_ROOT}::source::{section}",
    )


def _items(document: ExportDocument, location: tuple[str, str]) -> list[ExportedStatement]:
    return getattr(getattr(document, location[0]), location[1])


def notes_from_document(
    document: ExportDocument,
    options: AnkiOptions = AnkiOptions(),
    *,
    system_name: str | None = None,
) -> tuple[list[ClozeNote], list[SkipRecord], Counter[str]]:
    """One export document -> its notes, the statements skipped (with reasons), and dropped candidates by reason.

    system_name overrides the document's category_name (collect_notes passes the first name seen for the code, so
    one system never straddles two deck names)."""
    question_id = document.question_id
    code, own_name = system_of(document)
    system_name = system_name or own_name
    notes: list[ClozeNote] = []
    skips: list[SkipRecord] = []
    dropped: Counter[str] = Counter()
    seen_guids: set[str] = set()
    for location, section, display in SECTIONS:
        for index, item in enumerate(_items(document, location)):
            statement = item.statement

            def skip(reason: str, detail: str = "") -> None:
                skips.append(SkipRecord(question_id, section, index, reason, detail))

            blocked_by = item.blocking_codes()
            if blocked_by:
                skip(SKIP_BLOCKED, ",".join(blocked_by))
                continue
            warnings = item.warning_codes()
            if warnings and options.strict:
                skip(SKIP_WARNING, ",".join(warnings))
                continue
            if not statement.strip():
                skip(SKIP_EMPTY)
                continue
            # The statement's id (identity.py); an export written before ids: the GUID its text gave the note.
            guid = item.id or statement_guid(question_id, section, statement)
            if guid in seen_guids:
                skip(SKIP_DUPLICATE, statement[:60])
                continue
            cloze = render_cloze(statement, item.cloze_candidates)
            for candidate, reason in cloze.dropped:
                dropped[reason] += 1
                log.info("anki: %s %s[%d]: candidate %r dropped (%s)", question_id, section, index, candidate, reason)
            if not cloze.spans:
                detail = "; ".join(f"{c!r}: {r}" for c, r in cloze.dropped) or "no candidate"
                skip(SKIP_NO_CLOZE, detail)
                continue
            seen_guids.add(guid)
            notes.append(
                ClozeNote(
                    guid=guid,
                    question_id=question_id,
                    system=code,
                    system_name=system_name,
                    section=section,
                    index=index,
                    text=cloze.text,
                    extra=_extra_html(item, document, system_name, display),
                    tags=_tags(question_id, system_name, section),
                    card_numbers=cloze.card_numbers,
                    statement=statement,
                    answer=next(span.candidate for span in cloze.spans if span.number == 1),
                )
            )
    for record in skips:
        log.info(
            "anki: %s %s[%s] skipped: %s%s",
            record.question_id, record.section, record.index, record.reason,
            f" ({record.detail})" if record.detail else "",
        )
    return notes, skips, dropped


def merge_duplicate_notes(notes: Sequence[ClozeNote]) -> tuple[list[ClozeNote], list[DuplicateGroup]]:
    """The notes with each group of duplicates reduced to its survivor (Extra naming the other source questions),
    in the input order, and the groups."""
    groups = find_duplicates(Statement(n.question_id, n.section, n.index, n.statement, n.answer) for n in notes)
    merged = {statement.key for group in groups for statement in group.merged}
    also_taught = {group.survivor.key: group.other_questions for group in groups if group.other_questions}
    kept: list[ClozeNote] = []
    for note in notes:
        if note.key in merged:
            continue
        others = also_taught.get(note.key)
        if others:
            line = f"<div class=mksap-source>Also taught by: {escape_field(', '.join(others))}</div>"
            note = replace(note, extra=note.extra + line)
        kept.append(note)
    return kept, groups


def _record_merges(notes: Sequence[ClozeNote], groups: Sequence[DuplicateGroup], summary: AnkiExportSummary) -> None:
    by_key = {note.key: note for note in notes}
    for group in groups:
        survivor = group.survivor
        for statement, score in zip(group.merged, group.scores, strict=True):
            note = by_key[statement.key]
            detail = f"into {survivor.question_id} {survivor.section}[{survivor.index}] ({score:g})"
            summary.retired.append(_retired(note, f"merged into {survivor.question_id}"))
            summary.skip_log.append(
                SkipRecord(note.question_id, note.section, note.index, SKIP_MERGED, detail, survivor.key)
            )
            summary.skipped[SKIP_MERGED] += 1
            system = summary.per_system[note.system]
            system.notes -= 1
            system.cards -= len(note.card_numbers)
            system.skipped += 1
    if groups:
        log.info("anki: %d statements merged into %d notes (one card per fact)", summary.merged, len(groups))


# ---------------------------------------------------------------------------------------------------------------
# Reading, building, writing


def _matches_system(wanted: str, code: str, name: str) -> bool:
    wanted = wanted.strip().casefold()
    return wanted in (code.casefold(), name.casefold())


def anki_paths(output_dir: Path, system_code: str | None = None) -> DeckFiles:
    """mksap.apkg/.txt/.json for the whole bank, mksap-<code>.* for one system."""
    stem = FILE_STEM if not system_code else f"{FILE_STEM}-{tag_component(system_code.lower())}"
    return DeckFiles.named(output_dir / ANKI_DIR, stem)


def collect_notes(
    exports: Iterable[ExportFile], options: AnkiOptions, summary: AnkiExportSummary
) -> list[ClozeNote]:
    notes: list[ClozeNote] = []
    known: dict[str, str] = {}
    for export in exports:
        document = export.document
        if document is None:
            log.warning("anki: cannot read %s", export.error)
            summary.unreadable.append(str(export.path))
            continue
        code, name = system_of(document)
        known.setdefault(code, name)
        if options.system and not _matches_system(options.system, code, name):
            continue
        summary.questions += 1
        summary.built_from[document.question_id] = document.stamp
        system = summary.per_system.setdefault(code, SystemCount(name=name))
        system.questions += 1
        found, skips, dropped = notes_from_document(document, options, system_name=system.name)
        summary.retired.extend(retired_notes(document, system.name))
        notes.extend(found)
        system.notes += len(found)
        system.cards += sum(len(n.card_numbers) for n in found)
        system.skipped += len(skips)
        summary.skip_log.extend(skips)
        summary.dropped_candidates.update(dropped)
        for record in skips:
            summary.skipped[record.reason] += 1
            if record.reason in (SKIP_BLOCKED, SKIP_WARNING):
                summary.skipped_issue_codes.update(record.detail.split(","))
    if not known and not summary.unreadable:
        raise AnkiExportError(f"no exported questions in {summary.output_dir}; run the pipeline first")
    if options.system and not summary.questions:
        systems = ", ".join(f"{c} ({n})" for c, n in sorted(known.items())) or "none"
        raise AnkiExportError(f"no exported question of system {options.system!r}; systems present: {systems}")
    if options.merge_duplicates:
        found_notes = notes
        notes, groups = merge_duplicate_notes(found_notes)
        _record_merges(found_notes, groups, summary)
    notes.sort(key=lambda n: (n.system, n.question_id, SECTION_LABELS.index(n.section), n.index))
    summary.notes = len(notes)
    summary.cards = sum(len(n.card_numbers) for n in notes)
    return notes


def build_package(notes: Sequence[ClozeNote], modified: Mapping[str, float]) -> genanki.Package:
    """One parent deck MKSAP (empty) and one sub-deck per system, all with fixed ids; each note stamped with its
    own modification time (`modified`, by GUID)."""
    parent = genanki.Deck(PARENT_DECK_ID, PARENT_DECK_NAME, description="MKSAP board-review statements (mksap_assets)")
    decks: dict[str, genanki.Deck] = {}
    for note in notes:
        deck = decks.get(note.system)
        if deck is None:
            deck = decks[note.system] = genanki.Deck(deck_id_for(note.system), note.deck_name)
            deck.add_model(MODEL)
        deck.add_note(note.to_genanki(modified[note.guid]))
    parent.add_model(MODEL)
    return genanki.Package([parent, *(decks[code] for code in sorted(decks))])


def render_txt(notes: Sequence[ClozeNote], comments: Sequence[str] = ()) -> str:
    """Anki text import: header lines (and comment lines), then Text, Extra, Tags, Deck, GUID per note,
    tab-separated."""
    lines = [*TXT_HEADER, *(f"# {comment}" for comment in comments)]
    for note in notes:
        text = "&#35;" + note.text[1:] if note.text.startswith("#") else note.text  # a leading # is a comment
        columns = [text, note.extra, " ".join(note.tags), note.deck_name, note.guid]
        lines.append("\t".join(c.replace("\t", " ").replace("\n", " ") for c in columns))
    return "\n".join(lines) + "\n"


RETIRED_TAG = f"{TAG_ROOT}::retired"
RETIRED_HOWTO = (
    "Notes this deck no longer has: their statement was retired by a re-extraction, or merged into another card.",
    f"To tag them in Anki: import this file (update existing notes), then search tag:{RETIRED_TAG} and suspend or "
    "delete.",
)


def _retired(note: ClozeNote, why: str) -> ClozeNote:
    line = f"<div class=mksap-source>Retired: {escape_field(why)}</div>"
    return replace(note, extra=note.extra + line, tags=(*note.tags, RETIRED_TAG))


def retired_notes(document: ExportDocument, system_name: str) -> list[ClozeNote]:
    """The question's retired statements as the notes they were (GUID = id), tagged MKSAP::retired; one whose
    clozes no longer place is left out (Anki refuses a cloze note without a cloze)."""
    code, _ = system_of(document)
    notes = []
    for index, retired in enumerate(document.retired_statements):
        cloze = render_cloze(retired.statement, retired.cloze_candidates)
        if not cloze.spans:
            continue
        section = retired.section or "critique"
        note = ClozeNote(
            guid=retired.id, question_id=document.question_id, system=code, system_name=system_name,
            section=section, index=index, text=cloze.text,
            extra=f"<div class=mksap-source>MKSAP {escape_field(document.question_id)}</div>",
            tags=_tags(document.question_id, system_name, section), card_numbers=cloze.card_numbers,
            statement=retired.statement, answer=cloze.spans[0].candidate,
        )
        notes.append(_retired(note, f"since {retired.retired_at or 'an earlier export'}"))
    return notes


def write_anki_export(
    output_dir: Path, options: AnkiOptions = AnkiOptions(), *, now: datetime | None = None
) -> AnkiExportSummary:
    """Read every export document under output_dir, write the .apkg, the .txt and the manifest (the previous deck
    kept first when this one would have fewer than 4/5 of its notes), return what was written."""
    summary = AnkiExportSummary(output_dir=output_dir, options=options)
    exports = list(iter_exports(output_dir))  # read once: the deck, then its preview
    notes = collect_notes(exports, options, summary)
    system_code = "-".join(sorted(summary.per_system)) if options.system else None
    files = anki_paths(output_dir, system_code)
    summary.apkg_path, summary.txt_path, summary.manifest_path = files.apkg, files.txt, files.manifest
    summary.previous_notes, summary.kept = keep_previous_if_shrinking(files, len(notes))
    built = (now or datetime.now(UTC)).timestamp()
    times = note_times([(note.guid, note.fields) for note in notes], read_note_times(files.note_times), built)
    package = build_package(notes, {guid: modified for guid, (_, modified) in times.items()})
    with atomic_target(files.apkg) as tmp_path:
        package.write_to_file(str(tmp_path), timestamp=built)
    text = render_txt(notes)
    write_bytes_atomic(files.txt, text.encode("utf-8"))
    write_note_times(files.note_times, times)
    live = {note.guid for note in notes}  # a statement retired in one question may live on as another's survivor
    summary.retired = [note for note in summary.retired if note.guid not in live]
    summary.retired_path = files.retired
    write_bytes_atomic(files.retired, render_txt(summary.retired, RETIRED_HOWTO).encode("utf-8"))
    write_manifest(
        files, notes=summary.notes, cards=summary.cards, questions=summary.questions, strict=options.strict,
        system=options.system, built_at=(now or datetime.now(UTC)).isoformat(), built_from=summary.built_from,
    )
    # imported here: preview.py imports this module
    from mksap_assets.domain.exports.preview import write_preview

    documents = [e.document for e in exports if e.document is not None and e.document.question_id in summary.built_from]
    summary.preview_path = write_preview(files.preview_dir, documents, notes, summary.skip_log)
    log.info(summary.render())
    if summary.kept is not None:
        log.warning(summary.kept_line())
    return summary
