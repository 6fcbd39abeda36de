"""Validators: every statement gets a list of issues (code, severity, message, span); a question passes when
none of its statements has an error. Structure and cloze checks for now; grounding checks come later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mksap_assets.domain.statements import (
    CheckedStatement,
    CheckedTableStatement,
    Extraction,
    Issue,
    Statement,
    TableStatement,
    ValidatedStatements,
    ValidationSummary,
)

VALIDATOR_VERSION = "1"

MIN_WORDS = 4
MAX_WORDS = 60
MAX_CLOZES = 3
TRIVIAL_CLOZES = frozenset(
    """the a an is are was were be been and or but not of in on at to for with by from as if can may will would
    patient patients diagnosis treatment""".split()
)

StatementCheck = Callable[[Statement], Iterable[Issue]]


def check_structure(item: Statement) -> Iterable[Issue]:
    text = item.statement.strip()
    if not text:
        yield Issue(code="empty_statement", severity="error", message="statement is empty")
        return
    words = len(text.split())
    if words < MIN_WORDS:
        yield Issue(code="too_short", severity="warning", message=f"{words} words (< {MIN_WORDS})")
    if words > MAX_WORDS:
        yield Issue(code="too_long", severity="warning", message=f"{words} words (> {MAX_WORDS})")
    if item.extra_field is not None and not item.extra_field.strip():
        yield Issue(code="empty_extra_field", severity="warning", message="extra_field is blank; use null")


def check_cloze(item: Statement) -> Iterable[Issue]:
    candidates = item.cloze_candidates
    if not candidates:
        yield Issue(code="no_cloze", severity="warning", message="no cloze candidate")
    elif len(candidates) > MAX_CLOZES:
        yield Issue(
            code="too_many_clozes", severity="warning", message=f"{len(candidates)} candidates (> {MAX_CLOZES})"
        )
    seen: set[str] = set()
    statement = item.statement
    for candidate in candidates:
        start = statement.find(candidate) if candidate else -1
        if start < 0:
            yield Issue(
                code="cloze_not_in_statement",
                severity="error",
                message=f"cloze candidate {candidate!r} is not an exact substring of the statement",
            )
            continue
        span = (start, start + len(candidate))
        if candidate.strip().rstrip(".") == statement.strip().rstrip("."):
            yield Issue(code="cloze_is_statement", severity="error", message="cloze covers the whole statement", span=span)
        elif candidate.strip().lower() in TRIVIAL_CLOZES:
            yield Issue(code="trivial_cloze", severity="warning", message=f"trivial cloze {candidate!r}", span=span)
        if candidate in seen:
            yield Issue(code="duplicate_cloze", severity="warning", message=f"duplicate cloze {candidate!r}", span=span)
        seen.add(candidate)


STATEMENT_CHECKS: tuple[StatementCheck, ...] = (check_structure, check_cloze)


def _issues_for(item: Statement) -> list[Issue]:
    return [issue for check in STATEMENT_CHECKS for issue in check(item)]


def validate_extraction(extraction: Extraction) -> ValidatedStatements:
    def checked(item: Statement) -> CheckedStatement:
        return CheckedStatement(**item.model_dump(), issues=_issues_for(item))

    def checked_table(item: TableStatement) -> CheckedTableStatement:
        return CheckedTableStatement(**item.model_dump(), issues=_issues_for(item))

    from_critique = [checked(s) for s in extraction.from_critique]
    from_key_points = [checked(s) for s in extraction.from_key_points]
    table_statements = [checked_table(s) for s in extraction.table_statements]
    question_issues = []
    if extraction.statement_count == 0:
        question_issues.append(Issue(code="no_statements", severity="error", message="no statement was extracted"))
    all_issues = [i for s in (*from_critique, *from_key_points, *table_statements) for i in s.issues]
    all_issues += question_issues
    errors = sum(1 for i in all_issues if i.severity == "error")
    return ValidatedStatements(
        question_id=extraction.question_id,
        from_critique=from_critique,
        from_key_points=from_key_points,
        table_statements=table_statements,
        tables_processed=extraction.tables_processed,
        tables_skipped=extraction.tables_skipped,
        validation=ValidationSummary(
            passed=errors == 0,
            statements=extraction.statement_count,
            errors=errors,
            warnings=sum(1 for i in all_issues if i.severity == "warning"),
            infos=sum(1 for i in all_issues if i.severity == "info"),
            validator_version=VALIDATOR_VERSION,
            question_issues=question_issues,
        ),
    )
