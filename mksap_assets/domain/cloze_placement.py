"""Where a cloze candidate goes in its statement: one rule for the card renderer (anki.py) and for the validators
that judge the card it makes (validation/cloze.py), so that what is checked is what the learner sees.

Of a candidate's occurrences, the first whole-word one that overlaps no span already taken is used, else the first
that overlaps none ("5 mg" in "2.5 mg or 5 mg" takes the second).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def whole_word(text: str, start: int, end: int) -> bool:
    """No letter or digit on either side, and not right after "x." or "x-" (the rest of "e.g." or of "anti-")."""
    before = start == 0 or not (
        text[start - 1].isalnum() or (text[start - 1] in ".-" and start >= 2 and text[start - 2].isalnum())
    )
    after = end == len(text) or not text[end].isalnum()
    return before and after


def occurrences(text: str, candidate: str) -> Iterator[int]:
    start = text.find(candidate)
    while start >= 0:
        yield start
        start = text.find(candidate, start + 1)


def free_start(text: str, candidate: str, taken: Iterable[tuple[int, int]]) -> int | None:
    """Where the candidate goes given the (start, end) spans already taken, or None when every occurrence overlaps."""
    taken = list(taken)
    first = text.find(candidate)
    if first >= 0 and text.find(candidate, first + 1) < 0:  # the common case: one occurrence
        return first if all(first + len(candidate) <= a or b <= first for a, b in taken) else None
    free = [s for s in occurrences(text, candidate) if all(s + len(candidate) <= a or b <= s for a, b in taken)]
    if not free:
        return None
    return next((s for s in free if whole_word(text, s, s + len(candidate))), free[0])
