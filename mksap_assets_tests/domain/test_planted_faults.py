"""The planted-fault suite: faults planted into the offline statements of the bundled sample questions must be
caught (recall ≥ 95%), and the unaltered statements must raise no error (≥ 98% error-free).

Each case changes one statement in one way a generator can get wrong: a number, a unit, a negation, a
comparator, a drug or a disease that the source never names, an invented word in place of an ordinary one (built on
a drug stem, "zorvatinib", or on none, "blorvex"), a cloze candidate that is not in the statement, "this patient", an
"(Option B)" citation. The replacement drugs and diseases are common internal-medicine names
picked from the lists below (the first one the question's source does not mention). A fault counts as caught when
the altered statement gets an *error* with one of the codes expected for its kind, validated without the
auto-fixer (with it, "(Option B)" is repaired and the repair recorded: tested separately).

A second, harder suite (needs the real corpus, read at run time) plants the same faults into the original system's
stored statements: LLM paraphrases of the critique rather than copies of its sentences. Only statements whose
text raises no error before the fault are used (their extra_field is left out, their cloze candidates are kept
when they are substrings), at most three per question, section and kind.

A third suite (needs ../shared/model_responses, read at run time) plants a changed number, a flipped negation, a
swapped drug or disease, an invented drug-like word and an invented word with no drug stem into the statements a
language model wrote offline to this project's extraction requests for the corpus questions (only statements whose
text raises no error before the fault; at most three per question, section and kind).

`planted_report()` prints the tables in docs/VALIDATION.md (`python benchmarks/validation_report.py planted`).
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import orjson
import pytest

from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.domain.inputs.bank import (
    RawQuestion,
    discover_questions,
    load_raw_question,
)
from mksap_assets.domain.nlp.analysis import analyse_question, section_texts
from mksap_assets.domain.nlp.english_words import is_english_word
from mksap_assets.domain.nlp.lexicon import find_terms, medical_word, word_kind
from mksap_assets.domain.nlp.rules import find_quantities
from mksap_assets.domain.statements import Extraction, Statement
from mksap_assets.domain.text import normalise_comparators
from mksap_assets.domain.validation import check_statement, validate_extraction
from mksap_assets.domain.validation.grounding import STOP_WORDS, QuestionSources
from mksap_assets_tests.conftest import CORPUS_DIR, SAMPLE_DIR

MIN_CASES = 60
MIN_RECALL = 0.95
MIN_COPIED_RECALL = 0.98  # statements that copy source sentences: the diff is exact
MIN_CLEAN_RATE = 0.98
MIN_PARAPHRASED_RECALL = 0.95
PARAPHRASED_PER_KIND = 3
MIN_MODEL_RESPONSE_RECALL = 0.95
MODEL_RESPONSE_KINDS = (
    "number_changed", "negation_removed", "negation_added", "drug_invented", "disease_invented", "coinage_substituted",
    "nonword_substituted",
)

INVENTED_DRUGS = (
    "metoprolol", "lisinopril", "atorvastatin", "gabapentin", "levothyroxine", "omeprazole", "amlodipine",
    "clopidogrel", "tamsulosin", "rivaroxaban", "methotrexate", "hydroxychloroquine", "spironolactone",
    "ceftriaxone", "vancomycin", "prednisone", "furosemide", "insulin glargine",
)
INVENTED_DISEASES = (
    "sarcoidosis", "hemochromatosis", "pancreatitis", "multiple myeloma", "celiac disease", "myasthenia gravis",
    "tuberculosis", "endocarditis", "hypothyroidism", "Cushing syndrome", "aortic stenosis", "gout",
)
# Invented names built on stems of international nonproprietary names (-tinib, -amide, -apine, -zumab …): not in any
# source, not English words. One is picked per statement (by a checksum of its text), so the suite uses many.
INVENTED_COINAGES = (
    "zorvatinib", "plexamide", "cendrapine", "travolizumab", "dorafungin", "bexotrexate", "lumiquine", "sarvodone",
    "quelaprazole", "vintorsartan", "melcovastatin", "tafloxetine", "corbiprofen", "pelmacillin", "rexomycin",
    "zantolol", "dalvogliflozin", "oxaltrelix", "vemuciclib", "tebrazomib", "larnaparib", "quinavaptan", "surafenac",
    "telborphine", "mirotocin", "cabrelisib", "ventriptyline", "fosquadipine", "nelvocaine", "ribaxaban",
)
# Invented words with no stem of a drug name (written for this suite): brand-like names and plain pronounceable
# non-words. None is an English word, a lexicon term (no drug, disease or test suffix) or built from medical roots
# (test_the_invented_non_words_are_no_known_words); only the English word list tells them from real words.
INVENTED_NON_WORDS = (
    "blorvex", "quenatrol", "zylentra", "dravolin", "tesmarin", "corvadex", "plenzira", "vastrelle", "nuvaxor",
    "kelbrisant", "mardovane", "solquenta", "brevantil", "trisolen", "fexmora", "gantrelle", "lumerax", "ostravin",
    "pelquinor", "relvasta", "morvath", "plendrick", "sclandel", "travenor", "vornical", "drubbet", "flemmish",
    "quorble", "snavelt", "grindow", "palterick", "brunsel", "clavorn", "dremling", "fostrow", "keldane",
)
UNIT_SWAPS = {
    "mg": "g", "g": "mg", "mL": "L", "L": "mL", "mg/dL": "mmol/L", "mmol/L": "mg/dL", "mEq/L": "mg/dL",
    "hours": "days", "hour": "day", "days": "weeks", "weeks": "months", "months": "years", "%": " mg",
    "mm Hg": "cm H2O", "kg": "g", "mL/min": "mL/h", "g/dL": "mg/dL", "mL/kg": "mg/kg", "minutes": "hours",
    "years": "months", "mg/d": "g/d", "g/kg": "mg/kg",
}
COMPARATOR_SWAPS = (
    ("≥", "≤"), ("≤", "≥"), ("<", ">"), (">", "<"), ("at least", "at most"), ("below", "above"),
    ("above", "below"), ("or higher", "or lower"), ("or greater", "or less"), ("or older", "or younger"),
    ("or less", "or more"), ("more than", "less than"), ("up to", "at least"), ("older than", "younger than"),
)
EXPECTED = {
    "number_changed": {"number_not_in_source"},
    "unit_changed": {"unit_mismatch", "unit_incomplete"},
    "negation_removed": {"negation_mismatch", "negation_dropped", "polarity_mismatch"},
    "negation_added": {"negation_mismatch", "negation_unsupported", "polarity_mismatch"},
    "comparator_flipped": {"comparator_mismatch", "comparator_not_in_source", "polarity_mismatch"},
    "drug_invented": {"term_not_in_source", "term_substituted"},
    "disease_invented": {"term_not_in_source", "term_substituted"},
    "coinage_substituted": {"term_not_in_source", "term_substituted"},
    "nonword_substituted": {"unknown_word_substituted", "unknown_word", "term_substituted"},
    "drug_added": {"term_not_in_source"},
    "disease_added": {"term_not_in_source"},
    "cloze_not_substring": {"cloze_not_in_statement"},
    "this_patient": {"patient_specific"},
    "option_citation": {"option_citation"},
}
KINDS = tuple(EXPECTED)


@dataclass(frozen=True)
class Case:
    question_id: str
    section: str
    index: int
    kind: str
    original: Statement
    altered: Statement


@dataclass
class Question:
    raw: RawQuestion
    extraction: Extraction
    sources: QuestionSources

    def source_for(self, section: str):
        return self.sources.critique if section == "from_critique" else self.sources.key_points

    def source_text(self, section: str) -> str:
        return self.raw.critique if section == "from_critique" else "\n".join(self.raw.key_points)


def _question(raw: RawQuestion, extraction: Extraction) -> Question:
    texts = section_texts(raw)
    tables = {k.removeprefix("table:"): v for k, v in texts.items() if k.startswith("table:")}
    return Question(raw, extraction, QuestionSources(raw.critique, list(raw.key_points), tables, analyse_question(raw)))


@cache
def sample_questions() -> tuple[Question, ...]:
    extractor = OfflineExtractor()
    questions = []
    for question_file in discover_questions(SAMPLE_DIR):
        raw = load_raw_question(question_file)
        questions.append(_question(raw, asyncio.run(extractor.extract(raw))))
    return tuple(questions)


def reference_extraction(document: dict) -> Extraction:
    """The original system's stored statements (keys it added, such as final_clozes, dropped)."""
    return Extraction.from_document(document, extractor="original", prompt_version="original")


