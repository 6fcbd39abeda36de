"""The Claude extractor: one forced tool call per source, all of a question's calls concurrent.

critique ∥ key points (skipped when empty) ∥ each educational table (lab-value tables skipped). With
cloze_mode="folded" (the default) each call also picks the clozes of its statements; with "separate" the clozes
come from one more call over all the question's statements.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from mksap_assets.domain.extraction import prompts
from mksap_assets.domain.extraction.schemas import (
    CLOZES_TOOL_DEF,
    STATEMENTS_ONLY_TOOL,
    STATEMENTS_WITH_CLOZES_TOOL,
    ClozeMapping,
    StatementsOnly,
    StatementsWithClozes,
)
from mksap_assets.domain.inputs import RawQuestion
from mksap_assets.domain.llm.client import ClaudeClient, ExtractionError
from mksap_assets.domain.llm.meter import metering
from mksap_assets.domain.statements import Extraction, LLMUsage, Statement, TableStatement
from mksap_assets.domain.tables import ParsedTable
from mksap_assets.domain.text import normalise_comparators

ClozeMode = Literal["folded", "separate"]
STATEMENT_TOKENS = {"critique": 4096, "key_points": 1536, "table": 2048}
CLOZE_TOKENS = 4096


def claude_prompt_version(cloze_mode: str) -> str:
    """Prompt files, tool schemas and cloze mode together: what Claude is asked."""
    return f"{prompts.combined_prompt_version()}-{cloze_mode}"


class ClaudeExtractor:
    name = "anthropic"

    def __init__(self, client: ClaudeClient, *, cloze_mode: ClozeMode = "folded"):
        self.client = client
        self.model = client.model
        self.cloze_mode = cloze_mode
        self.prompt_version = claude_prompt_version(cloze_mode)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def extract(self, raw: RawQuestion) -> Extraction:
        usage = LLMUsage()
        with metering(usage):
            critique, key_points, *tables = await asyncio.gather(
                self._statements("critique", raw.educational_objective, raw.critique),
                self._key_points(raw),
                *(self._table(raw, table) for table in raw.educational_tables),
            )
            from_tables = [
                TableStatement(**item.model_dump(), table_source=table.source)
                for table, items in zip(raw.educational_tables, tables, strict=True)
                for item in items
            ]
            if self.cloze_mode == "separate":
                await self._pick_clozes([*critique, *key_points, *from_tables])
        return Extraction(
            question_id=raw.question_id,
            extractor=self.name,
            model=self.model,
            prompt_version=self.prompt_version,
            prompt_versions=prompts.prompt_versions(),
            from_critique=critique,
            from_key_points=key_points,
            table_statements=from_tables,
            tables_processed=len({s.table_source for s in from_tables}),
            tables_skipped=raw.lab_tables_skipped,
            usage=usage,
        )

    async def _key_points(self, raw: RawQuestion) -> list[Statement]:
        if not raw.key_points:
            return []
        numbered = "\n".join(f"{i}. {point}" for i, point in enumerate(raw.key_points, start=1))
        return await self._statements("key_points", raw.educational_objective, numbered)

    async def _table(self, raw: RawQuestion, table: ParsedTable) -> list[Statement]:
        items = await self._statements("table", raw.educational_objective, table.to_text())
        # The caption is the table statements' extra_field by rule; enforce it rather than trust the model.
        return [item.model_copy(update={"extra_field": table.caption or None}) for item in items]

    async def _statements(self, task: str, objective: str, source: str) -> list[Statement]:
        folded = self.cloze_mode == "folded"
        result = await self.client.call_tool(
            system=prompts.system_blocks(task),
            user_text=prompts.source_message(objective, source, label=task),
            tool=STATEMENTS_WITH_CLOZES_TOOL if folded else STATEMENTS_ONLY_TOOL,
            output=StatementsWithClozes if folded else StatementsOnly,
            max_tokens=STATEMENT_TOKENS[task],
            prompt_version=self.prompt_version,
        )
        statements = []
        for item in result.statements:
            clozes = [item.cloze_primary, *item.cloze_secondary] if folded else []
            statements.append(_normalised(item.statement, item.extra_field, clozes))
        return statements

    async def _pick_clozes(self, statements: list[Statement]) -> None:
        if not statements:
            return
        result = await self.client.call_tool(
            system=prompts.system_blocks("cloze"),
            user_text=prompts.statements_message([s.statement for s in statements]),
            tool=CLOZES_TOOL_DEF,
            output=ClozeMapping,
            max_tokens=CLOZE_TOKENS,
            prompt_version=self.prompt_version,
        )
        for choice in result.clozes:
            if choice.index > len(statements):
                raise ExtractionError(f"record_clozes: statement {choice.index} does not exist")
            target = statements[choice.index - 1]
            target.cloze_candidates = _normalised(
                target.statement, None, [choice.cloze_primary, *choice.cloze_secondary]
            ).cloze_candidates


def _normalised(statement: str, extra_field: str | None, clozes: list[str]) -> Statement:
    """Comparator phrases become symbols in the statement AND its clozes, so clozes stay substrings."""
    return Statement(
        statement=normalise_comparators(statement),
        extra_field=extra_field,
        cloze_candidates=[normalise_comparators(c) for c in clozes],
    )
