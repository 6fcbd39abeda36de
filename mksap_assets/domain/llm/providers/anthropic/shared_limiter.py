"""One rate limit for all workers: the limiter of limiter.py with its budget kept in Redis (MKSAP_LLM_LIMITER_URL),
so that N workers, on one machine or several, together stay under the organisation's limits.

- What is shared, per API endpoint and model (Anthropic's limits are the organisation's, per model), under
  `<namespace>:<endpoint>|<model>:`: the three token buckets (`requests`, `input-tokens`, `output-tokens`: hashes of
  limit, level and the server time of the last change), the requests in flight (`in-flight`: a sorted set of slots
  scored by their expiry) and the pause after a 429 (`pause`: a key that expires with it). Every change is one Lua
  script, atomic on the server and timed by the server's clock (TIME), so no two workers take the same budget.
- A request takes its slot and its budget at once (ACQUIRE), or learns how long to wait: until the buckets refill, the
  shared pause ends, or (the cap is full) POLL_SECONDS, since another process's release wakes nobody here.
- MKSAP_LLM_CONCURRENCY caps the requests in flight of all workers together; each worker keeps its own AIMD window
  (limiter.py) under it. A slot expires SLOT_SECONDS after it was last renewed (every third of that while its request
  runs), so a worker killed mid-request gives its slots back within SLOT_SECONDS.
- Still corrected by the API: the `anthropic-ratelimit-*` headers every worker reads set the shared limits (not below
  LEARNED_LIMIT_FLOOR of the starting one) and cap the shared levels, and a 429 pauses every worker (for the
  retry-after, capped at MKSAP_LLM_MAX_PAUSE). The starting limits are the first worker's; the keys expire after
  KEY_TTL_SECONDS unused.
- Never a reason for a question to fail: while the server does not answer (redis_server.py), each worker falls back
  to its own buckets with the configured limits (logged), as if the limiter were not shared.
"""

from __future__ import annotations

import asyncio
import contextvars
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mksap_assets.domain.llm.providers.anthropic.endpoint import (
    endpoint_name,
    sdk_endpoint,
)
from mksap_assets.domain.llm.providers.anthropic.limiter import (
    LEARNED_LIMIT_FLOOR,
    RateLimiter,
    TokenBucket,
)
from mksap_assets.domain.llm.redis_server import (
    LIMITER,
    LIMITER_PASSWORD_VAR,
    SharedServer,
)

if TYPE_CHECKING:
    from mksap_assets.domain.config import LLMConfig

NAMESPACE = "mksap:llm-limits"
BUCKETS = ("requests", "input-tokens", "output-tokens")
PERIOD_SECONDS = 60.0  # the limits are per minute
SLOT_SECONDS = 30.0
POLL_SECONDS = 0.05
KEY_TTL_SECONDS = 3600.0
SCOPE_SEPARATOR = "|"

# The server's time in ms: every worker's scripts run on the same clock.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# A bucket as stored (or, before its first use, as configured), refilled to `now`.
_BUCKET = _NOW + """
local function bucket(key, start, now, period)
  local b = redis.call('HMGET', key, 'limit', 'level', 'at')
  local limit = tonumber(b[1]) or start
  local level = tonumber(b[2]) or limit
  return limit, math.min(limit, level + (now - (tonumber(b[3]) or now)) * limit / period)
end
local function store(key, limit, level, now, ttl)
  redis.call('HSET', key, 'limit', limit, 'level', level, 'at', now)
  redis.call('PEXPIRE', key, ttl)
end
"""

# KEYS: the three buckets, in-flight, pause. ARGV: the three starting limits (0: none), input and output tokens,
# the in-flight cap, the slot, its lease (ms), the period (ms), the keys' TTL (ms), the poll (ms).
# Returns {ms to wait (0: taken), the server's time in ms}.
ACQUIRE = _BUCKET + """
local period, ttl = tonumber(ARGV[9]), tonumber(ARGV[10])
local wait = math.max(0, redis.call('PTTL', KEYS[5]))
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[6]) then wait = math.max(wait, tonumber(ARGV[11])) end
local amounts = {1, tonumber(ARGV[4]), tonumber(ARGV[5])}
local taken = {}
for i = 1, 3 do
  local start = tonumber(ARGV[i])
  if start > 0 then
    local limit, level = bucket(KEYS[i], start, now, period)
    local amount = math.min(amounts[i], limit)  -- more than a whole bucket waits for a full one (limiter.py)
    if level < amount then wait = math.max(wait, (amount - level) * period / limit) end
    taken[i] = {limit, level - amount}
  end
end
if wait > 0 then return {math.ceil(wait), now} end
for i = 1, 3 do
  if taken[i] then store(KEYS[i], taken[i][1], taken[i][2], now, ttl) end
end
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[8]), ARGV[7])
redis.call('PEXPIRE', KEYS[4], ttl)
return {0, now}
"""

