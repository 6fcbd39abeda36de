"""One card per fact: near-duplicate statements merged into one, within a question and across the bank.

Pure: statements in, groups out. The deck (anki.py) calls `merge_duplicates` after the card gate; the benchmark
(benchmarks/quality_dedup.py) calls `near_pairs` to show what falls just under the threshold.

Two statements are duplicates when all of these hold:
- their c1 answers agree after normalisation (the card asks for the same thing). This is also the blocking key:
  only statements of one block are compared, so 55k statements cost a handful of small similarity matrices;
- the numbers they carry agree (each with the comparator before it: "< 30" is not "> 30" nor "< 40");
- their negation words agree ("X is indicated" never merges with "X is not indicated");
- at most one of them has content words the other lacks. A reworded fact adds or drops words ("is" / "is
  characterized by"); two facts of one list swap one ("A is characterized by fever" / "… by jaundice",
  "contraindicated in osteopenia" / "… in osteoporosis"), which similarity alone scores above any useful threshold.
  A word counts as present in the other statement when a crude stem of it is ("occurs" / "occur") or when it is
  written inside the other's text with the spaces removed ("airflow" / "air flow");
- rapidfuzz token_sort_ratio of their normalised texts reaches THRESHOLD. token_sort_ratio, not token_set_ratio:
  set similarity scores a statement 100 against any longer statement containing its words, which would merge a
  fact into a statement that adds another fact.

What is compared (normalised text, numbers, negations, content words) is matching.py's, shared with identity.py.

Grouping is stable: the members of a block are taken in survivor order (fewest words, then question id, section,
index), and each joins the first group whose survivor it matches, else starts a group. So the survivor is the
group's first member and reruns over the same statements, in any input order, give the same groups. Comparing each
member with the survivor only (not chaining through other members) keeps a group from drifting to another fact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from mksap_assets.domain.exports.matching import Features, normalise_for_match

# Measured on the statements of `make quality` (docs/VALIDATION.md, "One card per fact").
THRESHOLD = 85.0

SECTION_ORDER = ("critique", "key_point", "table")


@dataclass(frozen=True)
class Statement:
    """A card candidate: where it comes from, its text and its c1 answer."""

    question_id: str
    section: str  # one of SECTION_ORDER
    index: int
    text: str
    answer: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.question_id, self.section, self.index)


@dataclass(frozen=True)
class DuplicateGroup:
    survivor: Statement
    merged: tuple[Statement, ...]  # the statements the survivor stands for, in survivor order
    scores: tuple[float, ...]  # each merged statement's similarity to the survivor

    @property
    def other_questions(self) -> tuple[str, ...]:
        """The source questions other than the survivor's, sorted: the Extra line's list."""
        return tuple(sorted({s.question_id for s in self.merged} - {self.survivor.question_id}))


@dataclass(frozen=True)
class ScoredPair:
    first: Statement
    second: Statement
    score: float


@dataclass(frozen=True)
class _Prepared:
    statement: Statement
    features: Features
    order: tuple[int, str, int, int]  # survivor order

    @classmethod
    def of(cls, statement: Statement) -> _Prepared:
        section = SECTION_ORDER.index(statement.section) if statement.section in SECTION_ORDER else len(SECTION_ORDER)
        return cls(statement, Features.of(statement.text),
                   (len(statement.text.split()), statement.question_id, section, statement.index))


def _compatible(a: _Prepared, b: _Prepared) -> bool:
    first, second = a.features, b.features
    return ((first.numbers, first.negations) == (second.numbers, second.negations)
            and not (first.adds_to(second) and second.adds_to(first)))


def _blocks(statements: Iterable[Statement]) -> list[list[_Prepared]]:
    """Statements grouped by normalised c1 answer, each block in survivor order; blocks in a fixed order."""
    by_answer: dict[str, list[Statement]] = defaultdict(list)
    for statement in statements:
        answer = normalise_for_match(statement.answer)
        if answer:
            by_answer[answer].append(statement)
    return [  # a statement alone in its block is never compared: not prepared
        sorted(map(_Prepared.of, block), key=lambda p: p.order) for _, block in sorted(by_answer.items())
        if len(block) > 1
    ]


def _similarity(block: Sequence[_Prepared]) -> list[list[float]]:
    texts = [p.features.normalised for p in block]
    return process.cdist(texts, texts, scorer=fuzz.token_sort_ratio).tolist()


def find_duplicates(statements: Iterable[Statement], threshold: float = THRESHOLD) -> list[DuplicateGroup]:
    """The groups of two or more duplicates, ordered by survivor (question id, section, index)."""
    groups: list[DuplicateGroup] = []
    for block in _blocks(statements):
        scores = _similarity(block)
        heads: list[int] = []  # block positions of the survivors found so far
        members: dict[int, list[int]] = {}
        for position, item in enumerate(block):
            head = next(
                (h for h in heads if scores[h][position] >= threshold and _compatible(block[h], item)), None
            )
            if head is None:
                heads.append(position)
                members[position] = []
            else:
                members[head].append(position)
        groups += [
            DuplicateGroup(block[h].statement, tuple(block[m].statement for m in found),
                           tuple(round(scores[h][m], 1) for m in found))
            for h, found in members.items() if found
        ]
    return sorted(groups, key=lambda g: g.survivor.key)


def near_pairs(
    statements: Iterable[Statement], low: float, high: float = THRESHOLD
) -> list[ScoredPair]:
    """Pairs of one block that pass the guards and whose similarity is in [low, high): the merges a lower threshold
    would add. Highest score first, then by the pair's keys."""
    pairs: list[ScoredPair] = []
    for block in _blocks(statements):
        scores = _similarity(block)
        for i, first in enumerate(block):
            for j in range(i + 1, len(block)):
                if low <= scores[i][j] < high and _compatible(first, block[j]):
                    pairs.append(ScoredPair(first.statement, block[j].statement, round(scores[i][j], 1)))
    return sorted(pairs, key=lambda p: (-p.score, p.first.key, p.second.key))
