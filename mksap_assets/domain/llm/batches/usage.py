"""What a message batch's answer cost, kept in its response-cache entry until the question that uses it pays.

The batch is paid before any question runs, so its cost cannot be metered where it is spent. Each succeeded answer is
cached with its usage at batch prices (`BATCH_USAGE`); the first question whose call finds it there is charged (one
call, its tokens and cost) and the entry is rewritten without it, so a later rerun served from the cache costs
nothing, as any cache hit. A charge is made only once the entry has forgotten it: never counted twice.
"""

from __future__ import annotations

import logging
from typing import Any

from mksap_assets.domain.llm.cache import CacheBackend
from mksap_assets.domain.llm.pricing import cost_usd
from mksap_assets.domain.statements import LLMUsage

log = logging.getLogger(__name__)

BATCH_USAGE = "batch_usage"


def batch_answer_usage(model: str, *, input_tokens: int, output_tokens: int, cache_creation_input_tokens: int,
                       cache_read_input_tokens: int) -> LLMUsage:
    """One batch answer: one call, answered in a batch, its tokens priced at batch prices."""
    cost = cost_usd(model, input_tokens=input_tokens, output_tokens=output_tokens,
                    cache_write=cache_creation_input_tokens, cache_read=cache_read_input_tokens, batch=True)
    return LLMUsage(calls=1, batch_calls=1, input_tokens=input_tokens, output_tokens=output_tokens,
                    cache_creation_input_tokens=cache_creation_input_tokens,
                    cache_read_input_tokens=cache_read_input_tokens, cost_usd=cost)


def batch_answer_entry(tool_input: dict[str, Any], model: str, usage: LLMUsage) -> dict[str, Any]:
    """The cache value of a batch answer: what a sync call stores (client.py), plus its unclaimed usage."""
    return {"tool_input": tool_input, "model": model, BATCH_USAGE: usage.model_dump(exclude_defaults=True)}


def claim_batch_usage(cache: CacheBackend, key: str, entry: dict[str, Any], usage: LLMUsage) -> None:
    """Charge `usage` with the batch usage `entry` (the cache value at `key`) still carries, if any."""
    unclaimed = entry.get(BATCH_USAGE)
    if unclaimed is None:
        return
    try:
        paid = LLMUsage.model_validate(unclaimed)
    except ValueError:
        log.warning("response cache: entry %s carries an unreadable batch usage: not charged", key)
        paid = None
    kept = {name: value for name, value in entry.items() if name not in (BATCH_USAGE, "stored_at")}
    if not cache.set(key, kept):
        log.warning("response cache: entry %s could not be rewritten: its batch usage is not charged", key)
        return
    if paid is not None:
        usage.add(paid)
