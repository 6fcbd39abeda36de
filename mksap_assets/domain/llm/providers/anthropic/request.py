"""The Messages request of a `ToolCall` and its response-cache key: built in one place, so that a sync call
(client.py) and a message batch (batches.py) send the same bytes and so find each other's answers in the cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mksap_assets.domain.llm.cache import request_key
from mksap_assets.domain.llm.provider import ToolCall
from mksap_assets.domain.llm.providers.anthropic.prompt_cache import system_blocks


@dataclass(frozen=True)
class PreparedRequest:
    key: str  # the response cache key (64 hex characters: also a valid batch custom_id)
    body: dict[str, Any]  # the Messages API parameters


def prepare(call: ToolCall[Any], *, model: str, endpoint: str | None) -> PreparedRequest:
    tool = call.tool
    # Its bytes are the response cache key: any change here makes every cached answer a miss.
    body = {
        "model": model,
        "system": system_blocks(call.instructions),
        "messages": [{"role": "user", "content": call.user_text}],
        "tools": [tool],
        "tool_choice": {"type": "tool", "name": tool["name"]},
        # Forced tool use is incompatible with thinking, which Haiku 5.5 turns on by default. No temperature:
        # API version 2026-10-21 (the SDK 2.x default) rejects sampling parameters with a 400.
        "thinking": {"type": "disabled"},
        "max_tokens": call.max_tokens,
    }
    return PreparedRequest(request_key(body, call.prompt_version, endpoint), body)


def tool_use_block(message: Any, tool_name: str) -> Any | None:
    """The answer's call of `tool_name`, or None."""
    return next((b for b in message.content if b.type == "tool_use" and b.name == tool_name), None)
