"""Tokens: both texts of a comparison are read into the same normalised words (option citations masked, "this/the
patient" read as "a", comparator phrases as symbols, contractions split, compound terms joined), with their offsets."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from mksap_assets.domain.nlp.lexicon import COMPOUND_WORDS
from mksap_assets.domain.nlp.rules import NOT_ONLY_RE, canonical_value

# Word characters include Unicode sub- and superscript digits ("H₂O", "10⁹/L"), read as plain digits by norm_word.
_SCRIPTS = "₀-₉⁰¹²³⁴-⁹"
TOKEN_RE = re.compile(
    rf"[A-Za-z0-9À-ɏͰ-ϿµΜμ°{_SCRIPTS}]+(?:['’][a-z]+)?"
    rf"(?:[.,/:+*^-](?=[A-Za-z0-9À-ɏͰ-Ͽµμ{_SCRIPTS}])[A-Za-z0-9À-ɏͰ-Ͽµμ°{_SCRIPTS}]+)*"
    r"|[<>≤≥≠±%]"
)
_SUPERSCRIPT_EXPONENT_RE = re.compile(r"(?<=\d)([⁰¹²³⁴-⁹]+)")
SCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉", "01234567890123456789")
_SPLIT_FORMULA_RE = re.compile(r"\bH([2₂]) O\b")  # "H2 O": a subscript rendered with a space
_OPTION_RE = re.compile(r"\(\s*Options?\s+[A-H](?:\s*(?:,|and|or|&|/|-)\s*(?:Options?\s+)?[A-H])*\s*\)", re.I)
_NUMBER_TOKEN_RE = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")

STOP_WORDS = frozenset(
    """a an the and or but if of in on at to for with by from as is are was were be been being this that these
    those it its their there which who whom whose what when where why how than then also such only very into onto
    after before during because without within between however although while given has have had do does did
    can will would shall should may might must not no nor all any each some more most less least other both
    either neither one ones them they he she his her him we our you your i me my so yet per via about over under
    up down out off again further once here same own too just s t e.g i.e etc vs patient patients a""".split()
)

_COMPARATOR_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("greater", "than", "or", "equal", "to"), "≥"),
    (("less", "than", "or", "equal", "to"), "≤"),
    (("not", "greater", "than"), "≤"), (("no", "greater", "than"), "≤"),
    (("not", "less", "than"), "≥"), (("no", "less", "than"), "≥"),
    (("greater", "than"), ">"), (("less", "than"), "<"),
)
_COMPARATOR_STARTS = frozenset(phrase[0] for phrase, _ in _COMPARATOR_PHRASES)
_CONTRACTIONS = {"can't": ("can", "not"), "cannot": ("can", "not"), "won't": ("will", "not"),
                 "shan't": ("shall", "not")}


class Token(NamedTuple):  # a tuple, not a dataclass: sources and statements make hundreds per question
    norm: str
    start: int
    end: int


def _mask_options(text: str) -> str:
    """Option citations replaced by spaces of the same length, so offsets still point into the original."""
    return _OPTION_RE.sub(lambda m: " " * len(m.group(0)), text)


def norm_word(raw: str) -> str:
    w = raw.lower()
    if not w.isascii():
        w = w.replace("’", "'").replace("µ", "μ").replace("‐", "-")
        if not w.isascii():  # "10⁹/l" -> "10^9/l", "h₂o" -> "h2o", "m²" -> "m2"
            w = _SUPERSCRIPT_EXPONENT_RE.sub(lambda m: "^" + m.group(1), w).translate(SCRIPT_DIGITS)
    if w[0].isdigit() and _NUMBER_TOKEN_RE.match(w):
        return canonical_value(w)
    return w


# Words that start a rewrite in the second pass ("this patient" → "a", comparator phrases → a symbol, "stroke
# volume" → one word, so that the disease "stroke" is never found inside it, the "not" of "not only … but" left out).
_SECOND_PASS_STARTS = _COMPARATOR_STARTS | {"this", "the", "not"} | frozenset(COMPOUND_WORDS)


@lru_cache(maxsize=8192)
def tokenize_cached(text: str) -> tuple[Token, ...]:
    masked = _mask_options(text).replace("–", " ").replace("—", " ").replace("−", "-").replace("\u2011", "-")
    if " O" in masked:
        masked = _SPLIT_FORMULA_RE.sub(lambda m: f"H{m.group(1)}O ", masked)
    raw: list[Token] = []
    for match in TOKEN_RE.finditer(masked):
        word = norm_word(match.group())
        start, end = match.span()
        if word in _CONTRACTIONS:
            first, second = _CONTRACTIONS[word]
            raw += [Token(first, start, end), Token(second, start, end)]
        elif "'" not in word:  # the common case: no contraction, no possessive
            raw.append(Token(word, start, end))
        elif word.endswith("n't") and len(word) > 3:
            raw += [Token(word[:-3], start, end - 3), Token("not", end - 3, end)]
        elif word.endswith("'s") and len(word) > 2:
            raw.append(Token(word[:-2], start, end))
        else:
            raw.append(Token(word, start, end))
    tokens: list[Token] = []
    i = 0
    while i < len(raw):
        token = raw[i]
        if token.norm not in _SECOND_PASS_STARTS:
            tokens.append(token)
            i += 1
            continue
        if token.norm == "not" and NOT_ONLY_RE.match(masked, token.start):
            i += 1
            continue
        if token.norm in ("this", "the") and i + 1 < len(raw) and raw[i + 1].norm in ("patient", "patients"):
            tokens.append(Token("a", token.start, token.end))
            i += 1
            continue
        if token.norm in COMPOUND_WORDS and i + 1 < len(raw) and raw[i + 1].norm in COMPOUND_WORDS[token.norm]:
            tokens.append(Token(f"{token.norm}_{raw[i + 1].norm}", token.start, raw[i + 1].end))
            i += 2
            continue
        merged = False
        for phrase, symbol in (_COMPARATOR_PHRASES if token.norm in _COMPARATOR_STARTS else ()):
            n = len(phrase)
            if tuple(t.norm for t in raw[i:i + n]) == phrase and i + n < len(raw) and _is_numberish(raw[i + n].norm):
                tokens.append(Token(symbol, token.start, raw[i + n - 1].end))
                i += n
                merged = True
                break
        if not merged:
            tokens.append(token)
            i += 1
    return tuple(tokens)


def tokenize(text: str) -> list[Token]:
    return list(tokenize_cached(text))


def _is_numberish(word: str) -> bool:
    return bool(word) and (word[0].isdigit() or word in ("approximately", "about", "roughly"))


def is_content(word: str) -> bool:
    return word not in STOP_WORDS and (len(word) > 2 or word[:1].isdigit() or word in ("<", ">", "≤", "≥", "%"))
