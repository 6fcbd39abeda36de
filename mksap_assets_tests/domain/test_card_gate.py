"""The per-statement card gate: which issues keep a statement off the deck (card_gate.py), how validation marks each
statement (passed, blocked_by), and how `summarised` recounts a question's summary after a statement is replaced."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from mksap_assets.domain.exports.document import ExportedStatement
from mksap_assets.domain.statements import (
    CheckedStatement,
    Extraction,
    RepairSummary,
    Statement,
    ValidatedStatements,
)
from mksap_assets.domain.validation import summarised, validate_extraction
from mksap_assets.domain.validation.card_gate import (
    CARD_BREAKING_WARNINGS,
    blocking_codes,
)

# ------------------------------------------------------------------------------------------------ blocking_codes


def test_the_card_breaking_warnings_are_a_short_named_list():
    assert CARD_BREAKING_WARNINGS == {"cloze_cuts_number", "cloze_cuts_unit", "cloze_repeated", "pronoun_cloze"}


@pytest.mark.parametrize("code", sorted(CARD_BREAKING_WARNINGS))
def test_a_card_breaking_warning_blocks(code: str):
    assert blocking_codes([(code, "warning")]) == [code]


def test_any_error_blocks_whatever_its_code():
    assert blocking_codes([("number_not_in_source", "error")]) == ["number_not_in_source"]
    assert blocking_codes([("something_new", "error")]) == ["something_new"]


def test_ordinary_warnings_and_infos_do_not_block():
    assert blocking_codes([("too_long", "warning"), ("trivial_cloze", "warning"), ("vague_cloze", "info")]) == []
    assert blocking_codes([]) == []


def test_severity_decides_not_the_code_alone():
    # A card-breaking code only blocks as a warning (or an error), never as an info.
    assert blocking_codes([("cloze_repeated", "info")]) == []
    assert blocking_codes([("cloze_repeated", "error")]) == ["cloze_repeated"]


def test_blocking_codes_are_listed_once_in_order():
    issues = [
        ("too_long", "warning"),
        ("number_not_in_source", "error"),
        ("cloze_repeated", "warning"),
        ("number_not_in_source", "error"),
        ("style", "info"),
        ("cloze_not_in_statement", "error"),
    ]
    assert blocking_codes(issues) == ["number_not_in_source", "cloze_repeated", "cloze_not_in_statement"]


# ------------------------------------------------------------------------------------------------ stored documents


def _issue(code: str, severity: str) -> dict:
    return {"code": code, "severity": severity, "message": code, "span": None}


def stored_blocking_codes(item: dict) -> list[str]:
    """The blocking codes of a statement as an export stores it, read as the deck and the report read it."""
    return ExportedStatement.model_validate(item).blocking_codes()


def test_a_stored_blocked_by_is_taken_as_stored():
    assert stored_blocking_codes({"blocked_by": ["cloze_cuts_unit"], "issues": []}) == ["cloze_cuts_unit"]
    # The gate's stored decision wins over a re-reading of the issues.
    assert stored_blocking_codes({"blocked_by": [], "issues": [_issue("too_long", "warning")]}) == []


def test_an_old_document_without_blocked_by_is_judged_from_its_issues():
    item = {
        "statement": "S.",
        "issues": [_issue("too_long", "warning"), _issue("cloze_repeated", "warning"),
                   _issue("number_not_in_source", "error"), _issue("style", "info")],
    }
    assert stored_blocking_codes(item) == ["cloze_repeated", "number_not_in_source"]
    assert stored_blocking_codes({"statement": "S.", "issues": [_issue("too_long", "warning")]}) == []
    assert stored_blocking_codes({"statement": "S."}) == []
    assert stored_blocking_codes({"statement": "S.", "issues": None, "blocked_by": None}) == []


def test_malformed_stored_issues_are_refused_and_a_missing_code_reads_as_unknown():
    assert stored_blocking_codes({"issues": [{"severity": "error"}, {"code": "x", "severity": "warning"}]}) == ["?"]
    # A shape the gate cannot judge makes the statement (and so its export: document.read_export) unreadable.
    for malformed in ({"issues": ["not a dict", None]}, {"blocked_by": "not a list"}, {"blocked_by": [1, "a"]}):
        with pytest.raises(ValidationError):
            stored_blocking_codes(malformed)


# ------------------------------------------------------------------------------------------------ validation marks


GOOD = "Aspirin reduces the risk of recurrent myocardial infarction."
ERROR = Statement(statement=GOOD, cloze_candidates=["aspirin therapy"])  # cloze_not_in_statement (error)
CUTS_NUMBER = Statement(  # "5 mg" blanks the end of 2.5 mg: cloze_cuts_number (card-breaking warning)
    statement="Apixaban is reduced to 2.5 mg twice daily in patients aged 80 years or older.",
    cloze_candidates=["5 mg"],
)
TRIVIAL = Statement(statement=GOOD, cloze_candidates=["Aspirin", "the"])  # trivial_cloze (ordinary warning)


def _extraction(*critique: Statement, key_points: tuple[Statement, ...] = ()) -> Extraction:
    return Extraction(
        question_id="cvmcq26001",
        extractor="offline",
        model=None,
        prompt_version="t",
        from_critique=list(critique),
        from_key_points=list(key_points),
        table_statements=[],
        tables_processed=0,
        tables_skipped=0,
    )


def _clean(text: str = GOOD) -> Statement:
    return Statement(statement=text, cloze_candidates=["Aspirin"])


def test_validation_marks_each_statement_and_the_summary_counts_statements():
    validated = validate_extraction(_extraction(_clean(), ERROR, CUTS_NUMBER, TRIVIAL, key_points=(_clean(),)))
    clean, error, cuts, trivial = validated.from_critique
    assert clean.passed and clean.blocked_by == [] and clean.issues == []
    assert not error.passed and error.blocked_by == ["cloze_not_in_statement"]
    assert not cuts.passed and cuts.blocked_by == ["cloze_cuts_number"]
    assert all(i.severity == "warning" for i in cuts.issues)  # blocked by a warning alone
    assert trivial.passed and trivial.blocked_by == [] and {i.code for i in trivial.issues} == {"trivial_cloze"}
    for _, _, item in validated.checked():  # the mark agrees with the issues it was made from
        assert item.blocked_by == blocking_codes((i.code, i.severity) for i in item.issues)
        assert item.passed == (not item.blocked_by)
    summary = validated.validation
    assert (summary.statements, summary.statements_passed, summary.statements_with_errors) == (5, 3, 1)
    assert summary.pass_rate == 0.6 and summary.errors == 1 and summary.warnings == 2
    assert not hasattr(summary, "passed")  # the question-level flag is gone: a question passes in part


def test_a_question_with_an_error_keeps_its_other_statements_passing():
    validated = validate_extraction(_extraction(ERROR, _clean()))
    assert [s.passed for s in validated.from_critique] == [False, True]
    assert validated.validation.statements_passed == 1 and validated.validation.pass_rate == 0.5


def test_the_gate_is_in_the_json_and_repaired_from_only_when_set():
    validated = validate_extraction(_extraction(ERROR, _clean()))
    error, clean = (orjson.loads(orjson.dumps(s.model_dump(mode="json"))) for s in validated.from_critique)
    assert error["passed"] is False and error["blocked_by"] == ["cloze_not_in_statement"]
    assert clean["passed"] is True and clean["blocked_by"] == []
    assert "repaired_from" not in error and "repaired_from" not in clean
    assert stored_blocking_codes(error) == ["cloze_not_in_statement"] and stored_blocking_codes(clean) == []
    repaired = validated.from_critique[1].model_copy(update={"repaired_from": "the old text"})
    assert repaired.model_dump(mode="json")["repaired_from"] == "the old text"


def test_summarised_recounts_after_a_statement_is_replaced():
    validated = validate_extraction(_extraction(_clean(), ERROR, CUTS_NUMBER))
    record = RepairSummary(statements_sent=2, statements_repaired=1)
    validated = validated.model_copy(
        update={"validation": validated.validation.model_copy(update={"repair": record, "grounded": True})}
    )
    before = validated.validation
    assert (before.statements_passed, before.errors, before.statements_with_errors) == (1, 1, 1)
    assert before.error_codes == {"cloze_not_in_statement": 1}

    # The repair turn's outcome: the erroring statement replaced by a corrected one that passes.
    [corrected] = validate_extraction(_extraction(_clean("Aspirin lowers the risk of a second myocardial infarction."))
                                      ).from_critique
    assert corrected.passed
    items = list(validated.from_critique)
    items[1] = corrected.model_copy(update={"repaired_from": ERROR.statement})
    replaced: ValidatedStatements = validated.model_copy(update={"from_critique": items})
    assert replaced.validation.statements_passed == 1  # model_copy alone does not recount

    after = summarised(replaced).validation
    assert (after.statements, after.statements_passed, after.statements_with_errors) == (3, 2, 0)
    assert after.pass_rate == pytest.approx(2 / 3, abs=1e-4)
    assert after.errors == 0 and after.error_codes == {} and after.warnings == before.warnings
    assert "cloze_not_in_statement" not in after.codes and after.codes.get("cloze_cuts_number") == 1
    assert after.repair == record and after.grounded is True  # kept unless given
    assert after.question_issues == before.question_issues
    assert summarised(replaced).from_critique[1].repaired_from == ERROR.statement


def test_summarised_counts_the_question_issues_and_takes_new_ones():
    empty = validate_extraction(_extraction())
    assert [i.code for i in empty.validation.question_issues] == ["no_statements"]
    assert empty.validation.errors == 1 and empty.validation.statements == 0 and empty.validation.pass_rate == 0.0
    kept = summarised(empty).validation
    assert kept.errors == 1 and [i.code for i in kept.question_issues] == ["no_statements"]
    cleared = summarised(empty, question_issues=[], grounded=True).validation
    assert cleared.errors == 0 and cleared.question_issues == [] and cleared.grounded is True


def test_a_checked_statement_defaults_to_passing():
    item = CheckedStatement(statement=GOOD)
    assert item.passed and item.blocked_by == [] and item.repaired_from is None
