"""Structure, cloze, quality, ambiguity and enumeration validators, the question pass flag, and the validated
asset's summary and NLP analysis (grounding itself: test_grounding.py)."""

from __future__ import annotations

from mksap_assets.domain.statements import (
    Extraction,
    Statement,
    TableStatement,
    ValidatedStatements,
)
from mksap_assets.domain.validation import VALIDATOR_VERSION, validate_extraction


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
    assert validated.validation.statements_passed == 1 and validated.validation.errors == 0
    assert validated.from_critique[0].passed and validated.from_critique[0].issues == []


def test_cloze_that_is_not_a_substring_is_an_error_with_no_span():
    validated = validate_extraction(_extraction(Statement(statement=GOOD, cloze_candidates=["aspirin therapy"])))
    [issue] = validated.from_critique[0].issues
    assert issue.code == "cloze_not_in_statement" and issue.severity == "error" and issue.span is None
    assert not validated.from_critique[0].passed and validated.validation.statements_passed == 0


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
    assert validated.validation.statements_passed == 0 and validated.validation.pass_rate == 0.0
    assert [i.code for i in validated.validation.question_issues] == ["no_statements"]


def test_counts_cover_table_statements():
    table = TableStatement(statement=GOOD, cloze_candidates=["missing"], table_source="cvtab26001.html")
    validated = validate_extraction(_extraction(Statement(statement=GOOD, cloze_candidates=["Aspirin"]), tables=(table,)))
    assert validated.validation.statements == 2 and validated.validation.errors == 1
    assert validated.table_statements[0].table_source == "cvtab26001.html"


# -- quality, ambiguity, enumeration ------------------------------------------------------------------------------


def _issues(statement: str, clozes: list[str] | None = None, **kwargs):
    item = Statement(statement=statement, cloze_candidates=clozes if clozes is not None else ["Aspirin"], **kwargs)
    return validate_extraction(_extraction(item)).from_critique[0].issues


def _by_code(statement: str, clozes: list[str] | None = None, **kwargs) -> dict[str, str]:
    return {i.code: i.severity for i in _issues(statement, clozes, **kwargs)}


def test_every_issue_has_code_severity_message_category_and_field():
    for issue in _issues("In this patient, it works (Option C).", ["works", "missing"]):
        assert issue.code and issue.severity in ("error", "warning", "info") and issue.message
        assert issue.category in ("structure", "cloze", "grounding", "quality", "ambiguity", "enumeration")
        assert issue.field in ("statement", "extra_field", "cloze_candidates", "table_source")


def test_patient_specific_language_is_an_error_in_prose_and_a_warning_in_tables():
    statement = "Aspirin should be given to this patient after the stent is placed."
    [issue] = [i for i in _issues(statement) if i.code == "patient_specific"]
    assert issue.severity == "error" and statement[slice(*issue.span)] == "this patient"
    table = TableStatement(statement="Lachman (Test: the patient lies supine with the knee flexed)",
                           cloze_candidates=["Lachman"], table_source="cstab.html")
    validated = validate_extraction(_extraction(tables=(table,)))
    assert {i.code: i.severity for i in validated.table_statements[0].issues}["patient_specific"] == "warning"


def test_option_citation_is_an_error_without_the_fixer():
    item = Statement(statement="Aspirin (Option B) reduces the risk of recurrent myocardial infarction.",
                     cloze_candidates=["Aspirin"])
    [checked] = validate_extraction(_extraction(item), autofix=False).from_critique
    [issue] = [i for i in checked.issues if i.code == "option_citation"]
    assert issue.severity == "error" and item.statement[slice(*issue.span)] == "(Option B)"


def test_dangling_pronoun_case_reference_and_narrative_are_warnings():
    assert _by_code("It may be considered for severe ventilator dyssynchrony in adults.")["dangling_pronoun"] == "warning"
    assert _by_code("Aspirin is not indicated in the patient described here at all.")["case_reference"] == "warning"
    assert _by_code("Aspirin was stopped because she had bleeding from an ulcer.")["case_narrative"] == "warning"
    assert "dangling_pronoun" not in _by_code(GOOD)


