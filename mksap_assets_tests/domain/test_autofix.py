"""The auto-fixer: only safe mechanical fixes, each recorded, and the statement validated again afterwards."""

from __future__ import annotations

from mksap_assets.domain.statements import Extraction, Statement, TableStatement
from mksap_assets.domain.validation import validate_extraction
from mksap_assets.domain.validation.autofix import autofix, check_mechanical


def _validate(*items: Statement, autofix_on: bool = True):
    extraction = Extraction(question_id="cvmcq26001", extractor="t", model=None, prompt_version="t",
                            from_critique=list(items), from_key_points=[], table_statements=[],
                            tables_processed=0, tables_skipped=0)
    return validate_extraction(extraction, autofix=autofix_on)


def test_option_citation_is_stripped_recorded_and_revalidated():
    item = Statement(statement="Dialysis (Option B) is indicated when potassium stays above 6.5 mEq/L.",
                     cloze_candidates=["Dialysis (Option B)", "6.5 mEq/L"])
    [checked] = _validate(item).from_critique
    assert checked.statement == "Dialysis is indicated when potassium stays above 6.5 mEq/L."
    assert checked.cloze_candidates == ["Dialysis", "6.5 mEq/L"]
    assert [(f.code, f.field) for f in checked.fixes] == [
        ("strip_option_citation", "statement"), ("strip_option_citation", "cloze_candidates")
    ]
    assert checked.fixes[0].before == item.statement and checked.fixes[0].after == checked.statement
    assert not [i for i in checked.issues if i.severity == "error"]  # the issues are those of the fixed statement


def test_without_the_fixer_the_citation_is_an_error():
    item = Statement(statement="Dialysis (Option B) is indicated when potassium stays above 6.5 mEq/L.",
                     cloze_candidates=["Dialysis"])
    [checked] = _validate(item, autofix_on=False).from_critique
    assert "option_citation" in {i.code for i in checked.issues if i.severity == "error"} and not checked.fixes


def test_whitespace_and_glued_sentences():
    item = Statement(statement="  Aspirin  lowers the risk of stroke.Warfarin\u00a0needs INR monitoring. ",
                     extra_field="Aspirin  works.", cloze_candidates=["Aspirin", "INR  monitoring"])
    assert {i.code for i in check_mechanical(item)} == {"whitespace", "glued_sentence"}
    fixed, fixes = autofix(item)
    assert fixed.statement == "Aspirin lowers the risk of stroke. Warfarin needs INR monitoring."
    assert fixed.extra_field == "Aspirin works."
    assert fixed.cloze_candidates == ["Aspirin", "INR monitoring"]
    assert [f.code for f in fixes] == ["whitespace", "glued_sentence", "whitespace", "whitespace"]
    assert not list(check_mechanical(fixed))


def test_cloze_written_with_comparator_words_or_other_capitals_is_rewritten_to_the_statement():
    item = Statement(statement="Septic shock needs a mean arterial pressure target of > 65 mm Hg.",
                     cloze_candidates=["septic shock", "greater than 65 mm Hg"])
    [checked] = _validate(item).from_critique
    assert checked.cloze_candidates == ["Septic shock", "> 65 mm Hg"]
    assert [f.code for f in checked.fixes] == ["cloze_case", "cloze_comparator"]
    assert not [i for i in checked.issues if i.code == "cloze_not_in_statement"]


def test_nothing_that_changes_a_word_is_fixed():
    item = Statement(statement="In this patient, aspirin is not recommended for stroke prevention.",
                     cloze_candidates=["aspirin therapy"])
    fixed, fixes = autofix(item)
    assert fixes == [] and fixed is item
    [checked] = _validate(item).from_critique
    assert {"patient_specific", "cloze_not_in_statement"} <= {i.code for i in checked.issues if i.severity == "error"}
    assert checked.fixes == []


def test_table_statements_are_fixed_too_and_counted():
    table = TableStatement(statement="Apixaban (Dose:  5 mg twice daily)", cloze_candidates=["Apixaban"],
                           table_source="cvtab26001.html")
    extraction = Extraction(question_id="cvmcq26001", extractor="t", model=None, prompt_version="t",
                            from_critique=[], from_key_points=[], table_statements=[table], tables_processed=1,
                            tables_skipped=0)
    validated = validate_extraction(extraction)
    assert validated.table_statements[0].statement == "Apixaban (Dose: 5 mg twice daily)"
    assert validated.table_statements[0].table_source == "cvtab26001.html"
    assert validated.validation.fixes == 1


def test_fixes_survive_the_store_and_are_left_out_when_there_are_none():
    from mksap_assets.domain.statements import CheckedStatement

    item = Statement(statement="Dialysis (Option B) is indicated when potassium stays above 6.5 mEq/L.",
                     cloze_candidates=["Dialysis"])
    [checked] = _validate(item).from_critique
    assert CheckedStatement.model_validate(checked.model_dump(mode="json")) == checked
    clean = checked.model_copy(update={"fixes": []})
    assert "fixes" not in clean.model_dump(mode="json")
