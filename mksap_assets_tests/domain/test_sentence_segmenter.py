"""The faster pysbd segmenter gives exactly stock pysbd's sentences and offsets."""

from __future__ import annotations

import re
import string
import sys

import pysbd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pysbd.lang.english import English

from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question
from mksap_assets.domain.nlp.sentence_segmenter import (
    FOLDS_UNLIKE_LOWER,
    sentence_spans,
    word_start_occurrences,
)
from mksap_assets_tests.conftest import SAMPLE_DIR

EVERY_CHARACTER = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


def stock(text: str) -> list[tuple[str, int, int]]:
    return [(s.sent, s.start, s.end) for s in pysbd.Segmenter(language="en", clean=False, char_span=True).segment(text)]


def ours(text: str) -> list[tuple[str, int, int]]:
    return [(s.sent, s.start, s.end) for s in sentence_spans(text)]


def test_the_characters_that_fold_unlike_lower_are_all_known():
    unlike = set()
    for letter in string.ascii_lowercase:
        unlike |= {c for c in re.findall(letter, EVERY_CHARACTER, flags=re.IGNORECASE) if c.lower() != letter}
    unlike |= {c for c in EVERY_CHARACTER if len(c.lower()) != 1}
    assert unlike == set(FOLDS_UNLIKE_LOWER)


def test_regex_whitespace_is_str_isspace():
    assert set(re.findall(r"\s", EVERY_CHARACTER)) == {c for c in EVERY_CHARACTER if c.isspace()}


def _question_texts(folder) -> list[str]:
    texts = []
    for question in discover_questions(folder):
        raw = load_raw_question(question)
        texts += [raw.critique, raw.educational_objective, *raw.key_points, raw.question.question_text]
        texts += [raw.question.question_stem, *(table.to_text() for table in raw.tables)]
    return [text for text in texts if text]


@pytest.mark.parametrize("source", ["samples", "corpus"])
def test_sentences_equal_stock_pysbds_on_question_texts(source, request):
    folder = SAMPLE_DIR if source == "samples" else request.getfixturevalue("corpus_dir")
    texts = _question_texts(folder)
    assert texts
    for text in texts:
        assert ours(text) == stock(text), text[:80]


ABBREVIATIONS = sorted({a.strip() for a in English.Abbreviation.ABBREVIATIONS})
PIECES = st.one_of(
    st.sampled_from(ABBREVIATIONS).map(lambda a: st.sampled_from([a, a.upper(), a.capitalize()])).flatmap(lambda s: s),
    st.sampled_from(["The", "patient", "mg", "mm Hg", "dL", "No", "p", "Co", "is", "al", "Dr", "vs", "approx"]),
    st.sampled_from([".", ". ", "..", "...", "?", "!", ",", ":", ";", "-", "(", ")", "{", "}", "'", '"', "∯"]),
    st.sampled_from([" ", "  ", "\n", "\n\n", "\r", "\t", "\xa0"]),
    st.sampled_from(["12", "3.5", "0.7", "1)", "a)", "i.", "II", "I'm", "2 h", "U.S.", "e.g.", "i.e."]),
    st.sampled_from(["İ", "ı", "ſ", "K", "μg", "≥", "–", "β", "é"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, min_size=1, max_size=40).map("".join))
def test_sentences_equal_stock_pysbds_on_generated_texts(text):
    assert ours(text) == stock(text)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(["p", "P", "co", "CO", " ", "\n", "\r", "\t", "x", "."]), max_size=30).map("".join),
    st.sampled_from(["p", "co", "pp"]),
)
def test_word_start_occurrences_are_the_regex_scans(text, word):
    if not FOLDS_UNLIKE_LOWER.isdisjoint(text):
        return  # the segmenter runs pysbd's own scan on such lines
    expected = re.findall(r"(?:^|\s|\r|\n){}".format(word), text, flags=re.IGNORECASE)
    assert word_start_occurrences(text, text.lower(), word) == expected