def test_word_bounds_are_six_to_thirty_five():
    assert _by_code("Aspirin for recurrent infarction risk.")["too_short"] == "warning"
    assert "too_short" not in _by_code("Aspirin reduces the recurrent infarction risk.")
    long = "Aspirin " + " ".join(["reduces the risk"] * 12) + "."
    assert _by_code(long)["too_long"] == "warning"


def test_one_fact_multi_clause_and_enumerations():
    assert _by_code("Aspirin reduces the risk of infarction; clopidogrel is an alternative for allergy.")[
        "multi_clause"] == "warning"
    enumeration = "Aspirin causes bleeding, gastritis, bronchospasm, tinnitus, and kidney injury in older adults."
    codes = _by_code(enumeration)
    assert codes["enumeration"] == "warning"
    assert "enumeration" not in _by_code("Aspirin causes bleeding, gastritis, and tinnitus in older adults.")
    assert _by_code("Warfarin dosing has three criteria: (1) age, (2) weight, (3) kidney function matter.")[
        "numbered_list"] == "warning"
    assert _by_code("Apixaban dose reduction uses three criteria that are checked at every visit.")[
        "explicit_count"] == "info"
    assert "numbered_list" not in _by_code("An eGFR below 30 mL/min/1.73 m2 changes the dose of 2.5 mg.")


def test_clozes_in_a_row_of_one_list_are_flagged():
    statement = "Aspirin causes bleeding, gastritis, and tinnitus in some older adults."
    assert _by_code(statement, ["bleeding", "gastritis", "tinnitus"])["cloze_sequence"] == "warning"


def test_cloze_number_checks():
    statement = "Platelets must recover to at least 150,000/μL and the dose is 6 mL/kg daily."
    codes = _by_code(statement, ["000/μL", "6 mL"])
    assert codes["cloze_cuts_number"] == "warning" and codes["cloze_cuts_unit"] == "warning"
    assert not {"cloze_cuts_number", "cloze_cuts_unit"} & set(_by_code(statement, ["150,000/μL", "6 mL/kg"]))


def test_ambiguous_clozes():
    codes = _by_code("Flushes count as heparin exposure in patients with HIT.", ["heparin exposure", "heparin"])
    assert codes["overlapping_clozes"] == "warning"
    codes = _by_code("Heparin flushes and heparin infusions both count as heparin exposure.", ["heparin", "it"])
    assert codes["cloze_repeated"] == "warning" and codes["cloze_not_in_statement"] == "error"
    assert _by_code(GOOD, ["Aspirin", "the"])["trivial_cloze"] == "warning"
    assert _by_code("Aspirin treats this condition in adults with chest pain.", ["condition"])["vague_cloze"] == "info"


def test_cloze_hint_for_comparator_phrases():
    item = Statement(statement="An HbA1c target of < 7% suits most adults with diabetes.",
                     cloze_candidates=["less than 7%"])
    [checked] = validate_extraction(_extraction(item), autofix=False).from_critique
    [issue] = [i for i in checked.issues if i.code == "cloze_not_in_statement"]
    assert "'< 7%'" in issue.message


# -- with the question's sources ----------------------------------------------------------------------------------


def _sample(question_id: str):
    import asyncio

    from mksap_assets.domain.extraction.offline import OfflineExtractor
    from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question
    from mksap_assets_tests.conftest import SAMPLE_DIR

    raw = load_raw_question(next(f for f in discover_questions(SAMPLE_DIR) if f.question_id == question_id))
    return raw, asyncio.run(OfflineExtractor().extract(raw))


def test_validated_asset_carries_grounding_summary_and_nlp_analysis():
    raw, extraction = _sample("hmmcq26001")
    validated = validate_extraction(extraction, raw)
    summary = validated.validation
    assert summary.grounded and summary.errors == 0 and summary.statements_with_errors == 0
    assert summary.validator_version == VALIDATOR_VERSION
    assert sum(summary.codes.values()) == summary.errors + summary.warnings + summary.infos
    assert summary.error_codes == {}
    assert validated.nlp_analysis is not None and validated.nlp_analysis.section("critique")
    again = ValidatedStatements.model_validate_json(validated.model_dump_json())
    assert again == validated


