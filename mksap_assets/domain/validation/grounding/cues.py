"""What a negation cue is about: its head (the word it negates), the words around it and its subject, read from the
clause it is in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mksap_assets.domain.nlp.rules import find_cues
from mksap_assets.domain.validation.grounding.tokens import is_content, tokenize
from mksap_assets.domain.validation.grounding.words import NEGATION_WORDS

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


# Where the subject of a negated verb phrase starts: a clause start, a coordination or a pronoun ("X has no
# activity and would not be …", "…, so it is not …": the subject is not in the clause, so nothing is required of it).
_SUBJECT_START_RE = re.compile(r"\b(?:so|and|then|therefore|thus|hence|they|it)\b", re.IGNORECASE)


def clause_before(text: str, start: int) -> str:
    clause_start = max((m.end() for m in _CLAUSE_START_RE.finditer(text, max(0, start - 120), start)), default=None)
    return text[clause_start if clause_start is not None else max(0, start - 120):start]


def subject_before(text: str, start: int) -> tuple[str, ...]:
    """The content words before a cue in its clause, up to a coordination that starts a new subject."""
    return _subject_of(clause_before(text, start))


def _subject_of(clause: str) -> tuple[str, ...]:
    cut = max((m.end() for m in _SUBJECT_START_RE.finditer(clause)), default=0)
    words = [t.norm for t in tokenize(clause[cut:])]
    return tuple(w for w in words if is_content(w) and w not in NEGATION_WORDS)


_RESTRICTIVE_RE = re.compile(r"(?:\b(?:who|that|which)\s+(?:have|has|had)|\bwith|\bin)\s+$", re.IGNORECASE)


def restrictive(text: str, start: int) -> bool:
    """A negation that restricts a group rather than denying a statement: "without …", "(patients) with no …",
    "who have no …", "in the absence of …"."""
    cue = text[start:start + 10].lower()
    if cue.startswith(("without", "absence", "lack")):
        return True
    return cue.startswith("no ") and bool(_RESTRICTIVE_RE.search(text, max(0, start - 20), start))


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
    clause = clause_before(text, start)
    before = [t.norm for t in tokenize(clause) if is_content(t.norm) and t.norm not in NEGATION_WORDS]
    return Anchors(head, tuple(dict.fromkeys(before[-3:] + after[:2])), _subject_of(clause))


@lru_cache(maxsize=4096)  # a source's cues are read again for every statement of the question
def cue_text(text: str, start: int, scope_end: int) -> str:
    found = next((c for c in find_cues(text[start:scope_end + 1]) if c.start == 0), None)
    return found.text if found else text[start:start + 3]
