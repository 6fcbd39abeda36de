"""Validators: every statement gets a list of issues (code, severity, message, span, category, field) and a gate:
`passed` (it may become a card) unless an error or a card-breaking warning blocks it (`blocked_by`, card_gate.py).
A question's summary counts its statements; its `pass_rate` is the share that passed.

    validate_extraction(extraction, raw) -> ValidatedStatements

Checks per statement, in order: structure, cloze, quality (with ambiguity), enumeration, mechanical defects, the
model's evidence (evidence.py: its source concern, the extra_field), and grounding of the statement and its extra_field against the statement's own source (critique, key points, or its
table's text). With `autofix` (the default), a statement whose issues include a mechanical defect is repaired
(autofix.py), every fix is recorded on it, and it is validated again: the stored issues are those of the repaired
statement. Without `raw` there is no source: grounding is skipped and the summary says `grounded: false`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from mksap_assets.domain.nlp.analysis import (
    NlpAnalysis,
    analyse_question,
    section_texts,
)
from mksap_assets.domain.statements import (
    CheckedStatement,
    CheckedTableStatement,
    Extraction,
    Fix,
    Issue,
    RepairSummary,
    Statement,
    TableStatement,
    ValidatedStatements,
    ValidationSummary,
)
from mksap_assets.domain.validation.autofix import autofix as apply_fixes
from mksap_assets.domain.validation.autofix import check_mechanical, needs_fix
from mksap_assets.domain.validation.card_gate import blocking_codes
from mksap_assets.domain.validation.cloze import check_cloze
from mksap_assets.domain.validation.evidence import check_evidence
from mksap_assets.domain.validation.grounding import (
    QuestionSources,
    Source,
    ground_text,
)
from mksap_assets.domain.validation.quality import check_enumeration, check_quality
from mksap_assets.domain.validation.structure import check_structure

# Bump it when the checks change: it is in every export's fingerprint, so exports of the old checks become stale.
# test_validator_version.py records the checks' fingerprint for it and fails on a change without a bump.
VALIDATOR_VERSION = "6"

StatementCheck = Callable[[Statement], Iterable[Issue]]
STATEMENT_CHECKS: tuple[StatementCheck, ...] = (
    check_structure, check_cloze, check_quality, check_enumeration, check_mechanical, check_evidence,
)
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def check_statement(item: Statement, source: Source | None) -> list[Issue]:
    """Every issue of one statement (no fixing)."""
    issues = [issue for check in STATEMENT_CHECKS for issue in check(item)]
    if source is not None and item.statement.strip():
        issues += ground_text(item.statement, source, "statement", quote=item.source_quote)
        if item.extra_field and item.extra_field.strip():
            issues += ground_text(item.extra_field, source, "extra_field")
    return sorted(issues, key=lambda i: _SEVERITY_ORDER[i.severity])


def _validated_item(item: Statement, source: Source | None, autofix: bool) -> tuple[Statement, list[Issue], list[Fix]]:
    issues = check_statement(item, source)
    fixes: list[Fix] = []
    if autofix and needs_fix(issues):
        fixed, fixes = apply_fixes(item)
        if fixes:
            item, issues = fixed, check_statement(fixed, source)
    return item, issues, fixes


def validate_extraction(
    extraction: Extraction,
    raw=None,
    *,
    autofix: bool = True,
    analysis: NlpAnalysis | None = None,
) -> ValidatedStatements:
    """Validate one question's statements against its normalised sources (`raw`: the RawQuestion)."""
    sources = None
    if raw is not None:
        analysis = analysis or analyse_question(raw)
        texts = section_texts(raw)
        tables = {name.removeprefix("table:"): text for name, text in texts.items() if name.startswith("table:")}
        sources = QuestionSources(raw.critique, list(raw.key_points), tables, analysis)

    def checked(item: Statement, source: Source | None) -> CheckedStatement:
        item, issues, fixes = _validated_item(item, source, autofix)
        return CheckedStatement(**item.model_dump(), **_gate(issues), fixes=fixes)

    def checked_table(item: TableStatement) -> CheckedTableStatement:
        source = None
        extra: list[Issue] = []
        if sources is not None:
            source = sources.tables.get(item.table_source)
            if source is None:
                extra.append(Issue(code="table_source_unknown", severity="error", category="grounding",
                                   field="table_source",
                                   message=f"table {item.table_source!r} is not an educational table of the question"))
        fixed, issues, fixes = _validated_item(item, source, autofix)
        return CheckedTableStatement(**fixed.model_dump(), **_gate(extra + issues), fixes=fixes)

    from_critique = [checked(s, sources.critique if sources else None) for s in extraction.from_critique]
    from_key_points = [checked(s, sources.key_points if sources else None) for s in extraction.from_key_points]
    table_statements = [checked_table(s) for s in extraction.table_statements]
    question_issues = []
    if extraction.statement_count == 0:
        question_issues.append(Issue(code="no_statements", severity="error", message="no statement was extracted"))
    return ValidatedStatements(
        question_id=extraction.question_id,
        from_critique=from_critique,
        from_key_points=from_key_points,
        table_statements=table_statements,
        tables_processed=extraction.tables_processed,
        tables_skipped=extraction.tables_skipped,
        validation=_summary([*from_critique, *from_key_points, *table_statements], question_issues,
                            grounded=sources is not None, repair=None),
        nlp_analysis=analysis,
    )


def _gate(issues: list[Issue]) -> dict:
    blocked_by = blocking_codes((i.code, i.severity) for i in issues)
    return {"issues": issues, "passed": not blocked_by, "blocked_by": blocked_by}


def summarised(
    validated: ValidatedStatements, *, question_issues: list[Issue] | None = None, grounded: bool | None = None
) -> ValidatedStatements:
    """`validated` with its summary counted again from its statements (after a repair turn replaced some of them);
    the question's own issues, `grounded` and the repair record are kept unless given."""
    previous = validated.validation
    items = [item for _, _, item in validated.checked()]
    summary = _summary(
        items,
        previous.question_issues if question_issues is None else question_issues,
        grounded=previous.grounded if grounded is None else grounded,
        repair=previous.repair,
    )
    return validated.model_copy(update={"validation": summary})


def _summary(
    items: list[CheckedStatement], question_issues: list[Issue], *, grounded: bool, repair: RepairSummary | None
) -> ValidationSummary:
    all_issues = [i for s in items for i in s.issues] + question_issues
    severities = Counter(i.severity for i in all_issues)
    passed = sum(1 for s in items if s.passed)
    return ValidationSummary(
        statements=len(items),
        statements_passed=passed,
        pass_rate=round(passed / len(items), 4) if items else 0.0,
        errors=severities["error"],
        warnings=severities["warning"],
        infos=severities["info"],
        validator_version=VALIDATOR_VERSION,
        question_issues=question_issues,
        statements_with_errors=sum(1 for s in items if any(i.severity == "error" for i in s.issues)),
        fixes=sum(len(s.fixes) for s in items),
        grounded=grounded,
        codes=dict(sorted(Counter(i.code for i in all_issues).items())),
        error_codes=dict(sorted(Counter(i.code for i in all_issues if i.severity == "error").items())),
        repair=repair,
    )
