"""The response cache key: the sha256 of the request exactly as a provider sends it (for Anthropic: model, system,
messages, max_tokens, tools and tool_choice) plus the prompt version, so any change to what the model would see is a
miss, and, for an endpoint other than the provider's own API (providers/anthropic/endpoint.py), that endpoint: a fake
API's answers are never served to a run against the real one. The real API's keys are the same as before endpoints
were keyed. Every backend stores under these keys, so a disk cache's answers and a shared one's are interchangeable."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def request_key(request: dict[str, Any], prompt_version: str, endpoint: str | None = None) -> str:
    """endpoint: None for Anthropic's API (see endpoint_of), which leaves the key as it always was."""
    keyed: dict[str, Any] = {"request": request, "prompt_version": prompt_version}
    if endpoint is not None:
        keyed["endpoint"] = endpoint
    canonical = orjson.dumps(keyed, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()
