"""The card preview: the Anki deck as static HTML pages, to read its cards without Anki.

Plain Python, no Dagster. write_anki_export (anki.py) writes it beside the deck: `<output dir>/anki/preview/`
(`preview-<code>/` for a one-system deck) holds `index.html` (per system: its counts, linked to its page) and one page
per system, `<code>.html`, with every statement of that system's exported questions, in question order:
- in deck: each card of its note as Anki shows it (front: that card's cloze hidden as [...], the other clozes shown;
  back: the cloze revealed, then Extra), its tags and its source (question, section, index, the statement id when the
  export has one);
- left out: the statement and why: the skip reason and its detail (blocking codes, "duplicate of" the note that
  carries the fact, linked);
- retired: a statement an earlier export of the question had and this one no longer carries (retired_statements).
Every statement also shows its warnings and the model's source concern when it has them.

Filters: status checkboxes on every page (a few lines of inline JS; `<code>.html#left-out` opens with that status
only) and a menu of the system pages. Self-contained: inline CSS (the note type's own, anki.CSS, so cards look as in
Anki) and inline JS, nothing fetched, so the pages open from file://.

Escaping: a note's fields are already HTML in which statement text is escaped (anki.escape_field), so they are shown
as Anki shows them; every other text (left-out and retired statements, reasons, codes, ids, names) is escaped here.

Size: one page per system, cards written out as HTML (not built by script, so a page reads and tests as it is), Extra
once per note. benchmarks/bench_preview.py (the corpus's Claude-path exports copied to 2,184 questions, 52,780
notes): 859 bytes per statement, system pages of 1.1 to 4.6 MB (45 MB in all), written in 1.4 s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from mksap_assets.domain.engine.store import write_bytes_atomic
from mksap_assets.domain.exports.anki import (
    CSS,
    RETIRED_TAG,
    SECTIONS,
    SKIP_BLOCKED,
    ClozeNote,
    SkipRecord,
    system_of,
    tag_component,
)
from mksap_assets.domain.exports.deck_files import PREVIEW_INDEX
from mksap_assets.domain.exports.document import ExportDocument, ExportedStatement

IN_DECK, LEFT_OUT, RETIRED = "in-deck", "left-out", "retired"
STATUS_LABELS = {IN_DECK: "in deck", LEFT_OUT: "left out", RETIRED: "retired"}

CLOZE_RE = re.compile(r"\{\{c(\d+)::(.*?)\}\}", re.DOTALL)  # field HTML never holds "::" nor "}" inside a cloze
HIDDEN = "[...]"

PAGE_CSS = """body { font-family: sans-serif; margin: 0 auto; max-width: 1100px; padding: 0 1em; color: #222; }
nav, .filters { position: sticky; top: 0; background: #f4f4f4; padding: .5em; border-bottom: 1px solid #ccc; }
.filters label { margin-right: 1em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .3em .6em; text-align: right; }
td:first-child, th:first-child, td.name, th.name { text-align: left; }
h2 { margin-top: 1.5em; font-size: 1.1em; border-bottom: 2px solid #999; }
.entry { border: 1px solid #ccc; border-radius: 4px; margin: .6em 0; padding: .4em .8em; }
.entry.left-out { background: #fff6f0; } .entry.retired { background: #f1f1f1; color: #555; }
.entry h3 { margin: 0 0 .3em; font-size: .85em; font-weight: normal; color: #555; }
.badge { font-weight: bold; text-transform: uppercase; margin-right: .6em; }
.in-deck .badge { color: #27632a; } .left-out .badge { color: #a23c00; } .retired .badge { color: #666; }
.cards { display: grid; grid-template-columns: 1fr 1fr; gap: .4em; margin-bottom: .4em; }
.card { border: 1px dashed #bbb; padding: .5em; font-size: 16px; }
.card::before { display: block; font-size: 11px; color: #888; text-align: left; }
.front::before { content: "card " attr(data-card) " front"; }
.back::before { content: "card " attr(data-card) " back"; }
.extra::before { content: "Extra (on every back)"; }
.tags, .reasons { font-size: .8em; color: #555; margin: .3em 0 0; }
.reasons li { color: #a23c00; }
.statement { margin: .2em 0; }
.hide-in-deck .entry.in-deck, .hide-left-out .entry.left-out, .hide-retired .entry.retired { display: none; }
"""

# Status checkboxes: unchecked hides that status (a class on <body>); a page opened at #<status> shows it only.
FILTER_JS = """(function () {
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[data-status]'));
  var wanted = decodeURIComponent(location.hash.slice(1));
  var only = boxes.some(function (box) { return box.dataset.status === wanted; });
  function apply() {
    boxes.forEach(function (box) { document.body.classList.toggle('hide-' + box.dataset.status, !box.checked); });
  }
  boxes.forEach(function (box) {
    if (only) { box.checked = box.dataset.status === wanted; }
    box.addEventListener('change', apply);
  });
  apply();
})();"""


@dataclass(frozen=True)
class PreviewEntry:
    """One statement of an exported question as the preview shows it."""

    status: str  # IN_DECK, LEFT_OUT or RETIRED
    question_id: str
    section: str  # a deck section label: critique, key_point, table
    index: int | None  # None: a retired statement (it has no place in the current export)
    statement: str  # plain text
    statement_id: str | None = None
    note: ClozeNote | None = None  # IN_DECK
    skip: SkipRecord | None = None  # LEFT_OUT
    warnings: tuple[str, ...] = ()
    source_concern: str | None = None
    retired_at: str | None = None  # RETIRED: the export that first left it out, when the export says

    @property
    def anchor(self) -> str:
        if self.index is None:
            return f"{self.question_id}-retired-{self.statement_id}"
        return entry_anchor((self.question_id, self.section, self.index))


@dataclass
class SystemPreview:
    code: str
    name: str
    entries: list[PreviewEntry] = field(default_factory=list)
    questions: int = 0

    @property
    def page(self) -> str:
        return f"{tag_component(self.code)}.html"

    def count(self, status: str) -> int:
        return sum(1 for entry in self.entries if entry.status == status)

    @property
    def cards(self) -> int:
        return sum(len(entry.note.card_numbers) for entry in self.entries if entry.note)


def entry_anchor(key: tuple[str, str, int]) -> str:
    question_id, section, index = key
    return f"{question_id}-{section}-{index}"


def _statement_entry(
    document: ExportDocument, section: str, index: int, item: ExportedStatement,
    notes: dict[tuple[str, str, int], ClozeNote], skips: dict[tuple[str, str, int], SkipRecord],
) -> PreviewEntry:
    key = (document.question_id, section, index)
    note = notes.get(key)
    concern = (item.source_concern or "").strip() or None
    return PreviewEntry(
        status=IN_DECK if note else LEFT_OUT, question_id=document.question_id, section=section, index=index,
        statement=item.statement, statement_id=item.id, note=note, skip=None if note else skips[key],
        warnings=tuple(item.warning_codes()), source_concern=concern,
    )


def preview_systems(
    documents: Iterable[ExportDocument], notes: Sequence[ClozeNote], skip_log: Sequence[SkipRecord]
) -> list[SystemPreview]:
    """The deck's documents, notes and skips (anki.collect_notes) as one SystemPreview per system, by code."""
    notes_by_key = {note.key: note for note in notes}
    skips = {(r.question_id, r.section, r.index): r for r in skip_log if r.index is not None}
    systems: dict[str, SystemPreview] = {}
    for document in sorted(documents, key=lambda d: d.question_id):
        code, name = system_of(document)
        system = systems.setdefault(code, SystemPreview(code, name))  # the first name seen, as collect_notes
        system.questions += 1
        for (list_name, items_name), section, _ in SECTIONS:
            items = getattr(getattr(document, list_name), items_name)
            system.entries.extend(
                _statement_entry(document, section, index, item, notes_by_key, skips)
                for index, item in enumerate(items)
            )
        system.entries.extend(
            PreviewEntry(
                status=RETIRED, question_id=document.question_id,
                section=retired.section or "?", index=None, statement=retired.statement, statement_id=retired.id,
                retired_at=retired.retired_at,
            )
            for retired in document.retired_statements
        )
    return [systems[code] for code in sorted(systems)]


# ---------------------------------------------------------------------------------------------------------------
# HTML


def card_face(text: str, number: int, *, revealed: bool) -> str:
    """A note's Text field (HTML) as card `number` shows it: its cloze hidden as [...] (front) or revealed (back),
    the other clozes as plain text."""

    def one(match: re.Match[str]) -> str:
        if int(match.group(1)) != number:
            return match.group(2)
        return f'<span class="cloze">{match.group(2) if revealed else HIDDEN}</span>'

    return CLOZE_RE.sub(one, text)


def _cards_html(note: ClozeNote) -> str:
    """Each card's front and back, then Extra once per note (the note type's back shows it under every card's text:
    once keeps the page smaller)."""
    faces = [
        f'<div class="card front" data-card="{number}">{card_face(note.text, number, revealed=False)}</div>\n'
        f'<div class="card back" data-card="{number}">{card_face(note.text, number, revealed=True)}</div>\n'
        for number in note.card_numbers
    ]
    extra = f'<div class="card extra">{note.extra}</div>'
    return f'<div class="cards">{"".join(faces)}</div>{extra}'


def _skip_html(skip: SkipRecord, pages: dict[tuple[str, str, int], str]) -> str:
    if skip.duplicate_of:
        question_id, section, index = skip.duplicate_of
        target = f"{pages.get(skip.duplicate_of, '')}#{entry_anchor(skip.duplicate_of)}"
        return f'duplicate of <a href="{escape(target)}">{escape(question_id)} {escape(section)} #{index}</a>'
    if skip.reason == SKIP_BLOCKED:
        return f"blocked by {escape(skip.detail.replace(',', ', '))}"
    return escape(f"{skip.reason}: {skip.detail}" if skip.detail else skip.reason)


def _entry_html(entry: PreviewEntry, pages: dict[tuple[str, str, int], str]) -> str:
    where = f"{entry.question_id} · {entry.section}" + (f" #{entry.index}" if entry.index is not None else "")
    if entry.statement_id:
        where += f" · id {entry.statement_id}"
    reasons = []
    if entry.skip:
        reasons.append(_skip_html(entry.skip, pages))
    if entry.status == RETIRED:
        reasons.append(f"retired since {escape(entry.retired_at or 'an earlier export')}: a re-extraction of the "
                       f"question no longer has it ({RETIRED_TAG})")
    if entry.warnings:
        reasons.append(f"warnings: {escape(', '.join(entry.warnings))}")
    if entry.source_concern:
        reasons.append(f"source concern: {escape(entry.source_concern)}")
    body = (
        _cards_html(entry.note) + f'<p class="tags">{escape(" ".join(entry.note.tags))}</p>' if entry.note
        else f'<p class="statement">{escape(entry.statement)}</p>'
    )
    listed = "".join(f"<li>{reason}</li>" for reason in reasons)
    return (
        f'<article class="entry {entry.status}" id="{escape(entry.anchor)}">'
        f'<h3><span class="badge">{STATUS_LABELS[entry.status]}</span>{escape(where)}</h3>\n{body}'
        + (f'<ul class="reasons">{listed}</ul>' if listed else "")
        + "</article>\n"
    )


def _document(title: str, body: str, *, script: bool) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>\n'
        f"<style>\n{CSS}{PAGE_CSS}</style></head>\n<body>\n{body}"
        + (f"<script>\n{FILTER_JS}\n</script>\n" if script else "")
        + "</body></html>\n"
    )


def _system_menu(systems: Sequence[SystemPreview], current: SystemPreview | None) -> str:
    options = "".join(
        f'<option value="{escape(s.page)}"{" selected" if s is current else ""}>{escape(s.code)} · {escape(s.name)}'
        "</option>"
        for s in systems
    )
    index_option = f'<option value="{PREVIEW_INDEX}"{"" if current else " selected"}>all systems (index)</option>'
    return (
        '<label>System <select onchange="location.href = this.value">'
        f"{index_option}{options}</select></label>"
    )


def render_system_page(
    system: SystemPreview, systems: Sequence[SystemPreview], pages: dict[tuple[str, str, int], str]
) -> str:
    """One system's page. `pages`: a note's key -> the page it is on (for "duplicate of" links across systems)."""
    boxes = "".join(
        f'<label><input type="checkbox" data-status="{status}" checked> {label} ({system.count(status)})</label>'
        for status, label in STATUS_LABELS.items()
    )
    parts = [
        f'<form class="filters">{boxes} {_system_menu(systems, system)}</form>\n',
        f"<h1>{escape(system.name)} ({escape(system.code)})</h1>\n",
        (f"<p>{system.count(IN_DECK)} notes ({system.cards} cards) from {system.questions} questions. Statements "
         f"left out of the deck: {system.count(LEFT_OUT)}; retired: {system.count(RETIRED)}.</p>\n"),
    ]
    question = None
    for entry in system.entries:
        if entry.question_id != question:
            question = entry.question_id
            parts.append(f'<h2 id="{escape(question)}">{escape(question)}</h2>\n')
        parts.append(_entry_html(entry, pages))
    return _document(f"MKSAP deck preview: {system.name}", "".join(parts), script=True)


def render_index(systems: Sequence[SystemPreview]) -> str:
    def row(s: SystemPreview) -> str:
        links = "".join(
            f'<td><a href="{escape(s.page)}#{status}">{s.count(status)}</a></td>' for status in STATUS_LABELS
        )
        return (
            f'<tr><td><a href="{escape(s.page)}">{escape(s.code)}</a></td><td class="name">{escape(s.name)}</td>'
            f"<td>{s.questions}</td>{links}<td>{s.cards}</td></tr>"
        )

    total = SystemPreview("", "", [entry for s in systems for entry in s.entries], sum(s.questions for s in systems))
    header = "".join(f"<th>{label}</th>" for label in STATUS_LABELS.values())
    body = (
        f"<nav>{_system_menu(systems, None)}</nav>\n<h1>MKSAP deck preview</h1>\n"
        f"<p>{total.count(IN_DECK)} notes ({total.cards} cards) from {total.questions} questions. Statements left "
        f"out of the deck: {total.count(LEFT_OUT)}; retired: {total.count(RETIRED)}. One page per system: each "
        "note's cards as Anki shows them, and why a statement was left out.</p>\n"
        f'<table><tr><th>system</th><th class="name">name</th><th>questions</th>{header}<th>cards</th></tr>\n'
        + "\n".join(row(s) for s in systems)
        + "</table>\n"
    )
    return _document("MKSAP deck preview", body, script=False)


def write_preview(
    folder: Path, documents: Iterable[ExportDocument], notes: Sequence[ClozeNote], skip_log: Sequence[SkipRecord]
) -> Path:
    """Write index.html and one page per system into folder (each atomically), remove the pages of systems no
    longer there; return the index's path."""
    systems = preview_systems(documents, notes, skip_log)
    pages = {entry.note.key: system.page for system in systems for entry in system.entries if entry.note}
    written = {PREVIEW_INDEX: render_index(systems)}
    written.update((system.page, render_system_page(system, systems, pages)) for system in systems)
    for name, content in written.items():
        write_bytes_atomic(folder / name, content.encode("utf-8"))
    for stale in folder.glob("*.html"):
        if stale.name not in written:
            stale.unlink()
    return folder / PREVIEW_INDEX
