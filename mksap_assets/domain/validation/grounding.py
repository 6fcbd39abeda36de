"""Grounding: is every fact of a statement (and of its extra_field) supported by the source it came from?

Sources: the critique for `from_critique`, the key points for `from_key_points`, the table's text (caption
included) for a table statement. Both sides are compared after the same normalisation: option citations removed,
"this/the patient" read as "a patient", comparator phrases read as symbols ("less than 30" = "< 30"), case, dashes
and contractions ("doesn't" = "does not") unified; so a statement copied from its source is supported by
construction.

What is checked, each against the source sentence(s) the statement aligns with first and then the whole source:

- numbers, exactly, with their units ("2.5 mg" is not "2.5 g") and comparators ("< 30" is not "> 30");
- negation and modality: a word-level diff against the aligned sentence finds local edits that add or drop a
  negation ("is not recommended" -> "is recommended", "contraindicated" -> "indicated"), flip a polar word
  (increase/decrease, hyper-/hypo-, above/below) or strengthen a modal ("may be considered" -> "should"); every
  negation cue of the statement must be a negation of the source about the same word; a word the aligned
  sentence negates must not be stated without negation (paraphrases: warnings where the sentence states both
  cases);
- named drugs, diseases, tests and abbreviations: each must occur in the source (plural and derivational variants
  allowed, hyper-/hypo- never); an abbreviation is also supported by its long form and vice versa; a word that
  replaces a named term of the aligned sentence must occur somewhere in the source;
- invented words: a word of the statement that is neither in the source nor an English word (english_words.py, an
  English word list), a lexicon term, an abbreviation or a word built from medical roots ("blorvex") is an error,
  `unknown_word_substituted` when a local edit shows the word of the aligned sentence it replaces (statement and
  extra_field), `unknown_word` elsewhere in the statement.

Wording that is not a named term is matched fuzzily (coverage for alignment, rapidfuzz for phrases) and only
reported as information.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import cache, lru_cache
from typing import NamedTuple

from rapidfuzz import fuzz

from mksap_assets.domain.nlp.analysis import NlpAnalysis, SectionAnalysis, rule_section
from mksap_assets.domain.nlp.english_words import is_english_word
from mksap_assets.domain.nlp.lexicon import (
    ABBREVIATIONS,
    COMPOUND_WORDS,
    find_terms,
    is_abbreviation,
    long_forms,
    medical_word,
    singular,
    word_kind,
)
from mksap_assets.domain.nlp.rules import (
    Cue,
    Quantity,
    canonical_value,
    find_cues,
    find_quantities,
)
from mksap_assets.domain.statements import Issue, IssueField

CATEGORY = "grounding"

# ---------------------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------------------

# Word characters include Unicode sub- and superscript digits ("H₂O", "10⁹/L"), read as plain digits by _norm_word.
_SCRIPTS = "₀-₉⁰¹²³⁴-⁹"
_TOKEN_RE = re.compile(
    rf"[A-Za-z0-9À-ɏͰ-ϿµΜμ°{_SCRIPTS}]+(?:['’][a-z]+)?"
    rf"(?:[.,/:+*^-](?=[A-Za-z0-9À-ɏͰ-Ͽµμ{_SCRIPTS}])[A-Za-z0-9À-ɏͰ-Ͽµμ°{_SCRIPTS}]+)*"
    r"|[<>≤≥≠±%]"
)
_SUPERSCRIPT_EXPONENT_RE = re.compile(r"(?<=\d)([⁰¹²³⁴-⁹]+)")
_SCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉", "01234567890123456789")
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

NEGATION_WORDS = frozenset(
    """not no never without neither nor none cannot absence absent lack lacks lacking unlikely fail fails failed
    contraindicated contraindication contraindications avoid avoided avoids avoiding avoidance inappropriate unsafe
    unnecessary unwarranted ineffective inadequate""".split()
)
HEDGE_WORDS = frozenset("may might could possibly perhaps consider considered reasonable".split())
OBLIGATION_WORDS = frozenset("should must required requires require mandatory always".split())
# (key, sign) for polar words: a local edit that changes the sign of a key flips the statement's meaning.
_POLAR_PAIRS: tuple[tuple[str, str], ...] = (
    ("positive", "negative"), ("increase", "decrease"), ("increases", "decreases"), ("increased", "decreased"),
    ("increasing", "decreasing"), ("higher", "lower"), ("high", "low"), ("more", "less"), ("more", "fewer"),
    ("above", "below"), ("before", "after"), ("maximum", "minimum"), ("acute", "chronic"),
    ("benign", "malignant"), ("early", "late"), ("earlier", "later"), ("most", "least"), ("raise", "lower"),
    ("raises", "lowers"), ("rise", "fall"), ("rises", "falls"), (">", "<"), ("≥", "≤"), ("over", "under"),
    ("indicated", "contraindicated"), ("effective", "ineffective"), ("appropriate", "inappropriate"),
    ("safe", "unsafe"), ("necessary", "unnecessary"), ("adequate", "inadequate"), ("likely", "unlikely"),
    ("common", "uncommon"), ("common", "rare"), ("sensitive", "insensitive"), ("excess", "deficiency"),
    ("agonist", "antagonist"), ("inhibits", "stimulates"), ("inhibit", "stimulate"), ("with", "without"),
)
POLAR: dict[str, tuple[str, int]] = {}
for _plus, _minus in _POLAR_PAIRS:
    POLAR.setdefault(_plus, (_plus, 1))
    POLAR.setdefault(_minus, (_plus, -1))
_POLAR_PREFIXES = (("hyper", "hypo"), ("tachy", "brady"), ("macro", "micro"), ("hyper", "normo"))
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


def _norm_word(raw: str) -> str:
    w = raw.lower()
    if not w.isascii():
        w = w.replace("’", "'").replace("µ", "μ").replace("‐", "-")
        if not w.isascii():  # "10⁹/l" -> "10^9/l", "h₂o" -> "h2o", "m²" -> "m2"
            w = _SUPERSCRIPT_EXPONENT_RE.sub(lambda m: "^" + m.group(1), w).translate(_SCRIPT_DIGITS)
    if w[0].isdigit() and _NUMBER_TOKEN_RE.match(w):
        return canonical_value(w)
    return w


# Words that start a rewrite in the second pass ("this patient" → "a", comparator phrases → a symbol, "stroke
# volume" → one word, so that the disease "stroke" is never found inside it).
_SECOND_PASS_STARTS = _COMPARATOR_STARTS | {"this", "the"} | frozenset(COMPOUND_WORDS)


@lru_cache(maxsize=8192)
def _tokenize_cached(text: str) -> tuple[Token, ...]:
    masked = _mask_options(text).replace("–", " ").replace("—", " ").replace("−", "-").replace("\u2011", "-")
    if " O" in masked:
        masked = _SPLIT_FORMULA_RE.sub(lambda m: f"H{m.group(1)}O ", masked)
    raw: list[Token] = []
    for match in _TOKEN_RE.finditer(masked):
        word = _norm_word(match.group())
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
    return list(_tokenize_cached(text))


def clear_caches() -> None:
    """Forget what was worked out from texts (benchmarks measure validation without it)."""
    _tokenize_cached.cache_clear()
    cue_anchors.cache_clear()
    _cue_text.cache_clear()


def _is_numberish(word: str) -> bool:
    return bool(word) and (word[0].isdigit() or word in ("approximately", "about", "roughly"))


def is_content(word: str) -> bool:
    return word not in STOP_WORDS and (len(word) > 2 or word[:1].isdigit() or word in ("<", ">", "≤", "≥", "%"))


# ---------------------------------------------------------------------------------------------------------
# Word support (plurals, derivations; never hyper- for hypo-)
# ---------------------------------------------------------------------------------------------------------

_DISEASE_ENDINGS = ("itis", "itides", "osis", "oses", "emia", "emias", "oma", "omas", "pathy", "pathies")


def _polar_prefix_clash(a: str, b: str) -> bool:
    for plus, minus in _POLAR_PREFIXES:
        if (a.startswith(plus) and b.startswith(minus)) or (a.startswith(minus) and b.startswith(plus)):
            return True
    return False


@lru_cache(maxsize=65536)
def _variants(word: str) -> frozenset[str]:
    w = word
    out = {w}
    if w.endswith("ies"):
        out.add(w[:-3] + "y")
    if w.endswith("es"):
        out.add(w[:-2])
    if w.endswith("s"):
        out.add(w[:-1])
    else:
        out |= {w + "s", w + "es"}
    if w.endswith("y"):
        out.add(w[:-1] + "ies")
    if len(w) >= 4:  # lower/lowered/lowering, reduce/reduced, use/used
        out |= {w + "ed", w + "d", w + "ing"}
        for ending in ("ed", "d", "ing"):
            if w.endswith(ending) and len(w) - len(ending) >= 3:
                stem = w[: -len(ending)]
                out |= {stem, stem + "e"}
    for a, b in (("osis", "oses"), ("itis", "itides"), ("oma", "omas"), ("ion", "ions")):
        if w.endswith(a):
            out.add(w[: -len(a)] + b)
        if w.endswith(b):
            out.add(w[: -len(b)] + a)
    return frozenset(out)


def _same_family(a: str, b: str) -> bool:
    """Derivational variants: hypertension/hypertensive, anticoagulant/anticoagulation."""
    if _polar_prefix_clash(a, b):
        return False
    shorter = min(len(a), len(b))
    common = 0
    for x, y in zip(a, b):
        if x != y:
            break
        common += 1
    if common < max(6, shorter - 3):
        return False
    a_disease = a.endswith(_DISEASE_ENDINGS)
    b_disease = b.endswith(_DISEASE_ENDINGS)
    return a_disease == b_disease or _disease_adjective(a, b) or _disease_adjective(b, a)


# A condition and its adjective: hypovolemia/hypovolemic, cirrhosis/cirrhotic, arthritis/arthritic (never
# hepatitis/hepatic: the stems must be the same).
_DISEASE_ADJECTIVES = (("emia", "emic"), ("osis", "otic"), ("itis", "itic"), ("pathy", "pathic"), ("oma", "omatous"))


def _disease_adjective(noun: str, adjective: str) -> bool:
    return any(noun.endswith(n) and adjective.endswith(a) and noun[:-len(n)] == adjective[:-len(a)]
               for n, a in _DISEASE_ADJECTIVES)


@lru_cache(maxsize=8192)
def _condition_forms(word: str) -> tuple[str, ...]:
    """The adjective of a condition, or the condition of an adjective (hypovolemia <-> hypovolemic): what
    _disease_adjective pairs the word with, found by rewriting its ending instead of scanning a word set."""
    forms = [word[:-len(n)] + a for n, a in _DISEASE_ADJECTIVES if word.endswith(n)]
    forms += [word[:-len(a)] + n for n, a in _DISEASE_ADJECTIVES if word.endswith(a)]
    return tuple(form for form in forms if form[:4] == word[:4])


# ---------------------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------------------


@cache
def _lexicon_abbreviation_pairs() -> list[tuple[str, tuple[str, ...]]]:
    """(abbreviation, words of one long form) for every lexicon abbreviation (built once per process)."""
    return [(short, tuple(_norm_word(w) for w in _TOKEN_RE.findall(form))) for short, forms in ABBREVIATIONS.items()
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
        self.sentence_sets = [frozenset(t.norm for t in toks if is_content(t.norm)) for toks in self.sentence_tokens]
        self.words = frozenset(t.norm for t in self.tokens)
        self.lower = " " + " ".join(t.norm for t in self.tokens) + " "
        cased = self.text if self.text.isascii() else self.text.translate(_SCRIPT_DIGITS)  # "H₂O" reads "H2O"
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
        result = bool(_variants(word) & self.words) or (word.isalpha() and any(
            _same_family(word, other) for other in self._by_prefix.get(word[:5], ())
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
                    text = _cue_text_at(self, cue)
                    anchors = cue_anchors(self.text, cue.start, cue.start + len(text), cue.scope_end)
                    found.append((cue, text, anchors, _variants(anchors.head) if anchors.head else frozenset()))
            self._negative_cues = found
        return self._negative_cues

    def cue_subject(self, cue: SourceCue) -> frozenset[str]:
        """The content words before a source cue in its clause (what it is said of)."""
        subject = self._cue_subjects.get(cue.start)
        if subject is None:
            subject = self._cue_subjects[cue.start] = frozenset(_subject_before(self.text, cue.start))
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
            elif form and form[0] in words and all(w in words for w in form[1:-1]) and _variants(form[-1]) & words:
                out.add(short)
        return frozenset(out)

    # -- alignment --------------------------------------------------------------------------------------

    def align(self, tokens: list[Token]) -> Alignment:
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
        if self.header_sentences:
            chosen = tuple(sorted(set(chosen) | set(self.header_sentences)))
        words = {w for w in content if w.isalpha()}
        covered = frozenset().union(*(self.sentence_sets[i] for i in chosen))
        word_coverage = len(words & covered) / len(words) if words else 0.0
        return Alignment(chosen, best_score, word_coverage)

    def context_tokens(self, alignment: Alignment) -> list[Token]:
        return [t for index in alignment.sentences for t in self.sentence_tokens[index]]


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


# ---------------------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------------------


def _issue(code: str, severity: str, message: str, span: tuple[int, int] | None, where: IssueField) -> Issue:
    return Issue(code=code, severity=severity, message=message, span=span, category=CATEGORY, field=where)


def ground_text(text: str, source: Source, where: IssueField = "statement") -> list[Issue]:
    """Every grounding issue of one text (a statement, or an extra_field sentence by sentence)."""
    if not text.strip():
        return []
    if not source.text.strip():
        return [_issue("source_unavailable", "info", f"no {source.name} text to ground against", None, where)]
    issues: list[Issue] = []
    pieces = [(0, len(text))] if where == "statement" else list(_sentence_spans(text))
    quantities = find_quantities(text)
    cues = find_cues(text)
    terms = find_terms(text)
    for start, end in pieces:
        piece_tokens = [t for t in tokenize(text) if start <= t.start < end]
        alignment = source.align(piece_tokens)
        context = source.context_tokens(alignment)
        piece_quantities = [q for q in quantities if start <= q.start < end]
        issues += _check_numbers(piece_quantities, source, alignment, where)
        if alignment.strong:
            issues += _check_local_edits(text, piece_tokens, context, source, where, cues, alignment)
        issues += _check_negation_cues([c for c in cues if start <= c.start < end], text, source, alignment, where)
        issues += _check_dropped_negations(piece_tokens, source, alignment, where)
        issues += _check_terms([t for t in terms if start <= t.start < end], text, source, piece_quantities, where)
        issues += _check_wording(piece_tokens, source, where)
    if where == "statement":
        issues += _check_unknown_words(tokenize(text), text, source, quantities, issues)
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


# -- numbers -------------------------------------------------------------------------------------------


def _units_compatible(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def _unit_prefix(a: str, b: str) -> bool:
    """'mg' vs 'mg/d', 'ml/min' vs 'ml/min/1.73m2': one is the other without its denominator."""
    return a.startswith(b + "/") or b.startswith(a + "/")


def _check_numbers(quantities: list[Quantity], source: Source, alignment: Alignment, where: IssueField) -> list[Issue]:
    issues: list[Issue] = []
    in_context = set(alignment.sentences)
    for q in quantities:
        span = (q.expr_start, q.expr_end)
        same_value = [s for s in source.quantities if s.value == q.value]
        if not same_value:
            issues.append(_issue("number_not_in_source", "error",
                                 f"{q.text!r}: the number {q.value} does not occur in the {source.name}", span, where))
            continue
        nearby = [s for s in same_value if s.sentence in in_context]
        if not nearby and alignment.word_coverage >= 0.8 and not source.name.startswith("table:"):
            issues.append(_issue("number_elsewhere", "warning",
                                 f"{q.text!r}: {q.value} is in the {source.name}, but not in the sentence this "
                                 f"statement comes from", span, where))
        nearby = nearby or same_value
        unit_ok = [s for s in nearby if _units_compatible(q.unit, s.unit)] or [
            s for s in same_value if _units_compatible(q.unit, s.unit)
        ]
        if not unit_ok:
            units = sorted({s.unit for s in same_value if s.unit})
            if q.unit and any(_unit_prefix(q.unit, u) for u in units):
                issues.append(_issue("unit_incomplete", "warning",
                                     f"{q.text!r}: the {source.name} gives {q.value} in {', '.join(units)}", span,
                                     where))
                continue
            issues.append(_issue("unit_mismatch", "error",
                                 f"{q.text!r}: the {source.name} gives {q.value} in {', '.join(units) or 'no unit'}, "
                                 f"not {q.unit}", span, where))
            continue
        if q.direction:
            same_direction = [s for s in unit_ok if s.direction == q.direction]
            if not same_direction and unit_ok is not same_value:
                same_direction = [s for s in same_value if s.direction == q.direction
                                  and _units_compatible(q.unit, s.unit)]
            if same_direction:
                if not any(s.strict == q.strict for s in same_direction):
                    issues.append(_issue("comparator_strictness", "warning",
                                         f"{q.text!r}: the {source.name} has {same_direction[0].text!r}", span, where))
            elif _referent_comparator(source, alignment, q.direction):
                continue  # "… greater than 150/μL. … a count below this threshold …" -> "a count below 150/μL"
            elif any(s.direction and s.direction != q.direction for s in unit_ok):
                other = next(s for s in unit_ok if s.direction)
                issues.append(_issue("comparator_mismatch", "error",
                                     f"{q.text!r}: the {source.name} says {other.text!r}", span, where))
            else:
                issues.append(_issue("comparator_not_in_source", "error",
                                     f"{q.text!r}: the {source.name} gives {q.value} without this comparator", span,
                                     where))
        elif unit_ok and all(s.direction for s in unit_ok) and not q.is_word:
            issues.append(_issue("comparator_dropped", "warning",
                                 f"{q.text!r}: the {source.name} says {unit_ok[0].text!r}", span, where))
    return issues


_REFERENT_COMPARATOR_RE = re.compile(
    r"\b(?:(?P<lt>below|under|less\s+than|lower\s+than|fewer\s+than)|(?P<gt>above|over|greater\s+than|more\s+than|"
    r"higher\s+than|exceed(?:s|ed|ing)?))\s+(?:this|that|the|these|those)\s+(?:thresholds?|cut-?offs?|cut\s+points?|"
    r"levels?|values?|limits?|targets?)\b",
    re.IGNORECASE,
)


def _referent_comparator(source: Source, alignment: Alignment, direction: str) -> bool:
    """An aligned source sentence compares with the number by reference ("below this threshold"), in the
    statement's direction: the statement writes the number the reference points to."""
    for index in alignment.sentences:
        start, end = source.sentences[index]
        for match in _REFERENT_COMPARATOR_RE.finditer(source.text, start, end):
            if match.group(direction) is not None:
                return True
    return False


