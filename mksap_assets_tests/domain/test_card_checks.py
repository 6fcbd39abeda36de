"""Card checks (domain/validation/card_checks.py) on sentences written for these tests."""

from __future__ import annotations

import pytest

from mksap_assets.domain.validation.card_checks import (
    GIVEAWAY_ABBREVIATION,
    GIVEAWAY_CONVERSION,
    GIVEAWAY_EXAMPLE,
    GIVEAWAY_GLOSS,
    GIVEAWAY_LONG_FORM,
    GIVEAWAY_REPEATED,
    GIVEAWAY_SHARED_WORD,
    TRIVIAL_FRAGMENT,
    TRIVIAL_FUNCTION_WORD,
    TRIVIAL_GENERIC,
    TRIVIAL_PARTIAL_TERM,
    TRIVIAL_PARTICIPLE,
    TRIVIAL_ROW_NUMBER,
    abbreviation_definitions,
    c1_giveaways,
    c1_placement,
    card_metrics,
    case_narration,
    cloze_fault,
    negated_assertion,
    predicate_phrase,
    topic_blank,
    trivial_cloze,
    whole_term,
    words,
)

# -- words -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("Metformin is first-line therapy for type 2 diabetes.", 8),
        ("A serum sodium < 120 mEq/L (120 mmol/L) is severe hyponatremia.", 10),
        ("An 18-gauge catheter gives 5.6 L/min of flow at 150,000 cells.", 11),
        ("The patient's potassium is low.", 5),
        ("", 0),
    ],
)
def test_words_counts_words_and_numbers_not_punctuation(statement: str, expected: int) -> None:
    assert words(statement) == expected


# -- c1 give-aways -----------------------------------------------------------------------------------------------------


def _kinds(statement: str, clozes: list[str]) -> list[str]:
    return [g.kind for g in c1_giveaways(statement, clozes)]


def test_abbreviation_after_blanked_long_form_gives_c1_away() -> None:
    statement = "Primary sclerosing cholangitis (PSC) is strongly associated with ulcerative colitis."
    found = c1_giveaways(statement, ["sclerosing cholangitis"])
    assert [(g.kind, g.visible) for g in found] == [(GIVEAWAY_ABBREVIATION, "PSC")]


def test_long_form_of_blanked_abbreviation_gives_c1_away() -> None:
    statement = "Primary sclerosing cholangitis (PSC) is strongly associated with ulcerative colitis."
    found = c1_giveaways(statement, ["PSC"])
    assert [(g.kind, g.visible) for g in found] == [(GIVEAWAY_LONG_FORM, "Primary sclerosing cholangitis")]


def test_long_form_in_parentheses_after_blanked_abbreviation() -> None:
    statement = "Giant cell arteritis is treated with prednisone; GCA (giant cell arteritis) may cause blindness."
    assert GIVEAWAY_LONG_FORM in _kinds(statement, ["GCA"])


def test_lexicon_abbreviation_visible_elsewhere_gives_away_blanked_long_form() -> None:
    statement = "Chronic obstructive pulmonary disease is confirmed by spirometry; COPD exacerbations need steroids."
    assert _kinds(statement, ["Chronic obstructive pulmonary disease"]) == [GIVEAWAY_ABBREVIATION]


def test_a_c2_abbreviation_is_visible_on_card_one() -> None:
    statement = "Primary sclerosing cholangitis (PSC) is strongly associated with ulcerative colitis."
    assert _kinds(statement, ["sclerosing cholangitis", "PSC"]) == [GIVEAWAY_ABBREVIATION]


def test_abbreviation_and_long_form_in_one_blank_give_nothing_away() -> None:
    statement = "Primary sclerosing cholangitis (PSC) is strongly associated with ulcerative colitis."
    assert c1_giveaways(statement, ["Primary sclerosing cholangitis (PSC)", "ulcerative colitis"]) == []


def test_blanked_abbreviation_already_visible_elsewhere_is_no_long_form_giveaway() -> None:
    # "IBD" stands outside the blank anyway: the long form reveals nothing more, but the abbreviation shows a word
    # of the answer
    statement = "In inflammatory bowel disease (IBD), erythema nodosum usually resolves with IBD treatment."
    assert [(g.kind, g.visible) for g in c1_giveaways(statement, ["resolves with IBD treatment"])] == [
        (GIVEAWAY_SHARED_WORD, "ibd")]


