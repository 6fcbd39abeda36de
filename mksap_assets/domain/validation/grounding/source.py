"""Sources: a section's text prepared once per question (tokens, sentences, abbreviations, numbers, negation cues)
for every statement, the words and phrases it supports, and the alignment of a statement with its sentence(s)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from rapidfuzz import fuzz

from mksap_assets.domain.nlp.analysis import NlpAnalysis, SectionAnalysis, rule_section
from mksap_assets.domain.nlp.lexicon import ABBREVIATIONS, long_forms
from mksap_assets.domain.validation.grounding.cues import (
    Anchors,
    cue_anchors,
    cue_text,
    subject_before,
)
from mksap_assets.domain.validation.grounding.tokens import (
    SCRIPT_DIGITS,
    TOKEN_RE,
    Token,
    is_content,
    norm_word,
    tokenize,
)
from mksap_assets.domain.validation.grounding.words import same_family, variants


@cache
def _lexicon_abbreviation_pairs() -> list[tuple[str, tuple[str, ...]]]:
    """(abbreviation, words of one long form) for every lexicon abbreviation (built once per process)."""
    return [(short, tuple(norm_word(w) for w in TOKEN_RE.findall(form))) for short, forms in ABBREVIATIONS.items()
            for form in forms]


@dataclass(frozen=True)
class SourceQuantity:
    value: str
    unit: str | None
    direction: str | None
    strict: bool | None
    sentence: int
    text: str


@dataclass(frozen=True)
class SourceCue:
    kind: str
    start: int
    scope_end: int
    sentence: int

    @property
    def negative(self) -> bool:
        return self.kind in ("negation", "prohibition")


@dataclass
class Source:
    """One source (critique, key points or a table) prepared once per question for every statement."""

    name: str
    text: str
    sentences: list[tuple[int, int]]
    header_sentences: frozenset[int] = frozenset()
    abbreviations: dict[str, set[str]] = field(default_factory=dict)  # SHORT -> long forms (lower)
    quantities: list[SourceQuantity] = field(default_factory=list)
    cues: list[SourceCue] = field(default_factory=list)
    # derived
    tokens: list[Token] = field(default_factory=list)
    sentence_tokens: list[list[Token]] = field(default_factory=list)
    sentence_sets: list[frozenset[str]] = field(default_factory=list)
    token_sentences: list[int] = field(default_factory=list)  # the sentence of each token
    words: frozenset[str] = frozenset()
    lower: str = ""
    case_words: frozenset[str] = frozenset()
    _by_prefix: dict[str, list[str]] = field(default_factory=dict)
    _support_cache: dict[str, bool] = field(default_factory=dict)
    _cue_windows: dict[int, frozenset[str]] = field(default_factory=dict)
    _abbreviation_pairs: list[tuple[str, tuple[str, ...]]] | None = None
    _cue_subjects: dict[int, frozenset[str]] = field(default_factory=dict)
    _negative_cues: list[tuple[SourceCue, str, Anchors, frozenset[str]]] | None = None

    def __post_init__(self) -> None:
        self.tokens = tokenize(self.text)
        self.sentence_tokens = [[] for _ in self.sentences]
        starts = [s for s, _ in self.sentences]
        index = 0
        for token in self.tokens:
            while index + 1 < len(starts) and token.start >= starts[index + 1]:
                index += 1
            if self.sentences:
                self.sentence_tokens[index].append(token)
                self.token_sentences.append(index)
        self.sentence_sets = [frozenset(t.norm for t in toks if is_content(t.norm)) for toks in self.sentence_tokens]
        self.words = frozenset(t.norm for t in self.tokens)
        self.lower = " " + " ".join(t.norm for t in self.tokens) + " "
        cased = self.text if self.text.isascii() else self.text.translate(SCRIPT_DIGITS)  # "H₂O" reads "H2O"
        self.case_words = frozenset(m.group(0) for m in re.finditer(r"[A-Za-z][A-Za-z0-9+-]*", cased))
        by_prefix: dict[str, list[str]] = {}
        for word in self.words:
            if len(word) >= 6 and word.isalpha():
                by_prefix.setdefault(word[:5], []).append(word)
        self._by_prefix = by_prefix

    # -- words and phrases ------------------------------------------------------------------------------

    def supports_word(self, word: str) -> bool:
        cached = self._support_cache.get(word)
        if cached is not None:
            return cached
        result = bool(variants(word) & self.words) or (word.isalpha() and any(
            same_family(word, other) for other in self._by_prefix.get(word[:5], ())
        ))
        if not result and "-" in word:
            parts = [p for p in word.split("-") if p]
            result = bool(parts) and all(self.supports_word(p) for p in parts if len(p) > 2)
        if not result and word.isalpha():  # a part of a compound of the source ("heparin" in "heparin-induced")
            result = f" {word}-" in self.lower or f"-{word} " in self.lower or f"-{word}-" in self.lower
        self._support_cache[word] = result
        return result

    def supports_phrase(self, phrase: str) -> bool:
        tokens = [t.norm for t in tokenize(phrase)]
        if not tokens:
            return True
        joined = " " + " ".join(tokens) + " "
        if joined in self.lower:
            return True
        if not all(self.supports_word(t) for t in tokens if is_content(t)):
            return False
        if len(tokens) == 1:
            return True
        # all words are there; are they together? (rapidfuzz on the normalised text, hyper/hypo checked above)
        return fuzz.partial_ratio(joined.strip(), self.lower, score_cutoff=88) > 0

    def supports_abbreviation(self, short: str) -> bool:
        bare = short[:-1] if short.endswith("s") and short[:-1].isupper() else short
        if bare in self.case_words or short in self.case_words or (bare + "s") in self.case_words:
            return True
        forms = set(long_forms(bare)) | self.abbreviations.get(bare, set())
        return any(self.supports_phrase(form) for form in forms)

    def long_form_is_abbreviated(self, phrase: str) -> bool:
        """A long form whose abbreviation is what the source uses ("acute kidney injury" vs "AKI")."""
        lowered = " ".join(t.norm for t in tokenize(phrase))
        return any(
            lowered in forms and short in self.case_words for short, forms in self.abbreviations.items()
        )

    def cue_window(self, cue: SourceCue) -> frozenset[str]:
        """The words around a source cue: up to 80 characters before it, and its scope."""
        window = self._cue_windows.get(cue.start)
        if window is None:
            window = frozenset(t.norm for t in tokenize(self.text[max(0, cue.start - 80):cue.scope_end]))
            if self.header_sentences:  # a table cell ("No") means something through its column header
                window |= {t.norm for i in self.header_sentences for t in self.sentence_tokens[i]}
            window |= self._aliases(window)
            self._cue_windows[cue.start] = window
        return window

    def cue_scope(self, cue: SourceCue) -> frozenset[str]:
        """The words a source cue governs (from the cue to the end of its clause)."""
        return frozenset(t.norm for t in tokenize(self.text[cue.start:cue.scope_end]))

    def negative_cues(self) -> list[tuple[SourceCue, str, Anchors, frozenset[str]]]:
        """The negative cues with their text, their anchors and the variants of their head (empty without one),
        worked out once for every statement."""
        if self._negative_cues is None:
            found = []
            for cue in self.cues:
                if cue.negative:
                    text = cue_text_at(self, cue)
                    anchors = cue_anchors(self.text, cue.start, cue.start + len(text), cue.scope_end)
                    found.append((cue, text, anchors, variants(anchors.head) if anchors.head else frozenset()))
            self._negative_cues = found
        return self._negative_cues

    def cue_subject(self, cue: SourceCue) -> frozenset[str]:
        """The content words before a source cue in its clause (what it is said of)."""
        subject = self._cue_subjects.get(cue.start)
        if subject is None:
            subject = self._cue_subjects[cue.start] = frozenset(subject_before(self.text, cue.start))
        return subject

    def _aliases(self, words: frozenset[str]) -> frozenset[str]:
        """The words of the long forms of the abbreviations among the words ("ct" -> "computed", "tomography"),
        and the abbreviations whose long form is among them, so a negation reads the same either way."""
        pairs = self._abbreviation_pairs
        if pairs is None:
            pairs = _lexicon_abbreviation_pairs() + [
                (short.lower(), tuple(t.norm for t in tokenize(form)))
                for short, forms in self.abbreviations.items() for form in forms
            ]
            self._abbreviation_pairs = pairs
        out: set[str] = set()
        for short, form in pairs:
            if short in words or short + "s" in words:
                out.update(form)
            elif form and form[0] in words and all(w in words for w in form[1:-1]) and variants(form[-1]) & words:
                out.add(short)
        return frozenset(out)

    # -- alignment --------------------------------------------------------------------------------------

    def quoted_sentences(self, quote: str) -> tuple[int, ...] | None:
        """The sentences a quote of this source spans, compared as normalised tokens (so case, dashes, comparator
        words and option citations do not matter); None when the source does not contain it."""
        norms = [t.norm for t in tokenize(quote)]
        if not norms or not self.token_sentences:
            return None
        at = self.lower.find(" " + " ".join(norms) + " ")
        if at < 0:
            return None
        first = self.lower.count(" ", 0, at + 1) - 1  # tokens are joined by single spaces after a leading one
        return tuple(sorted(set(self.token_sentences[first : first + len(norms)])))

    def align(self, tokens: list[Token], quote: str | None = None) -> Alignment:
        """The sentence(s) the tokens come from: the best-covering sentence or pair of neighbours, or the sentences
        of the model's quoted evidence when they cover the tokens nearly as well (the quote breaks near-ties, such
        as a rule stated once with its negation and once without)."""
        content = {t.norm for t in tokens if is_content(t.norm)}
        if not content or not self.sentences:
            return Alignment((), 0.0, 0.0)
        best, best_score = -1, -1.0
        scores = []
        for index, sentence_set in enumerate(self.sentence_sets):
            score = len(content & sentence_set) / len(content)
            scores.append(score)
            if score > best_score:
                best, best_score = index, score
        chosen: tuple[int, ...] = (best,)
        if best_score < 0.95:
            for index in range(len(self.sentence_sets) - 1):
                union = self.sentence_sets[index] | self.sentence_sets[index + 1]
                score = len(content & union) / len(content)
                if score >= best_score + 0.15:
                    chosen, best_score = (index, index + 1), score
        quoted = self.quoted_sentences(quote) if quote else None
        if quoted and quoted != chosen:
            union = frozenset().union(*(self.sentence_sets[i] for i in quoted))
            score = len(content & union) / len(content)
            if score >= best_score - QUOTE_MARGIN:
                chosen, best_score = quoted, score
        if self.header_sentences:
            chosen = tuple(sorted(set(chosen) | set(self.header_sentences)))
        words = {w for w in content if w.isalpha()}
        covered = frozenset().union(*(self.sentence_sets[i] for i in chosen))
        word_coverage = len(words & covered) / len(words) if words else 0.0
        return Alignment(chosen, best_score, word_coverage)

    def context_tokens(self, alignment: Alignment) -> list[Token]:
        return [t for index in alignment.sentences for t in self.sentence_tokens[index]]


QUOTE_MARGIN = 0.1  # the quoted sentences are taken when they cover at most this much less than the best ones
WEAK_ALIGNMENT = 0.45  # below this share of its content words in the aligned sentence(s), a statement is not aligned


@dataclass(frozen=True)
class Alignment:
    sentences: tuple[int, ...]
    coverage: float  # share of the statement's content tokens found in the aligned sentence(s)
    word_coverage: float = 0.0  # the same for words only (numbers left out)

    @property
    def strong(self) -> bool:
        return self.coverage >= 0.6


def source_from_section(name: str, text: str, analysis: SectionAnalysis | None) -> Source:
    """A Source built from a section's stored NLP analysis (no parsing); without one, from the rules alone."""
    if analysis is None:
        analysis = rule_section(name, text)
    header: frozenset[int] = frozenset()
    if name.startswith("table:"):
        lines = [line for line in text.split("\n") if line.strip()]
        if "---" in lines:
            header = frozenset(range(lines.index("---")))
    abbreviations: dict[str, set[str]] = {}
    for pair in analysis.abbreviations:
        abbreviations.setdefault(pair.short, set()).add(pair.long.lower())
    quantities = [
        SourceQuantity(f.value, f.unit, _direction(f.comparator), _strict(f.comparator), f.sentence, f.text)
        for f in analysis.numeric_facts
    ]
    cues = [SourceCue(c.kind, c.span[0], c.scope[1], c.sentence) for c in analysis.negation_cues]
    return Source(name=name, text=text, sentences=list(analysis.sentences), header_sentences=header,
                  abbreviations=abbreviations, quantities=quantities, cues=cues)


