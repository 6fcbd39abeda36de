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
  replaces a named term of the aligned sentence must occur somewhere in the source.

Wording that is not a named term is matched fuzzily (coverage for alignment, rapidfuzz for phrases) and only
reported as information.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz import fuzz

from mksap_assets.domain.lexicon import find_terms, is_abbreviation, long_forms, word_kind
from mksap_assets.domain.nlp_analysis import NlpAnalysis, SectionAnalysis, rule_section
from mksap_assets.domain.nlp_rules import Cue, Quantity, canonical_value, find_cues, find_quantities
from mksap_assets.domain.statements import Issue, IssueField

CATEGORY = "grounding"

# ---------------------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"[A-Za-z0-9À-ɏͰ-ϿµΜμ°]+(?:['’][a-z]+)?(?:[.,/:+*-](?=[A-Za-z0-9À-ɏͰ-Ͽµμ])[A-Za-z0-9À-ɏͰ-Ͽµμ°]+)*"
    r"|[<>≤≥≠±%]"
)
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
    if w[0].isdigit() and _NUMBER_TOKEN_RE.match(w):
        return canonical_value(w)
    return w


# Words that start a rewrite in the second pass ("this patient" → "a", comparator phrases → a symbol).
_SECOND_PASS_STARTS = _COMPARATOR_STARTS | {"this", "the"}


@lru_cache(maxsize=8192)
def _tokenize_cached(text: str) -> tuple[Token, ...]:
    masked = _mask_options(text).replace("–", " ").replace("—", " ").replace("−", "-").replace("\u2011", "-")
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
    """Forget tokenised texts (benchmarks measure validation without them)."""
    _tokenize_cached.cache_clear()


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
    return a_disease == b_disease


# ---------------------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------------------


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
        self.case_words = frozenset(m.group(0) for m in re.finditer(r"[A-Za-z][A-Za-z0-9+-]*", self.text))
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
        result = bool(_variants(word) & self.words) or any(
            _same_family(word, other) for other in self._by_prefix.get(word[:5], ())
        )
        if not result and "-" in word:
            parts = [p for p in word.split("-") if p]
            result = bool(parts) and all(self.supports_word(p) for p in parts if len(p) > 2)
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
            self._cue_windows[cue.start] = window
        return window

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
    from mksap_assets.domain.nlp_analysis import Abbreviation, CueFact, NumericFact

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
            issues += _check_local_edits(text, piece_tokens, context, source, where)
        issues += _check_negation_cues([c for c in cues if start <= c.start < end], text, source, alignment, where)
        issues += _check_dropped_negations(piece_tokens, source, alignment, where)
        issues += _check_terms([t for t in terms if start <= t.start < end], text, source, piece_quantities, where)
        issues += _check_wording(piece_tokens, source, where)
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


# -- local edits against the aligned sentence -------------------------------------------------------------


def _neg_count(words: Iterable[str]) -> int:
    return sum(1 for w in words if w in NEGATION_WORDS)


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
                       where: IssueField) -> list[Issue]:
    if not tokens or not context:
        return []
    s_words = [t.norm for t in tokens]
    c_words = [t.norm for t in context]
    opcodes = SequenceMatcher(None, s_words, c_words, autojunk=False).get_opcodes()
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
        if _neg_count(s_part) % 2 != _neg_count(c_part) % 2:
            if _in_disjunction(s_words, i1, i2) or _in_disjunction(c_words, j1, j2):
                continue  # "no or minimal response", "with or without": an alternative, not a polarity
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
        issues += _check_substitution(s_part, c_part, tokens[i1:i2], source, where)
    return issues


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


def _check_substitution(s_part: list[str], c_part: list[str], s_tokens: list[Token], source: Source,
                        where: IssueField) -> list[Issue]:
    """A named term of the source replaced by a word the source never uses ("apixaban" -> "gabapentin")."""
    if not s_part or not c_part:
        return []
    if not any(word_kind(c) for c in c_part if c.isalpha()):
        return []
    issues = []
    for word, token in zip(s_part, s_tokens, strict=True):
        if word.isalpha() and is_content(word) and len(word) > 3 and not source.supports_word(word):
            issues.append(_issue("term_substituted", "error",
                                 f"{word!r} replaces {' '.join(c_part)!r} of the {source.name}, which never "
                                 f"mentions it", (token.start, token.end), where))
    return issues


# -- negation cues of the statement -------------------------------------------------------------------------


# Lexical negatives and what they negate: "contraindicated" is the negation of "indicated".
_NEGATED_HEAD = {
    "contraindicated": "indicated", "contraindication": "indicated", "contraindications": "indicated",
    "ineffective": "effective", "inappropriate": "appropriate", "unnecessary": "necessary", "unsafe": "safe",
    "inadequate": "adequate", "unlikely": "likely", "unwarranted": "warranted", "unhelpful": "helpful",
}
_CLAUSE_START_RE = re.compile(r"[;:]|\b(?:but|whereas|because|although|while|which)\b")


