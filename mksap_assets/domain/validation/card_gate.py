"""Which issues keep a statement off the deck: the gate is per statement, never per question.

Errors gate (a number, negation or term the source does not support; a cloze Anki cannot blank). Warnings are
advice shown in the export, except the few that break the card a learner would see:

- cloze_cuts_number / cloze_cuts_unit: the blank cuts a number or leaves part of its unit visible ("{{c1::6 mL}}/kg"),
  so the card asks for a fragment or shows half the answer;
- cloze_repeated: the answer occurs twice as a whole word; the card blanks one occurrence and shows the other;
- pronoun_cloze: the blank is "it" or "they", an answer that cannot be recalled and teaches nothing.

docs/VALIDATION.md explains each choice. Plain data in, codes out: used by validation (to mark each statement) and
by the readers of exports written before the per-statement gate (exports/document.ExportedStatement).
"""

from __future__ import annotations

from collections.abc import Iterable

CARD_BREAKING_WARNINGS = frozenset({"cloze_cuts_number", "cloze_cuts_unit", "cloze_repeated", "pronoun_cloze"})


def blocking_codes(issues: Iterable[tuple[str, str]]) -> list[str]:
    """The codes, of (code, severity) pairs, that keep a statement off the deck; each once, in order."""
    codes: dict[str, None] = {}
    for code, severity in issues:
        if severity == "error" or (severity == "warning" and code in CARD_BREAKING_WARNINGS):
            codes[code] = None
    return list(codes)

