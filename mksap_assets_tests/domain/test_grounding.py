"""Grounding: numbers (exact, with units and comparators), negation and modality, named drugs, diseases, tests and
abbreviations must be supported by the statement's own source; the offline extractor's statements always are."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.domain.grounding import Source, ground_text, source_from_section, tokenize
from mksap_assets.domain.inputs import discover_questions, load_raw_question
from mksap_assets.domain.nlp_analysis import analyse_question
from mksap_assets.domain.validation import validate_extraction
from mksap_assets_tests.conftest import SAMPLE_DIR

CRITIQUE = (
    "The most appropriate treatment for this patient is to lower the apixaban dose to 2.5 mg twice daily (Option B). "
    "Apixaban is reduced when serum creatinine is greater than or equal to 1.5 mg/dL or body weight is 60 kg or "
    "less. Aspirin is not recommended for stroke prevention in atrial fibrillation. "
    "Enoxaparin is contraindicated in heparin-induced thrombocytopenia. "
    "Tolvaptan may be considered for chronic hyponatremia. "
    "Contraindications to prednisolone include active infection and gastrointestinal bleeding. "
    "Prednisolone should be stopped if there is no or minimal response by day 7. "
    "Acute kidney injury develops in one third of patients with spontaneous bacterial peritonitis (SBP). "
    "Seborrheic keratosis is benign. Allopurinol is started at 100 mg/d. Hypokalemia suppresses aldosterone. "
    "Endoscopy should be done within 24 hours when hemoglobin falls below 7 g/dL (70 g/L)."
)


@pytest.fixture(scope="module")
def source() -> Source:
    return source_from_section("critique", CRITIQUE, None)


def codes(text: str, source: Source, severity: str | None = "error", where="statement") -> list[str]:
    return [i.code for i in ground_text(text, source, where) if severity is None or i.severity == severity]


@pytest.mark.parametrize(
    "statement",
    [
        "The most appropriate treatment for a patient is to lower the apixaban dose to 2.5 mg twice daily.",
        "Apixaban is reduced when serum creatinine is ≥ 1.5 mg/dL or body weight is 60 kg or less.",
        "Aspirin is not recommended for stroke prevention in atrial fibrillation.",
        "Enoxaparin is contraindicated in heparin-induced thrombocytopenia.",
        "Prednisolone is contraindicated in active infection.",  # paraphrase of "Contraindications to … include"
        "Prednisolone should be stopped if there is minimal response by day 7.",  # "no or minimal": an alternative
        "AKI develops in one third of patients with spontaneous bacterial peritonitis.",  # abbreviation of a long form
        "Seborrheic keratoses are benign.",  # plural
        "Endoscopy should be done within 24 hours when hemoglobin falls below 7 g/dL (70 g/L).",
    ],
)
def test_supported_statements_have_no_error(statement, source):
    assert codes(statement, source) == []


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ("The most appropriate treatment is to lower the apixaban dose to 5.5 mg twice daily.", "number_not_in_source"),
        ("The most appropriate treatment is to lower the apixaban dose to 2.5 g twice daily.", "unit_mismatch"),
        ("Apixaban is reduced when serum creatinine is ≤ 1.5 mg/dL.", "comparator_mismatch"),
        ("Allopurinol is started at > 100 mg/d.", "comparator_not_in_source"),
        ("Aspirin is recommended for stroke prevention in atrial fibrillation.", "negation_mismatch"),
        ("Enoxaparin is indicated in heparin-induced thrombocytopenia.", "negation_mismatch"),
        ("Seborrheic keratosis is not benign.", "negation_mismatch"),
        ("Tolvaptan should be considered for chronic hyponatremia.", "modality_strengthened"),
        ("Hyperkalemia suppresses aldosterone.", "term_not_in_source"),
        ("Rivaroxaban is not recommended for stroke prevention in atrial fibrillation.", "term_not_in_source"),
        ("Aspirin is not recommended for stroke prevention in sarcoidosis.", "term_not_in_source"),
        ("The dose of apixaban is lowered to 2.5 mg twice daily in patients with COPD.", "term_not_in_source"),
        ("Endoscopy should be done within 24 hours when hemoglobin falls above 7 g/dL.", "polarity_mismatch"),
    ],
)
def test_unsupported_facts_are_errors(statement, code, source):
    assert code in codes(statement, source)


def test_substituted_term_that_is_no_known_drug_is_still_caught(source):
    found = ground_text("Enoxaparin is contraindicated in heparin-induced zebrafever.", source)
    assert "term_substituted" in [i.code for i in found] or "term_not_in_source" in [i.code for i in found]


def test_issue_spans_point_at_the_offending_text(source):
    statement = "The most appropriate treatment is to lower the apixaban dose to 3.5 mg twice daily."
    [issue] = [i for i in ground_text(statement, source) if i.code == "number_not_in_source"]
    assert statement[slice(*issue.span)] == "3.5 mg"
    assert issue.category == "grounding" and issue.field == "statement"


def test_unit_without_its_denominator_and_dropped_comparator_are_warnings(source):
    assert codes("Allopurinol is started at 100 mg.", source, "warning") == ["unit_incomplete"]
    assert "comparator_dropped" in codes("Endoscopy is done when hemoglobin is 7 g/dL.", source, "warning")
    assert codes("Endoscopy is done when hemoglobin is 7 g/dL.", source) == []


def test_comparator_words_and_symbols_are_equivalent(source):
    assert codes("Apixaban is reduced when serum creatinine is at least 1.5 mg/dL.", source) == []
    assert codes("Apixaban is reduced when serum creatinine is 1.5 mg/dL or higher.", source) == []
    assert "comparator_strictness" in codes("Apixaban is reduced when serum creatinine is > 1.5 mg/dL.", source,
                                            "warning")


def test_this_patient_and_option_citations_in_the_source_do_not_matter(source):
    tokens = [t.norm for t in tokenize("for this patient is (Option B) less than 30")]
    assert tokens == ["for", "a", "patient", "is", "<", "30"]


def test_extra_field_is_grounded_sentence_by_sentence(source):
    extra = "Apixaban is reduced in older adults. Memory aid: dabigatran needs 150 mg."
    found = ground_text(extra, source, "extra_field")
    errors = {(i.code, i.field) for i in found if i.severity == "error"}
    assert ("term_not_in_source", "extra_field") in errors and ("number_not_in_source", "extra_field") in errors
    [number] = [i for i in found if i.code == "number_not_in_source"]
    assert extra[slice(*number.span)] == "150 mg"


def test_wording_that_is_not_a_named_term_is_only_information(source):
    found = ground_text("Aspirin is not recommended for stroke prevention in atrial fibrillation nowadays.", source)
    assert [(i.code, i.severity) for i in found] == [("unsupported_wording", "info")]


def test_empty_source_is_reported_not_failed():
    empty = source_from_section("key_points", "", None)
    [issue] = ground_text("Aspirin is not recommended.", empty)
    assert issue.code == "source_unavailable" and issue.severity == "info"


def test_abbreviations_detected_in_the_source_support_their_long_forms():
    critique = "Acute respiratory distress syndrome (ARDS) needs low tidal volumes. ARDS mortality is high."
    raw_like = source_from_section("critique", critique, None)
    assert codes("ARDS needs low tidal volumes.", raw_like) == []
    assert codes("Acute respiratory distress syndrome mortality is high.", raw_like) == []


# -- real questions --------------------------------------------------------------------------------------------


def _grounding_errors(data_dir: Path) -> list[tuple[str, str, str]]:
    extractor = OfflineExtractor()
    found = []
    for question_file in discover_questions(data_dir):
        raw = load_raw_question(question_file)
        validated = validate_extraction(asyncio.run(extractor.extract(raw)), raw, analysis=analyse_question(raw))
        for _, _, item in validated.checked():
            found += [(raw.question_id, i.code, item.statement) for i in item.issues
                      if i.category == "grounding" and i.severity == "error"]
    return found


def test_offline_statements_of_the_samples_are_grounded():
    assert _grounding_errors(SAMPLE_DIR) == []


@pytest.mark.corpus
def test_offline_statements_of_the_real_corpus_are_grounded(corpus_dir: Path):
    assert _grounding_errors(corpus_dir) == []


def test_table_statements_are_grounded_in_their_table():
    question_file = next(f for f in discover_questions(SAMPLE_DIR) if f.question_id == "cvmcq26001")
    raw = load_raw_question(question_file)
    extraction = asyncio.run(OfflineExtractor().extract(raw))
    table_item = extraction.table_statements[0]
    altered = table_item.model_copy(update={"statement": table_item.statement.replace("5 mg twice", "10 mg twice")})
    validated = validate_extraction(extraction.model_copy(update={"table_statements": [table_item, altered]}), raw)
    first, second = validated.table_statements
    assert not [i for i in first.issues if i.severity == "error"]
    assert "number_not_in_source" in {i.code for i in second.issues}
    assert "table:" in next(i.message for i in second.issues if i.code == "number_not_in_source")


def test_a_number_from_another_sentence_is_a_warning(source):
    found = ground_text("Aspirin is not recommended for stroke prevention in atrial fibrillation at 100 mg/d.", source)
    assert ("number_elsewhere", "warning") in {(i.code, i.severity) for i in found}
    assert not [i for i in found if i.severity == "error"]


def test_before_age_is_a_comparator():
    source = source_from_section("critique", "Screening begins at age 40 when a relative had cancer before age 60 "
                                             "years.", None)
    assert codes("Screening begins at age 40 when a relative had cancer after age 60 years.", source) != []
    assert codes("Screening begins at age 40 when a relative had cancer before age 60 years.", source) == []
