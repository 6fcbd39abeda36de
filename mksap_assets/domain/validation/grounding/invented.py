"""Invented words: a word that is neither in the source nor an English word, a named term, an abbreviation or a word
built from medical roots ("blorvex")."""

from __future__ import annotations

from collections.abc import Iterable

from mksap_assets.domain.nlp.english_words import is_english_word
from mksap_assets.domain.nlp.lexicon import (
    ABBREVIATIONS,
    is_abbreviation,
    medical_word,
    word_kind,
)
from mksap_assets.domain.nlp.rules import Quantity
from mksap_assets.domain.statements import Issue
from mksap_assets.domain.validation.grounding.issues import grounding_issue
from mksap_assets.domain.validation.grounding.source import Source
from mksap_assets.domain.validation.grounding.tokens import Token

MIN_UNKNOWN_LENGTH = 5  # shorter words are abbreviations, units or symbols more often than words


def unknown_part(word: str, raw: str, source: Source) -> str | None:
    """The word, or the part of a hyphenated word, that looks like a word (ASCII letters, 5 or more) and that is
    neither in the source nor an English word (english_words: inflections and prefixes read), a lexicon term (a drug,
    disease or test, or a word with their suffixes), an abbreviation, or a word built from medical roots
    (lexicon.medical_word: "chronotropic", "hyperosmolar"): an invented word such as "blorvex". None when there is
    none."""
    if len(word) < MIN_UNKNOWN_LENGTH or not word[0].isalpha():
        return None
    parts = zip(word.split("-"), raw.split("-"), strict=False) if "-" in word else ((word, raw),)
    for part, raw_part in parts:
        if len(part) < MIN_UNKNOWN_LENGTH or not part.isascii() or not part.isalpha():
            continue
        # the checks that hold for every text first (cached for the process), the source's words last
        if is_english_word(part) or word_kind(part) or part in ABBREVIATIONS or is_abbreviation(raw_part):
            continue
        if medical_word(part) or source.supports_word(part):
            continue
        return part
    return None


def check_unknown_words(tokens: Iterable[Token], text: str, source: Source, quantities: list[Quantity],
                         issues: list[Issue]) -> list[Issue]:
    """An invented word (see unknown_part) anywhere in a statement, where no local edit shows what it replaces:
    the statement is aligned loosely with its sentence, or it rewrites the words around it. A word that an edit
    already reports (unknown_word_substituted, term_substituted) is not reported again."""
    out: list[Issue] = []
    reported = {i.span for i in issues if i.code in ("unknown_word_substituted", "term_substituted")}
    words = source.words
    for token in tokens:
        if len(token.norm) < MIN_UNKNOWN_LENGTH or token.norm in words or (token.start, token.end) in reported:
            continue  # short, or a word of the source (most words of most statements)
        unknown = unknown_part(token.norm, text[token.start:token.end], source)
        if unknown is not None and not any(q.expr_start <= token.start < q.expr_end for q in quantities):  # a unit
            out.append(grounding_issue("unknown_word", "error",
                              f"{unknown!r} is neither in the {source.name} nor an English word, a named term or a "
                              "medical word (invented?)", (token.start, token.end), "statement"))
    return out
