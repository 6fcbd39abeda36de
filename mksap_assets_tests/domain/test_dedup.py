"""One card per fact: which statements merge, which survives, and the deck's Extra line."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mksap_assets.domain.exports import anki
from mksap_assets.domain.exports.anki import AnkiOptions, write_anki_export
from mksap_assets.domain.exports.dedup import (
    THRESHOLD,
    Statement,
    find_duplicates,
    near_pairs,
    normalise_for_match,
)
from mksap_assets.domain.exports.document import ExportDocument
from mksap_assets_tests.domain.test_anki import document, item, write_docs

REWORDED = (
    "Aspirin is indicated for secondary prevention after an ischemic stroke.",
    "Aspirin is indicated for secondary prevention after ischemic stroke.",
)


def st(question_id: str, text: str, answer: str, section: str = "critique", index: int = 0) -> Statement:
    return Statement(question_id, section, index, text, answer)


def merged_keys(statements: list[Statement]) -> set[frozenset[tuple[str, str, int]]]:
    return {frozenset((g.survivor.key, *(s.key for s in g.merged))) for g in find_duplicates(statements)}


def test_a_reworded_fact_with_the_same_answer_merges():
    first, second = st("cvmcq26001", REWORDED[0], "Aspirin"), st("cvmcq26002", REWORDED[1], "aspirin")
    [group] = find_duplicates([first, second])
    assert {group.survivor, *group.merged} == {first, second}
    assert group.scores[0] >= THRESHOLD


@pytest.mark.parametrize(("text", "answer", "why"), [
    ("Aspirin is not indicated for secondary prevention after an ischemic stroke.", "Aspirin", "negation"),
    ("Aspirin is never indicated for secondary prevention after an ischemic stroke.", "Aspirin", "negation"),
    ("Aspirin isn't indicated for secondary prevention after an ischemic stroke.", "Aspirin", "negation"),
    ("Aspirin is indicated for secondary prevention after an ischemic stroke.", "ischemic stroke", "answer"),
    ("Aspirin is indicated for primary prevention of myocardial infarction in diabetes.", "Aspirin", "other fact"),
])
def test_pairs_that_must_not_merge(text: str, answer: str, why: str):
    assert find_duplicates([st("cvmcq26001", REWORDED[0], "Aspirin"), st("cvmcq26002", text, answer)]) == [], why


def test_two_items_of_one_list_do_not_merge():
    # one word swapped outside the shared c1: similar wording, two facts
    first = st("a", "Sarcoidosis is characterized by hypercalcemia in some adults.", "Sarcoidosis")
    second = st("b", "Sarcoidosis is characterized by uveitis in some adults.", "Sarcoidosis")
    assert find_duplicates([first, second]) == [] and near_pairs([first, second], low=0) == []


def test_added_words_merge_and_inflections_count_as_the_same_word():
    first = st("a", "A stage 1 pressure injury is nonblanchable erythema of intact skin.", "stage 1")
    second = st("b", "A stage 1 pressure injury is characterized by nonblanchable erythema of intact skin.", "stage 1")
    [group] = find_duplicates([second, first])
    assert group.survivor == first and group.merged == (second,)
    # "reduces" / "helps reduce": without the stem each side would add a word, and they would stay apart
    third = st("c", "Statins lower LDL cholesterol, which reduces cardiovascular events.", "Statins")
    fourth = st("d", "Statins lower LDL cholesterol, which helps reduce cardiovascular events.", "Statins")
    [group] = find_duplicates([third, fourth])
    assert group.survivor == third and group.merged == (fourth,)


def test_numbers_and_comparators_must_agree():
    base = "Statin therapy is indicated when the LDL cholesterol level is ≥ 190 mg/dL."
    assert find_duplicates([st("a", base, "Statin therapy"),
                            st("b", base.replace("190", "160"), "Statin therapy")]) == []
    assert find_duplicates([st("a", base, "Statin therapy"),
                            st("b", base.replace("≥", "<"), "Statin therapy")]) == []
    # the same threshold written in words merges: comparators are normalised before comparing
    assert len(find_duplicates([st("a", base, "Statin therapy"),
                                st("b", base.replace("≥", "greater than or equal to"), "Statin therapy")])) == 1


def test_same_words_in_another_order_with_another_meaning_do_not_merge():
    # token_sort_ratio would score these 100; the c1 answers keep them apart
    first = st("a", "Hypokalemia causes metabolic alkalosis.", "metabolic alkalosis")
    second = st("b", "Metabolic alkalosis causes hypokalemia.", "hypokalemia")
    assert find_duplicates([first, second]) == []


def test_within_and_across_questions():
    critique = st("cvmcq26002", REWORDED[0], "Aspirin", "critique", 3)
    key_point = st("cvmcq26002", REWORDED[1], "Aspirin", "key_point", 0)
    other = st("cvmcq26001", REWORDED[1] + " ", "Aspirin", "table", 1)
    [group] = find_duplicates([critique, key_point, other])
    # fewest words first: the REWORDED[1] copies (9 words) beat the critique (10); then question id
    assert group.survivor == other and group.merged == (key_point, critique)
    assert group.other_questions == ("cvmcq26002",)
    [within] = find_duplicates([critique, key_point])
    assert within.survivor == key_point and within.other_questions == ()


def test_the_survivor_does_not_depend_on_input_order():
    statements = [
        st("gimcq26010", REWORDED[0], "Aspirin", "critique", 2),
        st("cvmcq26002", REWORDED[1], "Aspirin", "key_point", 0),
        st("cvmcq26001", REWORDED[1], "Aspirin", "table", 4),
        st("cvmcq26001", REWORDED[1], "Aspirin", "critique", 5),
        st("cvmcq26003", "Heparin is the first treatment of acute venous thromboembolism.", "Heparin"),
    ]
    results = {tuple(find_duplicates(list(order))) for order in itertools.permutations(statements)}
    [groups] = results
    [group] = groups
    assert group.survivor.key == ("cvmcq26001", "critique", 5)


def test_a_group_does_not_chain_to_another_fact():
    # a~b and b~c reach the threshold, a~c does not: c is compared with the survivor a only and stays its own card
    a = st("q1", "Aspirin reduces the risk of recurrent ischemic stroke in adults.", "Aspirin")
    b = st("q2", "Aspirin reduces the risk of recurrent ischemic stroke in older adults with diabetes.", "Aspirin")
    c = st("q3", "Aspirin reduces the risk of recurrent ischemic stroke in older adults with diabetes and heart "
           "failure.", "Aspirin")
    assert len(find_duplicates([b, c])) == 1 and find_duplicates([a, c]) == []
    [group] = find_duplicates([a, b, c])
    assert group.survivor == a and group.merged == (b,)


def test_normalisation():
    assert normalise_for_match("Eosinophils  > 0.5 × 109/L, don’t treat!") == "eosinophils > 0.5 10^9 l do not treat"
    assert normalise_for_match("LDL less than 70 mg/dL.") == normalise_for_match("ldl < 70 mg/dl")


def test_near_pairs_lie_under_the_threshold():
    first = st("a", "Aspirin reduces recurrent stroke risk.", "Aspirin")
    second = st("b", "Aspirin reduces recurrent stroke risk after an ischemic stroke in older adults.", "Aspirin")
    [pair] = near_pairs([first, second], low=40)
    assert 40 <= pair.score < THRESHOLD and find_duplicates([first, second]) == []


# ------------------------------------------------------------------------------------------------ the deck


def test_the_deck_keeps_the_survivor_with_its_guid_and_names_the_other_questions(tmp_path: Path):
    out = write_docs(
        tmp_path / "output",
        document("cvmcq26001", critique=[item(REWORDED[0], ["Aspirin"], blocked_by=[])]),
        document("cvmcq26002", critique=[item(REWORDED[1], ["Aspirin"], blocked_by=[]),
                                         item("Heparin treats acute venous thromboembolism first.", ["Heparin"],
                                              blocked_by=[])],
                 key_points=[item(REWORDED[1] + " ", ["Aspirin"], blocked_by=[])]),
        document("gimcq26010", critique=[item(REWORDED[0], ["Aspirin"], blocked_by=[])]),
    )
    summary = write_anki_export(out)
    notes = anki.collect_notes(anki.iter_exports(out), AnkiOptions(), anki.AnkiExportSummary(out, AnkiOptions()))
    survivor = next(n for n in notes if "Aspirin" in n.text)
    assert survivor.key == ("cvmcq26002", "critique", 0)
    assert survivor.guid == anki.statement_guid("cvmcq26002", "critique", REWORDED[1])
    assert survivor.extra.endswith("<div class=mksap-source>Also taught by: cvmcq26001, gimcq26010</div>")
    assert summary.notes == 2 and summary.merged == 3 and summary.skipped == {"merged_duplicate": 3}
    assert summary.per_system["cv"].notes == 2 and summary.per_system["gi"].notes == 0
    assert "merged_duplicate 3" in summary.render()
    unmerged = write_anki_export(out, AnkiOptions(merge_duplicates=False))
    assert unmerged.notes == 5 and unmerged.merged == 0


def test_notes_carry_the_statement_and_c1_answer_dedup_compares():
    doc = ExportDocument.model_validate(document("cvmcq26001", critique=[
        item(REWORDED[0], ["secondary prevention", "Aspirin"], blocked_by=[]),
    ]))
    [note], _, _ = anki.notes_from_document(doc)
    assert (note.statement, note.answer) == (REWORDED[0], "secondary prevention")
