"""The model's evidence (prompts v2): a source concern keeps a statement off the deck and away from the repair turn;
the extra_field explains in about 40 words and does not restate; the quoted source span guides the alignment."""

from __future__ import annotations

from mksap_assets.domain.extraction.repair import statements_to_repair
from mksap_assets.domain.statements import Extraction, Statement, TableStatement
from mksap_assets.domain.validation import validate_extraction
from mksap_assets.domain.validation.evidence import check_evidence
from mksap_assets.domain.validation.grounding import (
    ground_text,
    source_from_section,
    tokenize,
)

STATEMENT = "Loop diuretics lower blood pressure in volume overload."


def _codes(item: Statement) -> list[str]:
    return [issue.code for issue in check_evidence(item)]


def test_a_source_concern_blocks_the_statement_and_is_not_sent_to_repair():
    doubtful = Statement(statement=STATEMENT, cloze_candidates=["Loop diuretics"],
                         source_concern="Loop diuretics are not first-line antihypertensives.")
    plain = Statement(statement="Thiazides cause hyponatremia in older adults.", cloze_candidates=["hyponatremia"])
    extraction = Extraction(question_id="cvmcq26001", extractor="x", model=None, prompt_version="p",
                            from_critique=[doubtful, plain], from_key_points=[], table_statements=[],
                            tables_processed=0, tables_skipped=0)
    validated = validate_extraction(extraction)
    first, second = validated.from_critique
    assert not first.passed and first.blocked_by == ["source_concern"]
    assert "not first-line" in next(i.message for i in first.issues if i.code == "source_concern")
    assert second.passed
    assert statements_to_repair(extraction, validated) == []


def test_a_blank_concern_is_no_concern():
    assert _codes(Statement(statement=STATEMENT, source_concern="  ")) == []


def test_the_extra_field_explains_briefly_and_does_not_restate():
    explanation = "They block the sodium-potassium-chloride cotransporter in the loop of Henle."
    assert _codes(Statement(statement=STATEMENT, extra_field=explanation)) == []
    long = " ".join([explanation] * 5)
    assert _codes(Statement(statement=STATEMENT, extra_field=long)) == ["extra_field_long"]
    restated = "In volume overload, loop diuretics lower blood pressure."
    assert _codes(Statement(statement=STATEMENT, extra_field=restated)) == ["extra_field_restates"]
    # A table statement's extra_field is its caption by rule, whatever it repeats.
    caption = "Loop diuretics lower blood pressure in volume overload"
    assert _codes(TableStatement(statement=STATEMENT, extra_field=caption, table_source="t.html")) == []


SOURCE = ("Drug A lowers blood pressure in adults with diabetes. Drug A lowers blood pressure in children. "
          "Drug A is not recommended in pregnancy.")


def test_the_quoted_span_chooses_between_sentences_that_align_equally():
    source = source_from_section("critique", SOURCE, None)
    tokens = tokenize("Drug A lowers blood pressure.")
    assert source.align(tokens).sentences == (0,)
    assert source.align(tokens, "drug A lowers blood pressure in children").sentences == (1,)
    # A quote whose sentence covers the statement much worse than the best one is not taken.
    assert source.align(tokens, "Drug A is not recommended in pregnancy.").sentences == (0,)
    assert source.quoted_sentences("lowers blood pressure in children. Drug A is not") == (1, 2)


def test_a_quote_not_in_the_source_is_reported_and_the_wording_aligns():
    source = source_from_section("critique", SOURCE, None)
    issues = ground_text("Drug A lowers blood pressure in children.", source, quote="Drug B lowers pressure.")
    assert [i.code for i in issues if i.code == "source_quote_not_found"] == ["source_quote_not_found"]
    assert all(i.severity != "error" for i in issues)
    found = ground_text("Drug A lowers blood pressure in children.", source, quote="Drug A lowers blood pressure")
    assert "source_quote_not_found" not in [i.code for i in found]
