"""The entry point: every grounding check of one text (a statement, or an extra_field sentence by sentence) against
its source."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mksap_assets.domain.nlp.lexicon import find_terms
from mksap_assets.domain.nlp.rules import find_cues, find_quantities
from mksap_assets.domain.statements import Issue, IssueField
from mksap_assets.domain.validation.grounding.cues import cue_anchors, cue_text
from mksap_assets.domain.validation.grounding.edits import check_local_edits
from mksap_assets.domain.validation.grounding.invented import check_unknown_words
from mksap_assets.domain.validation.grounding.issues import grounding_issue
from mksap_assets.domain.validation.grounding.negation import (
    check_dropped_negations,
    check_negation_cues,
)
from mksap_assets.domain.validation.grounding.numbers import check_numbers
from mksap_assets.domain.validation.grounding.source import Source
from mksap_assets.domain.validation.grounding.terms import check_terms
from mksap_assets.domain.validation.grounding.tokens import tokenize, tokenize_cached
from mksap_assets.domain.validation.grounding.wording import check_wording


def ground_text(
    text: str, source: Source, where: IssueField = "statement", quote: str | None = None
) -> list[Issue]:
    """Every grounding issue of one text (a statement, or an extra_field sentence by sentence); `quote` is the
    source span the model says the statement rests on (its source_quote), used for the alignment."""
    if not text.strip():
        return []
    if not source.text.strip():
        return [grounding_issue("source_unavailable", "info", f"no {source.name} text to ground against", None, where)]
    issues: list[Issue] = []
    if quote and source.quoted_sentences(quote) is None:
        issues.append(grounding_issue("source_quote_not_found", "info",
                                      f"the quoted evidence is not in the {source.name}: aligned by wording alone",
                                      None, where))
    pieces = [(0, len(text))] if where == "statement" else list(_sentence_spans(text))
    quantities = find_quantities(text)
    cues = find_cues(text)
    terms = find_terms(text)
    for start, end in pieces:
        piece_tokens = [t for t in tokenize(text) if start <= t.start < end]
        alignment = source.align(piece_tokens, quote)
        context = source.context_tokens(alignment)
        piece_quantities = [q for q in quantities if start <= q.start < end]
        issues += check_numbers(piece_quantities, source, alignment, where)
        if alignment.strong:
            issues += check_local_edits(text, piece_tokens, context, source, where, cues, alignment)
        issues += check_negation_cues([c for c in cues if start <= c.start < end], text, source, alignment, where)
        issues += check_dropped_negations(piece_tokens, source, alignment, where)
        issues += check_terms([t for t in terms if start <= t.start < end], text, source, piece_quantities, where)
        issues += check_wording(piece_tokens, source, where)
    if where == "statement":
        issues += check_unknown_words(tokenize(text), text, source, quantities, issues)
    return _dedupe(issues)


_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"(])")


def _sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _SENTENCE_SPLIT_RE.finditer(text):
        yield start, match.start()
        start = match.end()
    yield start, len(text)


def _dedupe(issues: list[Issue]) -> list[Issue]:
    seen: set[tuple] = set()
    out = []
    for issue in issues:
        key = (issue.code, issue.field, issue.message.lower()) if issue.code == "term_not_in_source" else (
            issue.code, issue.span, issue.field, issue.message)
        if key not in seen:
            seen.add(key)
            out.append(issue)
    return out


def clear_caches() -> None:
    """Forget what was worked out from texts (benchmarks measure validation without it)."""
    tokenize_cached.cache_clear()
    cue_anchors.cache_clear()
    cue_text.cache_clear()