def combine_sections(name: str, parts: list[tuple[str, SectionAnalysis | None]]) -> tuple[str, SectionAnalysis]:
    """Key points: one text and one analysis over all of them (each point keeps its own sentences)."""
    from mksap_assets.domain.nlp.analysis import Abbreviation, CueFact, NumericFact

    texts: list[str] = []
    sentences: list[tuple[int, int]] = []
    abbreviations: list[Abbreviation] = []
    cues: list[CueFact] = []
    facts: list[NumericFact] = []
    offset = 0
    for text, analysis in parts:
        analysis = analysis or rule_section(name, text)
        base = len(sentences)
        sentences += [(s + offset, e + offset) for s, e in analysis.sentences]
        abbreviations += analysis.abbreviations
        cues += [c.model_copy(update={"sentence": c.sentence + base, "span": (c.span[0] + offset, c.span[1] + offset),
                                      "scope": (c.scope[0] + offset, c.scope[1] + offset)})
                 for c in analysis.negation_cues]
        facts += [f.model_copy(update={"sentence": f.sentence + base, "span": (f.span[0] + offset, f.span[1] + offset)})
                  for f in analysis.numeric_facts]
        texts.append(text)
        offset += len(text) + 1
    combined = SectionAnalysis(section=name, sentences=sentences, abbreviations=abbreviations, negation_cues=cues,
                               numeric_facts=facts)
    return "\n".join(texts), combined


def _direction(comparator: str | None) -> str | None:
    return {"<": "lt", "≤": "lt", ">": "gt", "≥": "gt"}.get(comparator or "")


def _strict(comparator: str | None) -> bool | None:
    return None if comparator is None else comparator in ("<", ">")


class QuestionSources:
    """The three kinds of source of one question, built once from its raw texts and NLP analysis."""

    def __init__(self, critique: str, key_points: list[str], tables: dict[str, str], analysis: NlpAnalysis | None):
        def section(name: str) -> SectionAnalysis | None:
            return analysis.section(name) if analysis else None

        self.critique = source_from_section("critique", critique, section("critique"))
        text, combined = combine_sections(
            "key_points", [(point, section(f"key_points[{i}]")) for i, point in enumerate(key_points)]
        )
        self.key_points = source_from_section("key_points", text, combined)
        self.tables = {
            name: source_from_section(f"table:{name}", text, section(f"table:{name}")) for name, text in tables.items()
        }


def cue_text_at(source: Source, cue: SourceCue) -> str:
    return cue_text(source.text, cue.start, cue.scope_end)
