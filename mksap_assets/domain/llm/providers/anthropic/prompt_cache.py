"""Anthropic's prompt caching: where the `cache_control` breakpoint goes in a request."""

from __future__ import annotations

from typing import Any


def system_blocks(instructions: tuple[str, ...]) -> list[dict[str, Any]]:
    """The instructions as system blocks; the breakpoint on the last one caches tools + system, the byte-stable
    prefix shared by every call of a task (prompts.py)."""
    *rules, task = instructions
    return [
        *({"type": "text", "text": text} for text in rules),
        {"type": "text", "text": task, "cache_control": {"type": "ephemeral"}},
    ]
