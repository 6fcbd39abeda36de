"""The embedded response cache: diskcache on SQLite in MKSAP_LLM_CACHE_DIR, shared by the processes of one machine
(the default; redis.py is the one several machines share).

Only validated answers are stored (the parsed answer, so keys the schema does not know are not), so a warm cache
never replays a malformed or truncated one. It is only a cache, never a reason for a question to fail:
- Values are JSON bytes (values.py); an entry in any other form (a pickle above all) is never decoded: it is a miss
  and is dropped. The entries live in `<cache dir>/LAYOUT/`; the pickle entries of the first layout
  (`<cache dir>/cache.db`) are never opened, and a cache from then is refilled once.
- Any read error is a miss (logged, the entry dropped); a write error is logged and counted, and the answer is kept.
- A database that fails SQLite's quick check when opened is set aside (`LAYOUT.corrupt-<UTC time>`, named in the
  log) and an empty one takes its place; a cache that cannot be opened at all (logged) leaves the run without one.
- Its lease is a no-op: the processes of one machine ask for the same answer at once too rarely to wait for each
  other.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import diskcache

from mksap_assets.domain.llm.cache.values import decode, encode

log = logging.getLogger(__name__)

LAYOUT = "json-v2"


class JsonOnlyDisk(diskcache.Disk):
    """Keys are plain strings and values JSON bytes; a row stored any other way is refused, never unpickled."""

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError("response cache keys are strings")
        return super().put(key)

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise ValueError("refusing a pickled key")
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> tuple[int, int, str | None, Any]:
        if type(value) is not bytes:
            raise TypeError("response cache values are stored as JSON bytes (values.encode)")
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode not in (diskcache.core.MODE_RAW, diskcache.core.MODE_BINARY) or read:
            raise ValueError(f"refusing a cache entry stored in mode {mode} (not JSON bytes)")
        return decode(super().fetch(mode, filename, value, read))


def _healthy(database: Path) -> bool:
    if not database.exists():
        return True
    connection = sqlite3.connect(database)
    try:
        return connection.execute("PRAGMA quick_check").fetchone() == ("ok",)
    except sqlite3.DatabaseError:
        return False
    finally:
        connection.close()


class ResponseCache:
    """The disk backend (backend.py's CacheBackend)."""

    def __init__(self, directory: Path, *, enabled: bool = True, ttl: float | None = None, max_entries: int | None = None):
        self.enabled = enabled
        self.ttl = ttl
        self.max_entries = max_entries
        self.directory = Path(directory) / LAYOUT
        self._cache = self._open() if enabled else None

    def _open(self) -> diskcache.Cache | None:
        """The cache, or None (logged) when it cannot be opened at all: the run goes on without it."""
        try:
            if not _healthy(self.directory / diskcache.core.DBNAME):
                self._set_aside()
            return diskcache.Cache(str(self.directory), disk=JsonOnlyDisk)
        except Exception as exc:  # noqa: BLE001 - an unusable cache costs calls, never the run
            log.warning("response cache %s cannot be opened (%s: %s): running without it",
                        self.directory, type(exc).__name__, exc)
            return None

    def _set_aside(self) -> None:
        aside = self.directory.with_name(f"{LAYOUT}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
        try:
            self.directory.rename(aside)
        except FileNotFoundError:
            return  # another process set it aside first
        log.warning("response cache %s is corrupt: set aside as %s, starting an empty one", self.directory, aside)

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored answer, or None: a miss, also for an entry that cannot be read (dropped)."""
        if self._cache is None:
            return None
        try:
            return self._cache.get(key)
        except Exception as exc:  # noqa: BLE001 - whatever the entry holds, a cache read never fails a question
            self.discard(key, f"{type(exc).__name__}: {exc}")
            return None

    def discard(self, key: str, reason: str) -> None:
        """Drop an entry that cannot be used; the caller treats it as a miss."""
        log.warning("response cache %s: entry %s unusable (%s): dropped, treated as a miss",
                    self.directory, key, reason)
        try:
            self._cache.delete(key)
        except Exception as exc:  # noqa: BLE001 - a cache that cannot delete is still only a cache
            log.warning("response cache %s: could not drop entry %s: %s", self.directory, key, type(exc).__name__)

    def set(self, key: str, value: dict[str, Any]) -> bool:
        """Store an answer; False (logged) when the cache could not, e.g. a full disk: the caller keeps the answer."""
        if self._cache is None:
            return not self.enabled
        try:
            self._cache.set(key, encode(value), expire=self.ttl)
        except Exception as exc:  # noqa: BLE001 - a cache write never loses a paid answer
            log.warning("response cache %s: could not store entry %s (%s: %s); the answer is kept",
                        self.directory, key, type(exc).__name__, exc)
            return False
        if self.max_entries is not None:
            try:
                if len(self._cache) > self.max_entries:
                    self._evict_oldest(len(self._cache) - self.max_entries)
            except Exception as exc:  # noqa: BLE001 - the answer is stored; eviction is tried again next time
                log.warning("response cache %s: eviction failed (%s)", self.directory, type(exc).__name__)
        return True

    def _evict_oldest(self, count: int) -> None:
        # peekitem(last=False) is the row stored first (lowest rowid).
        for _ in range(count):
            key, _value = self._cache.peekitem(last=False)
            self._cache.delete(key)

    def lease(self, key: str) -> AbstractAsyncContextManager[None]:
        return nullcontext()

    def __len__(self) -> int:
        return len(self._cache) if self._cache is not None else 0

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
