"""Statement identity across re-extraction (exports/identity.py): a reworded rerun keeps each fact's id, a split keeps
it on the closer half, a dropped statement is retired (and can come back), a new one gets a new id, and two items
of one list never take each other's id."""

from __future__ import annotations

from mksap_assets.domain.exports.document import ExportDocument, statement_ids
from mksap_assets.domain.exports.identity import (
    Candidate,
    assign_ids,
    similarity,
    statement_guid,
)
from mksap_assets.domain.statements import (
    CheckedStatement,
    ValidatedStatements,
    ValidationSummary,
)

QUESTION = "cvmcq26001"
FIRST = [
    ("Apixaban dose is reduced to 2.5 mg twice daily when two of three criteria are present.", "2.5 mg twice daily"),
    ("Aspirin is not an acceptable alternative to oral anticoagulation in atrial fibrillation.", "Aspirin"),
    ("Rhabdomyolysis is a cause of hyperkalemia.", "hyperkalemia"),
    ("Warfarin requires INR monitoring and dietary counseling about vitamin K intake.", "INR monitoring"),
    ("Dabigatran is a direct thrombin inhibitor.", "direct thrombin inhibitor"),
]


def _previous(texts=FIRST) -> list[Candidate]:
    return [Candidate("critique", text, answer, statement_guid(QUESTION, "critique", text)) for text, answer in texts]


def _new(*items: tuple[str, str]) -> list[Candidate]:
    return [Candidate("critique", text, answer) for text, answer in items]


def test_a_reworded_rerun_keeps_every_id_in_any_order():
    previous = _previous()
    reworded = _new(
        ("Direct thrombin inhibition is the mechanism of dabigatran.", "direct thrombin inhibitor"),
        ("In atrial fibrillation, aspirin is not an acceptable substitute for oral anticoagulation.", "aspirin"),
        ("When two of the three criteria are present, the apixaban dose is lowered to 2.5 mg twice daily.",
         "2.5 mg twice daily"),
        ("Hyperkalemia can be caused by rhabdomyolysis.", "Hyperkalemia"),
        ("Patients taking warfarin need INR monitoring and counseling on dietary vitamin K.", "INR monitoring"),
    )
    assignment = assign_ids(QUESTION, reworded, previous)
    assert assignment.ids == [previous[i].id for i in (4, 1, 0, 2, 3)]
    assert assignment.unmatched == [] and assignment.inherited == 5


def test_a_split_keeps_the_id_on_the_closer_half_and_the_other_half_is_new():
    previous = _previous()
    split = _new(("Warfarin requires INR monitoring.", "INR monitoring"),
                 ("Patients taking warfarin need dietary counseling about vitamin K.", "vitamin K"))
    assignment = assign_ids(QUESTION, split, previous[3:4])
    assert assignment.ids[0] == previous[3].id and assignment.ids[1] != previous[3].id


def test_a_dropped_statement_is_unmatched_and_an_added_one_is_new():
    previous = _previous()
    rerun = _new(FIRST[0], FIRST[1], FIRST[3], FIRST[4],
                 ("Edoxaban should be avoided when creatinine clearance exceeds 95 mL/min.", "Edoxaban"))
    assignment = assign_ids(QUESTION, rerun, previous)
    assert assignment.unmatched == [2]  # rhabdomyolysis: retired
    assert assignment.ids[:4] == [previous[i].id for i in (0, 1, 3, 4)]
    assert assignment.ids[4] not in {c.id for c in previous}


def test_two_items_of_one_list_never_share_an_id():
    cause_a = Candidate("critique", "Rhabdomyolysis is a cause of hyperkalemia.", "hyperkalemia", "a")
    cause_b = Candidate("critique", "Tumor lysis syndrome is a cause of hyperkalemia.", "hyperkalemia")
    one_a = Candidate("critique", "One indication for a central catheter is hemodynamic monitoring.",
                      "hemodynamic monitoring", "b")
    one_b = Candidate("critique", "One indication for a central catheter is caustic medications.",
                      "caustic medications")
    assert similarity(cause_b, cause_a) == 0 and similarity(one_b, one_a) == 0
    assignment = assign_ids(QUESTION, [cause_b, one_b], [cause_a, one_a])
    assert assignment.inherited == 0 and assignment.unmatched == [0, 1]


def test_contradicting_numbers_are_different_facts():
    old = Candidate("critique", "Metformin is contraindicated when eGFR is below 30 mL/min/1.73 m2.", "below 30", "x")
    new = Candidate("critique", "Metformin is contraindicated when eGFR is below 45 mL/min/1.73 m2.", "below 45")
    assert similarity(new, old) == 0