# KEYS: a bucket. ARGV: its starting limit, the amount (negative: take more), the period (ms), the TTL (ms).
GIVE_BACK = _BUCKET + """
local limit, level = bucket(KEYS[1], tonumber(ARGV[1]), now, tonumber(ARGV[3]))
store(KEYS[1], limit, math.min(limit, level + tonumber(ARGV[2])), now, tonumber(ARGV[4]))
"""

# KEYS: a bucket. ARGV: its starting limit, the floor, the limit the API says ('' if none), its remaining ('' if
# none), the period (ms), the TTL (ms). As TokenBucket.learn: the level scales with a new limit, never above remaining.
LEARN = _BUCKET + """
local limit, level = bucket(KEYS[1], tonumber(ARGV[1]), now, tonumber(ARGV[5]))
local learned = tonumber(ARGV[3])
if learned then
  learned = math.max(learned, tonumber(ARGV[2]))
  if learned ~= limit then level = level * learned / limit; limit = learned end
end
local remaining = tonumber(ARGV[4])
if remaining then level = math.min(level, remaining) end
store(KEYS[1], limit, level, now, tonumber(ARGV[6]))
"""

# KEYS: in-flight. ARGV: the slot, its lease (ms). 1 if the slot was still held (and is renewed), else 0.
RENEW = _NOW + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
"""

# KEYS: pause. ARGV: ms. Lengthens the shared pause, never shortens it.
PAUSE = "if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], 1, 'PX', ARGV[1]) end"


@dataclass(frozen=True)
class Admission:
    wait: float  # seconds until the budget and a slot could be taken; 0 when they were
    at: float  # the server's time, in seconds


class SharedBudget:
    """The buckets, the slots and the pause on the server, for one scope (endpoint and model). Its calls raise the
    client's errors; SharedRateLimiter decides what a failure means."""

    def __init__(self, server: SharedServer, scope: str, *, limits: dict[str, float | None], max_in_flight: int,
                 namespace: str = NAMESPACE, period: float = PERIOD_SECONDS, slot_seconds: float = SLOT_SECONDS):
        self.server = server
        prefix = f"{namespace}:{scope}"
        self.keys = {name: f"{prefix}:{name}" for name in (*BUCKETS, "in-flight", "pause")}
        self.start = {name: float(limits.get(name) or 0) for name in BUCKETS}
        self.max_in_flight = max_in_flight
        self.period_ms = round(period * 1000)
        self.slot_ms = round(slot_seconds * 1000)
        self.ttl_ms = round(KEY_TTL_SECONDS * 1000)
        client = server.client
        self._acquire, self._give_back, self._learn, self._renew, self._pause = (
            client.register_script(script) for script in (ACQUIRE, GIVE_BACK, LEARN, RENEW, PAUSE))

    def acquire(self, slot: str, input_tokens: int, output_tokens: int) -> Admission:
        wait_ms, now_ms = self._acquire(
            keys=[self.keys[name] for name in (*BUCKETS, "in-flight", "pause")],
            args=[*(self.start[name] for name in BUCKETS), input_tokens, output_tokens, self.max_in_flight, slot,
                  self.slot_ms, self.period_ms, self.ttl_ms, round(POLL_SECONDS * 1000)],
        )
        return Admission(wait_ms / 1000, now_ms / 1000)

    def release(self, slot: str) -> None:
        self.server.client.zrem(self.keys["in-flight"], slot)

    def renew(self, slot: str) -> bool:
        return bool(self._renew(keys=[self.keys["in-flight"]], args=[slot, self.slot_ms]))

    def give_back(self, bucket: str, amount: float) -> None:
        if self.start[bucket]:
            self._give_back(keys=[self.keys[bucket]], args=[self.start[bucket], amount, self.period_ms, self.ttl_ms])

    def learn(self, bucket: str, limit: float | None, remaining: float | None) -> None:
        if self.start[bucket] and (limit or remaining is not None):
            self._learn(keys=[self.keys[bucket]], args=[
                self.start[bucket], self.start[bucket] * LEARNED_LIMIT_FLOOR, "" if limit is None else limit,
                "" if remaining is None else remaining, self.period_ms, self.ttl_ms])

    def pause(self, seconds: float) -> None:
        self._pause(keys=[self.keys["pause"]], args=[max(1, round(seconds * 1000))])


