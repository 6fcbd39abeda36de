"""Rule analysers shared by the spaCy components (sources) and the validators (statements): numbers with their
units and comparators, and negation / modality cues. Pure regex, no spaCy, spans are character offsets into the
text given.

Both sides of every grounding comparison go through the same functions, so a statement copied verbatim from its
source always yields the same facts as the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

Direction = Literal["lt", "gt"]
CueKind = Literal["negation", "prohibition", "hedge", "obligation"]

NEGATIVE_KINDS: frozenset[str] = frozenset({"negation", "prohibition"})

# ---------------------------------------------------------------------------------------------------------
# Numbers, units, comparators
# ---------------------------------------------------------------------------------------------------------

_MU = "[µμu]"  # micro sign, Greek mu, or "u" ("ug")
_SQ = "(?:2|²)"
_UNIT_PATTERNS: tuple[str, ...] = (
    rf"mL/min/1\.73\s?m{_SQ}",
    r"mL/min",
    r"L/min",
    r"mL/kg(?:/h(?:r|our)?)?",
    rf"(?:mg|g|{_MU}g|mcg|ng|U|units?)/kg(?:/(?:d(?:ay)?|h(?:r|our)?|min))?",
    rf"(?:mg|g|{_MU}g|mcg|ng|pg|mmol|{_MU}mol|nmol|pmol|mol|mEq|mOsm|IU|mIU|U|mU|{_MU}U)/(?:dL|L|mL|kg|mol)"
    r"(?:/h(?:r)?)?(?:\s?H[2₂]\s?O)?",
    r"mmol/mol",
    r"(?:mg|g|mEq|mmol)/(?:d(?:ay)?|24\s?h(?:ours?)?)",
    rf"(?:mg|g)/m{_SQ}",
    r"mm\s?Hg",
    r"cm\s?H[2₂]\s?O",  # "cm H2O", "cm H₂O", and "cm H2 O" (a subscript rendered with a space)
    r"kPa",
    r"[x×]\s?10(?:\^?\d+|[⁰¹²³⁴⁵⁶⁷⁸⁹]+)\s?/\s?L",
    rf"/{_MU}L",
    r"/mm(?:3|³)",
    r"/hpf",
    r"(?:beats|breaths)(?:\s?/\s?|\s+per\s+)min(?:ute)?",
    r"bpm",
    r"pack[-\s]years?",
    r"°\s?[CF]",
    r"percent",
    r"%",
    r"mcg|mg|kg|ng|pg|g",
    rf"{_MU}g",
    r"mL|dL|L",
    r"mEq|mmol|mOsm",
    r"mm|cm|nm",
    r"IU|units?|U",
    r"kcal",
    r"Fr?",
    r"seconds?|sec|s",
    r"minutes?|min",
    r"hours?|hrs?|h",
    r"days?|d",
    r"weeks?|wks?",
    r"months?|mo",
    r"years?|yrs?|y",
    r"times|fold",
)
UNIT_RE_SOURCE = "(?:" + "|".join(_UNIT_PATTERNS) + ")"

_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_RANGE_SEP = r"\s?(?:-|–|—|to|/)\s?"
# number [range/ratio second number] [unit]; the unit must end on a non-letter.
_QUANTITY_RE = re.compile(
    rf"(?P<n1>{_NUMBER})"
    rf"(?:(?P<sep>{_RANGE_SEP})(?P<n2>{_NUMBER}))?"
    rf"(?:(?:\s?|-)(?P<unit>{UNIT_RE_SOURCE})(?![A-Za-z0-9]))?",
    re.IGNORECASE,
)
# Units that are only units when they directly follow a number with at most one space and are not English words.
_WORD_NUMBERS: dict[str, int] = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}
# The lookahead on the words' first letters lets the regex engine skip every other word quickly.
_WORD_NUMBER_RE = re.compile(
    r"\b(?=[" + "".join(sorted({word[0] for word in _WORD_NUMBERS})) + r"])(?P<word>" + "|".join(_WORD_NUMBERS) + r")\b"
    r"(?:\s(?P<unit>seconds?|minutes?|hours?|days?|weeks?|months?|years?|times|percent)\b)?",
    re.IGNORECASE,
)

_APPROX = r"(?:(?:approximately|about|roughly|around|nearly|almost|~|≈)\s?)?"
_PREFIX_COMPARATORS: tuple[tuple[str, Direction, bool], ...] = (
    # (phrase regex, direction, strict)
    (r"at\s+or\s+above", "gt", False),
    (r"at\s+or\s+below", "lt", False),
    (r"greater\s+than\s+or\s+equal\s+to", "gt", False),
    (r"less\s+than\s+or\s+equal\s+to", "lt", False),
    (r"no\s+(?:more|greater)\s+than|not\s+(?:more|greater)\s+than|not\s+exceeding|at\s+most|up\s+to|a\s+maximum\s+of",
     "lt", False),
    (r"no\s+(?:less|fewer)\s+than|not\s+(?:less|fewer)\s+than|at\s+least|a\s+minimum\s+of", "gt", False),
    (r"within(?:\s+the\s+(?:first|next|past|last))?|(?:in|during)\s+the\s+first", "lt", False),
    (r"less\s+than|fewer\s+than|lower\s+than|shorter\s+than|younger\s+than|below|under|before\s+age", "lt", True),
    (r"greater\s+than|more\s+than|higher\s+than|longer\s+than|older\s+than|in\s+excess\s+of|above|over|after\s+age|"
     r"exceed(?:s|ed|ing)?", "gt", True),
    (r"≥|>=|=>", "gt", False),
    (r"≤|<=|=<", "lt", False),
    (r">", "gt", True),
    (r"<", "lt", True),
)
_PREFIX_RE = re.compile(
    "(?:" + "|".join(f"(?P<p{i}>{p})" for i, (p, _, _) in enumerate(_PREFIX_COMPARATORS)) + r")\s?" + _APPROX + r"$",
    re.IGNORECASE,
)
_SUFFIX_COMPARATORS: tuple[tuple[str, Direction, bool], ...] = (
    (r"or\s+(?:more|greater|higher|above|older|longer|over)|and\s+(?:above|over|older|higher)", "gt", False),
    (r"or\s+(?:less|lower|below|fewer|younger|shorter|under)|and\s+(?:below|under|younger|lower)", "lt", False),
)
_SUFFIX_RE = re.compile(
    r"\s?(?:\([^()]{0,40}\)\s?)?(?:" + "|".join(f"(?P<s{i}>{p})" for i, (p, _, _) in enumerate(_SUFFIX_COMPARATORS))
    + r")\b",
    re.IGNORECASE,
)

_UNIT_SYNONYMS: dict[str, str] = {
    "seconds": "s", "second": "s", "sec": "s",
    "minutes": "min", "minute": "min",
    "hours": "h", "hour": "h", "hrs": "h", "hr": "h",
    "days": "d", "day": "d",
    "weeks": "wk", "week": "wk", "wks": "wk",
    "months": "mo", "month": "mo",
    "years": "y", "year": "y", "yrs": "y", "yr": "y",
    "percent": "%",
    "units": "u", "unit": "u", "iu": "u",
    "mcg": "μg", "ug": "μg",
    "times": "x", "fold": "x",
    "fr": "f",
    "bpm": "/min", "beats/min": "/min", "beatsperminute": "/min", "beatspermin": "/min",
    "breaths/min": "/min", "breathsperminute": "/min", "breathspermin": "/min",
    "packyears": "pack-y", "packyear": "pack-y", "pack-years": "pack-y", "pack-year": "pack-y",
    "mg/day": "mg/d", "g/day": "g/d", "meq/day": "meq/d", "mmol/day": "mmol/d",
}


# Unicode superscript and subscript digits read as plain digits ("H₂O" = "H2O", "10⁹" = "10^9" in units).
_SCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉", "01234567890123456789")


def canonical_unit(unit: str | None) -> str | None:
    """'mm Hg' -> 'mmhg', 'mcg/dL' -> 'μg/dl', 'hours' -> 'h', 'percent' -> '%'."""
    if not unit:
        return None
    u = unit.lower().replace("µ", "μ").replace("²", "2").replace("³", "3")
    u = re.sub(r"\s+", "", u)
    u = re.sub(r"^(?:mcg|ug)(?=/|$)", "μg", u)
    u = re.sub(r"^u(?=(?:mol|u)/)", "μ", u)
    u = re.sub(r"/(?:day)$", "/d", u)
    u = re.sub(r"^[x×]10\^?", "×10^", u)
    u = u.translate(_SCRIPT_DIGITS)
    return _UNIT_SYNONYMS.get(u, u)


def canonical_value(number: str) -> str:
    """'150,000' -> '150000', '0.90' -> '0.9', '10.0' -> '10', '.5' -> '0.5'."""
    raw = number.replace(",", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return raw
    text = format(value.normalize(), "f")
    return text if text not in ("-0",) else "0"


@dataclass(frozen=True)
class Quantity:
    """One number as written, with its unit and comparator (a range gives two quantities sharing the unit)."""

    text: str  # the whole matched expression (comparator, numbers and unit)
    value: str  # canonical value
    unit: str | None  # canonical unit
    direction: Direction | None  # "lt" for <, ≤, below, at most…; "gt" for >, ≥, above, at least…
    strict: bool | None
    start: int  # span of the number itself
    end: int
    expr_start: int  # span of the whole expression (comparator … unit)
    expr_end: int
    is_word: bool = False  # "two", "three"…

    @property
    def comparator(self) -> str | None:
        if self.direction is None:
            return None
        return {("lt", True): "<", ("lt", False): "≤", ("gt", True): ">", ("gt", False): "≥"}[
            (self.direction, bool(self.strict))
        ]

    @property
    def unit_span(self) -> tuple[int, int]:
        return self.start, self.expr_end


def _blocked(text: str, start: int, end: int, unit_follows: bool = False) -> bool:
    """Digits that belong to a word: SGLT2, H2O, CYP3A4, IL-4, COVID-19, HLA-B*58:01 (not "10mg")."""
    before = text[start - 1] if start > 0 else " "
    if before.isalpha() or before in "_*":
        return True
    if before in "-‐‑" and start >= 2 and text[start - 2].isalpha():
        return True
    if before == ":" and start >= 2 and text[start - 2].isdigit():
        return True
    after = text[end] if end < len(text) else " "
    if after.isalpha() and not unit_follows:
        return True
    return after == ":" and end + 1 < len(text) and text[end + 1].isdigit()


# "over" is a preposition, not a bound, after a word of preference ("X is preferred over 24-hour urine protein"),
# before a hyphenated number-unit compound ("over 24-hour monitoring" is during, not beyond, 24 hours) and before a
# range ("rises over 7 to 10 days" is a period: a bound is not put on a range).
_RANGE_AFTER_RE = re.compile(r"\s*(?:to|-|–|—)\s*\d")
_PREFERENCE_BEFORE_RE = re.compile(
    r"\b(?:prefer(?:red|able|ence)?|favou?red|chosen|selected|recommended|superior|advantages?|benefits?|priority|"
    r"prioriti[sz]ed)\s+$", re.IGNORECASE)


def _preposition_over(text: str, phrase_start: int, number_start: int, number_end: int) -> bool:
    if text[phrase_start:phrase_start + 4].lower() != "over":
        return False
    if _PREFERENCE_BEFORE_RE.search(text, max(0, phrase_start - 30), phrase_start):
        return True
    if _RANGE_AFTER_RE.match(text, number_end):
        return True
    return text[number_end:number_end + 1] in "-‐‑" and text[number_end + 1:number_end + 2].isalpha()


def _prefix_comparator(text: str, start: int, end: int | None = None) -> tuple[Direction | None, bool | None, int]:
    window_start = max(0, start - 40)
    window = text[window_start:start]
    match = _PREFIX_RE.search(window)
    if not match:
        return None, None, start
    # the phrase must start on a word boundary
    phrase_start = window_start + match.start()
    if phrase_start > 0 and text[phrase_start - 1].isalnum() and text[phrase_start].isalnum():
        return None, None, start
    if end is not None and _preposition_over(text, phrase_start, start, end):
        return None, None, start
    for index, (_, direction, strict) in enumerate(_PREFIX_COMPARATORS):
        if match.group(f"p{index}") is not None:
            return direction, strict, phrase_start
    return None, None, start  # pragma: no cover


def _suffix_comparator(text: str, end: int) -> tuple[Direction | None, bool | None, int]:
    match = _SUFFIX_RE.match(text, end)
    if not match:
        return None, None, end
    for index, (_, direction, strict) in enumerate(_SUFFIX_COMPARATORS):
        if match.group(f"s{index}") is not None:
            return direction, strict, match.end()
    return None, None, end  # pragma: no cover


def find_quantities(text: str) -> list[Quantity]:
    """Every number in the text with its unit and comparator, in order. Ranges ("4 to 6 mEq/L", "185/110 mm Hg")
    give one quantity per number, sharing the unit and the comparator. A conversion in parentheses right after a
    quantity ("7 g/dL (70 g/L)") inherits its comparator."""
    found: list[Quantity] = []
    for match in _QUANTITY_RE.finditer(text):
        n1_start, n1_end = match.span("n1")
        has_unit = match.group("unit") is not None
        if match.group("n2"):
            if _blocked(text, n1_start, n1_end) or _blocked(text, *match.span("n2"), unit_follows=has_unit):
                continue
        elif _blocked(text, n1_start, n1_end, unit_follows=has_unit):
            continue
        unit = match.group("unit")
        expr_end = match.end()
        if match.group("n2") is not None:
            n2_start, n2_end = match.span("n2")
            numbers = [(match.group("n1"), n1_start, n1_end), (match.group("n2"), n2_start, n2_end)]
        else:
            numbers = [(match.group("n1"), n1_start, n1_end)]
        if unit is None:
            expr_end = numbers[-1][2]
        direction, strict, expr_start = _prefix_comparator(text, n1_start, n1_end)
        if direction is None:
            direction, strict, suffix_end = _suffix_comparator(text, expr_end)
            if direction is not None:
                expr_end_with_suffix = suffix_end
            else:
                expr_end_with_suffix = expr_end
        else:
            expr_end_with_suffix = expr_end
        for raw_number, start, end in numbers:
            found.append(
                Quantity(
                    text=text[expr_start:expr_end_with_suffix],
                    value=canonical_value(raw_number),
                    unit=canonical_unit(unit),
                    direction=direction,
                    strict=strict,
                    start=start,
                    end=end,
                    expr_start=expr_start,
                    expr_end=expr_end,
                )
            )
    for match in _WORD_NUMBER_RE.finditer(text):
        word = match.group("word").lower()
        # "at least two", "two or more": a word number takes comparators as digits do
        direction, strict, expr_start = _prefix_comparator(text, match.start("word"), match.end("word"))
        expr_end = text_end = match.end()
        if direction is None:
            direction, strict, text_end = _suffix_comparator(text, expr_end)
        found.append(
            Quantity(
                text=text[expr_start:text_end],
                value=str(_WORD_NUMBERS[word]),
                unit=canonical_unit(match.group("unit")),
                direction=direction,
                strict=strict,
                start=match.start("word"),
                end=match.end("word"),
                expr_start=expr_start,
                expr_end=expr_end,
                is_word=True,
            )
        )
    found.sort(key=lambda q: q.start)
    return _inherit_in_parentheses(text, found)


def _inherit_in_parentheses(text: str, quantities: list[Quantity]) -> list[Quantity]:
    """'below 7 g/dL (70 g/L)': the conversion in parentheses takes the comparator of the quantity before it,
    and '1.5 mg/dL (133 μmol/L) or higher' gives the suffix comparator to both."""
    result = list(quantities)
    for index in range(1, len(result)):
        previous, current = result[index - 1], result[index]
        gap = text[previous.expr_end:current.expr_start]
        if not re.fullmatch(r"\s?\(\s?", gap):
            continue
        if current.direction is None and previous.direction is not None:
            result[index] = _with_direction(current, previous.direction, previous.strict)
    return result


def _with_direction(q: Quantity, direction: Direction | None, strict: bool | None) -> Quantity:
    return Quantity(
        text=q.text, value=q.value, unit=q.unit, direction=direction, strict=strict, start=q.start, end=q.end,
        expr_start=q.expr_start, expr_end=q.expr_end, is_word=q.is_word,
    )


# ---------------------------------------------------------------------------------------------------------
# Negation and modality cues
# ---------------------------------------------------------------------------------------------------------

_CUES: tuple[tuple[str, CueKind], ...] = (
    # prohibition first: "should not" must win over "should" and "not"
    (r"contraindicat(?:ed|ion|ions)", "prohibition"),
    (r"(?:should|must|shall)\s+(?:not|never)|shouldn't|mustn't", "prohibition"),
    (r"(?:is|are|was|were|be)\s+not\s+(?:recommended|indicated|advised|appropriate|warranted|necessary|needed|"
     r"required|useful|effective|helpful|beneficial|safe)", "prohibition"),
    (r"not\s+(?:recommended|indicated|advised|warranted)", "prohibition"),
    # "avoid(s) the need for X" is prevention, not a prohibition
    (r"avoid(?:ed|s|ing|ance)?(?!\s+(?:the\s+)?needs?\b)", "prohibition"),
    (r"inappropriate|unsafe|unnecessary|unwarranted|ineffective|inadequate|unhelpful", "prohibition"),
    (r"may\s+be\s+considered|can\s+be\s+considered|could\s+be\s+considered|may\s+be\s+reasonable|"
     r"is\s+reasonable|are\s+reasonable|reasonable|may\s+be\s+(?:used|given|tried|offered)", "hedge"),
    (r"may|might|could|possibly|perhaps|occasionally|sometimes|rarely", "hedge"),
    (r"(?:is|are)\s+(?:recommended|indicated|required|mandatory|necessary|essential)|should|must|"
     r"requires?|always", "obligation"),
    (r"no\s+longer|absence\s+of|absent|lack(?:s|ing)?\s+of|lacks|fail(?:s|ed)?\s+to|unlikely|neither|nor|"
     r"none|never|without|cannot|can't|won't|not|no", "negation"),
    (r"n't", "negation"),
)
_WORD_CUES = [(p, kind) for p, kind in _CUES if p != "n't"]
_WORD_CUE_RE = re.compile(
    r"(?<![A-Za-z'-])(?:" + "|".join(f"(?P<c{i}>{p})" for i, (p, _) in enumerate(_WORD_CUES)) + r")(?![A-Za-z-])",
    re.IGNORECASE,
)
# "n't" ends a word and a word cue starts one, so the two never start at the same place. Scanned apart (and only in
# texts with an apostrophe), "n't" no longer costs the word scan a try at every position.
_NT_RE = re.compile(r"(?<=[A-Za-z])n't(?![A-Za-z])", re.IGNORECASE)
# "not only A but (also) B" asserts A and B: its "not" negates nothing (the same sentence, before a ";" or ".").
NOT_ONLY_RE = re.compile(r"\bnot\s+only\b(?=[^.;]*\bbut\b)", re.IGNORECASE)
# Clause boundaries: a cue's scope ends at the first of these (and never crosses a sentence).
_CLAUSE_END_RE = re.compile(r"[;:]|,\s+(?:but|whereas|although|because|while|which|so)\b|\b(?:but|whereas|because)\b|"
                            r"[.?!](?:\s|$)")


@dataclass(frozen=True)
class Cue:
    text: str
    kind: CueKind
    start: int
    end: int
    scope_end: int  # end of the clause the cue governs

    @property
    def negative(self) -> bool:
        return self.kind in NEGATIVE_KINDS


def find_cues(text: str) -> list[Cue]:
    """Negation, prohibition, hedge and obligation cues; each scoped to the rest of its clause."""
    cues: list[Cue] = []
    for match in _cue_matches(text):
        kind: CueKind = _WORD_CUES[int(match.lastgroup[1:])][1] if match.lastgroup else "negation"
        cue_text = match.group(0)
        if cue_text.lower() == "no" and _is_number_sign(text, match.end()):
            continue  # "No. 5"
        if cue_text.lower() == "not" and NOT_ONLY_RE.match(text, match.start()):
            continue
        boundary = _CLAUSE_END_RE.search(text, match.end())
        scope_end = boundary.start() if boundary else len(text)
        cues.append(Cue(cue_text, kind, match.start(), match.end(), scope_end))
    return cues


def _cue_matches(text: str) -> list[re.Match[str]]:
    """The word cues and the "n't"s in order, as one regex alternating both would find them: an "n't" inside a word
    cue ("won't") belongs to the word cue."""
    words = list(_WORD_CUE_RE.finditer(text))
    if "'" not in text:
        return words
    nots = [m for m in _NT_RE.finditer(text) if not any(w.start() < m.end() and m.start() < w.end() for w in words)]
    return sorted(words + nots, key=lambda m: m.start())


def _is_number_sign(text: str, end: int) -> bool:
    return text[end:end + 1] == "." and text[end + 1:end + 3].strip()[:1].isdigit()