@pytest.mark.parametrize(
    ("statement", "cloze", "word"),
    [
        # a word of the same stem as a word of the answer shows it
        ("Candida albicans causes most cases of vulvovaginal candidiasis.", "Candida albicans", "candida"),
        ("Urine albumin excretion above 30 mg/g defines albuminuria.", "albuminuria", "albuminuria"),
    ],
)
def test_a_word_of_the_same_stem_gives_c1_away(statement: str, cloze: str, word: str) -> None:
    assert (GIVEAWAY_SHARED_WORD, word) in [(g.kind, g.visible) for g in c1_giveaways(statement, [cloze])]


def test_words_that_only_begin_alike_are_no_giveaway() -> None:
    # "thrombo-" is 7 of "thrombosis"'s 10 letters: two words, not one stem
    assert c1_giveaways("Heparin can cause thrombocytopenia and, paradoxically, thrombosis.", ["thrombocytopenia"]) == []


def test_conversion_after_blanked_value_gives_c1_away() -> None:
    statement = "A fasting glucose of 5.6 mmol/L (100 mg/dL) or higher defines impaired fasting glucose."
    found = c1_giveaways(statement, ["5.6 mmol/L"])
    assert [(g.kind, g.visible) for g in found] == [(GIVEAWAY_CONVERSION, "(100 mg/dL)")]


def test_blanked_conversion_after_visible_value_gives_c1_away() -> None:
    statement = "A fasting glucose of 100 mg/dL (5.6 mmol/L) or higher defines impaired fasting glucose."
    assert _kinds(statement, ["5.6 mmol/L"]) == [GIVEAWAY_CONVERSION]


def test_value_and_conversion_in_one_blank_give_nothing_away() -> None:
    statement = "A fasting glucose of 5.6 mmol/L (100 mg/dL) or higher defines impaired fasting glucose."
    assert c1_giveaways(statement, ["5.6 mmol/L (100 mg/dL)"]) == []


def test_bracketed_remark_without_a_quantity_is_no_conversion() -> None:
    statement = "Start anticoagulation when the platelet count exceeds 50,000/µL (after transfusion if needed)."
    assert c1_giveaways(statement, ["50,000/µL"]) == []


def test_answer_repeated_outside_its_blank_gives_c1_away() -> None:
    statement = "Warfarin is reversed with vitamin K; warfarin overdose with bleeding also needs prothrombin complex."
    assert _kinds(statement, ["Warfarin"]) == [GIVEAWAY_REPEATED]


def test_answer_inside_a_longer_word_is_not_repeated() -> None:
    statement = "Men with hematuria need cystoscopy, as recommended by urology guidelines."
    assert c1_giveaways(statement, ["Men"]) == []


def test_clean_card_and_unplaceable_cloze_have_no_giveaway() -> None:
    statement = "Thiamine is given before glucose in suspected Wernicke encephalopathy."
    assert c1_giveaways(statement, ["Thiamine", "Wernicke encephalopathy"]) == []
    assert c1_giveaways(statement, ["not in the statement"]) == []
    assert c1_placement(statement, ["not in the statement"]) is None


def test_abbreviation_definitions_finds_both_orders() -> None:
    text = "Acute kidney injury (AKI) and SBP (spontaneous bacterial peritonitis) both occur."
    found = [(text[slice(*d.abbreviation)], text[slice(*d.long_form)]) for d in abbreviation_definitions(text)]
    assert found == [("AKI", "Acute kidney injury"), ("SBP", "spontaneous bacterial peritonitis")]


def test_parenthesised_words_that_do_not_spell_the_abbreviation_are_no_definition() -> None:
    assert abbreviation_definitions("Oral vancomycin (PO) is used for severe colitis.") == []


# -- case narration ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "cue"),
    [
        ("The patient's history of smoking raises the risk of bladder cancer.", "the_patients_own"),
        ("Colonoscopy is indicated in this patient.", "this_patient"),
        ("Fluids are needed in this acutely symptomatic patient.", "this_patient"),
        ("Renal function should be checked in our patient.", "our_patient"),
        ("A patient has no signs of hypercortisolism.", "a_patient_is_has"),
        ("Because a patient has not yet received antiemetics, ondansetron is reasonable.", "a_patient_is_has"),
        ("In patients with low risk, such as a patient, observation is enough.", "such_as_a_patient"),
        ("She was admitted with chest pain.", "admitted"),
        ("The woman presented with fever and neck stiffness.", "presented_with"),
        ("On examination, the spleen is enlarged and tender.", "on_examination"),
        ("Heparin was started on the second day.", "past_treatment"),
        ("Amiodarone (Option C) is not appropriate for this rhythm.", "answer_option"),
        ("Emergency surgery is incorrect because the leak is contained.", "answer_option"),
        ("Ceftriaxone is the correct answer for gonococcal urethritis.", "answer_option"),
        ("The patient had a normal echocardiogram.", "the_patient_past"),
    ],
)
def test_case_narration_hits(statement: str, cue: str) -> None:
    assert cue in case_narration(statement)