def test_a_question_fails_when_one_statement_has_an_error():
    raw, extraction = _sample("hmmcq26001")
    bad = extraction.from_critique[0].model_copy(update={"statement": "A patient has a high pretest probability of "
                                                          "sarcoidosis and needs immediate treatment."})
    validated = validate_extraction(extraction.model_copy(update={"from_critique": [bad, *extraction.from_critique[1:]]}),
                                    raw)
    assert not validated.from_critique[0].passed and validated.validation.statements_with_errors == 1
    assert validated.validation.error_codes.get("term_not_in_source") == 1


def test_unknown_table_source_is_an_error():
    raw, extraction = _sample("cvmcq26001")
    table = extraction.table_statements[0].model_copy(update={"table_source": "nope.html"})
    validated = validate_extraction(extraction.model_copy(update={"table_statements": [table]}), raw)
    assert "table_source_unknown" in {i.code for i in validated.table_statements[0].issues}


def test_every_sample_question_passes_with_the_offline_extractor():
    import asyncio

    from mksap_assets.domain.extraction.offline import OfflineExtractor
    from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question
    from mksap_assets_tests.conftest import SAMPLE_DIR

    for question_file in discover_questions(SAMPLE_DIR):
        raw = load_raw_question(question_file)
        validated = validate_extraction(asyncio.run(OfflineExtractor().extract(raw)), raw)
        assert validated.validation.errors == 0, (raw.question_id, validated.validation.error_codes)


def test_the_export_carries_each_statements_issues():
    from mksap_assets.domain.exports.document import build_export

    raw, extraction = _sample("cvmcq26001")
    document = build_export(raw, extraction, validate_extraction(extraction, raw), nlp_pipeline="x")
    item = document["true_statements"]["from_critique"][0]
    assert isinstance(item["issues"], list)
    for issue in (i for s in document["table_statements"]["statements"] for i in s["issues"]):
        assert {"code", "severity", "message", "span"} <= set(issue)
    assert document["validation"]["statements_with_errors"] == 0


def test_semicolons_of_a_table_row_are_not_clauses():
    table = TableStatement(statement="Apixaban (Standard Dose: 5 mg twice daily; Reduced Dose: 2.5 mg twice daily)",
                           cloze_candidates=["Apixaban"], table_source="cvtab26001.html")
    validated = validate_extraction(_extraction(tables=(table,)))
    assert "multi_clause" not in {i.code for i in validated.table_statements[0].issues}


# -- precision: false-alarm classes (issue 12) ---------------------------------------------------------------------


def test_a_candidate_inside_another_word_is_not_a_repeated_cloze():
    # "men" occurs inside "recommended" and "supplements", but only once as a word: the card is not ambiguous
    statement = "Screening is recommended for men older than 65 years who take no supplements."
    assert not {"cloze_repeated", "overlapping_clozes"} & set(_by_code(statement, ["men", "recommended"]))
    assert "cloze_repeated" not in _by_code("Iron deficiency is common in menstruating women and in men.", ["men"])
    # twice as a word: the card blanks one and shows the answer in the other (capitals do not hide it)
    assert _by_code("Men and older men both need screening at 65 years.", ["men"])["cloze_repeated"] == "warning"
    assert _by_code("Warfarin needs monitoring, and warfarin doses vary widely.", ["warfarin"])[
        "cloze_repeated"] == "warning"


def test_a_repeat_blanked_on_the_same_card_is_not_visible():
    statement = "In sepsis, the sepsis bundle should start within one hour."
    # c1 "one hour"; "sepsis" and "sepsis bundle" are both c2: card 2 blanks every "sepsis"
    assert "cloze_repeated" not in _by_code(statement, ["one hour", "sepsis", "sepsis bundle"])
    # "sepsis bundle" is c1 here: card 2 (for "sepsis") shows it
    assert _by_code(statement, ["sepsis bundle", "sepsis"])["cloze_repeated"] == "warning"


def test_overlapping_clozes_are_those_the_card_cannot_place():
    # "heparin" occurs only inside the first blank: the card drops it
    assert _by_code("Flushes count as heparin exposure in adults.", ["heparin exposure", "heparin"])[
        "overlapping_clozes"] == "warning"
    # one candidate's text inside the other's, but each has its own place in the statement
    assert "overlapping_clozes" not in _by_code("Statin therapy lowers risk, and statin intolerance is rare.",
                                                ["statin", "Statin therapy"])