@cache
def reference_questions(corpus: Path = CORPUS_DIR) -> tuple[Question, ...]:
    questions = []
    for question_file in discover_questions(corpus):
        document = orjson.loads(question_file.path.read_bytes())
        if "true_statements" in document:
            questions.append(_question(load_raw_question(question_file), reference_extraction(document)))
    return tuple(questions)


# -- fault generators: each returns the altered statement text (and clozes), or None when not applicable ------


def _with(item: Statement, statement: str, old: str | None = None, new: str | None = None) -> Statement:
    clozes = [c.replace(old, new) if old and old in c else c for c in item.cloze_candidates]
    return Statement(statement=statement, extra_field=item.extra_field, cloze_candidates=clozes)


def _source_values(text: str) -> set[str]:
    return {q.value for q in find_quantities(text)}


def number_changed(item: Statement, source: str) -> Statement | None:
    used = _source_values(source)
    for q in find_quantities(item.statement):
        if q.is_word or "," in item.statement[q.start:q.end]:
            continue
        raw = item.statement[q.start:q.end]
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        for factor, offset in ((2, 0), (1, 1), (3, 0), (1, 7)):
            value = float(raw) * factor + offset
            new = f"{value:.{decimals}f}"
            if new not in used and str(float(new)).rstrip("0").rstrip(".") not in used:
                text = item.statement[:q.start] + new + item.statement[q.end:]
                return _with(item, text, item.statement[q.expr_start:q.expr_end],
                             text[q.expr_start:q.expr_end + len(new) - len(raw)])
    return None


