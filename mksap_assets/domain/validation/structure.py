"""Structure checks: required fields present and non-empty, length bounds, size caps.

Short: fewer than MIN_WORDS words, unless the statement is a complete sentence of at least MIN_SENTENCE_WORDS
("Mumps often causes orchitis." is a whole fact; "Gout (Sites: toe)" is a table fragment).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mksap_assets.domain.statements import Issue, Statement, TableStatement

# Caps on a statement's strings (a model's above all): text far over them is no flashcard, and in full it costs
# minutes of validation and megabytes of export and deck. The Claude extractor keeps one character past a cap
# (capped), so that this check still sees the text was over, and the gate keeps it off the deck.
MAX_STATEMENT_CHARS = 2_000  # the longest offline statement of the sample and corpus is 893
MAX_EXTRA_FIELD_CHARS = 2_000
MAX_CLOZE_CHARS = MAX_STATEMENT_CHARS
MIN_WORDS = 6
MIN_SENTENCE_WORDS = 4
MAX_WORDS = 35
# a finite verb: an auxiliary or modal, or a present-tense verb in -s after the subject ("presents", "causes")
_AUXILIARIES = frozenset("""is are was were has have had may might can cannot could must should shall will would
    does do did""".split())
_NOT_VERB_S = re.compile(r"(?:ss|us|is|ys|ics|sis|itis|osis)$")


def _issue(code: str, severity: str, message: str, span=None, field="statement") -> Issue:
    return Issue(code=code, severity=severity, message=message, span=span, category="structure", field=field)


def capped(text: str, limit: int) -> str:
    """text cut one character past limit, so that check_structure reports it as over the cap."""
    return text[: limit + 1]


def check_structure(item: Statement) -> Iterator[Issue]:
    text = item.statement.strip()
    if not text:
        yield _issue("empty_statement", "error", "statement is empty")
        return
    yield from _over_caps(item)
    words = len(text.split())
    if words < MIN_WORDS and not (words >= MIN_SENTENCE_WORDS and _is_sentence(text)):
        yield _issue("too_short", "warning", f"{words} words (< {MIN_WORDS}): too little to stand alone")
    if words > MAX_WORDS:
        yield _issue("too_long", "warning", f"{words} words (> {MAX_WORDS}): probably more than one fact")
    if item.extra_field is not None and not item.extra_field.strip():
        yield _issue("empty_extra_field", "warning", "extra_field is blank; use null", field="extra_field")
    if any(not c.strip() for c in item.cloze_candidates):
        yield _issue("empty_cloze", "error", "a cloze candidate is empty", field="cloze_candidates")
    if isinstance(item, TableStatement) and not item.table_source.strip():
        yield _issue("missing_table_source", "error", "table statement without table_source", field="table_source")


def _over_caps(item: Statement) -> Iterator[Issue]:
    fields = [("statement", item.statement, MAX_STATEMENT_CHARS), ("extra_field", item.extra_field or "",
              MAX_EXTRA_FIELD_CHARS), *(("cloze_candidates", c, MAX_CLOZE_CHARS) for c in item.cloze_candidates)]
    for field, text, limit in fields:
        if len(text) > limit:
            yield _issue("over_size_cap", "error", f"{field} is over the {limit}-character cap",
                         field=field)


def _is_sentence(text: str) -> bool:
    """A capitalised clause ending in a full stop, without a table row's parentheses or colon, with a finite verb
    after its first word."""
    if not (text[0].isupper() and text.endswith(".")) or any(ch in text for ch in "():;"):
        return False
    words = [w.strip(",").lower() for w in text.rstrip(".").split()]
    return any(w in _AUXILIARIES or (w.endswith("s") and not _NOT_VERB_S.search(w) and w.isalpha())
               for w in words[1:-1])
