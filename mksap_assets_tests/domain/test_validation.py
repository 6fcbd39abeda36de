"""Structure and cloze validators, and the question pass flag."""

from __future__ import annotations

from mksap_assets.domain.statements import Extraction, Statement, TableStatement
from mksap_assets.domain.validation import validate_extraction


def _extraction(*statements: Statement, tables: tuple[TableStatement, ...] = ()) -> Extraction:
    return Extraction(
        question_id="cvmcq26001",
        extractor="offline",
        model=None,
        prompt_version="t",
        from_critique=list(statements),
        from_key_points=[],
        table_statements=list(tables),
        tables_processed=len({t.table_source for t in tables}),
        tables_skipped=0,
    )


def _codes(statement: Statement) -> list[str]:
    return [i.code for i in validate_extraction(_extraction(statement)).from_critique[0].issues]


GOOD = "Aspirin reduces the risk of recurrent myocardial infarction."


def test_a_clean_statement_passes_with_no_issue():
    validated = validate_extraction(_extraction(Statement(statement=GOOD, cloze_candidates=["Aspirin"])))
    assert validated.validation.passed and validated.validation.errors == 0
    assert validated.from_critique[0].issues == []


def test_cloze_that_is_not_a_substring_is_an_error_with_no_span():
    validated = validate_extraction(_extraction(Statement(statement=GOOD, cloze_candidates=["aspirin therapy"])))
    [issue] = validated.from_critique[0].issues
    assert issue.code == "cloze_not_in_statement" and issue.severity == "error" and issue.span is None
    assert not validated.validation.passed


def test_cloze_span_points_at_the_candidate():
    validated = validate_extraction(_extraction(Statement(statement=GOOD, cloze_candidates=["the"])))
    [issue] = validated.from_critique[0].issues
    assert issue.code == "trivial_cloze" and GOOD[slice(*issue.span)] == "the"


def test_whole_statement_cloze_and_count_bounds():
    assert "cloze_is_statement" in _codes(Statement(statement=GOOD, cloze_candidates=[GOOD]))
    assert "no_cloze" in _codes(Statement(statement=GOOD))
    many = ["Aspirin", "reduces", "risk", "recurrent"]
    assert "too_many_clozes" in _codes(Statement(statement=GOOD, cloze_candidates=many))
    assert "duplicate_cloze" in _codes(Statement(statement=GOOD, cloze_candidates=["Aspirin", "Aspirin"]))


def test_structure_checks():
    assert "empty_statement" in _codes(Statement(statement="  "))
    assert "too_short" in _codes(Statement(statement="Aspirin works.", cloze_candidates=["Aspirin"]))
    assert "empty_extra_field" in _codes(Statement(statement=GOOD, extra_field=" ", cloze_candidates=["Aspirin"]))


def test_no_statements_fails_the_question():
    validated = validate_extraction(_extraction())
    assert not validated.validation.passed
    assert [i.code for i in validated.validation.question_issues] == ["no_statements"]


def test_counts_cover_table_statements():
    table = TableStatement(statement=GOOD, cloze_candidates=["missing"], table_source="cvtab26001.html")
    validated = validate_extraction(_extraction(Statement(statement=GOOD, cloze_candidates=["Aspirin"]), tables=(table,)))
    assert validated.validation.statements == 2 and validated.validation.errors == 1
    assert validated.table_statements[0].table_source == "cvtab26001.html"
