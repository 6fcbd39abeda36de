"""The seam between the extractor and a model provider: one forced tool call, answered as a validated model.

The extractor (extraction/llm_extractor.py) says what to ask in provider-neutral terms (a `ToolCall`); a provider
(providers/<name>/) turns it into its API's request, and owns everything about that API: prompt-cache markers,
rate limits, retries, the response cache key, malformed-answer repair and truncation. docs/PROVIDERS.md says how
to add one.

Usage is reported through the meter (meter.py), not a return value: a provider adds what each call spends (calls,
retries, tokens, cost, seconds, cache hits) to `current_usage()` as it spends it, so that a call that fails or is
cancelled half-way (a sibling call of its question failed) is still paid for by its question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from mksap_assets.domain.config import LLMConfig

ModelT = TypeVar("ModelT", bound=BaseModel)


class ExtractionError(RuntimeError):
    """A call that cannot produce valid output; the message says why (never includes credentials)."""


@dataclass(frozen=True)
class ToolCall(Generic[ModelT]):
    """One call that must answer by calling `tool` once, with input that validates as `output`."""

    instructions: tuple[str, ...]  # the system text in parts, most general first; the same for every call of a task
    user_text: str  # the only part that varies between calls of a task: the question's source text
    tool: dict[str, Any]  # {"name", "description", "input_schema": JSON schema} (extraction/schemas.py)
    output: type[ModelT]
    max_tokens: int  # the output budget the call starts with
    prompt_version: str  # what the call asks (prompts.py): part of the response cache key


class LLMProvider(Protocol):
    """A model behind an API, as the extractor uses it."""

    name: str  # the extractor's name in exports and fingerprints ("anthropic")
    model: str
    endpoint: str | None  # where calls go when that is not the provider's own API (a fake, a proxy); else None

    async def call_tool(self, call: ToolCall[ModelT]) -> ModelT:
        """The validated answer, from the response cache or the API; ExtractionError when there is none."""
        ...

    async def aclose(self) -> None:
        """Release clients and caches at the end of a run."""


class ProviderKind(Protocol):
    """A provider as the registry (extraction/registry.py) holds it: builds its client inside a run, and says where
    its calls would go without building one (the fingerprint identity, computed by sensors on every tick)."""

    name: str
    credential: str | None  # the environment variable its SDK needs in every process that calls it, if any

    def build(self, settings: LLMConfig) -> LLMProvider: ...

    def endpoint(self) -> str | None: ...
