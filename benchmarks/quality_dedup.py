"""The "Duplicates" section of benchmarks/quality.md: what one card per fact (domain/exports/dedup.py) merges in the
deck statements of each `make quality` set, and a sample of the pairs just under the threshold.

Ids only (question id, section, index) and similarity scores: never statement text, the corpus is copyrighted.
Called by quality.py's report; the threshold itself is set in dedup.py from reading such pairs (docs/VALIDATION.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mksap_assets.domain.exports.dedup import (
    THRESHOLD,
    DuplicateGroup,
    ScoredPair,
    Statement,
    find_duplicates,
    near_pairs,
)

NEAR_LOW = 70.0  # the sample of pairs under the threshold starts here
NEAR_SHOWN = 20  # pairs under the threshold listed per set, the closest first
MERGES_SHOWN = 40  # merged statements listed per set


def deck_statements(notes: Sequence[Any]) -> list[Statement]:
    """The statements dedup compares, from anki.ClozeNote objects (as notes_from_document returns them)."""
    return [Statement(n.question_id, n.section, n.index, n.statement, n.answer) for n in notes]


def _where(statement: Statement) -> str:
    return f"{statement.question_id} {statement.section}[{statement.index}]"


def _merge_counts(groups: Sequence[DuplicateGroup]) -> tuple[int, int]:
    """(merged within the survivor's question, merged from another question)."""
    within = sum(s.question_id == g.survivor.question_id for g in groups for s in g.merged)
    return within, sum(len(g.merged) for g in groups) - within


def duplicates_section(sets: Sequence[tuple[str, Sequence[Any]]]) -> list[str]:
    """Markdown lines: per set the merges (count, within/across questions, listed by ids) and the closest pairs that
    do not merge."""
    lines = [
        "", "## Duplicates", "",
        "One card per fact (`mksap_assets/domain/exports/dedup.py`, docs/VALIDATION.md): the deck statements of each "
        "set (after the card gate) with the same normalised c1 answer, the same numbers and the same negation words, "
        "of which at most one has content words the other lacks, merge with the group's survivor when rapidfuzz "
        f"token_sort_ratio of their normalised texts is at least {THRESHOLD:g}. *Within*: the "
        "merged statement comes from the survivor's own question (critique, key points, tables); *across*: from "
        "another question. Ids and scores only.",
        "",
        "| set | deck statements | merged | within a question | across questions | notes after merging | "
        f"pairs in [{NEAR_LOW:g}, {THRESHOLD:g}) |",
        "|---|---|---|---|---|---|---|",
    ]
    details: list[str] = []
    for name, notes in sets:
        statements = deck_statements(notes)
        groups = find_duplicates(statements)
        near = near_pairs(statements, NEAR_LOW)
        within, across = _merge_counts(groups)
        merged = within + across
        lines.append(f"| {name} | {len(statements)} | {merged} | {within} | {across} | {len(statements) - merged} "
                     f"| {len(near)} |")
        rows = [(g.survivor, s, score) for g in groups for s, score in zip(g.merged, g.scores, strict=True)]
        details += ["", f"### {name}", "", f"Merged statements ({len(rows)}"
                    + (f", the first {MERGES_SHOWN}" if len(rows) > MERGES_SHOWN else "") + "):", "",
                    "| survivor | merged | score |", "|---|---|---|"]
        details += [f"| {_where(a)} | {_where(b)} | {score:g} |" for a, b, score in rows[:MERGES_SHOWN]] or [
            "| - | - | - |"]
        details += ["", f"Closest pairs that do not merge ({min(len(near), NEAR_SHOWN)} of {len(near)} in "
                    f"[{NEAR_LOW:g}, {THRESHOLD:g}) that pass the guards):", "",
                    "| statement | statement | score |", "|---|---|---|"]
        details += [_pair_row(pair) for pair in near[:NEAR_SHOWN]] or ["| - | - | - |"]
    return lines + details


def _pair_row(pair: ScoredPair) -> str:
    return f"| {_where(pair.first)} | {_where(pair.second)} | {pair.score:g} |"
