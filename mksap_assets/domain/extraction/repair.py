"""The repair turn's core, without the model: which statements go back, and what comes back into the deck.

Statements that validation keeps off the deck (an error or a card-breaking warning) are sent back to the model
once per question, each with its blocking issues (the re-ask pattern of instructor). Each corrected statement is
validated again; it replaces the original only if it now passes, and records the text it replaced
(`repaired_from`). What still fails stays out, with the original's text and issues. The extractor makes the call
(extraction/llm_extractor.py); the pipeline wires the two (pipeline.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mksap_assets.domain.inputs.bank import RawQuestion
from mksap_assets.domain.statements import (
    Extraction,
    Issue,
    LLMUsage,
    RepairSummary,
    Section,
    Statement,
    ValidatedStatements,
)
from mksap_assets.domain.validation import VALIDATOR_VERSION, summarised
from mksap_assets.domain.validation.evidence import SOURCE_CONCERN

StatementKey = tuple[Section, int]


@dataclass(frozen=True)
class StatementToRepair:
    section: Section
    index: int  # in its section
    statement: Statement  # as extracted (a TableStatement for a table statement)
    issues: list[Issue]  # the blocking ones


@dataclass
class RepairAnswer:
    statements: dict[StatementKey, Statement]  # the corrected statements the model returned
    usage: LLMUsage
    failure: str | None = None  # why nothing usable came back (refusal, invalid output, API error)


@runtime_checkable
class StatementRepairer(Protocol):
    """An extractor that can correct its own statements (the offline extractor cannot)."""

    repair_version: str  # what the repair turn asks (prompt and tool): part of the validation's identity

    async def repair(self, raw: RawQuestion, items: list[StatementToRepair]) -> RepairAnswer: ...


def validation_identity(repair_version: str | None) -> str:
    """The validator version a question's fingerprint records: the validators', and the repair turn's prompt when
    the extractor has one (editing it changes what reaches the deck, so the question is validated again)."""
    return VALIDATOR_VERSION if repair_version is None else f"{VALIDATOR_VERSION}+repair.{repair_version}"


def statements_to_repair(extraction: Extraction, validated: ValidatedStatements) -> list[StatementToRepair]:
    """The extracted statements (before any mechanical fix) that the gate keeps off the deck, except those the model
    flagged as medically doubtful: a physician judges those, not another model turn."""
    extracted = {(section, index): item for section, index, item in extraction.statements()}
    return [
        StatementToRepair(section, index, extracted[(section, index)],
                          [issue for issue in checked.issues if issue.code in checked.blocked_by])
        for section, index, checked in validated.checked()
        if not checked.passed and (section, index) in extracted and SOURCE_CONCERN not in checked.blocked_by
    ]


def with_repairs(extraction: Extraction, repairs: dict[StatementKey, Statement]) -> Extraction:
    """The extraction with the corrected statements in place of the originals (to validate them again)."""
    sections = {
        section: [repairs.get((section, index), item) for index, item in enumerate(getattr(extraction, section))]
        for section in ("from_critique", "from_key_points", "table_statements")
    }
    return extraction.model_copy(update=sections)


def merged(
    before: ValidatedStatements, after: ValidatedStatements, answer: RepairAnswer, sent: int
) -> ValidatedStatements:
    """`before` with each corrected statement of `after` that passes, and the repair's record in the summary."""
    saved = 0
    sections = {}
    for section in ("from_critique", "from_key_points", "table_statements"):
        items = list(getattr(before, section))
        for index, original in enumerate(items):
            if (section, index) not in answer.statements:
                continue
            repaired = getattr(after, section)[index]
            if repaired.passed:
                items[index] = repaired.model_copy(update={"repaired_from": original.statement})
                saved += 1
        sections[section] = items
    record = RepairSummary(statements_sent=sent, statements_repaired=saved, failure=answer.failure, usage=answer.usage)
    result = before.model_copy(update=sections)
    result = result.model_copy(update={"validation": result.validation.model_copy(update={"repair": record})})
    return summarised(result)