@pytest.mark.parametrize(
    "statement",
    [
        "Patients with atrial fibrillation and a high stroke risk should receive anticoagulation.",
        "If a patient has hypotension after fluids, norepinephrine is the first vasopressor.",
        "When renal function is poor, a patient is at higher risk of metformin-associated acidosis.",
        "A patient who has a penicillin allergy may receive a cephalosporin with a dissimilar side chain.",
        "In this setting, patients benefit from early mobilisation.",
        "The examiner flexes the patient's hip and knee to 90 degrees for the test.",
        "Patients typically present with painless jaundice.",
        "Lung examination findings are often normal in early pneumonia.",
        "An incorrect inhaler technique is a common cause of poor asthma control.",
    ],
)
def test_general_rules_are_no_case_narration(statement: str) -> None:
    assert case_narration(statement) == []


# -- trivial clozes ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cloze", "reason"),
    [
        ("the", TRIVIAL_FUNCTION_WORD),
        ("With", TRIVIAL_FUNCTION_WORD),
        ("repeated every", TRIVIAL_FRAGMENT),
        ("impair cardiac output despite", TRIVIAL_FRAGMENT),
        ("so clopidogrel", TRIVIAL_FRAGMENT),
        ("likely diagnosis", TRIVIAL_GENERIC),
        ("most appropriate initial", TRIVIAL_GENERIC),
        ("3", TRIVIAL_ROW_NUMBER),
        ("2.", TRIVIAL_ROW_NUMBER),
        ("Row 4", TRIVIAL_ROW_NUMBER),
        ("whenever possible", TRIVIAL_GENERIC),
        ("nonspecific abnormalities", TRIVIAL_GENERIC),
        ("one agent", TRIVIAL_GENERIC),
    ],
)
def test_trivial_clozes(cloze: str, reason: str) -> None:
    assert trivial_cloze(cloze) == reason


@pytest.mark.parametrize(
    "cloze",
    [
        "within 24 hours",
        "more than 90%",
        "not associated with weight gain",
        "the left anterior descending artery",
        "does not exclude cirrhosis",
        "not appropriate",
        "≥2 prior episodes of syncope (a)",
        "3 mg/kg",
        "Sarcoidosis",
    ],
)
def test_whole_answers_are_not_trivial(cloze: str) -> None:
    assert trivial_cloze(cloze) is None


# -- one card's figures ------------------------------------------------------------------------------------------------


def test_card_metrics_gathers_every_check() -> None:
    statement = "A patient has primary sclerosing cholangitis (PSC), which is repeated every year by MRCP."
    metrics = card_metrics(statement, ["sclerosing cholangitis", "repeated every", "absent"], "  ")
    assert metrics.words == 14
    assert metrics.clozes == 2  # "absent" is not in the statement
    assert metrics.has_extra_field is False
    assert metrics.case_narration == ("a_patient_is_has",)
    assert [g.kind for g in metrics.giveaways] == [GIVEAWAY_ABBREVIATION]
    assert metrics.trivial_clozes == (TRIVIAL_PARTIAL_TERM, TRIVIAL_FRAGMENT)  # "primary" stays outside c1
    assert card_metrics(statement, ["MRCP"], "Imaging of the bile ducts.").has_extra_field is True


@pytest.mark.parametrize(
    ("statement", "cloze", "gloss"),
    [
        ("Tinea pedis (athlete's foot) spreads in communal showers.", "Tinea pedis", "(athlete's foot)"),
        ("Give anticoagulation (heparin or a direct oral anticoagulant) for deep vein thrombosis.", "anticoagulation",
         "(heparin or a direct oral anticoagulant)"),
    ],
)
def test_gloss_right_after_the_blank_gives_c1_away(statement: str, cloze: str, gloss: str) -> None:
    assert (GIVEAWAY_GLOSS, gloss) in [(g.kind, g.visible) for g in c1_giveaways(statement, [cloze])]


