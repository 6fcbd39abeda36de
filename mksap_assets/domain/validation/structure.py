"""Structure checks: required fields present and non-empty, length bounds."""

from __future__ import annotations

from collections.abc import Iterator

from mksap_assets.domain.statements import Issue, Statement, TableStatement

MIN_WORDS = 6
MAX_WORDS = 35


def _issue(code: str, severity: str, message: str, span=None, field="statement") -> Issue:
    return Issue(code=code, severity=severity, message=message, span=span, category="structure", field=field)


def check_structure(item: Statement) -> Iterator[Issue]:
    text = item.statement.strip()
    if not text:
        yield _issue("empty_statement", "error", "statement is empty")
        return
    words = len(text.split())
    if words < MIN_WORDS:
        yield _issue("too_short", "warning", f"{words} words (< {MIN_WORDS}): too little to stand alone")
    if words > MAX_WORDS:
        yield _issue("too_long", "warning", f"{words} words (> {MAX_WORDS}): probably more than one fact")
    if item.extra_field is not None and not item.extra_field.strip():
        yield _issue("empty_extra_field", "warning", "extra_field is blank; use null", field="extra_field")
    if any(not c.strip() for c in item.cloze_candidates):
        yield _issue("empty_cloze", "error", "a cloze candidate is empty", field="cloze_candidates")
    if isinstance(item, TableStatement) and not item.table_source.strip():
        yield _issue("missing_table_source", "error", "table statement without table_source", field="table_source")
