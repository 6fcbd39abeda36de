"""Statement identity that survives re-extraction: a learner's note stays the same note when a rerun rewords it.

Every exported statement carries an `id`, and the Anki note's GUID is that id. When a question is exported again,
its new statements are matched to the statements of its previous export (the live ones and those retired earlier):

- a pair scores `similarity` (0-100): how much of their content words they share (Dice and overlap coefficients
  over crude stems) and rapidfuzz token_sort_ratio of their normalised texts, plus a bonus when their c1 answers
  agree. Guards make a pair 0: numbers that contradict (neither statement's numbers are all in the other's, a range
  counting as one number: a split half keeps a subset), a moved cloze whose old answer the other statement no longer says,
  and the same frame about different things (two items of one list, "One cause of X is A" /
  "… is B": `_swapped_item`);
- the assignment is one-to-one and global (scipy's linear_sum_assignment over all pairs, the Hungarian method), not
  a greedy first match, and it maximises the pairs' margins over MATCH_THRESHOLD (so two weak matches never outweigh
  one strong one); a pair below the threshold is never matched. A statement split into two keeps its id on the
  closer half; the other half is new;
- a matched statement inherits the id; an unmatched one gets a new id; a previous statement left unmatched is
  retired (kept in `retired_statements` with its id, text and clozes, so a later rerun can still match it).

A new id is the note GUID the deck gave that statement's text before ids existed (`statement_guid`: question,
section and normalised text), so a deck imported before this change keeps its notes on the first export with ids.
The thresholds are measured by `make bench-deck` (benchmarks/bench_deck.py, results in benchmarks/results.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import genanki
import numpy as np
from rapidfuzz import fuzz
from scipy.optimize import linear_sum_assignment

from mksap_assets.domain.exports.matching import (
    Features,
    features_of,
    normalise_for_match,
)
from mksap_assets.domain.nlp.lexicon import word_kind

# The label of each section in ids and note tags.
SECTION_LABELS = {"from_critique": "critique", "from_key_points": "key_point", "table_statements": "table"}
MATCH_THRESHOLD = 70.0
ANSWER_BONUS = 10.0
ANSWER_AGREEMENT = 85.0  # rapidfuzz token_set_ratio of two answers that name the same thing
# A fact the critique and the key points both state keeps each id in its own section.
SECTION_BONUS = 5.0


def normalise_statement(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip(".;: ")


def statement_guid(question_id: str, section: str, statement: str) -> str:
    """The id a statement is born with (and the note GUID of exports without ids): question, section ("critique",
    "key_point", "table") and normalised text."""
    return genanki.guid_for("mksap", question_id, section, normalise_statement(statement))


@dataclass(frozen=True)
class Candidate:
    """A statement as identity compares it."""

    section: str  # critique | key_point | table
    statement: str
    answer: str  # its c1 answer (first cloze candidate), "" when it has none
    id: str = ""  # set for the previous export's statements

    def features(self) -> Features:
        return features_of(self.statement)


# Numbers standing on their own: not the digits of a name ("FEV1", "GLP-1", "HbA1c").
_RANGE_RE = re.compile(r"(?<![\w-])(\d+(?:[.,]\d+)*)\s*(?:-|–|—|to)\s*(\d+(?:[.,]\d+)*)")
_NUMBER_RE = re.compile(r"(?<![\w-])\d+(?:[.,]\d+)*")


@lru_cache(maxsize=65_536)
def number_values(text: str) -> frozenset[str]:
    """The numbers of a statement, a range ("35-49%", "3 to 5 minutes") as one; comparators are left out, since a
    rewording writes them in words ("below 30") or symbols ("< 30")."""
    ranges = {f"{low.replace(',', '')}-{high.replace(',', '')}" for low, high in _RANGE_RE.findall(text)}
    rest = _RANGE_RE.sub(" ", text)
    return frozenset(ranges | {number.replace(",", "") for number in _NUMBER_RE.findall(rest)})


def similarity(new: Candidate, old: Candidate) -> float:
    """How surely two statements state the same fact, 0-100."""
    a, b = new.features(), old.features()
    numbers_a, numbers_b = number_values(new.statement), number_values(old.statement)  # remembered
    if not (numbers_a <= numbers_b or numbers_b <= numbers_a):
        return 0.0  # "35%" is not "35-49%"; a split half keeps a subset of the numbers
    same_answer = _answers_agree(new.answer, old.answer)
    if not same_answer and not (_holds(features_of(old.answer), a) and _holds(features_of(new.answer), b)):
        return 0.0  # the cloze moved, and one statement no longer says what the other asks for
    if _swapped_item(a, b, same_answer):
        return 0.0
    if not a.stems or not b.stems:
        return float(fuzz.token_sort_ratio(a.normalised, b.normalised))
    shared = len(a.stems & b.stems)
    dice = 2 * shared / (len(a.stems) + len(b.stems))
    overlap = shared / min(len(a.stems), len(b.stems))
    score = 50 * dice + 20 * overlap + 0.3 * fuzz.token_sort_ratio(a.normalised, b.normalised)
    score += (ANSWER_BONUS if same_answer else 0.0) + (SECTION_BONUS if new.section == old.section else 0.0)
    return min(100.0, score)


def _holds(answer: Features, statement: Features) -> bool:
    """Whether a statement says what an answer names: at least half of the answer's content words are in it."""
    if not answer.content:
        return True
    return 2 * len(answer.content - answer.lacking_in(statement)) >= len(answer.content)