def unit_changed(item: Statement, source: str) -> Statement | None:
    source_quantities = find_quantities(source)
    for q in find_quantities(item.statement):
        if not q.unit or q.is_word:
            continue
        unit_text = item.statement[q.end:q.expr_end].strip()
        swap = UNIT_SWAPS.get(unit_text)
        if not swap:
            continue
        altered_expr = item.statement[q.expr_start:q.end] + " " + swap.strip()
        new_unit = find_quantities(altered_expr)[-1].unit if find_quantities(altered_expr) else None
        if any(s.value == q.value and s.unit == new_unit for s in source_quantities):
            continue
        unit_start = q.end + (len(item.statement[q.end:q.expr_end]) - len(item.statement[q.end:q.expr_end].lstrip()))
        swap = swap.strip() if unit_start > q.end else swap
        text = item.statement[:unit_start] + swap + item.statement[q.expr_end:]
        return _with(item, text, item.statement[q.expr_start:q.expr_end], text[q.expr_start:unit_start + len(swap)])
    return None


def negation_removed(item: Statement, source: str) -> Statement | None:
    text = item.statement
    for pattern, replacement in (
        (r"\bis not\b", "is"), (r"\bare not\b", "are"), (r"\bshould not\b", "should"), (r"\bdoes not\b", "does"),
        (r"\bdid not\b", "did"), (r"\bhas not\b", "has"), (r"\bcontraindicated\b", "indicated"),
        (r"\bnot\b ", ""), (r"\bno\b ", ""), (r"\bwithout\b", "with"),
    ):
        if re.search(pattern, text):
            return _with(item, re.sub(pattern, replacement, text, count=1))
    return None


def negation_added(item: Statement, source: str) -> Statement | None:
    text = item.statement
    for pattern, replacement in ((r"\bis\b(?! not)", "is not"), (r"\bare\b(?! not)", "are not"),
                                 (r"\bshould\b(?! not)", "should not"), (r"\bcan\b(?! not)", "cannot"),
                                 (r"\bmay\b(?! not)", "may not")):
        if re.search(pattern, text):
            return _with(item, re.sub(pattern, replacement, text, count=1))
    return None