def test_the_same_text_twice_gets_two_ids():
    assignment = assign_ids(QUESTION, _new(FIRST[4], FIRST[4]), [])
    assert len(set(assignment.ids)) == 2 and assignment.ids[0] == statement_guid(QUESTION, "critique", FIRST[4][0])


# -- through the export document -------------------------------------------------------------------------------------


def _validated(texts: list[tuple[str, str]]) -> ValidatedStatements:
    summary = ValidationSummary(statements=len(texts), statements_passed=len(texts), pass_rate=1.0, errors=0,
                                warnings=0, infos=0, validator_version="6")
    return ValidatedStatements(
        question_id=QUESTION, tables_processed=0, tables_skipped=0, validation=summary, from_key_points=[],
        table_statements=[], from_critique=[CheckedStatement(statement=t, cloze_candidates=[a]) for t, a in texts])


def _exported(texts: list[tuple[str, str]], previous: ExportDocument | None, stamp: str) -> ExportDocument:
    ids, retired = statement_ids(_validated(texts), previous, stamp)
    return ExportDocument.model_validate({
        "question_id": QUESTION, "retired_statements": retired,
        "true_statements": {"from_critique": [{"id": ids[("from_critique", i)], "statement": t,
                                               "cloze_candidates": [a]} for i, (t, a) in enumerate(texts)]}})


def test_an_export_before_ids_keeps_its_note_guids_and_a_retired_statement_can_come_back():
    legacy = ExportDocument.model_validate({"question_id": QUESTION, "true_statements": {"from_critique": [
        {"statement": t, "cloze_candidates": [a]} for t, a in FIRST]}})
    first = _exported(FIRST, legacy, "t1")
    assert [s.id for s in first.true_statements.from_critique] == [c.id for c in _previous()]
    second = _exported(FIRST[:2] + FIRST[3:], first, "t2")
    assert [(r.id, r.statement, r.section, r.retired_at) for r in second.retired_statements] == [
        (_previous()[2].id, FIRST[2][0], "critique", "t2")]
    third = _exported(FIRST[:2] + FIRST[3:], second, "t3")  # still retired, since t2
    assert [(r.id, r.retired_at) for r in third.retired_statements] == [(_previous()[2].id, "t2")]
    back = _exported(FIRST, third, "t4")
    assert [s.id for s in back.true_statements.from_critique] == [c.id for c in _previous()]
    assert back.retired_statements == []


def test_an_unchanged_rerun_keeps_every_id():
    first = _exported(FIRST, None, "t1")
    again = _exported(FIRST, first, "t2")
    assert [s.id for s in again.true_statements.from_critique] == [s.id for s in first.true_statements.from_critique]


def test_a_range_is_one_number_and_digits_in_names_are_not_numbers():
    from mksap_assets.domain.exports.identity import number_values

    assert number_values("An FEV1 of 35-49% of predicted, 3 to 5 minutes, 1,000 mg") == {"35-49", "3-5", "1000"}
    severe = Candidate("table", "On spirometry, an FEV1 of 35-49% of predicted indicates severe impairment.",
                       "severe impairment", "x")
    very = Candidate("table", "An FEV1 below 35% of predicted indicates very severe impairment.", "very severe impairment")
    assert similarity(very, severe) == 0


def test_a_statement_that_no_longer_says_the_old_answer_is_another_fact():
    item = Candidate("critique", "One patient factor on which hemoglobin A1c goals may vary is life expectancy.",
                     "life expectancy", "x")
    general = Candidate("critique", "Individualized hemoglobin A1c goals may vary based on patient factors.",
                        "patient factors")
    assert similarity(general, item) == 0
    moved = Candidate("critique", "Life expectancy is one patient factor on which hemoglobin A1c goals may vary.",
                      "patient factor")
    assert similarity(moved, item) >= 70  # the cloze moved, the fact did not


def test_an_abbreviation_and_its_long_form_are_the_same_words():
    old = Candidate("critique", "The American College of Gastroenterology favors the MELD score over the Maddrey "
                    "discriminant function score.", "MELD score", "x")
    new = Candidate("critique", "The American College of Gastroenterology prefers the Model for End-Stage Liver "
                    "Disease score to the Maddrey discriminant function score.", "Model for End-Stage Liver Disease score")
    assert similarity(new, old) >= 70
