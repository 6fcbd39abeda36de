"""The response cache: a validated answer, stored under the key of the request that paid for it (keys.py), so the
same request is never paid for twice. Two backends behind one interface (backend.py): the disk cache, embedded and
the default (disk.py), and Redis, which several machines share (redis.py), chosen by MKSAP_LLM_CACHE_URL. Both store
the same JSON-only values (values.py) under the same keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mksap_assets.domain.llm.cache.backend import CacheBackend
from mksap_assets.domain.llm.cache.disk import LAYOUT, ResponseCache
from mksap_assets.domain.llm.cache.keys import request_key

if TYPE_CHECKING:
    from mksap_assets.domain.config import LLMConfig

__all__ = ["LAYOUT", "CacheBackend", "ResponseCache", "open_response_cache", "request_key"]


def open_response_cache(settings: LLMConfig) -> CacheBackend:
    """The run's response cache: Redis when a URL is set (and the cache is on), else the disk cache."""
    if settings.cache_url and settings.cache_enabled:
        from mksap_assets.domain.llm.cache.redis import RedisResponseCache

        return RedisResponseCache(settings.cache_url, ttl=settings.cache_ttl)
    return ResponseCache(settings.cache_dir, enabled=settings.cache_enabled, ttl=settings.cache_ttl,
                         max_entries=settings.cache_max_entries)
