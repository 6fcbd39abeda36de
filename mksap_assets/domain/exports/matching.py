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

from mksap_assets.domain.text import (
    normalise_comparators,
    normalise_exponents,
    normalise_whitespace,
)
from mksap_assets.domain.validation.grounding.tokens import is_content

_NOT_MATCHED_RE = re.compile(r"[^\w.^<>≤≥≠±]+")
_NUMBER_RE = re.compile(r"([<>≤≥≠±]\s*)?(\d+(?:[.,]\d+)*(?:\^-?\d+)?)")
NEGATIONS = frozenset(
    {"not", "no", "never", "none", "neither", "nor", "without", "cannot", "absent", "unlikely", "nothing"}
)
_SUFFIX_RE = re.compile(r"(?:ing|ed|es|s|e|ly)$")


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

    @classmethod
    def of(cls, text: str) -> Features:
        normalised = normalise_for_match(text)
        content = frozenset(word for word in normalised.split() if is_content(word))
        numbers = tuple(sorted((m.group(1) or "").strip() + m.group(2).replace(",", "")
                               for m in _NUMBER_RE.finditer(normalised)))
        negations = tuple(sorted(word for word in normalised.split() if word in NEGATIONS))
        return cls(normalised, numbers, negations, content, frozenset(stem(word) for word in content),
                   normalised.replace(" ", ""))

    def lacking_in(self, other: Features) -> set[str]:
        """This statement's content words that the other lacks (a word written inside the other's text with the
        spaces removed, "airflow" / "air flow", or with the same stem, "occurs" / "occur", is not lacking)."""
        return {word for word in self.content if stem(word) not in other.stems and word not in other.joined}

    def adds_to(self, other: Features) -> bool:
        """Whether this statement has a content word the other lacks."""
        return any(stem(word) not in other.stems and word not in other.joined for word in self.content)
