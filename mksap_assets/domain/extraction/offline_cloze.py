"""Rule-based cloze candidates for the offline extractor: one primary and at most two secondary spans.

Every candidate is an exact substring of its statement. Preference order: named conditions and drugs (by medical
suffix), abbreviated terms' long forms, numbers with their units or comparators, then the longest run of
content words.
"""

from __future__ import annotations

import re

MAX_CANDIDATES = 3

_MEDICAL_SUFFIXES = (
    "itis", "osis", "emia", "aemia", "pathy", "plasia", "trophy", "oma", "ectomy", "plasty", "scopy", "graphy",
    "gram", "algia", "uria", "penia", "cytosis", "megaly", "syndrome", "mab", "nib", "pril", "sartan", "olol",
    "statin", "mycin", "cillin", "cycline", "azole", "floxacin", "prazole", "parin", "xaban", "gatran", "tide",
    "gliflozin", "gliptin", "dipine", "thiazide", "semide", "lukast", "sone", "olone", "vir", "platin", "taxel",
)
_SUFFIX_WORD_RE = re.compile(
    r"\b(?:[A-Za-z-]+\s)?[A-Za-z-]*(?:" + "|".join(_MEDICAL_SUFFIXES) + r")s?\b", re.IGNORECASE
)
_LONG_FORM_RE = re.compile(r"\b([A-Za-z][A-Za-z-]*(?:\s+[A-Za-z-]+){0,4})\s+\(([A-Z][A-Za-z0-9-]{1,9})\)")
# A unit, with any "/denominator" parts it carries ("mL/kg", "mg/d", "mL/min/1.73 m2", "/μL").
_UNIT = (
    r"(?:mL/min/1\.73\s?m2|mm\s?Hg|cm\s?H2O|mmol|mEq|mcg|µg|μg|ng|pg|mg|kg|g|mL|L|U|IU|%|cm|mm|kPa|bpm|°C|°F|"
    r"hours?|days?|weeks?|months?|years?|/[µμ]L|/min)(?:/[A-Za-zµμ0-9.]+)*"
)
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
_NUMERIC_RE = re.compile(
    r"(?:(?:[<>≤≥]|less than|greater than|more than|at least|at most|above|below|over|under|approximately)\s?)?"
    + _NUMBER + r"(?:\s?(?:to|-|–)\s?" + _NUMBER + r")?\s?" + _UNIT + r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_STOPWORDS = frozenset(
    """a an the and or but if of in on at to for with by from as is are was were be been being this that these
    those it its their there which who whom whose what when where why how not no nor can may might should would
    will shall must do does did has have had than then also such only more most less least very often usually
    patient patients diagnosis treatment management therapy option finding findings test testing result results
    appropriate most next step best first other both all any each some into after before during because without
    within between however although while given below above over under until during per via""".split()
)
_TRIVIAL = _STOPWORDS | {"patient", "diagnosis", "treatment"}
# A word may contain inner dots and slashes ("2.5", "mg/dL") but never ends in punctuation.
_WORD_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9'/.-]*[A-Za-z0-9])?")


def _content_runs(statement: str) -> list[str]:
    """Maximal runs of consecutive content words, as exact substrings (numbers are left to _NUMERIC_RE)."""
    runs: list[str] = []
    start = end = None
    for match in _WORD_RE.finditer(statement):
        word = match.group(0)
        gap = statement[end:match.start()] if end is not None else ""
        if word.lower() in _STOPWORDS or any(c.isdigit() for c in word) or (end is not None and gap.strip()):
            if start is not None:
                runs.append(statement[start:end])
            start = end = None
            if word.lower() in _STOPWORDS or any(c.isdigit() for c in word):
                continue
        if start is None:
            start = match.start()
        end = match.end()
    if start is not None:
        runs.append(statement[start:end])
    return runs


def _on_word_boundaries(candidate: str, statement: str) -> bool:
    """A blank must not cut a token ("5 mg" inside "2.5 mg")."""
    start = statement.find(candidate)
    before = statement[start - 1] if start > 0 else " "
    after = statement[start + len(candidate)] if start + len(candidate) < len(statement) else " "
    return not (before.isalnum() or before == ".") and not after.isalnum()


def _acceptable(candidate: str, statement: str) -> bool:
    candidate = candidate.strip()
    return (
        bool(candidate)
        and statement.count(candidate) == 1  # a blank must be unambiguous
        and _on_word_boundaries(candidate, statement)
        and candidate.lower() not in _TRIVIAL
        and candidate != statement.strip().rstrip(".")
        and len(candidate) > 2
    )


def pick_cloze_candidates(statement: str) -> list[str]:
    ordered: list[str] = []
    ordered += [m.group(0).strip() for m in _SUFFIX_WORD_RE.finditer(statement)]
    ordered += [m.group(1).strip() for m in _LONG_FORM_RE.finditer(statement)]
    ordered += [m.group(0).strip() for m in _NUMERIC_RE.finditer(statement)]
    ordered += sorted(_content_runs(statement), key=len, reverse=True)
    chosen: list[str] = []
    spans: list[tuple[int, int]] = []
    for candidate in ordered:
        candidate = _trim_stopwords(candidate)
        if not _acceptable(candidate, statement):
            continue
        start = statement.find(candidate)
        end = start + len(candidate)
        if any(start < other_end and other_start < end for other_start, other_end in spans):
            continue  # blanks must not overlap
        spans.append((start, end))
        chosen.append(candidate)
        if len(chosen) == MAX_CANDIDATES:
            break
    return chosen


def _trim_stopwords(candidate: str) -> str:
    """Drop a leading stop word the suffix pattern may have swallowed ("the nephropathy" -> "nephropathy")."""
    words = candidate.split(" ")
    while len(words) > 1 and words[0].lower() in _STOPWORDS:
        words = words[1:]
    return " ".join(words)
