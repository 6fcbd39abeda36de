"""The "Card checks" section of benchmarks/quality.md: the cards each set puts in the deck, judged by
`mksap_assets/domain/validation/card_checks.py` (words, clozes, extra_field, case narration, c1 give-aways, trivial
clozes). quality.py calls `add_deck_cards` for each exported question and `card_checks_section` for the report.

Ids and counts only: the statements derive from the copyrighted corpus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import mean, median
from typing import Any

from mksap_assets.domain.exports.anki import SECTIONS
from mksap_assets.domain.validation.card_checks import card_metrics

NOTE_ID = tuple[str, str, int]  # (question id, section, index)


@dataclass
class CardFigures:
    """The card checks over one set's deck."""

    words: list[int] = field(default_factory=list)
    clozes: list[int] = field(default_factory=list)
    with_extra_field: int = 0
    narration_notes: list[NOTE_ID] = field(default_factory=list)
    narration_cues: Counter[str] = field(default_factory=Counter)  # notes per cue
    giveaway_notes: list[NOTE_ID] = field(default_factory=list)
    giveaways: Counter[str] = field(default_factory=Counter)  # give-aways by kind
    trivial_notes: list[NOTE_ID] = field(default_factory=list)
    trivial_clozes: Counter[str] = field(default_factory=Counter)  # trivial placed candidates by reason
    topic_notes: list[NOTE_ID] = field(default_factory=list)  # c1 on the sentence's topic

    @property
    def notes(self) -> int:
        return len(self.words)


def add_deck_cards(figures: CardFigures, document: dict[str, Any], in_deck: Iterable[tuple[str, int]]) -> None:
    """Add the card checks of the statements of one export document (as JSON) that reach the deck, given as
    (section, index) pairs of its notes."""
    wanted = set(in_deck)
    question_id = document["question_id"]
    for (part, key), section, _ in SECTIONS:
        for index, item in enumerate((document.get(part) or {}).get(key) or []):
            if (section, index) not in wanted:
                continue
            note = (question_id, section, index)
            metrics = card_metrics(item.get("statement") or "", item.get("cloze_candidates") or [],
                                   item.get("extra_field"))
            figures.words.append(metrics.words)
            figures.clozes.append(metrics.clozes)
            figures.with_extra_field += metrics.has_extra_field
            if metrics.case_narration:
                figures.narration_notes.append(note)
                figures.narration_cues.update(metrics.case_narration)
            if metrics.giveaways:
                figures.giveaway_notes.append(note)
                figures.giveaways.update(g.kind for g in metrics.giveaways)
            if metrics.trivial_clozes:
                figures.trivial_notes.append(note)
                figures.trivial_clozes.update(metrics.trivial_clozes)
            if metrics.topic_blank:
                figures.topic_notes.append(note)


def _share(part: int, whole: int) -> str:
    return f"{part} ({part / whole:.1%})" if whole else f"{part} (-)"


def _mean_median(values: Sequence[int]) -> str:
    return f"{mean(values):.1f} / {median(values):g}" if values else "- / -"


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))) or "-"


def _ids(notes: Sequence[NOTE_ID]) -> str:
    return ", ".join(f"{question} {section}[{index}]" for question, section, index in notes) or "none"


def card_checks_section(sets: Sequence[tuple[str, CardFigures]]) -> list[str]:
    """The report's "Card checks" section (markdown lines) for the sets, in order: (set name, figures)."""
    lines = [
        "## Card checks",
        "",
        "Over the statements that reach the deck (one note each), as the Anki card renders them "
        "(`mksap_assets/domain/validation/card_checks.py`; the first placed cloze candidate is c1, card 1 shows the "
        "c2 text). Words as a reader counts them (numbers and units included); *case narration*: a note with at "
        "least one cue of the case retold (\"this patient\", \"the patient's\", \"a patient has\" outside a "
        "conditional, past events, answer options, he/she); *c1 give-aways*: give-aways found (an abbreviation or "
        "long form of the c1 answer, a unit conversion of a blanked value, the answer repeated outside its blank, "
        "another name or a definition in parentheses right after the blank); "
        "*trivial clozes*: placed candidates that are a function word, a fragment, a generic phrase or a row number; "
        "*c1 on the topic*: c1 blanks what the sentence is about while its assertion has an answer of its own "
        "(\"Severe [...] is characterized by frequent exacerbations\": several answers fit).",
        "",
        "| set | notes | words per statement (mean / median) | clozes per statement (mean / median) "
        "| with extra_field | notes with case narration | notes with a c1 give-away | c1 give-aways "
        "| trivial clozes | notes with c1 on the topic |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f in sets:
        lines.append(
            f"| {name} | {f.notes} | {_mean_median(f.words)} | {_mean_median(f.clozes)} "
            f"| {_share(f.with_extra_field, f.notes)} | {_share(len(f.narration_notes), f.notes)} "
            f"| {_share(len(f.giveaway_notes), f.notes)} | {sum(f.giveaways.values())} "
            f"| {sum(f.trivial_clozes.values())} | {_share(len(f.topic_notes), f.notes)} |"
        )
    for name, f in sets:
        lines += [
            "",
            f"### Card checks: {name}",
            "",
            f"- Case-narration cues (notes per cue): {_counts(f.narration_cues)}.",
            f"- c1 give-aways by kind: {_counts(f.giveaways)}.",
            f"- Trivial clozes by reason: {_counts(f.trivial_clozes)}.",
            f"- Notes with case narration: {_ids(f.narration_notes)}.",
            f"- Notes with a c1 give-away: {_ids(f.giveaway_notes)}.",
            f"- Notes with a trivial cloze: {_ids(f.trivial_notes)}.",
            f"- Notes with c1 on the topic: {_ids(f.topic_notes)}.",
        ]
    return lines
