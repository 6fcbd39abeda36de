"""What two statements are compared by, when the deck asks whether they state the same fact: the duplicate merge
(dedup.py) and the statement identity across re-extractions (identity.py).

`normalise_for_match`: the project's normalisers (whitespace, exponents, comparator phrases to symbols), then
casefold and every character other than a letter, digit, ".", "^" or a comparator symbol made a space. `Features`
holds what the comparisons read of one statement: its normalised text, its numbers (each with the comparator before
it: "< 30" is not "> 30"), its negation words, its content words and their crude stems.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache

from mksap_assets.domain.text import (
    normalise_comparators,
    normalise_exponents,
    normalise_whitespace,
)
from mksap_assets.domain.validation.grounding.tokens import STOP_WORDS, is_content

_NOT_MATCHED_RE = re.compile(r"[^\w.^<>≤≥≠±]+")
_NUMBER_RE = re.compile(r"([<>≤≥≠±]\s*)?(\d+(?:[.,]\d+)*(?:\^-?\d+)?)")
NEGATIONS = frozenset(
    {"not", "no", "never", "none", "neither", "nor", "without", "cannot", "absent", "unlikely", "nothing"}
)
_SUFFIX_RE = re.compile(r"(?:ing|ed|es|s|e|ly)$")
_COMPOUND_RE = re.compile(r"[^\W_]+(?:[-‐‑–][^\W_]+)*")


@lru_cache(maxsize=65_536)  # identity compares every pair of a question's statements and answers
def normalise_for_match(text: str) -> str:
    text = normalise_comparators(normalise_exponents(unicodedata.normalize("NFKC", text)))
    text = text.casefold().replace("’", "'").replace("n't", " not")  # "isn't" and "is not" read the same
    text = _NOT_MATCHED_RE.sub(" ", text.replace("_", " "))
    return normalise_whitespace(" ".join(word.strip(".") or word for word in text.split()))


def stem(word: str) -> str:
    return _SUFFIX_RE.sub("", word) if len(word) > 4 else word


@dataclass(frozen=True)
class Features:
    normalised: str
    numbers: tuple[str, ...]  # sorted, each with its comparator
    negations: tuple[str, ...]  # sorted negation words
    content: frozenset[str]  # content words
    stems: frozenset[str]
    joined: str  # the normalised text without spaces
    compounds: tuple[str, ...]  # the casefolded words, hyphenated compounds kept whole (for abbreviations' initials)

    @classmethod
    def of(cls, text: str) -> Features:
        normalised = normalise_for_match(text)
        content = frozenset(word for word in normalised.split() if is_content(word))
        numbers = tuple(sorted((m.group(1) or "").strip() + m.group(2).replace(",", "")
                               for m in _NUMBER_RE.finditer(normalised)))
        negations = tuple(sorted(word for word in normalised.split() if word in NEGATIONS))
        return cls(normalised, numbers, negations, content, frozenset(stem(word) for word in content),
                   normalised.replace(" ", ""), tuple(_COMPOUND_RE.findall(text.casefold())))

    def lacking_in(self, other: Features) -> set[str]:
        """This statement's content words that the other lacks (a word written inside the other's text with the
        spaces removed, "airflow" / "air flow", or with the same stem, "occurs" / "occur", is not lacking; nor is a
        long form whose abbreviation the other writes, or an abbreviation whose long form it writes: "model for end
        stage liver disease" / "meld")."""
        lacking = {word for word in self.content if stem(word) not in other.stems and word not in other.joined}
        if lacking:
            lacking -= _acronym_runs(self.compounds, self.initials_runs, set(other.normalised.split()))
            lacking -= set(self.normalised.split()) & other.acronyms
        return lacking

    @cached_property
    def initials_runs(self) -> list[tuple[str, int, int]]:
        return _initials_runs(self.compounds)

    @cached_property
    def acronyms(self) -> frozenset[str]:
        """The initials of every run of this statement's words: an abbreviation another statement writes is spelled
        out here."""
        return frozenset(initials for initials, _, _ in self.initials_runs)

    def adds_to(self, other: Features) -> bool:
        """Whether this statement has a content word the other lacks."""
        return bool(self.lacking_in(other))


MAX_LONG_FORM = 8  # words in a long form, stop words included


def _initials_runs(words: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(initials of its words but stop words, start, end) of every run of up to MAX_LONG_FORM words (a hyphenated
    compound is one word: "end-stage" gives one initial)."""
    runs = []
    for start in range(len(words)):
        initials = ""
        for end in range(start, min(start + MAX_LONG_FORM, len(words))):
            if words[end] in STOP_WORDS:
                continue
            initials += words[end][0]
            if len(initials) >= 2:
                runs.append((initials, start, end + 1))
    return runs


def _acronym_runs(words: tuple[str, ...], runs: list[tuple[str, int, int]], abbreviations: set[str]) -> set[str]:
    """The words (hyphenated compounds split) of `words` that spell out one of `abbreviations`, given their
    `_initials_runs`."""
    covered: set[str] = set()
    for initials, start, end in runs:
        if initials in abbreviations:
            covered.update(part for word in words[start:end] for part in word.split("-"))
    return covered


@lru_cache(maxsize=65_536)
def features_of(text: str) -> Features:
    """`Features.of`, remembered: identity compares each statement and answer with many others."""
    return Features.of(text)