# -- local edits against the aligned sentence -------------------------------------------------------------


def _negative_flags(words: list[str]) -> list[bool]:
    """Which words negate: the negation words, except "avoid" in "avoid the need for" (prevention)."""
    flags = [w in NEGATION_WORDS for w in words]
    for i, w in enumerate(words):
        if flags[i] and w.startswith("avoid") and words[i + 1:i + 3] and (
            words[i + 1] in ("need", "needs") or words[i + 1:i + 3] in (["the", "need"], ["the", "needs"])
        ):
            flags[i] = False
    return flags


def _is_anchor(words: list[str]) -> bool:
    """An equal run that anchors the edits around it: it has a content word (not only "is", "the", "of")."""
    return any(w not in STOP_WORDS for w in words)


_Opcode = tuple[str, int, int, int, int]


def _merged_opcodes(opcodes: list[_Opcode], s_words: list[str]) -> list[_Opcode]:
    """Small edits separated only by stop words are one edit ("neither [is]" -> "it [is] not"): a word such as "is"
    matched on both sides does not make two edits of them. (Not when the merged edit would be too long to be a local
    edit: then each keeps its own anchors.)"""
    merged: list[_Opcode] = []
    for op in opcodes:
        if (op[0] != "equal" and len(merged) >= 2 and merged[-1][0] == "equal" and merged[-2][0] != "equal"
                and not _is_anchor(s_words[merged[-1][1]:merged[-1][2]])
                and max(op[2] - merged[-2][1], op[4] - merged[-2][3]) <= MAX_LOCAL_EDIT):
            merged.pop()  # the stop-word run
            first = merged.pop()
            i1, j1 = first[1], first[3]
            i2, j2 = op[2], op[4]
            tag = "replace" if i2 > i1 and j2 > j1 else ("delete" if i2 > i1 else "insert")
            merged.append((tag, i1, i2, j1, j2))
            continue
        merged.append(op)
    return merged