def _answers_agree(first: str, second: str) -> bool:
    """The c1 answers name the same thing: equal once normalised, one's words nearly all in the other's ("two
    different tests on the same sample" / "… tests performed on the same sample"), or the same words but for an
    abbreviation written out."""
    a, b = normalise_for_match(first), normalise_for_match(second)
    if not (a and b):
        return False
    if a == b or fuzz.token_set_ratio(a, b) >= ANSWER_AGREEMENT:
        return True
    words_a, words_b = features_of(first), features_of(second)  # "MELD score" / "Model for End-Stage … score"
    return not words_a.lacking_in(words_b) and not words_b.lacking_in(words_a)


def _swapped_item(a: Features, b: Features, same_answer: bool) -> bool:
    """The same frame about different things ("Apixaban is a factor Xa inhibitor" / "Rivaroxaban is …", "One
    indication is A" / "… is B"): each has content words the other lacks, and either both sides' include a named term
    (drug, disease, test), or the words they share stand in the same order and what differs is a named term or the
    answer. A rewording keeps its named terms, and a synonym keeps the answer."""
    only_a, only_b = a.lacking_in(b), b.lacking_in(a)
    if not (only_a and only_b):
        return False
    term_a, term_b = any(map(word_kind, only_a)), any(map(word_kind, only_b))
    if term_a and term_b:
        return True
    words_a, words_b = a.normalised.split(), b.normalised.split()
    same_frame = [w for w in words_a if w in words_b] == [w for w in words_b if w in words_a]
    return same_frame and (term_a or term_b or not same_answer)


@dataclass(frozen=True)
class Assignment:
    ids: list[str]  # one per new statement, in order
    inherited: int  # how many of them came from a previous statement
    unmatched: list[int]  # positions of the previous statements left unmatched (to retire)


def assign_ids(question_id: str, new: Sequence[Candidate], previous: Sequence[Candidate],
               threshold: float = MATCH_THRESHOLD) -> Assignment:
    """Ids for `new` (a previous statement's id where they match, else a new one), and the previous statements
    nobody matched."""
    matched: dict[int, int] = {}
    if new and previous:
        scores = np.array([[similarity(candidate, old) for old in previous] for candidate in new])
        # Each pair is worth its margin over the threshold: two weak matches never outweigh one strong one.
        margins = np.where(scores >= threshold, scores - threshold + 1e-6, 0.0)
        rows, columns = linear_sum_assignment(margins, maximize=True)
        matched = {int(i): int(j) for i, j in zip(rows, columns, strict=True) if margins[i, j] > 0}
    taken = {previous[j].id for j in matched.values()}
    ids: list[str] = []
    for i, candidate in enumerate(new):
        if i in matched:
            ids.append(previous[matched[i]].id)
            continue
        born = statement_guid(question_id, candidate.section, candidate.statement)
        fresh, copy = born, 1
        while fresh in taken:  # the same text twice, or the text of a statement that kept another id
            copy += 1
            fresh = f"{born}#{copy}"
        taken.add(fresh)
        ids.append(fresh)
    kept = set(matched.values())
    return Assignment(
        ids=ids,
        inherited=len(matched),
        unmatched=[j for j in range(len(previous)) if j not in kept],
    )
