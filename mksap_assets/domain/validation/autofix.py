"""The auto-fixer: safe mechanical fixes only, each recorded; the statement is validated again afterwards.

- strip "(Option X)" citations (statement, extra_field, cloze candidates);
- whitespace: runs of spaces, NBSP and the like collapsed, ends stripped;
- glued sentences: "diagnosis.Patients" -> "diagnosis. Patients";
- a cloze candidate that is only missing from its statement because comparators are symbols in statements
  ("less than 7%" for "< 7%") or because of capitals ("septic shock" for "Septic shock") is rewritten to the
  statement's own spelling.

Nothing that changes a word is ever done here: "this patient", a wrong number or a flipped negation stay errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from mksap_assets.domain.statements import Fix, Issue, Statement
from mksap_assets.domain.text import (
    normalise_comparators,
    normalise_whitespace,
    repair_glued_sentences,
    strip_option_citations,
)

S = TypeVar("S", bound=Statement)

FIXABLE_CODES = frozenset({"option_citation", "whitespace", "glued_sentence", "cloze_not_in_statement"})

_TEXT_FIXES: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("strip_option_citation", strip_option_citations),
    ("whitespace", normalise_whitespace),
    ("glued_sentence", repair_glued_sentences),
)


def _issue(code: str, message: str, field: str) -> Issue:
    return Issue(code=code, severity="warning", message=message, category="quality", field=field)


def check_mechanical(item: Statement) -> Iterator[Issue]:
    """Whitespace and glued-sentence defects (warnings the fixer can repair)."""
    for field, value in (("statement", item.statement), ("extra_field", item.extra_field)):
        if not value:
            continue
        if normalise_whitespace(value) != value:
            yield _issue("whitespace", "stray whitespace (double, leading/trailing or non-breaking spaces)", field)
        if repair_glued_sentences(value) != value:
            yield _issue("glued_sentence", "two sentences glued together without a space", field)
    if any(normalise_whitespace(c) != c for c in item.cloze_candidates if c):
        yield _issue("whitespace", "stray whitespace in a cloze candidate", "cloze_candidates")


def needs_fix(issues: list[Issue]) -> bool:
    return any(issue.code in FIXABLE_CODES for issue in issues)


def autofix(item: S) -> tuple[S, list[Fix]]:
    """The item with every safe mechanical fix applied, and the fixes made (empty when nothing changed)."""
    fixes: list[Fix] = []
    statement = item.statement
    for code, function in _TEXT_FIXES:
        fixed = function(statement)
        if fixed != statement:
            fixes.append(Fix(code=code, field="statement", before=statement, after=fixed))
            statement = fixed
    extra = item.extra_field
    if extra is not None:
        for code, function in _TEXT_FIXES:
            fixed = function(extra)
            if fixed != extra:
                fixes.append(Fix(code=code, field="extra_field", before=extra, after=fixed))
                extra = fixed
    candidates = []
    for candidate in item.cloze_candidates:
        new = candidate
        if new not in statement or new != normalise_whitespace(new):
            for code, function in (*_TEXT_FIXES, ("cloze_comparator", normalise_comparators)):
                attempt = function(new)
                if attempt != new and (attempt in statement or function is not normalise_comparators):
                    new = attempt
                if new in statement and new == normalise_whitespace(new):
                    break
        if new not in statement:
            new = _same_words_other_case(new, statement) or new
        if new != candidate and new in statement:
            fixes.append(Fix(code=_cloze_code(candidate, new), field="cloze_candidates", before=candidate, after=new))
            candidates.append(new)
        else:
            candidates.append(candidate)
    if not fixes:
        return item, []
    return item.model_copy(update={"statement": statement, "extra_field": extra, "cloze_candidates": candidates}), fixes


def _same_words_other_case(candidate: str, statement: str) -> str | None:
    """The statement's own spelling of a candidate that differs from it only in capitals ("septic shock" for
    "Septic shock" at the start of the statement)."""
    start = statement.lower().find(candidate.lower())
    if start < 0 or statement.lower().count(candidate.lower()) != 1:
        return None
    return statement[start:start + len(candidate)]


def _cloze_code(before: str, after: str) -> str:
    if before.lower() == after.lower() and before != after:
        return "cloze_case"
    if strip_option_citations(before) != before:
        return "strip_option_citation"
    if normalise_comparators(normalise_whitespace(before)) == after and normalise_whitespace(before) != after:
        return "cloze_comparator"
    if repair_glued_sentences(before) != before:
        return "glued_sentence"
    return "whitespace"
