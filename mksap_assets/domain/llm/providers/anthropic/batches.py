"""Anthropic's Message Batches API as batch mode's `BatchAPI` (llm/batches/api.py), through the SDK's sync client.

Requests are prepared exactly as the sync client prepares them (request.py), with the response cache key as the
custom_id (64 hex characters: within the API's ^[a-zA-Z0-9_-]{1,64}$). An answer's usage, prompt-cache reads and
writes included, is priced at batch prices. A succeeded answer that did not call its tool in full (stopped at
max_tokens, refused) has no tool input: the sync path makes that request again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic

from mksap_assets.domain.llm.batches.api import (
    BatchAnswer,
    BatchRejected,
    BatchRequest,
    BatchView,
)
from mksap_assets.domain.llm.batches.usage import batch_answer_usage
from mksap_assets.domain.llm.provider import ToolCall
from mksap_assets.domain.llm.providers.anthropic.endpoint import endpoint_of
from mksap_assets.domain.llm.providers.anthropic.request import prepare
from mksap_assets.domain.statements import LLMUsage

LIST_PAGE = 100


def _view(batch: Any) -> BatchView:
    counts = batch.request_counts
    total = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
    return BatchView(batch.id, batch.processing_status, batch.created_at, batch.ended_at, total)


class AnthropicBatches:
    def __init__(self, api: anthropic.Anthropic, *, model: str):
        self.api = api
        self.model = model
        self.endpoint = endpoint_of(api.base_url)

    def prepare(self, call: ToolCall[Any]) -> BatchRequest:
        prepared = prepare(call, model=self.model, endpoint=self.endpoint)
        return BatchRequest(prepared.key, prepared.body)

    def create(self, requests: list[BatchRequest]) -> BatchView:
        try:
            batch = self.api.messages.batches.create(
                requests=[{"custom_id": request.key, "params": request.body} for request in requests]
            )
        except anthropic.APIStatusError as exc:
            # An answer, so no batch was created (a connection error leaves that unknown: it propagates).
            raise BatchRejected(f"the API refused the batch: {exc.status_code} {type(exc).__name__}") from None
        return _view(batch)

    def retrieve(self, batch_id: str) -> BatchView:
        return _view(self.api.messages.batches.retrieve(batch_id))

    def recent(self) -> Iterator[BatchView]:
        for batch in self.api.messages.batches.list(limit=LIST_PAGE):  # newest first; the SDK follows the pages
            yield _view(batch)

    def cancel(self, batch_id: str) -> BatchView:
        return _view(self.api.messages.batches.cancel(batch_id))

    def results(self, batch_id: str) -> Iterator[BatchAnswer]:
        for line in self.api.messages.batches.results(batch_id):
            result = line.result
            if result.type != "succeeded":
                yield BatchAnswer(line.custom_id, result.type, None, None, None, LLMUsage())
                continue
            message = result.message
            counted = message.usage
            usage = batch_answer_usage(
                self.model, input_tokens=counted.input_tokens, output_tokens=counted.output_tokens,
                cache_creation_input_tokens=counted.cache_creation_input_tokens or 0,
                cache_read_input_tokens=counted.cache_read_input_tokens or 0,
            )
            # Each request forces one tool: its answer's only tool call (its input is validated by the coordinator).
            block = next((b for b in message.content if b.type == "tool_use"), None)
            if message.stop_reason != "tool_use" or block is None:
                yield BatchAnswer(line.custom_id, "succeeded", None, None, message.model, usage)
                continue
            yield BatchAnswer(line.custom_id, "succeeded", block.name, dict(block.input), message.model, usage)

    def close(self) -> None:
        self.api.close()
