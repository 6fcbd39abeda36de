"""What a message batch's answer cost, kept in its response-cache entry until the question that uses it pays.

The batch is paid before any question runs, so its cost cannot be metered where it is spent. Each succeeded answer is
cached with its usage at batch prices (`BATCH_USAGE`); the first question whose call finds it there is charged (one
call, its tokens and cost) and the entry is rewritten without it, so a later rerun served from the cache costs
nothing, as any cache hit. A charge is made only once the entry has forgotten it: never counted twice.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from mksap_assets.domain.llm.cache import ResponseCache
from mksap_assets.domain.llm.pricing import cost_usd
from mksap_assets.domain.statements import LLMUsage

log = logging.getLogger(__name__)

BATCH_USAGE = "batch_usage"


class BatchUsage(BaseModel):
    """Tokens of batch answers and their cost at batch prices (pricing.cost_usd(..., batch=True))."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float = 0.0

    @classmethod
    def of_answer(cls, model: str, *, input_tokens: int, output_tokens: int, cache_creation_input_tokens: int,
                  cache_read_input_tokens: int) -> BatchUsage:
        cost = cost_usd(model, input_tokens=input_tokens, output_tokens=output_tokens,
                        cache_write=cache_creation_input_tokens, cache_read=cache_read_input_tokens, batch=True)
        return cls(requests=1, input_tokens=input_tokens, output_tokens=output_tokens,
                   cache_creation_input_tokens=cache_creation_input_tokens,
                   cache_read_input_tokens=cache_read_input_tokens, cost_usd=cost)

    def __add__(self, other: BatchUsage) -> BatchUsage:
        return BatchUsage(**{name: getattr(self, name) + getattr(other, name) for name in BatchUsage.model_fields})

    def charge(self, usage: LLMUsage) -> None:
        usage.calls += self.requests
        usage.batch_calls += self.requests
        usage.input_tokens += self.input_tokens
        usage.output_tokens += self.output_tokens
        usage.cache_creation_input_tokens += self.cache_creation_input_tokens
        usage.cache_read_input_tokens += self.cache_read_input_tokens
        usage.cost_usd += self.cost_usd


def batch_answer_entry(tool_input: dict[str, Any], model: str, usage: BatchUsage) -> dict[str, Any]:
    """The cache value of a batch answer: what a sync call stores (client.py), plus its unclaimed usage."""
    return {"tool_input": tool_input, "model": model, BATCH_USAGE: usage.model_dump()}


def claim_batch_usage(cache: ResponseCache, key: str, entry: dict[str, Any], usage: LLMUsage) -> None:
    """Charge `usage` with the batch usage `entry` (the cache value at `key`) still carries, if any."""
    unclaimed = entry.get(BATCH_USAGE)
    if unclaimed is None:
        return
    try:
        paid = BatchUsage.model_validate(unclaimed)
    except ValueError:
        log.warning("response cache: entry %s carries an unreadable batch usage: not charged", key)
        paid = None
    kept = {name: value for name, value in entry.items() if name not in (BATCH_USAGE, "stored_at")}
    if not cache.set(key, kept):
        log.warning("response cache: entry %s could not be rewritten: its batch usage is not charged", key)
        return
    if paid is not None:
        paid.charge(usage)