@dataclass(frozen=True)
class Anchors:
    """What a negation cue is about: its head (the word it negates) and a few words around it."""

    head: str | None
    others: tuple[str, ...]


def cue_anchors(text: str, start: int, end: int, scope_end: int) -> Anchors:
    cue_words = [t.norm for t in tokenize(text[start:end])]
    after = [t.norm for t in tokenize(text[end:scope_end]) if is_content(t.norm) and t.norm not in NEGATION_WORDS]
    head = next((_NEGATED_HEAD[w] for w in cue_words if w in _NEGATED_HEAD), None)
    if (head is None and len(cue_words) > 1 and is_content(cue_words[-1])
            and cue_words[-1] not in NEGATION_WORDS):
        head = cue_words[-1]  # "is not recommended" -> "recommended"
    if head is None and after:
        head, after = after[0], after[1:]
    clause_start = max((m.end() for m in _CLAUSE_START_RE.finditer(text, max(0, start - 120), start)), default=None)
    before_text = text[clause_start if clause_start is not None else max(0, start - 120):start]
    before = [t.norm for t in tokenize(before_text) if is_content(t.norm) and t.norm not in NEGATION_WORDS]
    return Anchors(head, tuple(dict.fromkeys(before[-3:] + after[:2])))


def _has(words: set[str], word: str) -> bool:
    return bool(_variants(word) & words)


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
        supported = near = False
        for source_cue in source_negative:
            window = source.cue_window(source_cue)
            matched = sum(_has(window, w) for w in anchors.others)
            same_cue = any(_has(window, w) for w in cue_words if w not in ("not", "no"))
            head_found = bool(anchors.head) and _has(window, anchors.head)
            if head_found or (not anchors.head and matched >= 2) or (same_cue and (matched >= 1 or not anchors.others)):
                supported = True
                break
            near = near or (matched >= 1 and source_cue.sentence in context)
        if supported:
            continue
        span = (cue.start, cue.end)
        if near:
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
    if not alignment.strong or not tokens:
        return []
    issues: list[Issue] = []
    words = [t.norm for t in tokens]
    present = set(words)
    for source_cue in source.cues:
        if not source_cue.negative or source_cue.sentence not in alignment.sentences:
            continue
        following = [t.norm for t in tokenize(source.text[source_cue.start:source_cue.scope_end])][1:2]
        if following == ["or"]:
            continue  # "no or minimal response": an alternative
        cue_text = _cue_text_at(source, source_cue)
        anchors = cue_anchors(source.text, source_cue.start, source_cue.start + len(cue_text), source_cue.scope_end)
        if not anchors.head or not _has(present, anchors.head) or not any(_has(present, w) for w in anchors.others):
            continue
        lexical = {t.norm for t in tokenize(cue_text)} & NEGATION_WORDS - {"not", "no"}
        if any(_has(present, w) for w in lexical):
            continue  # the statement keeps the source's own negative word ("ineffective", "avoided")
        occurrences = [i for i, word in enumerate(words) if _variants(word) & _variants(anchors.head)]
        if any(any(w in NEGATION_WORDS for w in words[max(0, i - 5):i + 3]) for i in occurrences):
            continue  # negated somewhere in the statement: kept
        sentence_start, sentence_end = source.sentences[source_cue.sentence]
        sentence_words = [t.norm for t in tokenize(source.text[sentence_start:sentence_end])]
        if any(
            _variants(word) & _variants(anchors.head)
            and not any(w in NEGATION_WORDS for w in sentence_words[max(0, i - 5):i + 3])
            for i, word in enumerate(sentence_words)
        ):
            continue  # the sentence also states it affirmatively ("is effective for A but ineffective for B")
        contrast = bool(set(sentence_words) & _CONTRAST_WORDS)
        token = tokens[occurrences[0]]
        issues.append(_issue(
            "negation_unclear" if contrast else "negation_dropped",
            "warning" if contrast else "error",
            f"the {source.name} says {cue_text!r} about {anchors.head!r}; the statement states it without a "
            "negation" + (" (the source contrasts two cases)" if contrast else ""),
            (token.start, token.end), where,
        ))
    return issues


def _cue_text_at(source: Source, cue: SourceCue) -> str:
    found = next((c for c in find_cues(source.text[cue.start:cue.scope_end + 1]) if c.start == 0), None)
    return found.text if found else source.text[cue.start:cue.start + 3]


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
    from mksap_assets.domain.lexicon import ABBREVIATIONS

    lowered = " ".join(t.norm for t in tokenize(phrase))
    for short, forms in ABBREVIATIONS.items():
        if lowered in forms and (short.upper() in source.case_words or short.upper() + "s" in source.case_words):
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