def comparator_flipped(item: Statement, source: str) -> Statement | None:
    text = item.statement
    for old, new in COMPARATOR_SWAPS:
        pattern = re.escape(old) + r"(?=\s?(?:roughly\s|about\s)?\d)" if old in "≥≤<>" or old in (
            "at least", "below", "above", "more than", "up to", "older than") else r"(?<=\d)[^.;]{0,12}?\b" + re.escape(old)
        match = re.search(pattern if old not in ("or higher", "or greater", "or older", "or less") else
                          r"\b" + re.escape(old) + r"\b", text)
        if match:
            start, end = match.span()
            segment = text[start:end].replace(old, new)
            altered = text[:start] + segment + text[end:]
            return _with(item, altered, text[start:end], segment)
    return None


def _replace_term(item: Statement, source: str, kinds: set[str], pool: tuple[str, ...]) -> Statement | None:
    lowered = source.lower()
    replacement = next((name for name in pool if name.lower() not in lowered), None)
    if replacement is None:
        return None
    for term in find_terms(item.statement):
        if term.kind in kinds:
            new = replacement[:1].upper() + replacement[1:] if term.text[:1].isupper() else replacement
            text = item.statement[:term.start] + new + item.statement[term.end:]
            return _with(item, text, term.text, new)
    return None


def drug_invented(item: Statement, source: str) -> Statement | None:
    return _replace_term(item, source, {"drug"}, INVENTED_DRUGS)


def disease_invented(item: Statement, source: str) -> Statement | None:
    return _replace_term(item, source, {"disease"}, INVENTED_DISEASES)


def _coined(item: Statement, source: str, names: tuple[str, ...]) -> Statement | None:
    """An invented word (one of `names`, picked by a checksum of the statement) replaces the first content word of
    the statement that the source uses and that is not a named term."""
    lowered = source.lower()
    pool = [name for name in names if name not in lowered]
    if not pool:
        return None
    coined = pool[zlib.crc32(item.statement.encode()) % len(pool)]
    terms = find_terms(item.statement)
    for match in re.finditer(r"[A-Za-z]{4,}", item.statement):
        word = match.group(0)
        if word.lower() in STOP_WORDS or any(t.start < match.end() and match.start() < t.end for t in terms):
            continue
        if not re.search(rf"\b{re.escape(word.lower())}\b", lowered):
            continue
        new = coined.capitalize() if word[0].isupper() else coined
        return _with(item, item.statement[:match.start()] + new + item.statement[match.end():], word, new)
    return None


def coinage_substituted(item: Statement, source: str) -> Statement | None:
    """An invented drug-like word (an INN stem: "zorvatinib") replaces a content word that is not a named term."""
    return _coined(item, source, INVENTED_COINAGES)


def nonword_substituted(item: Statement, source: str) -> Statement | None:
    """An invented word with no drug stem ("blorvex", "plendrick") replaces a content word that is not a named
    term."""
    return _coined(item, source, INVENTED_NON_WORDS)


def _append_before_period(item: Statement, phrase: str) -> Statement | None:
    text = item.statement.rstrip()
    if not text.endswith("."):
        return None
    return _with(item, text[:-1] + phrase + ".")


def drug_added(item: Statement, source: str) -> Statement | None:
    drug = next((name for name in INVENTED_DRUGS[::-1] if name not in source.lower()), None)
    return _append_before_period(item, f", together with {drug}") if drug else None


def disease_added(item: Statement, source: str) -> Statement | None:
    disease = next((name for name in INVENTED_DISEASES[::-1] if name.lower() not in source.lower()), None)
    return _append_before_period(item, f" in patients with {disease}") if disease else None


def cloze_not_substring(item: Statement, source: str) -> Statement | None:
    if not item.cloze_candidates:
        return None
    first = item.cloze_candidates[0]
    for altered in (first + " therapy", first + "s", "the " + first):
        if altered not in item.statement:
            return Statement(statement=item.statement, extra_field=item.extra_field,
                             cloze_candidates=[altered, *item.cloze_candidates[1:]])
    return None


