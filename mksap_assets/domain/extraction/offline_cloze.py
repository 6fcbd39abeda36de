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
_UNIT = (
    r"(?:mg/dL|mmol/L|mEq/L|mL/min(?:/1\.73\s?m2)?|mm\s?Hg|ng/mL|pg/mL|U/L|g/dL|mcg/dL|µg/L|µg/dL|mg/kg|"
    r"mg/day|mg|g|kg|mL|L|%|cm|mm|kPa|bpm|/µL|/min|hours?|days?|weeks?|months?|years?|°C|°F)"
)
_NUMERIC_RE = re.compile(
    r"(?:(?:[<>≤≥]|less than|greater than|more than|at least|at most|above|below|over|under)\s?)?"
    r"\d+(?:\.\d+)?(?:\s?(?:to|-|–)\s?\d+(?:\.\d+)?)?\s?" + _UNIT + r"(?![A-Za-z])",
    re.IGNORECASE,
)
_STOPWORDS = frozenset(
    """a an the and or but if of in on at to for with by from as is are was were be been being this that these
    those it its their there which who whom whose what when where why how not no nor can may might should would
    will shall must do does did has have had than then also such only more most less least very often usually
    patient patients diagnosis treatment management therapy option finding findings test testing result results
    appropriate most next step best first other both all any each some into after before during because without
    within between however although while given""".split()
)
_TRIVIAL = _STOPWORDS | {"patient", "diagnosis", "treatment"}
# A word may contain inner dots and slashes ("2.5", "mg/dL") but never ends in punctuation.
_WORD_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9'/.-]*[A-Za-z0-9])?")


def _content_runs(statement: str) -> list[str]:
    """Maximal runs of consecutive content words, as exact substrings."""
    runs: list[str] = []
    start = end = None
    for match in _WORD_RE.finditer(statement):
        word = match.group(0)
        gap = statement[end:match.start()] if end is not None else ""
        if word.lower() in _STOPWORDS or (end is not None and gap.strip()):
            if start is not None:
                runs.append(statement[start:end])
            start = end = None
            if word.lower() in _STOPWORDS:
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
        and candidate in statement
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
    for candidate in ordered:
        candidate = _trim_stopwords(candidate)
        if not _acceptable(candidate, statement):
            continue
        lowered = candidate.lower()
        if any(lowered in c.lower() or c.lower() in lowered for c in chosen):
            continue
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
