"""The structured output the model must return, as pydantic models and as the tools that carry them.

Each call forces one tool (with Anthropic: tool_choice = that tool), so the answer is the tool's input, validated
with these models. That a cloze is an exact substring of its statement is asked for but not enforced here: a
rejected answer would cost the whole call again (and after one re-ask, the question). Validation checks each
statement instead (the fixer corrects capitals and comparator words, `cloze_not_in_statement` keeps the rest off the
deck, and the repair turn resends only those). Three tools:

- record_statements: statements of one source (critique, key points, or one table), each with its cloze choice
  (one primary, at most two secondary, exact substrings of the statement).
- record_clozes: cloze choices for numbered statements (used when clozes are picked in a separate call);
- record_repairs: the repair turn's corrected statements, each by the index it was given (one it cannot make
  faithful to the source is left out).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

STATEMENTS_TOOL = "record_statements"
CLOZES_TOOL = "record_clozes"
REPAIRS_TOOL = "record_repairs"


PrimaryCloze = Field(min_length=1, description="The key fact to blank (c1): an exact substring of the statement.")
SecondaryClozes = Field(
    default_factory=list, max_length=2,
    description="At most two more exact substrings (blanked together as c2), each worth a card and not revealing c1.",
)
SourceQuote = Field(
    default=None, description="The exact span of the source the statement rests on, copied character for character."
)
SourceConcern = Field(
    default=None,
    description="null, or one sentence on why the statement, though faithful to the source, contradicts established "
    "medical knowledge (it is held back for a physician's review).",
)
EVIDENCE_FIELDS = ("source_quote", "source_concern")


def _evidence_required(schema: dict[str, Any]) -> None:
    """The tool asks for the evidence fields on every statement; the model accepts answers without them (recorded
    before they existed, or a repair that omits them), so their defaults stay in pydantic only."""
    schema["required"] = [*schema.get("required", []), *EVIDENCE_FIELDS]


Evidence = ConfigDict(json_schema_extra=_evidence_required)

# At most this many items in one answer: more is a runaway answer, not a source's statements. The check is not in the
# tool schema (that would change every prompt version): an answer over it is invalid output, so it gets the one repair
# turn, and a second one fails the question with the reason.
MAX_ITEMS_PER_CALL = 100
Item = TypeVar("Item")


def _at_most_per_call(items: list[Item]) -> list[Item]:
    if len(items) > MAX_ITEMS_PER_CALL:
        raise ValueError(f"{len(items)} items in one answer; at most {MAX_ITEMS_PER_CALL} are accepted")
    return items


PerCall = AfterValidator(_at_most_per_call)


class PlainStatement(BaseModel):
    # Field order is generation order: the evidence first, then the statement written from it.
    model_config = Evidence

    source_quote: str | None = SourceQuote
    statement: str = Field(min_length=1)
    extra_field: str | None
    source_concern: str | None = SourceConcern


class ExtractedStatement(BaseModel):
    # Field order is generation order: the evidence, the statement, then the spans chosen from it.
    model_config = Evidence

    source_quote: str | None = SourceQuote
    statement: str = Field(min_length=1)
    extra_field: str | None
    cloze_primary: str = PrimaryCloze
    cloze_secondary: list[str] = SecondaryClozes
    source_concern: str | None = SourceConcern


class StatementsWithClozes(BaseModel):
    statements: Annotated[list[ExtractedStatement], PerCall]


class StatementsOnly(BaseModel):
    statements: Annotated[list[PlainStatement], PerCall]


class NumberedCloze(BaseModel):
    index: int = Field(ge=1)
    cloze_primary: str = PrimaryCloze
    cloze_secondary: list[str] = SecondaryClozes


class ClozeMapping(BaseModel):
    clozes: Annotated[list[NumberedCloze], PerCall]


class RepairedStatement(ExtractedStatement):
    index: int = Field(ge=1, description="The index of the statement this one corrects.")


class Repairs(BaseModel):
    repairs: Annotated[list[RepairedStatement], PerCall]


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline $defs and drop pydantic's titles: the API wants a plain JSON schema."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items() if k != "title"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def tool(name: str, description: str, model: type[BaseModel]) -> dict[str, Any]:
    return {"name": name, "description": description, "input_schema": _strict(model.model_json_schema())}


STATEMENTS_WITH_CLOZES_TOOL = tool(
    STATEMENTS_TOOL, "Record every testable statement of the source, each with its cloze choice.", StatementsWithClozes
)
STATEMENTS_ONLY_TOOL = tool(STATEMENTS_TOOL, "Record every testable statement of the source.", StatementsOnly)
CLOZES_TOOL_DEF = tool(CLOZES_TOOL, "Record the cloze choice for each numbered statement.", ClozeMapping)
REPAIRS_TOOL_DEF = tool(
    REPAIRS_TOOL, "Record the corrected statements, each with the index of the statement it corrects.", Repairs
)
