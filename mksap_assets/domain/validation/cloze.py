"""Cloze checks: every candidate is an exact substring of its statement; 1–3 per statement; not the whole
statement; not trivial; a number is blanked with its unit and never cut in the middle.

Where a candidate sits, and whether it is repeated or overlaps another, follows how the Anki export renders the card
(`anki.render_cloze`): each candidate is placed, in order, at its first whole-word occurrence that no earlier
candidate covers (else its first free occurrence); the first placed candidate is c1, the others c2. So "men" inside
"recommended" is not a second "men", and two candidates only overlap when the card cannot place both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from mksap_assets.domain.cloze_placement import free_start, occurrences, whole_word
from mksap_assets.domain.nlp.rules import find_quantities
from mksap_assets.domain.statements import Issue, Statement
from mksap_assets.domain.text import normalise_comparators, normalise_whitespace

MAX_CLOZES = 3
TRIVIAL_CLOZES = frozenset(
    """the a an is are was were be been and or but not of in on at to for with by from as if can may will would
    patient patients diagnosis treatment management therapy""".split()
)
PRONOUNS = frozenset("it its this that these those they them their he she his her".split())
_DIGIT_RE = re.compile(r"\d")
VAGUE_CLOZES = frozenset("thing things condition disease disorder syndrome sign symptom finding agent drug "
                         "medication test procedure".split())


@dataclass(frozen=True)
class Placement:
    candidate: str
    start: int
    end: int
    number: int  # the card that blanks it: 1 for the first placed candidate, 2 for the others


def place_candidates(statement: str, candidates: Sequence[str]) -> tuple[tuple[Placement, ...], tuple[str, ...]]:
    """Where the card renderer puts each candidate (stripped, in order, duplicates once, at most MAX_CLOZES), and
    the candidates it cannot place because every occurrence overlaps an earlier one. Candidates absent from the
    statement, or covering all of it, are in neither."""
    return _place(statement, tuple(candidates))


@lru_cache(maxsize=256)  # the cloze and the enumeration checks place the same candidates
def _place(statement: str, candidates: tuple[str, ...]) -> tuple[tuple[Placement, ...], tuple[str, ...]]:
    text = statement.strip()
    offset = statement.find(text) if text else 0
    core = text.rstrip(".").strip()
    placed: list[Placement] = []
    blocked: list[str] = []
    seen: set[str] = set()
    for raw in candidates:
        candidate = (raw or "").strip()
        if not candidate or candidate in seen or candidate.rstrip(".").strip() == core or candidate not in text:
            continue
        seen.add(candidate)
        start = free_start(text, candidate, ((p.start - offset, p.end - offset) for p in placed))
        if start is None:
            blocked.append(candidate)
            continue
        if len(placed) >= MAX_CLOZES:
            continue
        placed.append(Placement(candidate, offset + start, offset + start + len(candidate), 1 if not placed else 2))
    return tuple(placed), tuple(blocked)


def _visible_repeats(statement: str, placement: Placement, placed: Sequence[Placement]) -> int:
    """Whole-word occurrences of the candidate (any capitals) that the candidate's own card leaves visible: not its
    own blank and not inside another blank of the same card."""
    lowered, needle = statement.lower(), placement.candidate.lower()
    if lowered.find(needle, lowered.find(needle) + 1) < 0 and len(lowered) == len(statement):
        return 0  # one occurrence: its own blank
    same_card = [p for p in placed if p.number == placement.number]
    count = 0
    for start, end in _any_case_occurrences(statement, placement.candidate):
        if not whole_word(statement, start, end):
            continue
        if any(p.start <= start and end <= p.end for p in same_card):
            continue
        count += 1
    return count


def _any_case_occurrences(text: str, candidate: str) -> Iterator[tuple[int, int]]:
    lowered, needle = text.lower(), candidate.lower()
    if len(lowered) != len(text) or len(needle) != len(candidate):  # a letter whose lower case is longer
        for match in re.finditer(re.escape(candidate), text, re.IGNORECASE):
            yield match.span()
        return
    for start in occurrences(lowered, needle):
        yield start, start + len(needle)


def _issue(code: str, severity: str, message: str, span=None, category: str = "cloze") -> Issue:
    return Issue(code=code, severity=severity, message=message, span=span, category=category,
                 field="cloze_candidates")


def _hint(candidate: str, statement: str) -> str:
    if normalise_comparators(candidate) in statement:
        return f" (it is, written as {normalise_comparators(candidate)!r}: comparators are symbols in statements)"
    if candidate.lower() in statement.lower():
        return " (only with different capitals)"
    if normalise_whitespace(candidate) in statement:
        return " (only with different spacing)"
    return ""


def check_cloze(item: Statement) -> Iterator[Issue]:
    candidates = [c for c in item.cloze_candidates if c.strip()]
    statement = item.statement
    if not candidates:
        yield _issue("no_cloze", "warning", "no cloze candidate")
    elif len(candidates) > MAX_CLOZES:
        yield _issue("too_many_clozes", "warning", f"{len(candidates)} candidates (> {MAX_CLOZES}): pick one primary "
                     "and at most two related ones")
    placed, blocked = place_candidates(statement, candidates)
    where = {p.candidate: p for p in placed}
    seen: set[str] = set()
    quantities = None
    for candidate in candidates:
        if candidate not in statement:
            yield _issue("cloze_not_in_statement", "error",
                         f"cloze candidate {candidate!r} is not an exact substring of the statement"
                         + _hint(candidate, statement))
            continue
        placement = where.get(candidate.strip())
        # the span of the candidate as written, where the card places it (the renderer strips candidates)
        start = placement.start - candidate.find(candidate.strip()) if placement else statement.find(candidate)
        if statement[start:start + len(candidate)] != candidate:
            start = statement.find(candidate)
        span = (start, start + len(candidate))
        bare = candidate.strip().rstrip(".").lower()
        if candidate.strip().rstrip(".") == statement.strip().rstrip("."):
            yield _issue("cloze_is_statement", "error", "cloze covers the whole statement", span)
        elif bare in TRIVIAL_CLOZES:
            yield _issue("trivial_cloze", "warning", f"trivial cloze {candidate!r}", span)
        elif bare in PRONOUNS:
            yield _issue("pronoun_cloze", "warning", f"a pronoun as cloze: {candidate!r}", span, "ambiguity")
        elif bare in VAGUE_CLOZES:
            yield _issue("vague_cloze", "info", f"a generic word as cloze: {candidate!r}", span, "ambiguity")
        if candidate in seen:
            yield _issue("duplicate_cloze", "warning", f"duplicate cloze {candidate!r}", span)
            continue
        seen.add(candidate)
        if placement is not None:
            repeats = _visible_repeats(statement, placement, placed)
            if repeats:
                yield _issue("cloze_repeated", "warning",
                             f"{placement.candidate!r} occurs {repeats + 1} times as a word in the statement: its card "
                             "blanks one and leaves the answer visible", span, "ambiguity")
        if _DIGIT_RE.search(candidate):
            if quantities is None:
                quantities = find_quantities(statement)
            yield from _number_checks(candidate, span, statement, quantities)
    for candidate in blocked:
        yield _issue("overlapping_clozes", "warning",
                     f"{candidate!r} occurs only where another candidate is already blanked: the card drops it",
                     _first_span(statement, candidate), "ambiguity")


def _first_span(statement: str, candidate: str) -> tuple[int, int]:
    start = statement.find(candidate)
    return start, start + len(candidate)


def _number_checks(candidate: str, span: tuple[int, int], statement: str, quantities) -> Iterator[Issue]:
    start, end = span
    before = statement[start - 1] if start > 0 else " "
    before2 = statement[start - 2] if start > 1 else " "
    after = statement[end] if end < len(statement) else " "
    after2 = statement[end + 1] if end + 1 < len(statement) else " "
    cuts_left = candidate[:1].isdigit() and (before.isdigit() or (before in ".," and before2.isdigit()))
    cuts_right = candidate[-1:].isdigit() and (after.isdigit() or (after in ".," and after2.isdigit()))
    if cuts_left or cuts_right:
        yield _issue("cloze_cuts_number", "warning", f"{candidate!r} cuts a number of the statement", span)
        return
    for q in quantities:
        if start <= q.start < end and q.unit and q.expr_end > end and statement[end:q.expr_end].strip():
            yield _issue("cloze_cuts_unit", "warning",
                         f"{candidate!r} leaves part of its unit outside the blank ({statement[start:q.expr_end]!r})",
                         span)
            return
