"""pysbd's English sentence segmenter, with its abbreviation pass made cheaper and its sentences unchanged.

scispaCy's sentence rules sit on pysbd, and most of pysbd's time on our texts goes to one loop: for each of its
English abbreviations that occurs anywhere in a line, a case-insensitive regex scan of the line, then one regex
substitution over the line per occurrence found. Two shortcuts that cannot change the result:

- the scan matches an abbreviation at the start of a word: `str.find` on the lower-cased line finds the same
  occurrences (unless the line holds a character that the regex folds differently from `str.lower`, or the
  abbreviation holds a regex metacharacter: then the scan runs as in pysbd);
- each substitution replaces a period right after the abbreviation, so it is skipped when there is none; and
  consecutive occurrences that call for the same substitution are substituted once: a substitution turns the
  periods it matches into a marker that none of its patterns match, so repeating it changes nothing.

pysbd also compiled a regex per sentence to find its offsets; `str.find` finds the same ones.

`mksap_assets_tests/domain/test_sentence_segmenter.py` checks that the sentences equal stock pysbd's on every sample
and corpus text and on generated ones.
"""

from __future__ import annotations

import re

import pysbd
from pysbd.lang.english import English
from pysbd.utils import TextSpan

# Characters that Python's case-insensitive regex matches to an ASCII letter other than their `str.lower()` ("İ" also
# lengthens under lower()); found by comparing the two over every code point (see the tests).
FOLDS_UNLIKE_LOWER = frozenset("İıſ")


def word_start_occurrences(text: str, lowered: str, word: str) -> list[str]:
    """What `re.findall(r"(?:^|\\s|\\r|\\n)" + word, text, flags=re.IGNORECASE)` returns, for a lower-case `word`
    without regex metacharacters and a `text` without FOLDS_UNLIKE_LOWER (`lowered` = `text.lower()`)."""
    found = []
    resume = 0  # findall's matches do not overlap
    at = lowered.find(word)
    while at != -1:
        start = at if at == 0 else at - 1
        if start >= resume and (at == 0 or text[start].isspace()):
            found.append(text[start : at + len(word)])
            resume = at + len(word)
        at = lowered.find(word, at + 1)
    return found


class _AbbreviationReplacer(English.AbbreviationReplacer):
    def search_for_abbreviations_in_string(self, text):
        lowered = text.lower()
        folds_like_lower = FOLDS_UNLIKE_LOWER.isdisjoint(text)
        has_brace = "{" in text
        for abbreviation in self.lang.Abbreviation.ABBREVIATIONS:
            stripped = abbreviation.strip()
            if stripped not in lowered:
                continue
            if folds_like_lower and stripped == re.escape(stripped):
                occurrences = word_start_occurrences(text, lowered, stripped)
            else:
                occurrences = re.findall(r"(?:^|\s|\r|\n){}".format(stripped), text, flags=re.IGNORECASE)
            if not occurrences:
                continue
            # pysbd's next-letter pattern reads "{abbreviation} " literally, so it can only match after a "{"
            next_letters = re.findall(r"(?<={" + re.escape(stripped) + "} ).{1}", text) if has_brace else []
            previous = None
            for index, occurrence in enumerate(occurrences):
                next_letter = next_letters[index] if index < len(next_letters) else ""
                substitution = (occurrence.strip(), next_letter.isupper())
                if substitution != previous:
                    text = self.scan_for_replacements(text, occurrence, index, next_letters)
                    previous = substitution
        return text

    def scan_for_replacements(self, txt, am, ind, char_array):
        abbreviation = am.strip()
        if abbreviation == re.escape(abbreviation) and abbreviation + "." not in txt:
            return txt  # each of pysbd's substitutions here replaces a period right after the abbreviation
        return super().scan_for_replacements(txt, am, ind, char_array)


class _English(English):
    AbbreviationReplacer = _AbbreviationReplacer


class Segmenter(pysbd.Segmenter):
    """`pysbd.Segmenter(language="en", clean=False, char_span=True)` (scispaCy's settings), faster."""

    def __init__(self) -> None:
        super().__init__(language="en", clean=False, char_span=True)
        self.language_module = _English

    def sentences_with_char_spans(self, sentences):
        """pysbd's spans, found with `str.find` instead of compiling a regex (sentence + trailing whitespace) each."""
        text = self.original_text
        spans = []
        prior_end = 0
        for sentence in sentences:
            for start, end in _matches_with_trailing_space(text, sentence):
                if end > prior_end:
                    spans.append(TextSpan(text[start:end], start, end))
                    prior_end = end
                    break
        return spans


def _matches_with_trailing_space(text: str, sentence: str):
    """The spans `re.finditer(re.escape(sentence) + r"\\s*", text)` yields (`\\s` is exactly `str.isspace`)."""
    if not sentence:
        yield from (match.span() for match in re.finditer(r"\s*", text))
        return
    start = text.find(sentence)
    while start != -1:
        end = start + len(sentence)
        while end < len(text) and text[end].isspace():
            end += 1
        yield start, end
        start = text.find(sentence, end)


def sentence_spans(text: str) -> list[TextSpan]:
    """pysbd's sentences of `text` with their character offsets."""
    return Segmenter().segment(text)