def this_patient(item: Statement, source: str) -> Statement | None:
    text = item.statement
    if re.search(r"\ba patient\b", text):
        return _with(item, re.sub(r"\ba patient\b", "this patient", text, count=1))
    return _with(item, "In this patient, " + text[:1].lower() + text[1:])


def option_citation(item: Statement, source: str) -> Statement | None:
    text = item.statement.rstrip()
    if not text.endswith("."):
        return None
    return _with(item, text[:-1] + " (Option B).")


GENERATORS = {kind: globals()[kind] for kind in KINDS}


@cache
def planted_cases() -> tuple[Case, ...]:
    """At most one case per question, section and kind: the first statement the fault applies to."""
    cases = []
    for question in sample_questions():
        for section in ("from_critique", "from_key_points"):
            source = question.source_text(section)
            for kind, generator in GENERATORS.items():
                for index, item in enumerate(getattr(question.extraction, section)):
                    altered = generator(item, source)
                    if altered is not None and altered.statement != item.statement or (
                        altered is not None and altered.cloze_candidates != item.cloze_candidates
                    ):
                        cases.append(Case(question.raw.question_id, section, index, kind, item, altered))
                        break
    return tuple(cases)


def _model_statement(item: dict) -> Statement:
    """A model-written statement as the extractor stores it (comparator phrases as symbols, clozes too)."""
    clozes = [item["cloze_primary"], *item.get("cloze_secondary", [])]
    return Statement(statement=normalise_comparators(item["statement"]),
                     cloze_candidates=[normalise_comparators(c) for c in clozes])


@cache
def model_response_questions(corpus: Path = CORPUS_DIR) -> tuple[Question, ...]:
    """The corpus questions with the statements a language model wrote offline to this project's extraction
    requests (../shared/model_responses; critique and key points)."""
    responses = corpus.parent / "model_responses"
    questions = []
    for question_file in discover_questions(corpus):
        path = responses / f"{question_file.question_id}.json"
        if not path.is_file():
            continue
        document = orjson.loads(path.read_bytes())
        extraction = Extraction(
            question_id=question_file.question_id, extractor="model_responses", model=None,
            prompt_version="model_responses",
            from_critique=[_model_statement(i) for i in (document.get("critique") or {}).get("statements", [])],
            from_key_points=[_model_statement(i) for i in (document.get("key_points") or {}).get("statements", [])],
            table_statements=[], tables_processed=0, tables_skipped=0,
        )
        questions.append(_question(load_raw_question(question_file), extraction))
    return tuple(questions)


@cache
def paraphrased_cases(corpus: Path = CORPUS_DIR) -> tuple[Case, ...]:
    """Faults planted into the original system's statements whose text raises no error before the fault."""
    return _cases_without_prior_errors(reference_questions(corpus), KINDS)


@cache
def model_response_cases(corpus: Path = CORPUS_DIR) -> tuple[Case, ...]:
    """Faults planted into the model-written statements whose text raises no error before the fault."""
    return _cases_without_prior_errors(model_response_questions(corpus), MODEL_RESPONSE_KINDS)


def _cases_without_prior_errors(questions: tuple[Question, ...], kinds: tuple[str, ...]) -> tuple[Case, ...]:
    cases = []
    for question in questions:
        for section in ("from_critique", "from_key_points"):
            source, text = question.source_for(section), question.source_text(section)
            for kind in kinds:
                generator = GENERATORS[kind]
                found = 0
                for index, stored in enumerate(getattr(question.extraction, section)):
                    item = Statement(statement=stored.statement,
                                     cloze_candidates=[c for c in stored.cloze_candidates if c in stored.statement])
                    if any(i.severity == "error" for i in check_statement(item, source)):
                        continue
                    altered = generator(item, text)
                    if altered is None or (altered.statement == item.statement
                                           and altered.cloze_candidates == item.cloze_candidates):
                        continue
                    cases.append(Case(question.raw.question_id, section, index, kind, item, altered))
                    found += 1
                    if found == PARAPHRASED_PER_KIND:
                        break
    return tuple(cases)


def _find_question(question_id: str) -> Question:
    corpus = (*reference_questions(), *model_response_questions()) if CORPUS_DIR.is_dir() else ()
    for question in (*sample_questions(), *corpus):
        if question.raw.question_id == question_id:
            return question
    raise KeyError(question_id)


