"""A provider's message batches as batch mode uses them (coordinator.py): plain data in and out, so that the
coordinator never sees an SDK. Anthropic's implementation: providers/anthropic/batches.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from mksap_assets.domain.llm.provider import ToolCall
from mksap_assets.domain.statements import LLMUsage

BatchStatus = Literal["in_progress", "canceling", "ended"]
ResultType = Literal["succeeded", "errored", "canceled", "expired"]


@dataclass(frozen=True)
class BatchRequest:
    """One request for a batch: its response cache key (also its custom_id) and the API parameters."""

    key: str
    body: dict[str, Any]


@dataclass(frozen=True)
class BatchView:
    id: str
    status: BatchStatus
    created_at: datetime
    ended_at: datetime | None
    requests: int  # all its requests, whatever their state


@dataclass(frozen=True)
class BatchAnswer:
    """One line of an ended batch's results."""

    key: str  # the request's custom_id
    type: ResultType
    tool: str | None  # the tool a succeeded answer called in full; None when it did not (cut off, refused)
    tool_input: dict[str, Any] | None  # its input
    model: str | None  # the model that answered
    usage: LLMUsage  # its tokens and cost at batch prices (usage.py); zero but for a succeeded answer


class BatchRejected(RuntimeError):
    """The API refused to create a batch: nothing was submitted (any other error leaves that unknown)."""


class BatchAPI(Protocol):
    model: str  # the model the requests name (and are priced as)

    def prepare(self, call: ToolCall[Any]) -> BatchRequest:
        """The request exactly as a sync call would send it, and its response cache key."""
        ...

    def create(self, requests: list[BatchRequest]) -> BatchView: ...

    def retrieve(self, batch_id: str) -> BatchView: ...

    def recent(self) -> Iterator[BatchView]:
        """The batches of the API's workspace, newest first."""
        ...

    def results(self, batch_id: str) -> Iterator[BatchAnswer]:
        """An ended batch's results, in whatever order the API gives them."""
        ...

    def cancel(self, batch_id: str) -> BatchView: ...

    def close(self) -> None: ...
