"""What the model says about its own statement (prompts v2), and an extra_field that does its job.

- source_concern: the model believes the statement, though faithful to its source, contradicts established medical
  knowledge. An error, so the statement stays off the deck; the report lists it for a physician, and the repair turn
  never sees it (the model must not "fix" the source).
- extra_field: an explanation from the source of at most about 40 words (MAX_EXTRA_FIELD_WORDS), never the statement
  said again (warnings: the card is still good, its back is only longer than it should be). A table statement's
  extra_field is its table's caption by rule, so it is not judged here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rapidfuzz import fuzz

from mksap_assets.domain.statements import Issue, Statement, TableStatement

SOURCE_CONCERN = "source_concern"
MAX_EXTRA_FIELD_WORDS = 45  # "at most about 40 words", as the prompt asks
RESTATEMENT_SCORE = 85  # rapidfuzz token_sort_ratio of extra_field and statement (case and punctuation ignored)
_WORD_RE = re.compile(r"[^\W_]+")


def check_evidence(item: Statement) -> Iterator[Issue]:
    if item.source_concern and item.source_concern.strip():
        yield Issue(code=SOURCE_CONCERN, severity="error", category="evidence",
                    message=f"the model flagged the source as medically doubtful: {item.source_concern.strip()}")
    extra = (item.extra_field or "").strip()
    if not extra or isinstance(item, TableStatement):
        return
    words = len(_WORD_RE.findall(extra))
    if words > MAX_EXTRA_FIELD_WORDS:
        yield Issue(code="extra_field_long", severity="warning", category="quality", field="extra_field",
                    message=f"extra_field has {words} words; at most about 40 keep the card's back readable")
    if fuzz.token_sort_ratio(_words(extra), _words(item.statement)) >= RESTATEMENT_SCORE:
        yield Issue(code="extra_field_restates", severity="warning", category="quality", field="extra_field",
                    message="extra_field says the statement again instead of explaining it")


def _words(text: str) -> str:
    return " ".join(_WORD_RE.findall(text.casefold()))