def caught(case: Case) -> bool:
    source = _find_question(case.question_id).source_for(case.section)
    errors = {i.code for i in check_statement(case.altered, source) if i.severity == "error"}
    return bool(errors & EXPECTED[case.kind])


def unaltered_results() -> tuple[int, int]:
    """(statements, statements with no error) over the sample questions, validated in full."""
    total = clean = 0
    for question in sample_questions():
        validated = validate_extraction(question.extraction, question.raw)
        for _, _, item in validated.checked():
            total += 1
            clean += not any(i.severity == "error" for i in item.issues)
    return total, clean


def _recall_table(cases: tuple[Case, ...]) -> list[str]:
    by_kind: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for case in cases:
        by_kind[case.kind] += 1
        hits[case.kind] += caught(case)
    lines = ["| fault | cases | caught | recall |", "|---|---|---|---|"]
    for kind in KINDS:
        if by_kind[kind]:
            lines.append(f"| {kind} | {by_kind[kind]} | {hits[kind]} | {hits[kind] / by_kind[kind]:.1%} |")
    total, got = sum(by_kind.values()), sum(hits.values())
    lines.append(f"| **all** | {total} | {got} | {got / total:.1%} |")
    return lines


def planted_report() -> str:
    lines = ["Offline statements of the bundled samples (copies of source sentences):", "",
             *_recall_table(planted_cases())]
    statements, clean = unaltered_results()
    lines += ["", f"Unaltered statements of the same {len(sample_questions())} questions: {clean}/{statements} "
                  f"error-free ({clean / statements:.1%}); false-positive rate {(statements - clean) / statements:.1%}."]
    if CORPUS_DIR.is_dir():
        questions = reference_questions()
        text_errors = sum(
            1 for q in questions for _, _, item in validate_extraction(q.extraction, q.raw).checked()
            if any(i.severity == "error" and i.field == "statement" for i in item.issues)
        )
        total = sum(q.extraction.statement_count for q in questions)
        lines += ["", f"The original system's statements of the {len(questions)} corpus questions that carry them "
                      "(LLM paraphrases):", "", *_recall_table(paraphrased_cases()), "",
                  f"Unaltered: {total - text_errors}/{total} of those statements have no error in their text."]
        models = model_response_questions()
        if models:
            statements = [(q, section, item) for q in models for section in ("from_critique", "from_key_points")
                          for item in getattr(q.extraction, section)]
            clean = sum(1 for q, section, item in statements
                        if not any(i.severity == "error" for i in check_statement(item, q.source_for(section))))
            lines += ["", f"Model-written statements (../shared/model_responses) of {len(models)} corpus questions "
                          "(critique and key points):", "", *_recall_table(model_response_cases()), "",
                      f"Unaltered: {clean}/{len(statements)} of those statements have no error in their text."]
    return "\n".join(lines)


# -- tests -------------------------------------------------------------------------------------------------


def test_the_suite_is_big_enough_and_covers_every_kind():
    cases = planted_cases()
    assert len(cases) >= MIN_CASES
    assert {case.kind for case in cases} == set(KINDS)


def test_planted_faults_are_caught():
    cases = planted_cases()
    missed = [case for case in cases if not caught(case)]
    recall = 1 - len(missed) / len(cases)
    assert recall >= MIN_COPIED_RECALL, [(c.question_id, c.kind, c.altered.statement) for c in missed]


# No kind of fault may go mostly unseen. A known gap keeps this below the overall bar: a negation added to a clause
# whose source sentence negates a neighbouring one is `negation_unclear`, a warning (the paraphrases of that shape
# the models write are mostly right: docs/VALIDATION.md), 2 of the 18 negation_added cases of the offline v5 sample
# statements ("X may [not] increase the risk of Y" beside "has not improved survival").
MIN_KIND_RECALL = 0.85


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_caught(kind):
    cases = [case for case in planted_cases() if case.kind == kind]
    assert cases
    assert sum(caught(case) for case in cases) / len(cases) >= MIN_KIND_RECALL