def _polar_signs(words: Iterable[str]) -> dict[str, int]:
    signs: dict[str, int] = {}
    for w in words:
        if w in POLAR:
            key, sign = POLAR[w]
            signs[key] = sign
    return signs


def _prefix_flip(s_words: list[str], c_words: list[str]) -> tuple[str, str] | None:
    for s in s_words:
        for c in c_words:
            if s != c and _polar_prefix_clash(s, c):
                for plus, minus in _POLAR_PREFIXES:
                    for a, b in ((plus, minus), (minus, plus)):
                        if s.startswith(a) and c.startswith(b) and s[len(a):] == c[len(b):]:
                            return s, c
    return None


MAX_LOCAL_EDIT = 4


def _check_local_edits(text: str, tokens: list[Token], context: list[Token], source: Source,
                       where: IssueField, cues: list[Cue] | None = None,
                       alignment: Alignment | None = None) -> list[Issue]:
    if not tokens or not context:
        return []
    s_words = [t.norm for t in tokens]
    c_words = [t.norm for t in context]
    s_neg, c_neg = _negative_flags(s_words), _negative_flags(c_words)
    opcodes = _merged_opcodes(SequenceMatcher(None, s_words, c_words, autojunk=False).get_opcodes(), s_words)
    equal_positions = [k for k, op in enumerate(opcodes) if op[0] == "equal"]
    if not equal_positions:
        return []
    first_equal, last_equal = equal_positions[0], equal_positions[-1]
    # A statement that is (nearly) its whole aligned sentence: every local edit is a real edit. Otherwise the
    # statement paraphrases or splits the sentence, and an edit explained by the rest of it is only a warning.
    near_verbatim = len(s_words) >= 0.8 * len(c_words)
    issues: list[Issue] = []
    for k, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            continue
        inside = first_equal < k < last_equal
        s_edge = (k < first_equal and j2 - j1 == 0) or (k > last_equal and j2 - j1 == 0)  # statement-only ends
        # both texts start (or end) with this edit: "… is contraindicated." -> "… is indicated."
        both_edge = tag == "replace" and ((i1 == 0 and j1 == 0) or (i2 == len(s_words) and j2 == len(c_words)))
        if not inside and not s_edge and not both_edge:
            continue
        if max(i2 - i1, j2 - j1) > MAX_LOCAL_EDIT:
            continue
        s_part, c_part = s_words[i1:i2], c_words[j1:j2]
        if i2 > i1:
            span = (tokens[i1].start, tokens[i2 - 1].end)
        else:
            at = tokens[i1].start if i1 < len(tokens) else tokens[-1].end
            span = (at, at)
        said = " ".join(c_part) or "(nothing)"
        wrote = " ".join(s_part) or "(nothing)"
        if sum(s_neg[i1:i2]) % 2 != sum(c_neg[j1:j2]) % 2:
            if _in_disjunction(s_words, i1, i2) or _in_disjunction(c_words, j1, j2):
                continue  # "no or minimal response", "with or without": an alternative, not a polarity
            following = s_words[i2:opcodes[k + 1][2]] if k + 1 < len(opcodes) else []
            edit = _Edit(text, tokens, context, source, s_words, c_words, i1, i2, j1, j2, following)
            if not _negation_about_same_words(edit, s_neg, c_neg, cues or []):
                continue  # the negation is about words the other side does not state ("no short title")
            if _unmet_requirement(s_words[i1:i2], c_words[j1:j2], following) or _unmet_requirement(
                    c_words[j1:j2], s_words[i1:i2], following):
                continue  # "X has not been excluded" -> "X must be excluded"
            if alignment is not None and any(_complement_paraphrase(text, cue, source, alignment)
                                             for cue in _cues_in(cues or [], tokens, i1, i2)):
                continue  # "all other patients" -> "patients without …": reported by _check_negation_cues
            severity, code = "error", "negation_mismatch"
            if not near_verbatim and _explained_elsewhere(c_words, j1, j2, opcodes, NEGATION_WORDS):
                severity, code = "warning", "negation_unclear"
            issues.append(_issue(code, severity,
                                 f"negation changed: the {source.name} says {said!r} where the statement says "
                                 f"{wrote!r}", span, where))
            continue
        s_signs, c_signs = _polar_signs(s_part), _polar_signs(c_part)
        flipped = [key for key in s_signs if key in c_signs and s_signs[key] != c_signs[key]]
        prefix = _prefix_flip(s_part, c_part)
        if flipped or prefix:
            severity, code = "error", "polarity_mismatch"
            polar_words = {w for w in POLAR if POLAR[w][0] in flipped} | set(prefix or ())
            if not near_verbatim and _explained_elsewhere(c_words, j1, j2, opcodes, frozenset(polar_words)):
                severity, code = "warning", "polarity_unclear"
            issues.append(_issue(code, severity,
                                 f"meaning flipped: the {source.name} says {said!r} where the statement says "
                                 f"{wrote!r}", span, where))
            continue
        s_hedge = any(w in HEDGE_WORDS for w in s_part)
        c_hedge = any(w in HEDGE_WORDS for w in c_part)
        s_oblig = any(w in OBLIGATION_WORDS for w in s_part)
        c_oblig = any(w in OBLIGATION_WORDS for w in c_part)
        if s_oblig and c_hedge and not c_oblig:
            issues.append(_issue("modality_strengthened", "error",
                                 f"the {source.name} hedges ({said!r}) where the statement says {wrote!r}", span,
                                 where))
        elif s_hedge and c_oblig and not s_oblig:
            issues.append(_issue("modality_weakened", "warning",
                                 f"the {source.name} says {said!r} where the statement hedges ({wrote!r})", span,
                                 where))
        issues += _check_substitution(s_part, c_part, tokens[i1:i2], source, where, text, s_words, context, j1)
    return issues