@pytest.mark.parametrize(
    ("statement", "cloze"),
    [
        ("Decongestants such as sympathomimetic agents (e.g., oxymetazoline) cause rebound congestion.",
         "sympathomimetic agents"),
        ("The chest radiograph shows a pneumothorax (arrows) after line placement.", "pneumothorax"),
        ("Stage 3 (Description: loss of the full skin thickness) needs debridement.", "Stage 3"),
        ("Tinea pedis (athlete's foot) spreads in communal showers.", "Tinea pedis (athlete's foot)"),
    ],
)
def test_examples_figure_pointers_and_table_cells_are_no_gloss(statement: str, cloze: str) -> None:
    assert c1_giveaways(statement, [cloze]) == []


# -- a blank in its place: parts of terms, participles -------------------------------------------------------------


def _fault(statement: str, cloze: str) -> str | None:
    start = statement.index(cloze)
    return cloze_fault(statement, start, start + len(cloze))


@pytest.mark.parametrize(
    ("statement", "cloze"),
    [
        ("In the ischemia-guided approach, stress testing precedes discharge.", "ischemia"),  # inside a hyphenated word
        ("Atrial fibrillation raises the risk of stroke fivefold.", "Atrial"),  # inside a named term
        ("Metformin is first-line in diabetes mellitus with obesity.", "diabetes"),  # its tail left visible
        ("Screen adults with type 2 diabetes for albuminuria every year.", "diabetes"),  # "type 2" left visible
        ("Bloodier lavage aliquots confirm diffuse alveolar hemorrhage.", "hemorrhage"),  # its modifiers visible
        ("Reed-Sternberg cells define classic Hodgkin lymphoma.", "lymphoma"),  # an eponym
        ("JAK2 mutations are found in polycythemia vera.", "polycythemia"),  # a Latin epithet
        ("Glucocorticoids lead to a faster shock recovery.", "shock"),  # the modifier of the noun after it
        ("GLP-1 RAs lower the hemoglobin A1c by about one point.", "GLP-1"),  # an abbreviation after it
    ],
)
def test_part_of_a_term_is_a_partial_blank(statement: str, cloze: str) -> None:
    assert _fault(statement, cloze) == TRIVIAL_PARTIAL_TERM
    start, end = whole_term(statement, statement.index(cloze), statement.index(cloze) + len(cloze))
    assert cloze in statement[start:end]


def test_a_clause_cut_at_a_participle_is_flagged() -> None:
    statement = "Thrombosed capillaries manifesting as black dots are seen in common warts."
    assert _fault(statement, "capillaries manifesting") == TRIVIAL_PARTICIPLE
    assert _fault("A hydrocolloid or occlusive dressing covers a stage 2 ulcer.", "occlusive dressing") is None


@pytest.mark.parametrize(
    ("statement", "cloze"),
    [
        ("Topical nystatin treats cutaneous candidiasis.", "nystatin"),  # a route before a drug is no part of it
        ("Stop empagliflozin at least 3 days before surgery.", "at least 3 days"),  # a drug before a value
        ("Patients with type 2 diabetes mellitus need a yearly foot examination.", "type 2 diabetes mellitus"),
        ("Severe asthma may need biologic therapy.", "asthma"),  # a grading adjective is no part of the term
        ("Anticoagulation is withheld when aortic dissection is suspected.", "aortic dissection"),
    ],
)
def test_whole_terms_are_no_partial_blank(statement: str, cloze: str) -> None:
    assert _fault(statement, cloze) is None


# -- a word of the answer shown elsewhere (table rows naming their own subject) -------------------------------------


def test_a_row_that_names_its_own_subject_gives_c1_away() -> None:
    row = "Adults with cystic fibrosis (Screening: begin at age 40 years in cystic fibrosis)"
    assert [(g.kind, g.visible) for g in c1_giveaways(row, ["Adults with cystic fibrosis"])] == [
        (GIVEAWAY_SHARED_WORD, "cystic"), (GIVEAWAY_SHARED_WORD, "fibrosis")]
    assert _kinds("Lead poisoning follows exposure to lead paint.", ["Lead poisoning"]) == [GIVEAWAY_SHARED_WORD]


def test_units_comparators_and_grades_shared_with_the_answer_give_nothing_away() -> None:
    statement = "Hold dapagliflozin at least 3 days and ertugliflozin at least 4 days."
    assert c1_giveaways(statement, ["at least 3 days"]) == []
    assert c1_giveaways("Acute pancreatitis may follow acute cholangitis.", ["Acute pancreatitis"]) == []