def test_cloze_placement_agrees_with_the_card_renderer():
    from mksap_assets.domain.exports.anki import render_cloze
    from mksap_assets.domain.validation.cloze import place_candidates

    cases = [
        ("Screening is recommended for men older than 65 years.", ["men", "recommended"]),
        ("Flushes count as heparin exposure in adults given heparin.", ["heparin exposure", "heparin"]),
        ("Misleading results occur with lead, arsenic, and mercury.", ["lead", "arsenic", "mercury"]),
        ("  Anti-TNF agents and TNF levels differ in adults.  ", ["TNF", "Anti-TNF agents"]),
        ("Aspirin lowers risk.", ["Aspirin", "Aspirin", "risk", "lowers", "missing"]),
    ]
    for statement, candidates in cases:
        placed, _ = place_candidates(statement, candidates)
        rendered = render_cloze(statement, candidates)
        offset = statement.find(statement.strip())
        assert [(p.start - offset, p.end - offset, p.number) for p in placed] == [
            (s.start, s.end, s.number) for s in rendered.spans], statement


def test_cloze_sequence_uses_where_the_card_places_each_candidate():
    # the first "lead" is inside "Misleading"; the card blanks the word in the list
    statement = "Misleading results occur with lead, arsenic, and mercury exposure."
    assert _by_code(statement, ["lead", "arsenic", "mercury"])["cloze_sequence"] == "warning"


def test_anticipatory_it_is_not_a_dangling_pronoun():
    for statement in (
        "It is preferable to start with a low dose of a thiazide in older adults.",
        "It is recommended that adults with diabetes have an annual eye examination.",
        "It is reasonable to stop aspirin one week before elective surgery.",
        "It is important to check potassium after starting spironolactone.",
        "It is not known whether early dialysis improves survival in sepsis.",
        "It may be reasonable for clinicians to repeat the test after six weeks.",
        "It is generally advisable that statins continue during acute illness.",
        "Neither aspirin nor clopidogrel is needed after this kind of procedure.",
    ):
        assert "dangling_pronoun" not in _by_code(statement), statement
    for statement in (
        "It is caused by a deficiency of factor VIII in most families.",
        "It causes hyperkalemia in patients with kidney disease.",
        "They should be avoided in patients with severe asthma.",
        "It is likely to recur within one year without prophylaxis.",
        "It is difficult to treat without combination antifungal therapy.",
        "It is used to treat hypertension in pregnancy.",
    ):
        assert _by_code(statement)["dangling_pronoun"] == "warning", statement


def test_the_patient_of_a_general_conditional_rule_is_not_patient_specific():
    for statement in (
        "If the patient is not intubated, noninvasive ventilation is tried first.",
        "When the patient cannot take oral medication, intravenous therapy is used.",
        "Oral rehydration is preferred unless the patient is vomiting repeatedly.",
        "If hypotension persists after fluids, the patient should receive norepinephrine.",
        "Once the patient's potassium is corrected, insulin infusion can begin.",
        "In a patient who has had a stroke, aspirin lowers the risk of another.",
        "If the patient is mechanically ventilated and sedated, daily awakening trials help.",
    ):
        assert "patient_specific" not in _by_code(statement), statement
    for statement, flagged in (
        ("The patient has a history of atrial fibrillation treated with warfarin.", "The patient"),
        ("The patient's symptoms point to acute pancreatitis after a heavy meal.", "The patient's"),
        ("Aspirin should be given to this patient if the stent is patent.", "this patient"),
        ("When the patient presented with chest pain, troponin was measured.", "the patient"),
        ("If the patient had received heparin, the platelet count would fall.", "the patient"),
    ):
        issues = [i for i in _issues(statement) if i.code == "patient_specific"]
        assert [statement[slice(*i.span)] for i in issues] == [flagged], statement
        assert issues[0].severity == "error"
    # the same rule in extra_field
    item = Statement(statement=GOOD, cloze_candidates=["Aspirin"],
                     extra_field="Aspirin is held if the patient is actively bleeding.")
    assert "patient_specific" not in {i.code for i in validate_extraction(_extraction(item)).from_critique[0].issues}