class _Edit(NamedTuple):
    text: str
    tokens: list[Token]
    context: list[Token]
    source: Source
    s_words: list[str]
    c_words: list[str]
    i1: int
    i2: int
    j1: int
    j2: int
    following: list[str]  # the words of the equal run after the edit


def _cues_in(cues: list[Cue], tokens: list[Token], i1: int, i2: int) -> list[Cue]:
    """The statement's negative cues that overlap tokens[i1:i2]."""
    if i2 <= i1:
        return []
    start, end = tokens[i1].start, tokens[i2 - 1].end
    return [c for c in cues if c.negative and c.start < end and start < c.end]


def _source_cue_at(source: Source, position: int) -> tuple[SourceCue, int] | None:
    """The negative source cue whose text covers a character position, and the cue's end."""
    for cue in source.cues:
        if cue.negative and position - 40 <= cue.start <= position:
            end = cue.start + len(_cue_text_at(source, cue))
            if position < end:
                return cue, end
    return None


def _negation_about_same_words(edit: _Edit, s_neg: list[bool], c_neg: list[bool], cues: list[Cue]) -> bool:
    """Is a negation that the edit adds or drops about words the other side states? Its head (the word it negates)
    must be in the other side's edit or in the words copied right after it, and a source negation about a subject
    ("adults who have no risk factors", "in adults without signs of …") must have that subject in the statement.
    Otherwise the negation belongs to a clause or cell the statement does not render ("…, but no one test is …";
    a table's "No short title")."""
    statement_words = set(edit.s_words)
    for index in range(edit.i1, edit.i2):
        if not s_neg[index]:
            continue
        cue = next((c for c in _cues_in(cues, edit.tokens, index, index + 1)), None)
        if cue is None:
            return True
        anchors = cue_anchors(edit.text, cue.start, cue.end, cue.scope_end)
        if anchors.head is None or _has_related(set(edit.c_words[edit.j1:edit.j2]) | set(edit.following),
                                                anchors.head):
            return True
    for index in range(edit.j1, edit.j2):
        if not c_neg[index]:
            continue
        found = _source_cue_at(edit.source, edit.context[index].start)
        if found is None:
            return True
        cue, end = found
        anchors = cue_anchors(edit.source.text, cue.start, end, cue.scope_end)
        if anchors.head is not None and not _has_related(set(edit.s_words[edit.i1:edit.i2]) | set(edit.following),
                                                 anchors.head):
            continue
        if (anchors.before and _restrictive(edit.source.text, cue.start)
                and not any(_has_exact(statement_words, w) for w in anchors.before)):
            continue
        return True
    return False


