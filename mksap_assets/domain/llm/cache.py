"""Persistent, process-safe response cache (diskcache on SQLite), keyed by the canonical request.

The key is the sha256 of the request exactly as sent (model, system, messages, temperature, max_tokens, tools and
tool_choice) plus the prompt version, so any change to what Claude would see is a miss, and, for an endpoint other than
Anthropic's API (endpoint.py), that endpoint: a fake API's answers are never served to a run against the real one.
The real API's keys are the same as before endpoints were keyed. Only validated answers are stored, so a warm cache
never replays a malformed or truncated one.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import diskcache
import orjson


def request_key(request: dict[str, Any], prompt_version: str, endpoint: str | None = None) -> str:
    """endpoint: None for Anthropic's API (see endpoint_of), which leaves the key as it always was."""
    keyed: dict[str, Any] = {"request": request, "prompt_version": prompt_version}
    if endpoint is not None:
        keyed["endpoint"] = endpoint
    canonical = orjson.dumps(keyed, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class ResponseCache:
    def __init__(self, directory: Path, *, enabled: bool = True, ttl: float | None = None, max_entries: int | None = None):
        self.enabled = enabled
        self.ttl = ttl
        self.max_entries = max_entries
        self._cache = diskcache.Cache(str(directory)) if enabled else None

    def get(self, key: str) -> dict[str, Any] | None:
        if self._cache is None:
            return None
        return self._cache.get(key)

    def set(self, key: str, value: dict[str, Any]) -> None:
        if self._cache is None:
            return
        self._cache.set(key, {**value, "stored_at": time.time()}, expire=self.ttl)
        if self.max_entries is not None and len(self._cache) > self.max_entries:
            self._evict_oldest(len(self._cache) - self.max_entries)

    def _evict_oldest(self, count: int) -> None:
        # peekitem(last=False) is the row stored first (lowest rowid).
        for _ in range(count):
            key, _value = self._cache.peekitem(last=False)
            self._cache.delete(key)

    def __len__(self) -> int:
        return len(self._cache) if self._cache is not None else 0

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
