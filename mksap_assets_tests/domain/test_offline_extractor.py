"""The offline extractor: deterministic statements and exact-substring clozes from the normalised question."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mksap_assets.domain.extraction.offline import (
    OfflineExtractor,
    generalise_patient,
    sentence_to_statement,
)
from mksap_assets.domain.extraction.offline_cloze import pick_cloze_candidates
from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question
from mksap_assets_tests.conftest import SAMPLE_DIR


def _extract_all(data_dir: Path):
    extractor = OfflineExtractor()
    return [asyncio.run(extractor.extract(load_raw_question(f))) for f in discover_questions(data_dir)]


@pytest.fixture(scope="module")
def sample_extractions():
    return _extract_all(SAMPLE_DIR)


def test_every_sample_question_gets_statements_labelled_offline(sample_extractions):
    for extraction in sample_extractions:
        assert extraction.extractor == "offline" and extraction.model is None
        assert extraction.from_critique, extraction.question_id


def test_statements_drop_option_citations_and_the_patient(sample_extractions):
    for extraction in sample_extractions:
        for _, _, item in extraction.statements():
            assert "(Option" not in item.statement
            assert "this patient" not in item.statement.lower()


def test_cloze_candidates_are_exact_substrings_and_at_most_three(sample_extractions):
    for extraction in sample_extractions:
        for _, _, item in extraction.statements():
            assert len(item.cloze_candidates) <= 3
            for candidate in item.cloze_candidates:
                assert candidate in item.statement
                assert candidate.strip(" .") != item.statement.strip(" .")


def test_key_points_and_tables(sample_extractions):
    with_key_points = [e for e in sample_extractions if e.from_key_points]
    assert with_key_points
    vdx = [e for e in sample_extractions if e.question_id[2:5] == "vdx"]
    assert vdx and all(not e.from_key_points for e in vdx)
    table_items = [s for e in sample_extractions for s in e.table_statements]
    assert table_items and all(s.extra_field and s.table_source.endswith(".html") for s in table_items)
    assert all(not s.table_source.startswith("inline_table") for s in table_items)  # lab tables skipped
    assert any(e.tables_skipped for e in sample_extractions)


def test_extraction_is_deterministic():
    first = _extract_all(SAMPLE_DIR)[:3]
    again = _extract_all(SAMPLE_DIR)[:3]
    def content(extractions):
        return [e.model_dump(exclude={"extracted_at"}) for e in extractions]

    assert content(first) == content(again)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("In this patient with sepsis, fluids are given.", "in a patient with sepsis, fluids are given."),
        ("This patient's risk is high.", "A patient's risk is high."),
        ("The patient should receive aspirin.", "A patient should receive aspirin."),
    ],
)
def test_generalise_patient(sentence, expected):
    assert generalise_patient(sentence).lower() == expected.lower()


def test_sentence_to_statement_removes_citation_and_normalises_comparators():
    statement = sentence_to_statement("Dialysis (Option B) is indicated when potassium is greater than 6.5 mEq/L.")
    assert statement == "Dialysis is indicated when potassium is > 6.5 mEq/L."


def test_cloze_prefers_medical_terms_and_numbers_with_units():
    statement = "Lisinopril is indicated when the ejection fraction is ≤35% in heart failure."
    candidates = pick_cloze_candidates(statement)
    assert candidates[0] == "Lisinopril"
    assert "≤35%" in candidates
    assert all(c in statement for c in candidates)


@pytest.mark.corpus
def test_offline_extractor_on_the_real_corpus(corpus_dir: Path):
    for extraction in _extract_all(corpus_dir):
        assert extraction.statement_count > 0
        for _, _, item in extraction.statements():
            assert all(c in item.statement for c in item.cloze_candidates)


def test_cloze_never_cuts_a_number_or_word():
    statement = "The dose is lowered to 2.5 mg twice daily in older adults."
    for candidate in pick_cloze_candidates(statement):
        start = statement.index(candidate)
        assert start == 0 or not (statement[start - 1].isalnum() or statement[start - 1] == ".")
        end = start + len(candidate)
        assert end == len(statement) or not statement[end].isalnum()


def test_case_narrative_sentences_are_not_statements(sample_extractions):
    prose = [s for e in sample_extractions for s in (*e.from_critique, *e.from_key_points)]
    assert prose
    for item in prose:
        assert not {"she", "he", "her", "his"} & set(item.statement.lower().split())