# Actions a source may say have not been done yet, which a statement may state as a requirement:
# "X has not been excluded" -> "X must be excluded".
_PENDING_VERBS = frozenset(
    """excluded ruled evaluated assessed performed done obtained tested measured confirmed established identified
    treated completed started initiated administered given tried checked investigated addressed""".split()
)
_NEED_WORDS = OBLIGATION_WORDS | {"need", "needs", "needed"}


def _unmet_requirement(negated: list[str], other: list[str], following: list[str]) -> bool:
    """The negated side says an action has not (yet) been done; the other side says it must be."""
    if "not" not in negated or not any(w in _NEED_WORDS for w in other):
        return False
    after = negated[negated.index("not") + 1:] + following
    if not after or after[0] not in ("been", "yet", "previously"):
        return False
    verb = next((w for w in after if w not in ("been", "yet", "previously", "be")), "")
    return verb in _PENDING_VERBS


_COMPLEMENT_WORDS = frozenset({"other", "remaining"})


def _complement_paraphrase(text: str, cue: Cue, source: Source, alignment: Alignment) -> bool:
    """The statement negates a group the source names as the complement of another: "all other patients" ->
    "patients without additional risk factors", "the remaining cases" -> "the cases not inherited"."""
    before = [t.norm for t in tokenize(text[max(0, cue.start - 40):cue.start])][-3:]
    nouns = [w for w in before if len(w) > 3 and w.isalpha() and w not in STOP_WORDS | {"that"}] or [
        w for w in before if w in ("patients", "patient")]
    if not nouns:
        return False
    indices = {i + d for i in alignment.sentences for d in (-1, 0, 1)} & set(range(len(source.sentence_tokens)))
    for index in indices:
        words = [t.norm for t in source.sentence_tokens[index]]
        for a, b in zip(words, words[1:]):
            if a in _COMPLEMENT_WORDS and any(b in _variants(noun) for noun in nouns):
                return True
    return False


# Words by which a sentence states the opposite case too ("… if X does not respond …; otherwise, …").
_CONTRAST_WORDS = frozenset("otherwise unless except whereas conversely instead".split())


def _in_disjunction(words: list[str], i1: int, i2: int) -> bool:
    """The edited negation is one side of an alternative: "no or minimal", "with or without"."""
    for index in range(i1, i2):
        if words[index] in NEGATION_WORDS:
            after = words[index + 1] if index + 1 < len(words) else ""
            before = words[index - 1] if index > 0 else ""
            if after in ("or", "and/or") or before == "or":
                return True
    return False


def _explained_elsewhere(c_words: list[str], j1: int, j2: int, opcodes, family: frozenset[str]) -> bool:
    """Does the aligned sentence state the opposite too, or contrast two cases, outside this edit and outside
    what the statement copied? Then the statement may paraphrase ("Contraindications to X include Y" -> "X is
    contraindicated in Y"; "… if X does not respond …; otherwise, …" -> "… if X responds …")."""
    copied = {j for tag, _, _, b1, b2 in opcodes if tag == "equal" for j in range(b1, b2)}
    for j, word in enumerate(c_words):
        if j1 <= j < j2 or j in copied:
            continue
        if word in family or word in _CONTRAST_WORDS or any(
            word.startswith(f[:8]) for f in family if len(f) >= 8
        ):
            return True
    return False


def _list_sibling_kept(source: Source, context: list[Token], index: int, kept: set[str]) -> bool:
    """The context word at `index` is an item of a list ("A, B, or C") and the statement keeps a neighbouring item:
    the statement picks one item of the list ("One treatment … is B"), it does not replace A."""
    for step in (1, -1):
        j = index
        while 0 <= j + step < len(context):
            a, b = (context[j], context[j + step]) if step == 1 else (context[j + step], context[j])
            gap = source.text[a.end:b.start]
            nxt = context[j + step]
            if nxt.norm in ("or", "and", "and/or") or "," in gap or "/" in gap:
                if nxt.norm in ("or", "and", "and/or"):
                    j += step
                    continue
                return is_content(nxt.norm) and _has(kept, nxt.norm)
            if j != index:  # after "or"/"and": the next word starts the sibling item
                return is_content(nxt.norm) and _has(kept, nxt.norm)
            break
    return False


