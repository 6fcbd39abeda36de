"""Quality, ambiguity and enumeration checks on the statement text (REFERENCE_SYSTEM §4.4, §4.6, §4.7), tuned for
few false positives: the original's organism, medication-context, procedure-context and broad "multi-concept"
rules are not carried over (§7.4.14: mostly false positives); grounding replaces its hallucination check.

- quality: no "this/the patient" (error), no "(Option X)" (error), no dangling pronoun at the start, no reference
  to the case ("described here", "in this case"), no narrative pronouns (she, his…), one fact: multi-clause
  statements and enumerations of 4 or more items are flagged (warnings);
- ambiguity: pronoun, vague, repeated and overlapping cloze candidates (in cloze.py), statements that start with a
  pronoun;
- enumeration: lists of ≥ 4 items, numbered lists ("(1) … (2)", "first … second … third"; decimals are not list
  numbers), three or more cloze candidates in a row of one list, explicit counts ("three criteria", info).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mksap_assets.domain.statements import Issue, Statement, TableStatement

_PATIENT_RE = re.compile(r"\b(?:this|the)\s+patient(?:'s|s)?\b", re.IGNORECASE)
_OPTION_RE = re.compile(r"\(\s*Options?\s+[A-H]\b[^)]*\)", re.IGNORECASE)
_DANGLING_RE = re.compile(
    r"^(?:It|Its|They|Their|Them|This|That|These|Those|He|She|His|Her|Both|Neither|None|Either|Such|"
    r"The\s+(?:latter|former))\b"
)
_CASE_REFERENCE_RE = re.compile(
    r"\b(?:described\s+here|in\s+this\s+case|this\s+case|this\s+scenario|this\s+vignette|this\s+question|"
    r"the\s+critique|this\s+presentation|(?:the\s+)?(?:correct|best)\s+answer)\b",
    re.IGNORECASE,
)
_NARRATIVE_RE = re.compile(r"\b(?:she|he|her|his|him|hers)\b", re.IGNORECASE)
_CLAUSE_JOINERS_RE = re.compile(r";|,\s+(?:but|whereas|while|although)\s|\s(?:whereas)\s")
_INNER_SENTENCE_RE = re.compile(r"[a-z0-9)%\]][.!?]\s+[A-Z][a-z]")
_NUMBERED_RE = re.compile(r"\(\s?(?:[1-9]|i{1,3}|iv|[a-e])\s?\)")
_ORDINAL_LIST_RE = re.compile(r"\bfirst\b.*\bsecond\b.*\bthird\b", re.IGNORECASE)
_COUNT_RE = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|\d+)\s+(?:main\s+|major\s+|key\s+)?"
    r"(?:types|categories|classes|criteria|features|signs|symptoms|causes|components|steps|stages|factors)\b",
    re.IGNORECASE,
)
# An item of a list: up to 6 words without clause punctuation.
_ITEM = r"[^,;:.()]{1,60}?"
_LIST_GAP_RE = re.compile(r",\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+")
_LIST_RE = re.compile(rf"(?:{_ITEM},\s+){{2,}}(?:(?:and|or)\s+)?{_ITEM}(?=[,;.)]|\s+(?:and|or)\s|$)")


def _issue(code: str, severity: str, message: str, span=None, category: str = "quality",
           field: str = "statement") -> Issue:
    return Issue(code=code, severity=severity, message=message, span=span, category=category, field=field)


def check_quality(item: Statement) -> Iterator[Issue]:
    text = item.statement
    # A table describes no case: its "the patient" is generic ("the patient is supine"), so only a warning there.
    patient_severity = "warning" if isinstance(item, TableStatement) else "error"
    for match in _PATIENT_RE.finditer(text):
        yield _issue("patient_specific", patient_severity,
                     f"{match.group(0)!r}: a statement must be a general fact, not about the case's patient",
                     match.span())
    for field_name, value in (("statement", text), ("extra_field", item.extra_field or "")):
        for match in _OPTION_RE.finditer(value):
            yield _issue("option_citation", "error", f"answer-option citation {match.group(0)!r}", match.span(),
                         field=field_name)
    if item.extra_field:
        for match in _PATIENT_RE.finditer(item.extra_field):
            yield _issue("patient_specific", "warning", f"{match.group(0)!r} in extra_field", match.span(),
                         field="extra_field")
    match = _DANGLING_RE.match(text.lstrip())
    if match:
        yield _issue("dangling_pronoun", "warning",
                     f"starts with {match.group(0)!r}: the statement needs what it refers to", match.span(),
                     "ambiguity")
    for match in _CASE_REFERENCE_RE.finditer(text):
        yield _issue("case_reference", "warning", f"{match.group(0)!r} refers to the question's case", match.span())
    match = _NARRATIVE_RE.search(text)
    if match:
        yield _issue("case_narrative", "warning", f"{match.group(0)!r}: narrates the case", match.span())
    yield from _one_fact(text)


def _outside_parentheses(text: str, index: int) -> bool:
    return text.count("(", 0, index) <= text.count(")", 0, index)


def _one_fact(text: str) -> Iterator[Issue]:
    # separators inside parentheses belong to a table row ("Agent (Dose: 5 mg; Reduced: 2.5 mg)"), not a clause
    joiner = next((m for m in _CLAUSE_JOINERS_RE.finditer(text) if _outside_parentheses(text, m.start())), None)
    inner = _INNER_SENTENCE_RE.search(text)
    if inner and not _is_abbreviation_dot(text, inner.start() + 1):
        yield _issue("multi_clause", "warning", "more than one sentence", (inner.start() + 1, inner.start() + 2))
    elif joiner:
        yield _issue("multi_clause", "warning",
                     f"two clauses joined by {joiner.group(0).strip()!r}: probably two facts", joiner.span())
    items = _longest_list(text)
    if items:
        count, span = items
        if count >= 4:
            yield _issue("enumeration", "warning", f"a list of {count} items: split it or keep the key ones",
                         span, "enumeration")


def _is_abbreviation_dot(text: str, index: int) -> bool:
    word = re.findall(r"[A-Za-z.]+$", text[:index])
    return bool(word) and word[0].lower().rstrip(".") in {"e.g", "i.e", "vs", "etc", "al", "approx"}


def _longest_list(text: str) -> tuple[int, tuple[int, int]] | None:
    best: tuple[int, tuple[int, int]] | None = None
    if text.count(",") < 2:
        return None
    for match in _LIST_RE.finditer(text):
        chunk = match.group(0)
        pieces = [p for p in re.split(r",\s+|\s+(?:and|or)\s+", chunk) if p.strip()]
        pieces = [p for p in pieces if len(p.split()) <= 6]
        if best is None or len(pieces) > best[0]:
            best = (len(pieces), match.span())
    return best


def check_enumeration(item: Statement) -> Iterator[Issue]:
    text = item.statement
    numbered = _NUMBERED_RE.findall(text)
    if len(numbered) >= 2 or _ORDINAL_LIST_RE.search(text):
        yield _issue("numbered_list", "warning", "a numbered list in one statement", None, "enumeration")
    match = _COUNT_RE.search(text)
    if match:
        yield _issue("explicit_count", "info", f"{match.group(0)!r}: a counted list; every item must be present",
                     match.span(), "enumeration")
    positions = sorted((text.find(c), c) for c in item.cloze_candidates if c and text.find(c) >= 0)
    gaps: list[str] = []
    for (start_a, a), (start_b, _) in zip(positions, positions[1:]):
        gap = text[start_a + len(a):start_b]
        gaps = [*gaps, gap] if _LIST_GAP_RE.fullmatch(gap) else []
        # a real list: "A, B, and C" or "A, B, C" (not "In A, B and C", an introductory phrase before a pair)
        if len(gaps) >= 2 and (sum("," in g for g in gaps) >= 2 or any(re.match(r",\s*(?:and|or)\s", g) for g in gaps)):
            yield _issue("cloze_sequence", "warning", "three or more cloze candidates are items of one list",
                         None, "enumeration", field="cloze_candidates")
            break
