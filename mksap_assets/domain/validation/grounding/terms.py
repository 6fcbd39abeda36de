"""Named terms: each drug, disease, test and abbreviation of the statement must occur in its source (an abbreviation
is also supported by its long form, and a long form by its abbreviation)."""

from __future__ import annotations

import re

from mksap_assets.domain.nlp.lexicon import ABBREVIATIONS, is_abbreviation, singular
from mksap_assets.domain.nlp.rules import Quantity
from mksap_assets.domain.statements import Issue, IssueField
from mksap_assets.domain.validation.grounding.issues import grounding_issue
from mksap_assets.domain.validation.grounding.source import Source
from mksap_assets.domain.validation.grounding.tokens import tokenize


def check_terms(terms, text: str, source: Source, quantities: list[Quantity], where: IssueField) -> list[Issue]:
    issues: list[Issue] = []
    defined = _inline_definitions(text)
    for term in terms:
        if any(q.start <= term.start < q.expr_end for q in quantities):
            continue  # a unit such as "mL" or "mm Hg"
        if term.kind == "abbreviation" or is_abbreviation(term.text):
            if source.supports_abbreviation(term.text):
                continue
            long_form = defined.get(term.text)
            if long_form and source.supports_phrase(long_form):
                continue
            issues.append(grounding_issue("term_not_in_source", "error",
                                 f"abbreviation {term.text!r} (or its long form) does not occur in the "
                                 f"{source.name}", (term.start, term.end), where))
            continue
        if source.supports_phrase(term.text):
            continue
        if source.long_form_is_abbreviated(term.text) or abbreviated_in_source(term.text, source):
            continue
        if long_form_around(text, term.start, term.end, source):
            continue  # "computed tomography" where the source writes "CT"
        issues.append(grounding_issue("term_not_in_source", "error",
                             f"{_KIND_LABEL[term.kind]} {term.text!r} does not occur in the {source.name}",
                             (term.start, term.end), where))
    return issues


_KIND_LABEL = {"drug": "drug", "disease": "disease", "test": "test or procedure", "abbreviation": "abbreviation"}
_INLINE_DEF_HINT_RE = re.compile(r"\s\([A-Z][A-Za-z0-9-]{1,9}\)")
_INLINE_DEF_RE = re.compile(r"([A-Za-z][A-Za-z-]*(?:\s+[A-Za-z-]+){0,5})\s+\(([A-Z][A-Za-z0-9-]{1,9})\)")


def _inline_definitions(text: str) -> dict[str, str]:
    """'Endoscopic retrograde cholangiopancreatography (ERCP)' -> {'ERCP': 'Endoscopic … cholangiopancreatography'}
    (the long form trimmed to as many words as the abbreviation has letters)."""
    out: dict[str, str] = {}
    if not _INLINE_DEF_HINT_RE.search(text):
        return out
    for match in _INLINE_DEF_RE.finditer(text):
        short = match.group(2)
        words = match.group(1).split()
        letters = len([c for c in short if c.isupper()])
        out[short] = " ".join(words[-max(1, letters):])
    return out


def abbreviated_in_source(phrase: str, source: Source) -> bool:
    """A lexicon long form (or its plural: "electrocardiograms") whose abbreviation the source uses."""
    words = [t.norm for t in tokenize(phrase)]
    if not words:
        return False
    for candidate in {" ".join(words), " ".join([*words[:-1], singular(words[-1])])}:
        for short in _SHORT_FORMS.get(candidate, ()):
            if short.upper() in source.case_words or short.upper() + "s" in source.case_words:
                return True
    return False


_SHORT_FORMS: dict[str, list[str]] = {}
for _short, _forms in ABBREVIATIONS.items():
    for _form in _forms:
        _SHORT_FORMS.setdefault(_form, []).append(_short)


_WORDS_BEFORE_RE = re.compile(r"[A-Za-z-]+")


def long_form_around(text: str, start: int, end: int, source: Source) -> bool:
    """The term is the last word of a long form ("computed tomography", "acute kidney injury") whose abbreviation
    the source uses."""
    before = _WORDS_BEFORE_RE.findall(text[max(0, start - 60):start])[-3:]
    for n in range(len(before), 0, -1):
        if abbreviated_in_source(" ".join([*before[-n:], text[start:end]]), source):
            return True
    return False
