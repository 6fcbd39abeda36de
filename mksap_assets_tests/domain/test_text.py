"""Tests for mksap_assets.domain.text (pure string normalisers). Inputs are written for these tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mksap_assets.domain import text as text_module
from mksap_assets.domain.nlp.rules import find_quantities
from mksap_assets.domain.text import (
    NORMALISER_VERSION,
    normalise_comparators,
    normalise_exponents,
    normalise_whitespace,
    repair_glued_sentences,
    split_glued_list_items,
    strip_option_citations,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

# ---------------------------------------------------------------------------------------------------------
# repair_glued_sentences
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("glued", "repaired"),
    [
        ("This finding confirms the diagnosis.Patients with it improve.",
         "This finding confirms the diagnosis. Patients with it improve."),
        ("She has had a cough for 2 days.On physical examination, she is afebrile.",
         "She has had a cough for 2 days. On physical examination, she is afebrile."),
        ("Surgery is not indicated (Option C).The next step is imaging.",
         "Surgery is not indicated (Option C). The next step is imaging."),
        ("The calcium level is 5.5 mg/dL.Repeat testing is planned.",
         "The calcium level is 5.5 mg/dL. Repeat testing is planned."),
        ("Blood pressure is 150/90 mm Hg.She takes no medications.",
         "Blood pressure is 150/90 mm Hg. She takes no medications."),
        ("Oxygen saturation is 91%.Chest radiograph is normal.",
         "Oxygen saturation is 91%. Chest radiograph is normal."),
        ("as reported [4].The trial enrolled adults.", "as reported [4]. The trial enrolled adults."),
        ("The ALT is 45 U/L.Serology is pending.", "The ALT is 45 U/L. Serology is pending."),
        ("Is this the cause?The answer is no!Then stop.", "Is this the cause? The answer is no! Then stop."),
        # acronyms on either side of the boundary, and the article "A"
        ("The patient has COPD.Spirometry confirms it.", "The patient has COPD. Spirometry confirms it."),
        ("Liver tests are normal.MELD score is 8.", "Liver tests are normal. MELD score is 8."),
        ("This suggests CKD.A biopsy is not needed.", "This suggests CKD. A biopsy is not needed."),
        ("She takes vitamin D.On examination, she is well.",
         "She takes vitamin D. On examination, she is well."),
        ("Several are glued.Here.And here.Done", "Several are glued. Here. And here. Done"),
        ("A list etc.The rest follows.", "A list etc. The rest follows."),
    ],
)
def test_repair_glued_sentences_inserts_one_space(glued: str, repaired: str) -> None:
    assert repair_glued_sentences(glued) == repaired


@pytest.mark.parametrize(
    "unchanged",
    [
        # decimals
        "The dose was 1.5 mg and the pH was 7.44 at 0.9 mL.",
        "A ratio of 3.8 and 12.0 versus 0.1.",
        # abbreviations
        "Use a drug, e.g.Aspirin, first.",
        "The best test, i.e.Ultrasonography, is cheap.",
        "Compare surgery vs.Medical therapy.",
        "She saw Dr.Smith last week.",
        "It is approved in the U.S.Army hospitals.",
        "Give fluids i.v.Then reassess.",
        "See Fig.Two for details.",
        "As Smith et al.Reported in the trial.",
        # units
        "The creatinine is 1.2 mg/dL and eGFR is 58 mL/min/1.73 m2 today.",
        "A level of 4.1 mmol/L was found.",
        # gene / variant / drug names with dots
        "The BRAF p.Val600Glu variant and c.1799T>A change are present.",
        "HLA-B*58:01 testing precedes allopurinol.",
        # initials in citations
        "Smith J.Outcomes of therapy. Ann Intern Med. 2020;172:1-10.",
        "Jones AB, Lee CD.Trial results in practice.",
        "Written by J.A.Smith and colleagues.",
        "as described by J.Smith in 2019",
        # URLs and DOIs
        "doi:10.1183/1399.01574",
        "Available at www.Example.org/Guidelines.Html today.",
        "See https://doi.org/10.1056/NEJMoa.Trial for details.",
        # ellipses
        "He paused...Then he spoke.",
        "He paused\u2026Then he spoke.",
        # colon is never touched
        "Findings:Normal. Ratio:High.",
        # lowercase after a period, and already spaced text
        "Use 2.5 mg.then repeat. Already spaced. Fine.",
        "",
    ],
)
def test_repair_glued_sentences_leaves_non_boundaries(unchanged: str) -> None:
    assert repair_glued_sentences(unchanged) == unchanged


def test_repair_glued_sentences_is_idempotent() -> None:
    once = repair_glued_sentences("First sentence.Second one (Option B).Third at 5.5 mg/dL.Fourth.")
    assert once == "First sentence. Second one (Option B). Third at 5.5 mg/dL. Fourth."
    assert repair_glued_sentences(once) == once


def test_repair_glued_sentences_on_corpus_questions() -> None:
    """Over the real question texts: after repair, the only ".Capital" left is a dotted abbreviation."""
    files = sorted(CORPUS.glob("*/*/*.json")) if CORPUS.is_dir() else []
    if not files:
        pytest.skip(f"corpus not found at {CORPUS}")
    leftover = re.compile(r"(\S*)[.?!][A-Z][a-z]")
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        for field in ("question_text", "critique"):
            value = data.get(field) or ""
            repaired = repair_glued_sentences(value)
            # only spaces were inserted
            assert repaired.replace(" ", "") == value.replace(" ", ""), (path.name, field)
            for match in leftover.finditer(repaired):
                assert re.search(r"(?:^|[^A-Za-z])(?:[A-Za-z]{1,2}\.)+[A-Za-z]{1,2}$", match.group(1)), (
                    path.name,
                    field,
                    match.group(0),
                )


# ---------------------------------------------------------------------------------------------------------
# split_glued_list_items
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("glued", "split"),
    [
        ("Risks include physical inactivityHypertensionTobacco use and age.",
         "Risks include physical inactivity. Hypertension. Tobacco use and age."),
        ("Screen for these:Vision lossHearing lossFalls at home",
         "Screen for these: Vision loss; Hearing loss; Falls at home"),
        ("Check the lipid panel (fasting or not)Repeat it each year.",
         "Check the lipid panel (fasting or not). Repeat it each year."),
        ("Useful tests:Hemoglobin A1cFasting glucose", "Useful tests: Hemoglobin A1c; Fasting glucose"),
        ("Order a chest radiographThe result guides care.", "Order a chest radiograph. The result guides care."),
        ("Consider:ToxinsInfectionsTrauma.", "Consider: Toxins; Infections; Trauma."),
        # a camel-case name keeps its shape inside a list
        ("Devices used:MitraClipHeartMate", "Devices used: MitraClip; HeartMate"),
        ("Three of them: walkingSwimmingCycling", "Three of them: walking; Swimming; Cycling"),
    ],
)
def test_split_glued_list_items(glued: str, split: str) -> None:
    assert split_glued_list_items(glued) == split


@pytest.mark.parametrize(
    "unchanged",
    [
        # mixed case that is not a glued list
        "McArdle disease, a pH of 7.21, IgG and IgA, HbA1c of 8%, 5 mL, a low DLco and an eGFR of 40.",
        "SpO2 is 90%, the CHA2DS2-VASc score is 3, an iPhone app, the FeNO level, NaCl 0.9%, the LaPlace law.",
        "MacDonald, DeBakey, DiGeorge, PubMed, YouTube, UpToDate, mmHg, cmH2O, mOsm/kg, NT-proBNP, cTnI.",
        # lowercase prefixes on a capitalised word
        "The CRAB mnemonic (hyperCalcemia, Renal failure, Anemia, Bone lesions) is used.",
        "Red meat can trigger the alphaGal syndrome.",
        # a camel-case name on its own, listed or not
        "FibroScan shows stiffness and a ThermoWidget reads it.",
        "A GeneXpert assay after the FoundationOne panel.",
        # a one-letter parenthesis, a colon after a digit or before lowercase, spaces already there
        "Brand(R)Product and Brand(s)Tests",
        "At 10:30Appointments and ratio:normal.",
        "Already spaced: Items are separate. Fine.",
        # URLs
        "See https://example.org/pathwayGuide and www.example.com/careBundles/firstStep today.",
        "",
    ],
)
def test_split_glued_list_items_leaves_other_text(unchanged: str) -> None:
    assert split_glued_list_items(unchanged) == unchanged


def test_split_glued_list_items_is_idempotent() -> None:
    once = split_glued_list_items("Causes:DrugsInfectionsAutoimmune diseaseCancerThe cause here is clear.")
    assert once == "Causes: Drugs; Infections; Autoimmune disease; Cancer; The cause here is clear."
    assert split_glued_list_items(once) == once


def test_split_glued_list_items_on_corpus_questions() -> None:
    """Over the real critiques: only ". ", "; " and " " are inserted, some lists are split, and the only lowercase run
    still glued to a capitalised word is a prefix ("hyper")."""
    files = sorted(CORPUS.glob("*/*/*.json")) if CORPUS.is_dir() else []
    if not files:
        pytest.skip(f"corpus not found at {CORPUS}")
    glued = re.compile(r"([a-z]+)(?=[A-Z][a-z])")
    changed = 0
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        for value in (data["critique"], data["educational_objective"], *data["key_points"]):
            split = split_glued_list_items(value)
            changed += split != value
            assert re.sub(r"[.; ]", "", split) == re.sub(r"[.; ]", "", value), path.name
            for match in glued.finditer(split):
                assert len(match.group(1)) < 3 or match.group(1) in ("hyper",), (path.name, match.group(0))
    assert changed >= 3


# ---------------------------------------------------------------------------------------------------------
# normalise_exponents
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("neutrophils 0.15 × 109/L today", "neutrophils 0.15 × 10^9/L today"),
        ("(7.5 × 109/L)", "(7.5 × 10^9/L)"),
        ("platelets 250 x 103/µL", "platelets 250 x 10^3/µL"),
        ("platelets 250 × 103/μL", "platelets 250 × 10^3/μL"),
        ("cells 12 × 10 6/L", "cells 12 × 10^6/L"),
        ("erythrocytes 4.5×1012/L", "erythrocytes 4.5×10^12/L"),
        ("a count of 7,500 X 106 / L", "a count of 7,500 X 10^6 / L"),
        ("leukocytes 4.5 × 10⁹/L", "leukocytes 4.5 × 10^9/L"),
        ("a titre of 10⁻³", "a titre of 10^-3"),
        ("RBC 4.1 × 10¹²/L", "RBC 4.1 × 10^12/L"),
    ],
)
def test_normalise_exponents(written: str, normalised: str) -> None:
    assert normalise_exponents(written) == normalised
    assert normalise_exponents(normalised) == normalised


@pytest.mark.parametrize(
    "unchanged",
    [
        "already 4.5 × 10^9/L",
        "a glucose of 109 mg/dL and 103/L without a multiplier",
        "2 × 108/L is not one of the exponents",
        "a 109-bed ward and 3 × 103 mm",
        "the 2010 guideline and 1103 patients",
        "",
    ],
)
def test_normalise_exponents_leaves_other_numbers(unchanged: str) -> None:
    assert normalise_exponents(unchanged) == unchanged


@pytest.mark.parametrize(
    ("source", "statement"),
    [
        ("Asthma with eosinophils above 0.15 × 109/L responds.", "Eosinophils above 0.15 × 10^9/L predict response."),
        ("Asthma with eosinophils above 0.15 × 109/L responds.", "Eosinophils above 0.15 × 10⁹/L predict response."),
        ("Asthma with eosinophils above 0.15 × 109/L responds.", "Eosinophils above 0.15×10⁹/L predict response."),
        ("Transfuse when platelets fall below 10 × 103/µL.", "Transfuse below 10 × 10^3/µL platelets."),
        ("Transfuse when platelets fall below 10 × 103/µL.", "Transfuse below 10 × 10³/µL platelets."),
        ("Spinal fluid with 12 × 106/L cells is abnormal.", "A CSF count of 12 × 10⁶/L cells is abnormal."),
    ],
)
def test_exponents_read_the_same_in_source_and_statement(source: str, statement: str) -> None:
    """After normalise_exponents on both sides, find_quantities reads the same values, units and comparators."""

    def facts(text: str) -> list[tuple[str, str | None, str | None]]:
        return [(q.value, q.unit, q.comparator) for q in find_quantities(normalise_exponents(text))]

    assert facts(source) == facts(statement)
    assert facts(source)


# ---------------------------------------------------------------------------------------------------------
# normalise_whitespace
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  two   spaces  ", "two spaces"),
        ("non\u00a0breaking\u00a0\u00a0space", "non breaking space"),
        ("tabs\tand\nnewlines\r\n here", "tabs and newlines here"),
        ("narrow\u202fand\u2009thin", "narrow and thin"),
        ("", ""),
        (" \u00a0 ", ""),
    ],
)
def test_normalise_whitespace(raw: str, clean: str) -> None:
    assert normalise_whitespace(raw) == clean


# ---------------------------------------------------------------------------------------------------------
# strip_option_citations
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cited", "clean"),
    [
        ("Observation is inappropriate (Option A).", "Observation is inappropriate."),
        ("Both are wrong (Options A and C), and a third is too.", "Both are wrong, and a third is too."),
        ("None of these help (Options A, B, and D) in this setting.", "None of these help in this setting."),
        ("None help (Options A, B and D).", "None help."),
        ("Either fails (Options B or E); neither is safe.", "Either fails; neither is safe."),
        ("Wrong (Option A and Option C)!", "Wrong!"),
        ("Lowercase too (option d).", "Lowercase too."),
        ("(Option B) This one starts with a citation.", "This one starts with a citation."),
        ("Two in a row (Option A) (Option B) here.", "Two in a row here."),
        ("Stop.(Option C) Next sentence.", "Stop. Next sentence."),
        ("No citation here (see option discussion).", "No citation here (see option discussion)."),
        ("A parenthetical (Option A is incorrect) stays.", "A parenthetical (Option A is incorrect) stays."),
        ("", ""),
    ],
)
def test_strip_option_citations(cited: str, clean: str) -> None:
    result = strip_option_citations(cited)
    assert result == clean
    assert "  " not in result
    assert not re.search(r"\s[.,;:!?)]", result)


# ---------------------------------------------------------------------------------------------------------
# normalise_comparators
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "symbolic"),
    [
        ("an eGFR less than or equal to 30", "an eGFR ≤ 30"),
        ("a score greater than or equal to 4", "a score ≥ 4"),
        ("a value not equal to 0", "a value ≠ 0"),
        ("a count less than 50,000", "a count < 50,000"),
        ("an A1c greater than 9%", "an A1c > 9%"),
        ("a result of 5 plus or minus 2", "a result of 5 ± 2"),
        ("LESS THAN OR EQUAL TO 2 and Greater Than 3", "≤ 2 and > 3"),
        ("less  than 1.5", "< 1.5"),
        ("no less than 18 years", "≥ 18 years"),
        ("not greater than 140", "≤ 140"),
        ("less than -2.5", "< -2.5"),
        ("less than .5", "< .5"),
    ],
)
def test_normalise_comparators(phrase: str, symbolic: str) -> None:
    assert normalise_comparators(phrase) == symbolic


def test_comparators_longest_phrase_wins() -> None:
    assert normalise_comparators("less than or equal to 30") == "≤ 30"
    assert "< or" not in normalise_comparators("less than or equal to 30")
    assert "not =" not in normalise_comparators("not equal to 1")
    assert normalise_comparators("greater than or equal to 65") == "≥ 65"


@pytest.mark.parametrize(
    "unchanged",
    [
        "approximately 5 patients",
        "at least 3 episodes",
        "at most 2 doses",
        "equal to 5",
        "more than 10",
        "regardless of whether it is less than ideal",
        "greater than expected mortality",
        "less than or equal to the upper limit",
        "nonetheless thanks",
        "",
    ],
)
def test_normalise_comparators_leaves_other_text(unchanged: str) -> None:
    assert normalise_comparators(unchanged) == unchanged


def test_normalise_comparators_prose_mode() -> None:
    assert normalise_comparators("less than ideal", numeric_only=False) == "< ideal"
    assert normalise_comparators("less than or equal to the limit", numeric_only=False) == "≤ the limit"
    assert normalise_comparators("approximately half", numeric_only=False) == "approximately half"
    assert normalise_comparators("at least one", numeric_only=False) == "at least one"


def test_normalise_comparators_is_idempotent() -> None:
    once = normalise_comparators("between greater than 2 and less than or equal to 5")
    assert once == "between > 2 and ≤ 5"
    assert normalise_comparators(once) == once


# ---------------------------------------------------------------------------------------------------------
# Module contract
# ---------------------------------------------------------------------------------------------------------


def test_normaliser_version_is_a_nonempty_string() -> None:
    assert isinstance(NORMALISER_VERSION, str) and NORMALISER_VERSION


def test_module_has_no_heavy_imports() -> None:
    source = Path(text_module.__file__).read_text(encoding="utf-8")
    assert "import spacy" not in source and "dagster" not in source
