"""Cloze checks: every candidate is an exact substring of its statement; 1–3 per statement; not the whole
statement; not trivial; a number is blanked with its unit and never cut in the middle."""

from __future__ import annotations

from collections.abc import Iterator

from mksap_assets.domain.nlp_rules import find_quantities
from mksap_assets.domain.statements import Issue, Statement
from mksap_assets.domain.text import normalise_comparators, normalise_whitespace

MAX_CLOZES = 3
TRIVIAL_CLOZES = frozenset(
    """the a an is are was were be been and or but not of in on at to for with by from as if can may will would
    patient patients diagnosis treatment management therapy""".split()
)
PRONOUNS = frozenset("it its this that these those they them their he she his her".split())
VAGUE_CLOZES = frozenset("thing things condition disease disorder syndrome sign symptom finding agent drug "
                         "medication test procedure".split())


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
    seen: set[str] = set()
    spans: list[tuple[str, tuple[int, int]]] = []
    quantities = None
    for candidate in candidates:
        start = statement.find(candidate)
        if start < 0:
            yield _issue("cloze_not_in_statement", "error",
                         f"cloze candidate {candidate!r} is not an exact substring of the statement"
                         + _hint(candidate, statement))
            continue
        span = (start, start + len(candidate))
        spans.append((candidate, span))
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
        seen.add(candidate)
        if statement.count(candidate) > 1 and len(candidate) > 2:
            yield _issue("cloze_repeated", "warning",
                         f"{candidate!r} occurs {statement.count(candidate)} times in the statement: which one is "
                         "blanked is ambiguous", span, "ambiguity")
        if any(ch.isdigit() for ch in candidate):
            if quantities is None:
                quantities = find_quantities(statement)
            yield from _number_checks(candidate, span, statement, quantities)
    for index, (first, first_span) in enumerate(spans):
        for second, second_span in spans[index + 1:]:
            if first != second and (first.lower() in second.lower() or second.lower() in first.lower()):
                yield _issue("overlapping_clozes", "warning", f"{first!r} and {second!r} overlap", second_span,
                             "ambiguity")


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