def test_generic_his_or_her_is_not_case_narrative():
    assert "case_narrative" not in _by_code("Each adult should keep his or her inhaler within reach at night.")
    assert "case_narrative" not in _by_code("An adult who stops smoking lowers his/her risk of cancer.")
    assert _by_code("Aspirin was stopped after his admission for gastrointestinal bleeding.")[
        "case_narrative"] == "warning"


def test_a_caveat_about_the_same_subject_is_one_fact():
    assert "multi_clause" not in _by_code("Serum ferritin rises in many inflammatory states, but it is not "
                                          "specific for iron overload.")
    assert "multi_clause" not in _by_code("Reye syndrome mostly affects children, although it has been described "
                                          "in adults.")
    assert _by_code("Gout can mimic cellulitis, but cellulitis does not cause crystals in joint fluid.")[
        "multi_clause"] == "warning"
    assert _by_code("Give intravenous fluids first; do not start vasopressors before volume repletion.")[
        "multi_clause"] == "warning"


def test_enumeration_counts_the_items_of_one_list():
    not_lists = (
        # the clause before the first item is not an item
        "In tinea versicolor, a skin scraping shows short hyphae, round spores, or both.",
        "In a superficial burn, the skin is dry, red or pink, and tender.",
        # the head of an example list is not an item
        "Loop diuretics, such as furosemide, bumetanide, and torsemide, can cause ototoxicity.",
        "Kawasaki disease can resemble measles, with fever, rash, and conjunctivitis.",
        "Clinically, fever, rash, and conjunctivitis suggest measles in an unvaccinated child.",
        # a list in parentheses is an aside
        "Aspirin-exacerbated disease (asthma, nasal polyps, rhinitis, and urticaria) needs a careful history.",
        # clauses and coordinate adjectives
        "Benign nodules often stay stable, with no growth over years, even when they are large.",
        "Oral examination shows a painless ulcer and a firm, raised, rolled border.",
        "Redness or scaling of the scalp, brows, or ears is common in seborrheic dermatitis.",
        "A second-degree burn has a wet, red or pink, blanching surface and may form a blister.",
        # a schedule with an aside
        "Imaging is repeated at 6 months, 2 years, and, if stable, every 3 years after that.",
    )
    for statement in not_lists:
        assert "enumeration" not in _by_code(statement), statement
    lists = (
        "Aspirin causes bleeding, gastritis, bronchospasm, tinnitus, and kidney injury in older adults.",
        "Trauma to the hand can injure skin, nerve, artery, tendon, ligament, or bone.",
        "Back pain from spinal stenosis worsens with standing, walking, extension, and downhill hiking.",
        "Metastases occur in the liver, in the lung, in the brain, and in bone.",
        # a semicolon list: items that hold commas
        "Late findings include anemia; swelling of the face, hands, or feet; itching; or confusion.",
    )
    for statement in lists:
        assert _by_code(statement)["enumeration"] == "warning", statement


def test_enumeration_in_a_table_row_is_its_content():
    row = TableStatement(statement="Gout (Sites: Toe, ankle, knee, wrist, finger; Test: joint aspiration)",
                         cloze_candidates=["Gout"], table_source="rmtab.html")
    validated = validate_extraction(_extraction(tables=(row,)))
    assert "enumeration" in {i.code for i in validated.table_statements[0].issues}


def test_a_repeated_footnote_mark_is_not_a_numbered_list():
    assert "numbered_list" not in _by_code("Spironolactone lowers mortality (a); eplerenone lowers admissions (a).")
    assert _by_code("Warfarin dosing depends on (a) age and (b) kidney function in adults.")[
        "numbered_list"] == "warning"


def test_a_short_complete_sentence_is_not_too_short():
    for statement in ("Mumps often causes orchitis.", "Loop diuretics may cause hypokalemia.",
                      "Hemophilia A mostly affects males.", "Achalasia presents with regurgitation."):
        assert "too_short" not in _by_code(statement), statement
    for statement in ("Aspirin works.", "Postrenal (Findings: bland sediment)", "Aspirin for recurrent infarction."):
        assert _by_code(statement)["too_short"] == "warning", statement
