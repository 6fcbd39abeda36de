"""Anthropic's Messages API as a provider (provider.py): one forced tool call to Claude, validated with pydantic,
cached, metered, and repaired once if malformed.

- Cache first: a hit makes no request at all; an unreadable or invalid entry is a miss (cache/), and an answer the
  cache cannot store is still returned (counted in cache_write_errors). A miss is paid for under the cache's lease
  of its key, so that workers sharing a cache (cache/redis.py) asking for it at once pay once: the others wait, then
  read it. The first hit on a batch answer (batch mode) charges the question what the batch paid for it
  (llm/batches/usage.py).
- stop_reason "max_tokens": the same request again with twice the output budget (up to MAX_OUTPUT_TOKENS).
- Output that does not validate: one repair turn that shows Claude the validation error.
- stop_reason "refusal", a second invalid answer, or an API error that the SDK's own retries could not overcome
  (including an attempt past its deadline and a 2xx that is not a Messages answer, limiter.py): ExtractionError
  with a clear reason; the question fails alone.
"""

from __future__ import annotations

import time
from typing import Any

import anthropic
from pydantic import ValidationError

from mksap_assets.domain.llm.batches.usage import claim_batch_usage
from mksap_assets.domain.llm.cache import CacheBackend
from mksap_assets.domain.llm.meter import current_usage
from mksap_assets.domain.llm.pricing import cost_usd
from mksap_assets.domain.llm.provider import ExtractionError, ModelT, ToolCall
from mksap_assets.domain.llm.providers.anthropic import Anthropic
from mksap_assets.domain.llm.providers.anthropic.endpoint import endpoint_of
from mksap_assets.domain.llm.providers.anthropic.request import prepare, tool_use_block

MAX_OUTPUT_TOKENS = 16_000


def _error_text(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in error.errors()[:10])


class AnthropicProvider:
    name = Anthropic.name

    def __init__(
        self,
        api: anthropic.AsyncAnthropic,
        *,
        model: str,
        cache: CacheBackend,
    ):
        self.api = api
        # Where the SDK sends requests, as it resolved it; None for Anthropic's own API.
        self.endpoint = endpoint_of(api.base_url)
        self.model = model
        self.cache = cache

    async def aclose(self) -> None:
        await self.api.close()
        self.cache.close()

    async def call_tool(self, call: ToolCall[ModelT]) -> ModelT:
        usage = current_usage()
        request = prepare(call, model=self.model, endpoint=self.endpoint)
        cached = self._from_cache(request.key, call.output)
        if cached is None:
            async with self.cache.lease(request.key):
                cached = self._from_cache(request.key, call.output)  # paid for meanwhile by the lease's previous holder
                if cached is None:
                    usage.cache_misses += 1
                    return await self._answer(request.body, call, request.key)
        usage.cache_hits += 1
        return cached

    async def _answer(self, request: dict[str, Any], call: ToolCall[ModelT], key: str) -> ModelT:
        """Pay for the answer, validated (repaired once if need be), and store it under `key`."""
        usage = current_usage()
        tool, output = call.tool, call.output
        messages = list(request["messages"])
        budget = call.max_tokens
        repaired = False
        while True:
            message = await self._create({**request, "messages": messages, "max_tokens": budget})
            if message.stop_reason == "refusal":
                raise ExtractionError(f"{tool['name']}: Claude declined to answer (stop_reason=refusal)")
            if message.stop_reason == "max_tokens":
                if budget >= MAX_OUTPUT_TOKENS:
                    raise ExtractionError(f"{tool['name']}: output still truncated at max_tokens={budget}")
                budget = min(budget * 2, MAX_OUTPUT_TOKENS)
                continue
            block = tool_use_block(message, tool["name"])
            try:
                if block is None:
                    raise ValueError(f"the reply did not call the tool {tool['name']}")
                parsed = output.model_validate(block.input)
            except (ValidationError, ValueError) as exc:
                reason = _error_text(exc) if isinstance(exc, ValidationError) else str(exc)
                if repaired:
                    raise ExtractionError(f"{tool['name']}: invalid output after one repair: {reason}") from None
                repaired = True
                messages = [*messages, *self._repair_turn(message, block, tool["name"], reason)]
                continue
            # The validated answer, not the raw tool input: keys the schema does not know are never stored.
            if not self.cache.set(key, {"tool_input": parsed.model_dump(mode="json"), "model": message.model}):
                usage.cache_write_errors += 1
            return parsed

    def _from_cache(self, key: str, output: type[ModelT]) -> ModelT | None:
        """The cached answer, or None; an entry that no longer validates is dropped and costs one call."""
        cached = self.cache.get(key)
        if cached is None:
            return None
        try:
            parsed = output.model_validate(cached["tool_input"])
        except (ValidationError, KeyError, TypeError) as exc:
            self.cache.discard(key, type(exc).__name__)
            return None
        claim_batch_usage(self.cache, key, cached, current_usage())
        return parsed

    async def _create(self, request: dict[str, Any]) -> Any:
        usage = current_usage()
        started = time.perf_counter()
        try:
            message = await self.api.messages.create(**request)
        except anthropic.APIStatusError as exc:
            raise ExtractionError(f"API error {exc.status_code} after retries: {type(exc).__name__}") from None
        except anthropic.APIConnectionError as exc:
            raise ExtractionError(f"API unreachable after retries: {type(exc).__name__}") from None
        except anthropic.RetryableError as exc:  # the limiter's: past the request deadline, or not a Messages answer
            raise ExtractionError(f"API failed after retries: {exc}") from None
        finally:
            usage.llm_seconds += time.perf_counter() - started
        counted = message.usage
        cache_write = counted.cache_creation_input_tokens or 0
        cache_read = counted.cache_read_input_tokens or 0
        usage.input_tokens += counted.input_tokens
        usage.output_tokens += counted.output_tokens
        usage.cache_creation_input_tokens += cache_write
        usage.cache_read_input_tokens += cache_read
        usage.cost_usd += cost_usd(
            self.model,
            input_tokens=counted.input_tokens,
            output_tokens=counted.output_tokens,
            cache_write=cache_write,
            cache_read=cache_read,
        )
        return message

    @staticmethod
    def _repair_turn(message: Any, block: Any, tool_name: str, reason: str) -> list[dict[str, Any]]:
        instruction = f"That input is invalid: {reason}. Call {tool_name} again with corrected input."
        if block is None:
            text = " ".join(b.text for b in message.content if b.type == "text") or "(no tool call)"
            return [{"role": "assistant", "content": text}, {"role": "user", "content": instruction}]
        return [
            {"role": "assistant", "content": [{"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": block.id, "is_error": True, "content": instruction}],
            },
        ]