def test_an_abbreviation_blanked_in_its_parenthesis_is_named_by_the_words_before() -> None:
    statement = "A potassium hydroxide (KOH) preparation shows fungal hyphae."
    giveaways = c1_giveaways(statement, ["KOH"])
    assert [(g.kind, g.visible) for g in giveaways] == [(GIVEAWAY_LONG_FORM, "A potassium hydroxide")]


def test_card_metrics_counts_a_partial_blank() -> None:
    metrics = card_metrics("Screen adults with type 2 diabetes for albuminuria.", ["diabetes"], None)
    assert metrics.trivial_clozes == (TRIVIAL_PARTIAL_TERM,)


# -- v4 classes: examples beside the blank, topic blanks, negated assertions ------------------------------------------


@pytest.mark.parametrize(
    ("statement", "cloze"),
    [
        ("Cellulitis is caused by bacterial infection, most commonly Streptococcus pyogenes.", "bacterial infection"),
        ("Like other forms of vasculitis, Takayasu arteritis responds to glucocorticoids.", "vasculitis"),
        ("Treatment with oral fluconazole, a triazole antifungal, cures most vaginal candidiasis.", "fluconazole"),
    ],
)
def test_examples_or_an_appositive_beside_the_blank_give_it_away(statement: str, cloze: str):
    assert GIVEAWAY_EXAMPLE in {g.kind for g in c1_giveaways(statement, [cloze])}


def test_a_remark_after_the_blank_is_no_example():
    statement = "The most common cause of hypercalcemia is primary hyperparathyroidism, especially in older women."
    assert GIVEAWAY_EXAMPLE not in {g.kind for g in c1_giveaways(statement, ["primary hyperparathyroidism"])}


def test_a_blank_on_the_topic_while_the_predicate_asserts_a_term_is_a_topic_blank():
    statement = "Severe gout is characterized by recurrent flares that may require hospital care."
    assert topic_blank(statement, (7, 11))  # "gout"
    start = statement.index("recurrent flares")
    assert not topic_blank(statement, (start, start + len("recurrent flares")))
    # a predicate that identifies its subject: blanking the subject is no topic blank
    assert not topic_blank("Warfarin is the anticoagulant of choice for mechanical heart valves.", (0, 8))


@pytest.mark.parametrize(
    ("statement", "phrase"),
    [
        ("Severe gout is characterized by recurrent flares that may require hospital care.", "recurrent flares"),
        ("Asthma is characterized by a reduced FEV1/FVC ratio coupled with bronchodilator response.",
         "reduced FEV1/FVC ratio"),
        ("Bacterial vaginosis presents with a thin, malodorous discharge.", "thin, malodorous discharge"),
        ("Glucocorticoids are associated with a faster recovery and a decrease in length of stay.", "faster recovery"),
        ("Gout is common in older men.", None),
        # a decimal is no sentence end
        ("COPD is defined by an FEV1/FVC ratio < 0.70 after bronchodilator.", "FEV1/FVC ratio < 0.70"),
        # "the <role> of X is {Y}": a noun or adjective after the copula, not a participle or "similar to"
        ("The initial management of contact dermatitis is removal of the allergen.", "removal of the allergen"),
        ("The urine sediment of prerenal azotemia is bland.", "bland"),
        ("The severity of obstruction is determined by the FEV1.", None),
        ("Treatment of mild disease is similar to treatment of severe disease.", None),
    ],
)
def test_predicate_phrase_is_the_noun_phrase_the_predicate_asserts(statement: str, phrase: str | None):
    span = predicate_phrase(statement)
    assert (statement[span[0]:span[1]] if span else None) == phrase


@pytest.mark.parametrize(
    ("statement", "negated"),
    [
        ("Recent vaccination is not a typical risk factor for sarcoidosis.", True),
        ("ERCP is no longer used in gallstone pancreatitis.", True),
        ("Topical nystatin is ineffective against dermatophytes.", True),
        ("FIB-4 is reasonable if there is no clinical evidence of cirrhosis.", False),  # a condition's negation
        ("Candidiasis occurs in patients with no risk factors.", False),  # "with no" describes
    ],
)
def test_negated_assertion_is_a_negation_of_the_main_clause(statement: str, negated: bool):
    assert (negated_assertion(statement) is not None) == negated