class SharedBucket(TokenBucket):
    """A bucket of this worker (used while the server does not answer) whose corrections also go to the shared one:
    the limiter's refunds and settlements (negative when an estimate fell short) and the headers it reads
    (limiter.py) reach every worker."""

    def __init__(self, limiter: SharedRateLimiter, name: str, limit: float | None, clock: Callable[[], float]):
        super().__init__(limit, clock)
        self._limiter = limiter
        self._name = name

    def give_back(self, amount: float) -> None:
        super().give_back(amount)
        if amount:
            self._limiter.shared("give back budget", self._limiter.budget.give_back, self._name, amount)

    def learn(self, limit: float | None, remaining: float | None) -> None:
        super().learn(limit, remaining)
        self._limiter.shared("learn the limits", self._limiter.budget.learn, self._name, limit, remaining)


# The slot the current request took on the server (set by _take_budget, in the task that asked for the slot).
_admitted: contextvars.ContextVar[str | None] = contextvars.ContextVar("shared_limiter_admitted", default=None)


class SharedRateLimiter(RateLimiter):
    def __init__(self, budget: SharedBudget, *, rpm: float | None = None, itpm: float | None = None,
                 otpm: float | None = None, max_in_flight: int = 32, max_pause: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(rpm=rpm, itpm=itpm, otpm=otpm, max_in_flight=max_in_flight, max_pause=max_pause, clock=clock)
        self.budget = budget
        self.requests = SharedBucket(self, "requests", rpm, clock)
        self.input_tokens = SharedBucket(self, "input-tokens", itpm, clock)
        self.output_tokens = SharedBucket(self, "output-tokens", otpm, clock)

    def shared(self, action: str, call: Callable[..., Any], *args: Any) -> Any:
        """`call(*args)` on the server, or None (logged) when it does not answer."""
        server = self.budget.server
        if not server.up():
            return None
        try:
            return call(*args)
        except Exception as exc:  # noqa: BLE001 - a limiter that cannot share still limits this worker
            server.failed(action, exc)
            return None

    async def _take_budget(self, input_tokens: int, output_tokens: int) -> float:
        slot = secrets.token_hex(8)
        admission = await asyncio.to_thread(self.shared, "take budget", self.budget.acquire, slot, input_tokens,
                                            output_tokens)
        if admission is None:  # the server does not answer: this worker's own buckets
            return await super()._take_budget(input_tokens, output_tokens)
        if admission.wait <= 0:
            _admitted.set(slot)
        return admission.wait

    @asynccontextmanager
    async def slot(self, input_tokens: int, output_tokens: int) -> AsyncIterator[None]:
        _admitted.set(None)
        async with super().slot(input_tokens, output_tokens):
            slot = _admitted.get()
            if slot is None:  # taken from this worker's own buckets
                yield
                return
            renewing = asyncio.create_task(self._keep(slot))
            try:
                yield
            finally:
                renewing.cancel()
                await asyncio.to_thread(self.shared, "release a slot", self.budget.release, slot)

    async def _keep(self, slot: str) -> None:
        """Renew the slot while its request runs: only a dead worker's slots expire."""
        while True:
            await asyncio.sleep(self.budget.slot_ms / 3000)
            if not await asyncio.to_thread(self.shared, "renew a slot", self.budget.renew, slot):
                return

    def on_rate_limited(self, retry_after: float | None) -> None:
        super().on_rate_limited(retry_after)
        self.shared("pause", self.budget.pause, min(retry_after or 1.0, self.max_pause))


def open_rate_limiter(settings: LLMConfig) -> RateLimiter:
    """The run's limiter: shared through Redis when MKSAP_LLM_LIMITER_URL is set, else this process's own."""
    limits: dict[str, Any] = {"rpm": settings.rpm, "itpm": settings.itpm, "otpm": settings.otpm,
                              "max_in_flight": settings.concurrency, "max_pause": settings.max_pause}
    if not settings.limiter_url:
        return RateLimiter(**limits)
    server = SharedServer(settings.limiter_url, what=LIMITER, password_var=LIMITER_PASSWORD_VAR)
    scope = f"{endpoint_name(sdk_endpoint())}{SCOPE_SEPARATOR}{settings.model}"
    budget = SharedBudget(
        server, scope, max_in_flight=settings.concurrency,
        limits={"requests": settings.rpm, "input-tokens": settings.itpm, "output-tokens": settings.otpm},
    )
    return SharedRateLimiter(budget, **limits)
