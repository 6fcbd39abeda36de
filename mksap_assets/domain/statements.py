"""Statements as extracted, and as validated (each carrying its own issues)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mksap_assets.domain.nlp.analysis import NlpAnalysis

Section = Literal["from_critique", "from_key_points", "table_statements"]
SECTIONS: tuple[Section, ...] = ("from_critique", "from_key_points", "table_statements")
Severity = Literal["error", "warning", "info"]


def _absent(value: str | None) -> bool:
    return value is None


class Statement(BaseModel):
    statement: str
    extra_field: str | None = None
    cloze_candidates: list[str] = Field(default_factory=list)
    # The model's evidence (prompts v2): the source span the statement rests on (grounding aligns with it), and why
    # the model believes a statement faithful to its source is medically wrong (it stays off the deck for a human).
    # Written only when given, so extractors without them (offline, earlier prompts) export what they always did.
    source_quote: str | None = Field(default=None, exclude_if=_absent)
    source_concern: str | None = Field(default=None, exclude_if=_absent)


class TableStatement(Statement):
    table_source: str


IssueField = Literal["statement", "extra_field", "cloze_candidates", "table_source"]


class Issue(BaseModel):
    """One finding of a validator. `span` is a character range in the text named by `field` (for
    cloze_candidates: in the statement, where the candidate was expected)."""

    code: str
    severity: Severity
    message: str
    span: tuple[int, int] | None = None
    category: str = "structure"  # structure | cloze | grounding | quality | ambiguity | enumeration
    field: IssueField = "statement"


class Fix(BaseModel):
    """One mechanical change the auto-fixer made; the statement was validated again after it."""

    code: str  # strip_option_citation | whitespace | glued_sentence | cloze_comparator
    field: IssueField
    before: str
    after: str


class StatementCheck(BaseModel):
    """What validation adds to a statement: its issues, the fixes made, and whether it may become a card."""

    issues: list[Issue] = Field(default_factory=list)
    fixes: list[Fix] = Field(default_factory=list, exclude_if=lambda fixes: not fixes)  # listed only when made
    passed: bool = True  # no blocking issue: the statement may become a card (card_gate.py)
    blocked_by: list[str] = Field(default_factory=list)  # codes of the issues that keep it off the deck
    repaired_from: str | None = Field(default=None, exclude_if=lambda text: text is None)  # text before the repair turn


class CheckedStatement(Statement, StatementCheck):
    pass


class CheckedTableStatement(TableStatement, StatementCheck):
    pass


class LLMUsage(BaseModel):
    """What producing one question's statements cost; all zero for the offline extractor."""

    calls: int = 0  # requests that reached the API (retries included)
    batch_calls: int = 0  # of those, answered in a message batch, billed at batch prices (llm/batches/)
    cache_hits: int = 0  # answered from the persistent response cache
    cache_misses: int = 0
    cache_write_errors: int = 0  # answers the response cache could not store (kept all the same)
    retries: int = 0
    rate_limited: int = 0  # 429 responses
    deadlines_missed: int = 0  # attempts cut off at the request deadline
    pauses_capped: int = 0  # retry-after pauses cut to the cap
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: float = 0.0
    llm_seconds: float = 0.0

    def __add__(self, other: LLMUsage) -> LLMUsage:
        return self.model_copy().add(other)

    def add(self, other: LLMUsage) -> LLMUsage:
        """Add `other` into this one, in place."""
        for name in LLMUsage.model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


class Extraction(BaseModel):
    """The extracted_statements asset for one question."""

    question_id: str
    extractor: str
    model: str | None
    # The API the statements came from when it is not Anthropic's own (llm/providers/anthropic/endpoint.py):
    # scheme://host[:port].
    endpoint: str | None = None
    prompt_version: str
    prompt_versions: dict[str, str] = Field(default_factory=dict)
    from_critique: list[Statement]
    from_key_points: list[Statement]
    table_statements: list[TableStatement]
    tables_processed: int
    tables_skipped: int
    usage: LLMUsage = Field(default_factory=LLMUsage)
    extracted_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())

    @classmethod
    def from_document(cls, document: dict, *, extractor: str, prompt_version: str) -> Extraction:
        """The statements stored in a question document (an export, or the original system's output), keeping only
        the fields these models know (the original added others, such as final_clozes)."""
        true = document.get("true_statements") or {}
        tables = document.get("table_statements") or {}

        def items(rows, model):
            return [model(**{k: row[k] for k in row if k in model.model_fields}) for row in rows or []]

        return cls(
            question_id=document["question_id"],
            extractor=extractor,
            model=None,
            prompt_version=prompt_version,
            from_critique=items(true.get("from_critique"), Statement),
            from_key_points=items(true.get("from_key_points"), Statement),
            table_statements=items(tables.get("statements"), TableStatement),
            tables_processed=tables.get("tables_processed", 0),
            tables_skipped=tables.get("tables_skipped", 0),
        )

    def statements(self) -> Iterator[tuple[Section, int, Statement]]:
        for section in SECTIONS:
            for index, item in enumerate(getattr(self, section)):
                yield section, index, item

    @property
    def statement_count(self) -> int:
        return len(self.from_critique) + len(self.from_key_points) + len(self.table_statements)


class RepairSummary(BaseModel):
    """The repair turn: statements with blocking issues sent back to the model once, in one call per question."""

    statements_sent: int = 0
    statements_repaired: int = 0  # came back and now pass: saved for the deck
    failure: str | None = None  # why the call gave nothing usable (the originals were kept)
    usage: LLMUsage = Field(default_factory=LLMUsage)


class ValidationSummary(BaseModel):
    statements: int
    statements_passed: int  # may become cards: no error and no card-breaking warning
    pass_rate: float  # statements_passed / statements (0.0 when there are none)
    errors: int
    warnings: int
    infos: int
    validator_version: str
    question_issues: list[Issue] = Field(default_factory=list)
    statements_with_errors: int = 0
    fixes: int = 0
    grounded: bool = False  # False when no source was given (grounding checks skipped)
    codes: dict[str, int] = Field(default_factory=dict)  # issue counts by code, questions' own issues included
    error_codes: dict[str, int] = Field(default_factory=dict)  # the same for errors only
    repair: RepairSummary | None = None  # None when the extractor has no repair turn

    def counts(self) -> dict[str, Any]:
        """The statement and issue counts, as the export and the validated asset's metadata both record them."""
        return self.model_dump(include={"statements", "statements_passed", "pass_rate", "errors", "warnings", "infos",
                                        "statements_with_errors", "fixes", "error_codes"})


class ValidatedStatements(BaseModel):
    """The validated_statements asset for one question."""

    question_id: str
    from_critique: list[CheckedStatement]
    from_key_points: list[CheckedStatement]
    table_statements: list[CheckedTableStatement]
    tables_processed: int
    tables_skipped: int
    validation: ValidationSummary
    nlp_analysis: NlpAnalysis | None = None

    def checked(self) -> Iterator[tuple[Section, int, CheckedStatement | CheckedTableStatement]]:
        for section in SECTIONS:
            for index, item in enumerate(getattr(self, section)):
                yield section, index, item