def _check_substitution(s_part: list[str], c_part: list[str], s_tokens: list[Token], source: Source,
                        where: IssueField, text: str = "", s_words: list[str] | None = None,
                        context: list[Token] | None = None, j1: int = 0) -> list[Issue]:
    """A named term of the source replaced by a word the source never uses ("apixaban" -> "gabapentin"), or a
    content word of the source replaced by a term-like word it never uses (an invented "zorvatinib"): term_substituted.
    A named term that the statement still states elsewhere was moved, not replaced ("X is associated with Y" -> "One
    form of Y associated with X"). A content word replaced by an invented word with no drug stem ("blorvex", see
    _unknown_part): unknown_word_substituted."""
    if not s_part or not any(is_content(c) for c in c_part):
        return []
    kept = set(s_words or s_part)
    replaced_term = any(
        word_kind(c) for offset, c in enumerate(c_part)
        if c.isalpha() and not _has_related(kept, c)
        and not (context and _list_sibling_kept(source, context, j1 + offset, kept))
    )
    replaced_word = any(c.isalpha() and is_content(c) for c in c_part)
    issues = []
    for word, token in zip(s_part, s_tokens, strict=True):
        raw = text[token.start:token.end] if text else word
        if (word.isalpha() and is_content(word) and len(word) > 3 and not source.supports_word(word)
                and (replaced_term or word_kind(word))):
            if is_abbreviation(raw) and source.supports_abbreviation(raw):
                continue  # "ECGs" for "electrocardiograms"
            if text and (_abbreviated_in_source(raw, source)
                         or _long_form_around(text, token.start, token.end, source)):
                continue  # "electrocardiograms" for "ECGs"
            issues.append(_issue("term_substituted", "error",
                                 f"{word!r} replaces {' '.join(c_part)!r} of the {source.name}, which never "
                                 f"mentions it", (token.start, token.end), where))
            continue
        unknown = _unknown_part(word, raw, source) if replaced_word else None
        if unknown is not None:  # an invented word with no drug stem replaces an ordinary word
            issues.append(_issue("unknown_word_substituted", "error",
                                 f"{unknown!r} replaces {' '.join(c_part)!r} of the {source.name}; it is neither in "
                                 f"the {source.name} nor an English word, a named term or a medical word (invented?)",
                                 (token.start, token.end), where))
    return issues


# -- invented words ------------------------------------------------------------------------------------------

MIN_UNKNOWN_LENGTH = 5  # shorter words are abbreviations, units or symbols more often than words


def _unknown_part(word: str, raw: str, source: Source) -> str | None:
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


def _check_unknown_words(tokens: Iterable[Token], text: str, source: Source, quantities: list[Quantity],
                         issues: list[Issue]) -> list[Issue]:
    """An invented word (see _unknown_part) anywhere in a statement, where no local edit shows what it replaces:
    the statement is aligned loosely with its sentence, or it rewrites the words around it. A word that an edit
    already reports (unknown_word_substituted, term_substituted) is not reported again."""
    out: list[Issue] = []
    reported = {i.span for i in issues if i.code in ("unknown_word_substituted", "term_substituted")}
    words = source.words
    for token in tokens:
        if len(token.norm) < MIN_UNKNOWN_LENGTH or token.norm in words or (token.start, token.end) in reported:
            continue  # short, or a word of the source (most words of most statements)
        unknown = _unknown_part(token.norm, text[token.start:token.end], source)
        if unknown is not None and not any(q.expr_start <= token.start < q.expr_end for q in quantities):  # a unit
            out.append(_issue("unknown_word", "error",
                              f"{unknown!r} is neither in the {source.name} nor an English word, a named term or a "
                              "medical word (invented?)", (token.start, token.end), "statement"))
    return out


# -- negation cues of the statement -------------------------------------------------------------------------


