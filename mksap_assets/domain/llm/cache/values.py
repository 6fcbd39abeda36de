"""What every response cache backend stores: a JSON object as orjson bytes, with the time it was stored, read back
with orjson and nothing else. An entry in any other form (a pickle above all) is never decoded, so a crafted entry
cannot run code; the backends treat it as a miss and drop it."""

from __future__ import annotations

import time
from typing import Any

import orjson


def encode(value: dict[str, Any]) -> bytes:
    """The stored bytes; TypeError for anything that is not a JSON object (orjson refuses what JSON cannot hold)."""
    if not isinstance(value, dict):
        raise TypeError(f"a response cache value is a JSON object, not {type(value).__name__}")
    return orjson.dumps({**value, "stored_at": time.time()})


def decode(data: Any) -> dict[str, Any]:
    """The stored object; ValueError for an entry that is not JSON bytes holding an object."""
    if not isinstance(data, bytes):
        raise ValueError(f"cache entry is not JSON bytes ({type(data).__name__})")
    value = orjson.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"not a JSON object ({type(value).__name__})")
    return value
