"""The shared response cache: Redis, which the workers of several machines use at once (MKSAP_LLM_CACHE_URL).

Chosen over PostgreSQL by measurement (benchmarks/bench_response_cache.py, docs/STORAGE.md): a tenth of a
millisecond per get or put, no slowdown with more writers, and a lease that the server expires by itself.

- Answers: `<namespace>:answer:<key>`, values.py's JSON bytes (the keys are keys.py's, as on disk), expiring after
  MKSAP_LLM_CACHE_TTL when it is set. Nothing read from the server is ever unpickled: an entry that is not a JSON
  object is a miss and is dropped.
- The lease, so that two workers asking for the same answer at once pay once: `<namespace>:lease:<key>`, taken with
  SET NX PX holding a token of its holder, `lease_seconds` long and renewed every third of that while the holder
  pays; released when it stored the answer or gave up (by its holder only: compare-and-delete). A worker that finds
  the lease taken polls every `poll_seconds` for the answer (then reads it) or for the lease's end (then takes it). A
  holder killed mid-call stops renewing: its lease expires and the next worker takes over.
- Only a cache, never a reason for a question to fail: a server that does not answer makes reads misses, writes
  False and leases no-ops, all logged; after a connection failure the server is left alone for a while
  (redis_server.py).
- The password, if the server has one, is read from MKSAP_LLM_CACHE_PASSWORD by the process that opens the cache,
  like the API key: never in the URL, so never in config, run metadata or logs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mksap_assets.domain.llm import redis_server
from mksap_assets.domain.llm.cache.values import decode, encode
from mksap_assets.domain.llm.redis_server import SharedServer

log = logging.getLogger(__name__)

WHAT = "response cache"
PASSWORD_VAR = "MKSAP_LLM_CACHE_PASSWORD"
NAMESPACE = "mksap:llm-cache"
LEASE_SECONDS = 30.0
POLL_SECONDS = 0.2

# Renew or release the lease only while it still holds this holder's token (it may have expired and been taken).
RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def check_url(url: str) -> str:
    """A Redis URL the cache can use; ValueError naming what is wrong."""
    return redis_server.check_url(url, what=f"shared {WHAT}", password_var=PASSWORD_VAR)


class RedisResponseCache:
    """The Redis backend (backend.py's CacheBackend)."""

    def __init__(self, url: str, *, ttl: float | None = None, namespace: str = NAMESPACE,
                 lease_seconds: float = LEASE_SECONDS, poll_seconds: float = POLL_SECONDS):
        self.ttl_ms = round(ttl * 1000) if ttl else None
        self.namespace = namespace
        self.lease_ms = round(lease_seconds * 1000)
        self.poll_seconds = poll_seconds
        self._server = SharedServer(url, what=WHAT, password_var=PASSWORD_VAR)
        self._client = self._server.client
        self.where = self._server.where
        self._renew = self._client.register_script(RENEW)
        self._release = self._client.register_script(RELEASE)

    def _answer(self, key: str) -> str:
        return f"{self.namespace}:answer:{key}"

    def _lease(self, key: str) -> str:
        return f"{self.namespace}:lease:{key}"

    def _up(self) -> bool:
        return self._server.up()

    def _failed(self, action: str, key: str, exc: Exception) -> None:
        self._server.failed(f"{action} entry {key}", exc)

    def get(self, key: str) -> dict[str, Any] | None:
        if not self._up():
            return None
        try:
            data = self._client.get(self._answer(key))
        except Exception as exc:  # noqa: BLE001 - a cache read never fails a question
            self._failed("read", key, exc)
            return None
        if data is None:
            return None
        try:
            return decode(data)
        except ValueError as exc:
            self.discard(key, f"{type(exc).__name__}: {exc}")
            return None

    def set(self, key: str, value: dict[str, Any]) -> bool:
        if not self._up():
            return False
        try:
            self._client.set(self._answer(key), encode(value), px=self.ttl_ms)
        except Exception as exc:  # noqa: BLE001 - a cache write never loses a paid answer
            self._failed("store", key, exc)
            return False
        return True

    def discard(self, key: str, reason: str) -> None:
        log.warning("response cache %s: entry %s unusable (%s): dropped, treated as a miss", self.where, key, reason)
        try:
            self._client.delete(self._answer(key))
        except Exception as exc:  # noqa: BLE001 - a cache that cannot delete is still only a cache
            self._failed("drop", key, exc)

    @asynccontextmanager
    async def lease(self, key: str) -> AsyncIterator[None]:
        token = secrets.token_hex(16)
        if not await self._take(key, token):
            yield
            return
        renewing = asyncio.create_task(self._keep(key, token))
        try:
            yield
        finally:
            renewing.cancel()
            try:
                await asyncio.to_thread(self._release, keys=[self._lease(key)], args=[token])
            except Exception as exc:  # noqa: BLE001 - an unreleased lease expires by itself
                self._failed("release the lease of", key, exc)

    async def _take(self, key: str, token: str) -> bool:
        """True once this worker holds the lease; False when the answer is there (or the server is not)."""
        while self._up():
            try:
                if await asyncio.to_thread(self._client.set, self._lease(key), token, nx=True, px=self.lease_ms):
                    return True
                if await asyncio.to_thread(self._client.exists, self._answer(key)):
                    return False
            except Exception as exc:  # noqa: BLE001 - without a lease the worker pays, as without a cache
                self._failed("lease", key, exc)
                return False
            await asyncio.sleep(self.poll_seconds)
        return False

    async def _keep(self, key: str, token: str) -> None:
        """Renew the lease while its holder pays; a lease lost (expired, taken) is logged: another worker may pay."""
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                renewed = await asyncio.to_thread(self._renew, keys=[self._lease(key)], args=[token, self.lease_ms])
            except Exception as exc:  # noqa: BLE001 - the lease then expires; the worker still pays and stores
                self._failed("renew the lease of", key, exc)
                return
            if not renewed:
                log.warning("response cache %s: the lease of entry %s expired while held", self.where, key)
                return

    def __len__(self) -> int:
        if not self._up():
            return 0
        try:
            return sum(1 for _ in self._client.scan_iter(match=self._answer("*"), count=1000))
        except Exception as exc:  # noqa: BLE001 - only a count
            self._failed("count", "*", exc)
            return 0

    def close(self) -> None:
        self._server.close()
