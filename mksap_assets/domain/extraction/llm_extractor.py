"""The LLM extractor: one forced tool call per source through a provider (llm/provider.py), all of a question's
calls concurrent.

critique ∥ key points (skipped when empty) ∥ each educational table (lab-value tables skipped). With
cloze_mode="folded" (the default) each call also picks the clozes of its statements; with "separate" the clozes
come from one more call over all the question's statements. After validation, `repair` sends the statements the
gate keeps off the deck back in one call per question (repair.py decides what comes back).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from mksap_assets.domain.config import ClozeMode
from mksap_assets.domain.extraction import prompts
from mksap_assets.domain.extraction.repair import (
    RepairAnswer,
    StatementKey,
    StatementToRepair,
)
from mksap_assets.domain.extraction.schemas import (
    CLOZES_TOOL_DEF,
    REPAIRS_TOOL_DEF,
    STATEMENTS_ONLY_TOOL,
    STATEMENTS_WITH_CLOZES_TOOL,
    ClozeMapping,
    ExtractedStatement,
    PlainStatement,
    Repairs,
    StatementsOnly,
    StatementsWithClozes,
)
from mksap_assets.domain.inputs.bank import RawQuestion
from mksap_assets.domain.inputs.tables import ParsedTable
from mksap_assets.domain.llm.meter import metering
from mksap_assets.domain.llm.provider import (
    ExtractionError,
    LLMProvider,
    ModelT,
    ToolCall,
)
from mksap_assets.domain.statements import (
    Extraction,
    LLMUsage,
    Statement,
    TableStatement,
)
from mksap_assets.domain.text import normalise_comparators
from mksap_assets.domain.validation.structure import (
    MAX_CLOZE_CHARS,
    MAX_EXTRA_FIELD_CHARS,
    MAX_STATEMENT_CHARS,
    capped,
)

STATEMENT_TOKENS = {"critique": 4096, "key_points": 1536, "table": 2048}
CLOZE_TOKENS = 4096
REPAIR_TOKENS = 4096
T = TypeVar("T")


def llm_prompt_version(cloze_mode: str) -> str:
    """Prompt files, tool schemas and cloze mode together: what the model is asked."""
    return f"{prompts.combined_prompt_version()}-{cloze_mode}"


def statements_call(task: str, user_text: str, cloze_mode: str) -> ToolCall[StatementsWithClozes | StatementsOnly]:
    """The call that extracts the statements of one source (`task`: critique, key_points or table)."""
    folded = cloze_mode == "folded"
    return tool_call(
        task, user_text, tool=STATEMENTS_WITH_CLOZES_TOOL if folded else STATEMENTS_ONLY_TOOL,
        output=StatementsWithClozes if folded else StatementsOnly, max_tokens=STATEMENT_TOKENS[task],
        prompt_version=llm_prompt_version(cloze_mode),
    )


def tool_call(task: str, user_text: str, *, tool: dict[str, Any], output: type[ModelT], max_tokens: int,
              prompt_version: str) -> ToolCall[ModelT]:
    """One call with the instructions of `task`."""
    return ToolCall(instructions=prompts.instructions(task), user_text=user_text, tool=tool, output=output,
                    max_tokens=max_tokens, prompt_version=prompt_version)


@dataclass(frozen=True)
class FirstPass:
    """A question's first-pass calls, which depend on nothing else: what `extract` sends at once, and what batch
    mode submits ahead of the run (llm/batches/)."""

    critique: ToolCall[StatementsWithClozes | StatementsOnly]
    key_points: ToolCall[StatementsWithClozes | StatementsOnly] | None  # None: the question has no key points
    tables: list[ToolCall[StatementsWithClozes | StatementsOnly]]  # one per educational table, in order

    def calls(self) -> list[ToolCall[StatementsWithClozes | StatementsOnly]]:
        return [self.critique, *([self.key_points] if self.key_points else []), *self.tables]


def first_pass_outputs(cloze_mode: str) -> dict[str, type[StatementsWithClozes | StatementsOnly]]:
    """The tool every first-pass call forces, and the model its input must validate as."""
    call = statements_call("critique", "", cloze_mode)
    return {call.tool["name"]: call.output}


def first_pass_calls(raw: RawQuestion, cloze_mode: str) -> FirstPass:
    # The question tells a case detail from a rule; the key points keep the critique call from restating them.
    critique = prompts.source_message(raw.educational_objective, raw.critique, label="critique",
                                      context=raw.question_context(), key_points=_numbered(raw.key_points))
    key_points = (prompts.source_message(raw.educational_objective, _numbered(raw.key_points), label="key_points")
                  if raw.key_points else None)
    return FirstPass(
        critique=statements_call("critique", critique, cloze_mode),
        key_points=statements_call("key_points", key_points, cloze_mode) if key_points else None,
        tables=[statements_call("table", prompts.source_message(raw.educational_objective, table.to_text(),
                                                                label="table"), cloze_mode)
                for table in raw.educational_tables],
    )


async def _nothing() -> list[Statement]:
    return []


async def _all_or_nothing(*calls: Awaitable[T]) -> list[T]:
    """The results of all the calls; the first failure cancels the others (a failed question pays for nothing more),
    waits until they have stopped (so what they spent is metered before the question's meter closes), and is raised
    as itself."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class LLMExtractor:
    def __init__(self, provider: LLMProvider, *, cloze_mode: ClozeMode = "folded"):
        self.provider = provider
        self.name = provider.name
        self.model = provider.model
        self.cloze_mode = cloze_mode
        self.prompt_version = llm_prompt_version(cloze_mode)
        self.repair_version = prompts.repair_prompt_version()

    async def aclose(self) -> None:
        await self.provider.aclose()

    async def extract(self, raw: RawQuestion) -> Extraction:
        usage = LLMUsage()
        first = first_pass_calls(raw, self.cloze_mode)
        with metering(usage):
            critique, key_points, *tables = await _all_or_nothing(
                self._statements(first.critique),
                self._statements(first.key_points) if first.key_points else _nothing(),
                *(self._table(table, call) for table, call in zip(raw.educational_tables, first.tables, strict=True)),
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
            endpoint=self.provider.endpoint,
            prompt_version=self.prompt_version,
            prompt_versions=prompts.prompt_versions(),
            from_critique=critique,
            from_key_points=key_points,
            table_statements=from_tables,
            tables_processed=len({s.table_source for s in from_tables}),
            tables_skipped=raw.lab_tables_skipped,
            usage=usage,
        )

    async def repair(self, raw: RawQuestion, items: list[StatementToRepair]) -> RepairAnswer:
        """One call with every statement to repair and the sources they came from; a failed call keeps the
        originals (the question never fails for its repair)."""
        usage = LLMUsage()
        if not items:
            return RepairAnswer({}, usage)
        sources = self._repair_sources(raw, items)
        listed = [
            {
                "index": number,
                "source": _source_kind(item),
                "statement": item.statement.statement,
                "extra_field": item.statement.extra_field,
                "cloze_candidates": item.statement.cloze_candidates,
                "issues": [f"{issue.code} ({issue.field}): {issue.message}" for issue in item.issues],
            }
            for number, item in enumerate(items, start=1)
        ]
        with metering(usage):
            try:
                result = await self._call(
                    "repair", prompts.repair_message(raw.educational_objective, sources, listed),
                    tool=REPAIRS_TOOL_DEF, output=Repairs, max_tokens=REPAIR_TOKENS, prompt_version=self.repair_version,
                )
            except ExtractionError as exc:
                return RepairAnswer({}, usage, failure=str(exc))
        repaired: dict[StatementKey, Statement] = {}
        for answer in result.repairs:
            if not 1 <= answer.index <= len(items):
                continue  # an index it was not given
            item = items[answer.index - 1]
            if (item.section, item.index) in repaired:
                continue  # a second answer for the same statement
            clozes = [answer.cloze_primary, *answer.cloze_secondary]
            statement = _normalised(answer.statement, answer.extra_field, clozes, evidence=answer)
            if isinstance(item.statement, TableStatement):
                # The caption stays the extra_field of a table statement, as in extraction.
                statement = TableStatement(**statement.model_dump() | {"extra_field": item.statement.extra_field},
                                           table_source=item.statement.table_source)
            repaired[(item.section, item.index)] = statement
        return RepairAnswer(repaired, usage)

    @staticmethod
    def _repair_sources(raw: RawQuestion, items: list[StatementToRepair]) -> list[tuple[str, str]]:
        """The source texts of the statements to repair, each once, labelled as in the statements' "source"."""
        tables = {table.source: table for table in raw.educational_tables}
        texts: dict[str, str] = {}
        for item in items:
            kind = _source_kind(item)
            if kind in texts:
                continue
            if item.section == "from_critique":
                texts[kind] = raw.critique
            elif item.section == "from_key_points":
                texts[kind] = _numbered(raw.key_points)
            elif item.statement.table_source in tables:
                texts[kind] = tables[item.statement.table_source].to_text()
        return list(texts.items())

    async def _table(self, table: ParsedTable, call: ToolCall[StatementsWithClozes | StatementsOnly]
                     ) -> list[Statement]:
        items = await self._statements(call)
        # The caption is the table statements' extra_field by rule; enforce it rather than trust the model.
        return [item.model_copy(update={"extra_field": table.caption or None}) for item in items]

    async def _statements(self, call: ToolCall[StatementsWithClozes | StatementsOnly]) -> list[Statement]:
        result = await self.provider.call_tool(call)
        statements = []
        for item in result.statements:
            clozes = [item.cloze_primary, *item.cloze_secondary] if isinstance(item, ExtractedStatement) else []
            statements.append(_normalised(item.statement, item.extra_field, clozes, evidence=item))
        return statements

    async def _pick_clozes(self, statements: list[Statement]) -> None:
        if not statements:
            return
        result = await self._call(
            "cloze", prompts.statements_message([s.statement for s in statements]),
            tool=CLOZES_TOOL_DEF, output=ClozeMapping, max_tokens=CLOZE_TOKENS, prompt_version=self.prompt_version,
        )
        for choice in result.clozes:
            if choice.index > len(statements):
                raise ExtractionError(f"record_clozes: statement {choice.index} does not exist")
            target = statements[choice.index - 1]
            target.cloze_candidates = _normalised(
                target.statement, None, [choice.cloze_primary, *choice.cloze_secondary]
            ).cloze_candidates

    async def _call(self, task: str, user_text: str, *, tool: dict[str, Any], output: type[ModelT],
                    max_tokens: int, prompt_version: str) -> ModelT:
        return await self.provider.call_tool(tool_call(task, user_text, tool=tool, output=output,
                                                       max_tokens=max_tokens, prompt_version=prompt_version))


def _numbered(points: list[str]) -> str:
    return "\n".join(f"{i}. {point}" for i, point in enumerate(points, start=1))


def _source_kind(item: StatementToRepair) -> str:
    if item.section == "from_critique":
        return "critique"
    if item.section == "from_key_points":
        return "key_points"
    return f"table {item.statement.table_source}"


def _normalised(
    statement: str, extra_field: str | None, clozes: list[str], *, evidence: PlainStatement | ExtractedStatement | None = None
) -> Statement:
    """Comparator phrases become symbols in the statement AND its clozes, so clozes stay substrings. Every string is
    cut at its size cap (after normalising, which can shorten it): an over-long one becomes an over_size_cap
    error, not megabytes downstream. `evidence` carries the model's source_quote and source_concern."""

    def cut(text: str | None, cap: int) -> str | None:
        return capped(text, cap) if text is not None else None

    return Statement(
        statement=capped(normalise_comparators(statement), MAX_STATEMENT_CHARS),
        extra_field=cut(extra_field, MAX_EXTRA_FIELD_CHARS),
        cloze_candidates=[capped(normalise_comparators(c), MAX_CLOZE_CHARS) for c in clozes],
        source_quote=cut(evidence.source_quote, MAX_STATEMENT_CHARS) if evidence else None,
        source_concern=cut(evidence.source_concern, MAX_EXTRA_FIELD_CHARS) if evidence else None,
    )