def test_unaltered_statements_raise_no_error():
    total, clean = unaltered_results()
    assert clean / total >= MIN_CLEAN_RATE


def test_option_citation_faults_are_repaired_by_the_fixer_and_recorded():
    cases = [case for case in planted_cases() if case.kind == "option_citation"]
    for case in cases[:5]:
        question = _find_question(case.question_id)
        extraction = question.extraction.model_copy(deep=True)
        getattr(extraction, case.section)[case.index] = case.altered
        validated = validate_extraction(extraction, question.raw)
        item = getattr(validated, case.section)[case.index]
        assert item.statement == case.original.statement
        assert [f.code for f in item.fixes] == ["strip_option_citation"]
        assert item.fixes[0].before == case.altered.statement
        assert not any(i.code == "option_citation" for i in item.issues)


def test_invented_drug_like_words_are_caught():
    cases = [case for case in planted_cases() if case.kind == "coinage_substituted"]
    assert len(cases) >= 10
    assert sum(caught(case) for case in cases) / len(cases) >= MIN_RECALL


def test_the_invented_non_words_are_no_known_words():
    assert len(INVENTED_NON_WORDS) >= 30 and len(set(INVENTED_NON_WORDS)) == len(INVENTED_NON_WORDS)
    for word in INVENTED_NON_WORDS:
        assert len(word) >= 5 and word.isalpha(), word
        assert word_kind(word) is None and not find_terms(word), word  # no drug stem, no disease or test suffix
        assert not is_english_word(word) and not medical_word(word), word


def _recall_of(cases: tuple[Case, ...], kind: str) -> tuple[int, float]:
    of_kind = [case for case in cases if case.kind == kind]
    return len(of_kind), sum(caught(case) for case in of_kind) / max(1, len(of_kind))


def test_invented_non_stem_words_are_caught():
    count, recall = _recall_of(planted_cases(), "nonword_substituted")
    assert count >= 10 and recall >= MIN_RECALL


@pytest.mark.corpus
def test_invented_non_stem_words_in_paraphrased_statements_are_caught(corpus_dir: Path):
    count, recall = _recall_of(paraphrased_cases(corpus_dir), "nonword_substituted")
    assert count >= 10 and recall >= MIN_RECALL


@pytest.mark.corpus
def test_invented_non_stem_words_in_model_written_statements_are_caught(corpus_dir: Path):
    if not (corpus_dir.parent / "model_responses").is_dir():
        pytest.skip("the model-written statements (../shared/model_responses) are not present")
    count, recall = _recall_of(model_response_cases(corpus_dir), "nonword_substituted")
    assert count >= 10 and recall >= MIN_RECALL


@pytest.mark.corpus
def test_planted_faults_in_paraphrased_statements_are_caught(corpus_dir: Path):
    cases = paraphrased_cases(corpus_dir)
    assert len(cases) >= MIN_CASES
    missed = [case for case in cases if not caught(case)]
    assert 1 - len(missed) / len(cases) >= MIN_PARAPHRASED_RECALL, [(c.kind, c.altered.statement) for c in missed]


@pytest.mark.corpus
def test_planted_faults_in_model_written_statements_are_caught(corpus_dir: Path):
    if not (corpus_dir.parent / "model_responses").is_dir():
        pytest.skip("the model-written statements (../shared/model_responses) are not present")
    cases = model_response_cases(corpus_dir)
    assert len(cases) >= MIN_CASES and {case.kind for case in cases} == set(MODEL_RESPONSE_KINDS)
    missed = [case for case in cases if not caught(case)]
    assert 1 - len(missed) / len(cases) >= MIN_MODEL_RESPONSE_RECALL, [(c.kind, c.question_id, c.index)
                                                                       for c in missed]
    # every kind is planted and caught; a removed "not" is the hardest to see in a paraphrase that merges sentences
    # (about 85% caught: the negation sits in a sentence the statement is not aligned with)
    for kind in MODEL_RESPONSE_KINDS:
        of_kind = [case for case in cases if case.kind == kind]
        assert sum(caught(case) for case in of_kind) / len(of_kind) >= 0.8, kind
