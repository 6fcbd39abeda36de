"""What the provider (and batch mode) needs of a response cache, whichever backend holds it (disk.py, redis.py).

Every method is only a cache, never a reason for a question to fail: a read that cannot be made is a miss, a write
that cannot be made returns False (the caller keeps the answer and counts it), and a lease that cannot be taken lets
the caller go on without one.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol


class CacheBackend(Protocol):
    def get(self, key: str) -> dict[str, Any] | None:
        """The stored answer, or None: a miss, also for an entry that cannot be read (dropped)."""

    def set(self, key: str, value: dict[str, Any]) -> bool:
        """Store an answer (a JSON object); False (logged) when the cache could not."""

    def discard(self, key: str, reason: str) -> None:
        """Drop an entry that cannot be used; the caller treats it as a miss."""

    def lease(self, key: str) -> AbstractAsyncContextManager[None]:
        """Entered on a miss, around paying for the answer: while one worker is inside for a key, another one
        entering for the same key waits until the answer is stored (then finds it with `get`) or the holder is gone
        (then holds it itself). A backend only one machine uses may make it a no-op."""

    def __len__(self) -> int: ...

    def close(self) -> None: ...