# Lexical negatives and what they negate: "contraindicated" is the negation of "indicated".
_NEGATED_HEAD = {
    "contraindicated": "indicated", "contraindication": "indicated", "contraindications": "indicated",
    "ineffective": "effective", "inappropriate": "appropriate", "unnecessary": "necessary", "unsafe": "safe",
    "inadequate": "adequate", "unlikely": "likely", "unwarranted": "warranted", "unhelpful": "helpful",
}
_CLAUSE_START_RE = re.compile(r"[;:]|[.!?](?=\s)|\b(?:but|whereas|because|although|while|which)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Anchors:
    """What a negation cue is about: its head (the word it negates) and a few words around it; `before` are the
    words before it in its clause (its subject)."""

    head: str | None
    others: tuple[str, ...]
    before: tuple[str, ...] = ()


_CASE_WORDS = frozenset({"patient", "patients", "he", "she", "his", "her"})


# Where the subject of a negated verb phrase starts: a clause start, a coordination or a pronoun ("X has no
# activity and would not be …", "…, so it is not …": the subject is not in the clause, so nothing is required of it).
_SUBJECT_START_RE = re.compile(r"\b(?:so|and|then|therefore|thus|hence|they|it)\b", re.IGNORECASE)


def _clause_before(text: str, start: int) -> str:
    clause_start = max((m.end() for m in _CLAUSE_START_RE.finditer(text, max(0, start - 120), start)), default=None)
    return text[clause_start if clause_start is not None else max(0, start - 120):start]


def _subject_before(text: str, start: int) -> tuple[str, ...]:
    """The content words before a cue in its clause, up to a coordination that starts a new subject."""
    return _subject_of(_clause_before(text, start))


def _subject_of(clause: str) -> tuple[str, ...]:
    cut = max((m.end() for m in _SUBJECT_START_RE.finditer(clause)), default=0)
    words = [t.norm for t in tokenize(clause[cut:])]
    return tuple(w for w in words if is_content(w) and w not in NEGATION_WORDS)


_RESTRICTIVE_RE = re.compile(r"(?:\b(?:who|that|which)\s+(?:have|has|had)|\bwith|\bin)\s+$", re.IGNORECASE)


def _restrictive(text: str, start: int) -> bool:
    """A negation that restricts a group rather than denying a statement: "without …", "(patients) with no …",
    "who have no …", "in the absence of …"."""
    cue = text[start:start + 10].lower()
    if cue.startswith(("without", "absence", "lack")):
        return True
    return cue.startswith("no ") and bool(_RESTRICTIVE_RE.search(text, max(0, start - 20), start))


def _about_the_case(text: str, start: int) -> bool:
    """The clause before a cue has the case patient as its only subject ("This patient has not …", "She does
    not …")."""
    words = [t.norm for t in tokenize(_clause_before(text, start))]
    return bool(_CASE_WORDS & set(words)) and not any(is_content(w) for w in words)


@lru_cache(maxsize=4096)  # a source's cues are anchored again for every statement aligned with their sentence
def cue_anchors(text: str, start: int, end: int, scope_end: int) -> Anchors:
    cue_words = [t.norm for t in tokenize(text[start:end])]
    after = [t.norm for t in tokenize(text[end:scope_end]) if is_content(t.norm) and t.norm not in NEGATION_WORDS]
    head = next((_NEGATED_HEAD[w] for w in cue_words if w in _NEGATED_HEAD), None)
    if (head is None and len(cue_words) > 1 and is_content(cue_words[-1])
            and cue_words[-1] not in NEGATION_WORDS):
        head = cue_words[-1]  # "is not recommended" -> "recommended"
    if head is None and after:
        head, after = after[0], after[1:]
    clause = _clause_before(text, start)
    before = [t.norm for t in tokenize(clause) if is_content(t.norm) and t.norm not in NEGATION_WORDS]
    return Anchors(head, tuple(dict.fromkeys(before[-3:] + after[:2])), _subject_of(clause))


def _has_exact(words: set[str] | frozenset[str], word: str) -> bool:
    """The word or one of its variants (plural, -ed, -ing) is among the words."""
    return bool(_variants(word) & words)


def _has(words: set[str] | frozenset[str], word: str) -> bool:
    """The word, a variant, or the adjective of a condition (hypovolemic for hypovolemia) is among the words."""
    if _variants(word) & words:
        return True
    return len(word) >= 6 and word.isalpha() and any(form in words for form in _condition_forms(word))


def _has_related(words: set[str] | frozenset[str], word: str) -> bool:
    """As _has, or a derivation of the same family (effect/effective, hypertension/hypertensive)."""
    return _has(words, word) or (len(word) >= 6 and word.isalpha() and any(
        len(other) >= 6 and other[:5] == word[:5] and other.isalpha() and _same_family(word, other) for other in words
    ))


def _check_negation_cues(cues: list[Cue], text: str, source: Source, alignment: Alignment,
                         where: IssueField) -> list[Issue]:
    """Every negation of the statement must be a negation of the source about the same words: the word it
    negates, or at least two of the words around it, in the window of a negative cue of the source."""
    issues: list[Issue] = []
    negative = [c for c in cues if c.negative]
    if not negative:
        return issues
    context = set(alignment.sentences) if alignment.strong else set()
    source_negative = [c for c in source.cues if c.negative]
    for cue in negative:
        anchors = cue_anchors(text, cue.start, cue.end, cue.scope_end)
        words = [w for w in (anchors.head, *anchors.others) if w]
        if not words:
            continue
        cue_words = [t.norm for t in tokenize(cue.text) if is_content(t.norm) or t.norm in NEGATION_WORDS]

        def statement_scope(cue: Cue = cue) -> frozenset[str]:
            return frozenset(t.norm for t in tokenize(text[cue.end:cue.scope_end]) if is_content(t.norm))

        supported = near = False
        for source_cue in source_negative:
            window = source.cue_window(source_cue)
            matched = sum(_has(window, w) for w in anchors.others)
            # the same cue, or one of its family ("contraindication" for "contraindicated")
            same_cue = any(_has_related(window, w) for w in cue_words if w not in ("not", "no"))
            head_found = bool(anchors.head) and _has(window, anchors.head)
            # A statement aligned with another sentence needs more than its head word in a negation elsewhere: the
            # same subject, or two words around it ("X is not the most appropriate next step" is not supported by
            # "Y is not appropriate").
            far = bool(context) and source_cue.sentence not in context and len(anchors.others) >= 2
            same_subject = False
            if far:
                # the source cue must negate the head itself, and be said of the same subject
                head_found = head_found and _has(source.cue_scope(source_cue), anchors.head)
                subject = source.cue_subject(source_cue)
                if subject:
                    same_subject = sum(_has(subject, w) for w in anchors.before) >= min(2, len(subject),
                                                                                       len(anchors.before))
                    # or the same fact turned round: "Y is a contraindication to X" for "X is contraindicated in
                    # Y": the statement's subject is what the source cue governs, and the source's subject is
                    # what the statement's cue governs
                    same_subject = same_subject or (
                        bool(anchors.before)
                        and sum(_has(source.cue_scope(source_cue), w) for w in anchors.before)
                        >= min(2, len(anchors.before))
                        and any(_has(statement_scope(), w) for w in subject)
                    )
                else:  # said of a pronoun: two more of the statement's words in what it negates
                    scope = source.cue_scope(source_cue)
                    same_subject = sum(_has(scope, w) for w in anchors.others if w != anchors.head) >= 2
                if not same_subject:
                    head_found = same_cue = False
            # a cue of the same family, said of the same subject, needs one more word in common even when far
            if ((head_found or (not anchors.head and matched >= 2 and not far)
                    or (same_cue and (matched >= (2 if far and not same_subject else 1) or not anchors.others)))):
                supported = True
                break
            near = near or (matched >= 1 and source_cue.sentence in context)
        if supported:
            continue
        span = (cue.start, cue.end)
        if near or _complement_paraphrase(text, cue, source, alignment):
            issues.append(_issue("negation_paraphrased", "warning",
                                 f"{cue.text!r}: the aligned {source.name} sentence negates something close, not "
                                 f"{anchors.head or words[0]!r}", span, where))
        else:
            issues.append(_issue("negation_unsupported", "error",
                                 f"{cue.text!r}: the {source.name} does not negate {', '.join(words[:3])}", span,
                                 where))
    return issues


def _check_dropped_negations(tokens: list[Token], source: Source, alignment: Alignment,
                             where: IssueField) -> list[Issue]:
    """A negation of the aligned source sentence whose head word the statement states with no negation near any
    of its occurrences, about the same subject: "Drug A has no activity against X" -> "Drug A has activity
    against X". A warning only when the source sentence states the opposite case too ("otherwise", "unless")."""
    if alignment.coverage < WEAK_ALIGNMENT or not tokens:
        return []
    issues: list[Issue] = []
    words = [t.norm for t in tokens]
    present = set(words)
    for source_cue, cue_text, anchors, head_variants in source.negative_cues():
        if (head_variants.isdisjoint(present)
                or not any(_has_exact(present, w) for w in anchors.others)):
            continue
        # A negation of another sentence counts only when it is said of the statement's own subject and about
        # several of its words: "The device is contraindicated in A, B and C" for "The device is indicated in B".
        far = source_cue.sentence not in alignment.sentences
        if far and not _far_negation_about_statement(source, source_cue, anchors, present, alignment):
            continue
        following = [t.norm for t in tokenize(source.text[source_cue.start:source_cue.scope_end])][1:2]
        if following == ["or"]:
            continue  # "no or minimal response": an alternative
        if not alignment.strong and sum(_has_exact(present, w) for w in {*anchors.before, *anchors.others}) < 3:
            continue  # a loosely aligned statement: only a negation about several of its words
        if (anchors.before and _restrictive(source.text, source_cue.start)
                and not any(_has_exact(present, w) for w in anchors.before)):
            continue  # about another group: "in adults who have no risk factors, …" -> "One risk factor is …"
        if not anchors.before and _about_the_case(source.text, source_cue.start) and not present & _CASE_WORDS:
            continue  # "This patient has not yet had a foot examination": the case, not a general fact
        lexical = {t.norm for t in tokenize(cue_text)} & NEGATION_WORDS - {"not", "no"}
        if any(_has_exact(present, w) for w in lexical):
            continue  # the statement keeps the source's own negative word ("ineffective", "avoided")
        occurrences = [i for i, word in enumerate(words) if _variants(word) & _variants(anchors.head)]
        if any(any(w in NEGATION_WORDS or w in _EXCLUDING_WORDS for w in words[max(0, i - 5):i + 3])
               for i in occurrences):
            continue  # negated somewhere in the statement ("does not have X" -> "excludes X"): kept
        scope = [t.norm for t in tokenize(source.text[source_cue.start:source_cue.scope_end])]
        if any(_unmet_requirement(scope[:3], words[max(0, i - 4):i], scope[3:]) for i in occurrences):
            continue  # "X has not been excluded" -> "X must be excluded"
        sentence_start, sentence_end = source.sentences[source_cue.sentence]
        sentence_words = [t.norm for t in tokenize(source.text[sentence_start:sentence_end])]
        if any(
            _variants(word) & _variants(anchors.head)
            and not any(w in NEGATION_WORDS for w in sentence_words[max(0, i - 5):i + 3])
            for i, word in enumerate(sentence_words)
        ):
            continue  # the sentence also states it affirmatively ("is effective for A but ineffective for B")
        # the opposite case is one the statement could be stating, unless it copies the contrast itself ("… is not
        # recommended except in A" -> "… is recommended except in A")
        contrast = bool(set(sentence_words) & _CONTRAST_WORDS - present)
        token = tokens[occurrences[0]]
        issues.append(_issue(
            "negation_unclear" if contrast else "negation_dropped",
            "warning" if contrast else "error",
            f"the {source.name} says {cue_text!r} about {anchors.head!r}; the statement states it without a "
            "negation" + (" (the source contrasts two cases)" if contrast else ""),
            (token.start, token.end), where,
        ))
    return issues


def _far_negation_about_statement(source: Source, source_cue: SourceCue, anchors: Anchors, present: set[str],
                                  alignment: Alignment) -> bool:
    """A negation in a source sentence other than the aligned one is about the statement's words only when it is
    said of the statement's subject (its words before the cue in its clause, two of them or all if fewer; not a
    restricted group such as "in adults without …"), two of the statement's words besides its head are around it or
    in what it governs ("The device is contraindicated in A, B and C" for "The device is indicated in B"), and the
    aligned sentences do not state the head without a negation."""
    subject = anchors.before
    if not subject or sum(_has_exact(present, w) for w in subject) < min(2, len(subject)):
        return False
    if _restrictive(source.text, source_cue.start):
        return False
    around = {w for w in (*anchors.others, *source.cue_scope(source_cue))
              if is_content(w) and w not in NEGATION_WORDS}
    around.discard(anchors.head)
    if sum(_has_exact(present, w) for w in around) < 2:
        return False
    for index in alignment.sentences:
        words = [t.norm for t in source.sentence_tokens[index]]
        if any(_variants(word) & _variants(anchors.head)
               and not any(w in NEGATION_WORDS for w in words[max(0, i - 5):i + 3]) for i, word in enumerate(words)):
            return False  # the aligned sentence states it: "X is recommended in A" beside "X is not recommended in B"
    return True


# Words by which a statement negates what follows without a negation cue: "excludes X", "rules out X".
_EXCLUDING_WORDS = frozenset({"exclude", "excludes", "excluded", "excluding", "exclusion", "rule", "rules",
                              "ruled", "ruling"})


def _cue_text_at(source: Source, cue: SourceCue) -> str:
    return _cue_text(source.text, cue.start, cue.scope_end)


@lru_cache(maxsize=4096)  # a source's cues are read again for every statement of the question
def _cue_text(text: str, start: int, scope_end: int) -> str:
    found = next((c for c in find_cues(text[start:scope_end + 1]) if c.start == 0), None)
    return found.text if found else text[start:start + 3]


# -- named terms -----------------------------------------------------------------------------------------


def _check_terms(terms, text: str, source: Source, quantities: list[Quantity], where: IssueField) -> list[Issue]:
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
            issues.append(_issue("term_not_in_source", "error",
                                 f"abbreviation {term.text!r} (or its long form) does not occur in the "
                                 f"{source.name}", (term.start, term.end), where))
            continue
        if source.supports_phrase(term.text):
            continue
        if source.long_form_is_abbreviated(term.text) or _abbreviated_in_source(term.text, source):
            continue
        if _long_form_around(text, term.start, term.end, source):
            continue  # "computed tomography" where the source writes "CT"
        issues.append(_issue("term_not_in_source", "error",
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


def _abbreviated_in_source(phrase: str, source: Source) -> bool:
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


def _long_form_around(text: str, start: int, end: int, source: Source) -> bool:
    """The term is the last word of a long form ("computed tomography", "acute kidney injury") whose abbreviation
    the source uses."""
    before = _WORDS_BEFORE_RE.findall(text[max(0, start - 60):start])[-3:]
    for n in range(len(before), 0, -1):
        if _abbreviated_in_source(" ".join([*before[-n:], text[start:end]]), source):
            return True
    return False


# -- wording (mostly information; an error when most of it is absent from the source) ----------------------------------------------------------------------------

GENERIC_WORDS = frozenset("a patient patients person people adult adults".split())
UNSUPPORTED_SHARE = 0.75
UNSUPPORTED_MIN_WORDS = 4


def _check_wording(tokens: list[Token], source: Source, where: IssueField) -> list[Issue]:
    content = [t for t in tokens if is_content(t.norm) and t.norm.isalpha() and len(t.norm) > 3
               and t.norm not in GENERIC_WORDS]
    if not content:
        return []
    missing = [t for t in content if not source.supports_word(t.norm)]
    if not missing:
        return []
    words = ", ".join(dict.fromkeys(t.norm for t in missing[:6]))
    share = len(missing) / len(content)
    if share >= UNSUPPORTED_SHARE and len(missing) >= UNSUPPORTED_MIN_WORDS:
        # Most of what it says is not in its source: invented, or leaked from somewhere else (a prompt injection).
        return [_issue("unsupported_statement", "error",
                       f"{len(missing)} of {len(content)} content words are not in the {source.name}: {words}",
                       None, where)]
    if share >= 0.4 and len(missing) >= 3:
        return [_issue("low_source_overlap", "warning",
                       f"{len(missing)} of {len(content)} content words are not in the {source.name}: {words}",
                       None, where)]
    return [_issue("unsupported_wording", "info", f"words not in the {source.name}: {words}", None, where)]
