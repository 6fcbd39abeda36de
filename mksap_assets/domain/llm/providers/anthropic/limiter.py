"""Client-side rate limiting that keeps a run under the API's limits instead of hammering it.

- Three token buckets (requests, input tokens and output tokens per minute), refilled continuously. Their sizes
  start from configuration and are corrected from the `anthropic-ratelimit-*` headers of every response.
- A request reserves what the API will count at most, as the API itself does: its whole prompt (estimated) against
  ITPM and its max_tokens against OTPM. When the answer arrives, both reservations are settled to its usage (cache
  reads count against no limit on current models), before the answer's headers are read: those already count it
  as settled, so settling after them would give the same tokens back twice.
- An in-flight cap that adapts (AIMD): it grows by one after a streak of successes and shrinks by a quarter on the
  first 429 of a burst, when every request also waits out the server's retry-after. It starts small and, until the
  first 429, grows by one per success (doubling per round trip): the first requests go out before any header has
  told the real limits, and a burst of max_in_flight max_tokens reservations can exceed a small OTPM bucket at once
  (and the API answers a sharp ramp with 429s).
- It runs as SDK middleware, inside the SDK's own retry loop, so retries are limited like first attempts; there is
  no outer retry loop.
- Nothing a server says can stall a run: a retry-after is capped at `max_pause` (the capped value is what the SDK
  sleeps too, and the cap is counted in `pauses_capped`), and a limit learned from the headers never falls below
  LEARNED_LIMIT_FLOOR of the starting one.
- Each HTTP attempt (connect, upload, every read of the answer) has a deadline: a server that trickles its answer
  is cut off there and the attempt is retried by the SDK like any timeout.
- A 2xx to a Messages request whose body is not a Messages answer (an HTML page, an error object) is retried like
  a server error.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anthropic

from mksap_assets.domain.engine.waits import waiting
from mksap_assets.domain.llm.meter import current_usage

SUCCESSES_PER_STEP = 8
SLOW_START_WINDOW = 4
BURST_SECONDS = 2.0
# A learned limit below this share of the starting limit is taken as this share: a header saying "0.01 requests
# per minute" (a broken proxy, a hostile server) must not turn a run into hours of waiting.
LEARNED_LIMIT_FLOOR = 0.05
DEFAULT_MAX_PAUSE = 60.0


class TokenBucket:
    """`limit` units per minute, refilled continuously; a limit of None never waits."""

    def __init__(self, limit: float | None, clock=time.monotonic):
        self.limit = limit
        self.floor = limit * LEARNED_LIMIT_FLOOR if limit else None
        self._clock = clock
        self.level = float(limit) if limit else 0.0
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        if self.limit:
            self.level = min(float(self.limit), self.level + (now - self._updated) * self.limit / 60.0)
        self._updated = now

    def wait_time(self, amount: float) -> float:
        """Seconds until `amount` is available (amounts above the whole bucket wait for a full bucket)."""
        if not self.limit:
            return 0.0
        self._refill()
        amount = min(amount, float(self.limit))
        return 0.0 if self.level >= amount else (amount - self.level) * 60.0 / self.limit

    def take(self, amount: float) -> None:
        if self.limit:
            self._refill()
            self.level -= min(amount, float(self.limit))  # as wait_time: the next wait stays under a minute

    def give_back(self, amount: float) -> None:
        if self.limit:
            self._refill()
            self.level = min(float(self.limit), self.level + amount)

    def learn(self, limit: float | None, remaining: float | None) -> None:
        """Adopt the server's limit (not below the floor), and never believe we have more left than it says."""
        if limit and self.floor:
            limit = max(limit, self.floor)
        if limit and limit != self.limit:
            self._refill()
            self.level = self.level * limit / self.limit if self.limit else float(limit)
            self.limit = limit
        if remaining is not None and self.limit:
            self._refill()
            self.level = min(self.level, float(remaining))


def estimate_input_tokens(body: Mapping[str, Any] | None) -> int:
    """A cheap upper-side estimate (about 4 characters per token) of what a request will count against ITPM."""
    if not body:
        return 0
    chars = sum(len(str(body.get(part, ""))) for part in ("system", "messages", "tools"))
    return math.ceil(chars / 4)


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, TypeError, ValueError):
        return None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """What the server asks for, in seconds: `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    milliseconds = _header_float(headers, "retry-after-ms")
    if milliseconds is not None:
        return milliseconds / 1000
    seconds = _header_float(headers, "retry-after")
    if seconds is not None or not headers.get("retry-after"):
        return seconds
    try:
        return max(0.0, email.utils.parsedate_to_datetime(headers["retry-after"]).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class NotAMessagesAnswer(anthropic.RetryableError):
    """A 2xx whose body is not a Messages answer (an HTML page, an error object): retried by the SDK like a server
    error, and named as such when the retries run out."""


def _messages_usage(response: Any) -> Mapping[str, Any] | None:
    """The usage of a Messages answer; None when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("type") == "message" and isinstance(body.get("usage"), dict):
        return body["usage"]
    return None


def _count(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and value >= 0 else 0


class RateLimiter:
    def __init__(
        self,
        *,
        rpm: float | None = None,
        itpm: float | None = None,
        otpm: float | None = None,
        max_in_flight: int = 32,
        max_pause: float = DEFAULT_MAX_PAUSE,
        clock=time.monotonic,
    ):
        self.requests = TokenBucket(rpm, clock)
        self.input_tokens = TokenBucket(itpm, clock)
        self.output_tokens = TokenBucket(otpm, clock)
        self.max_in_flight = max_in_flight
        self.max_pause = max_pause
        self.window = min(max_in_flight, SLOW_START_WINDOW)
        self._slow_start = True
        self.in_flight = 0
        self._clock = clock
        self._paused_until = 0.0
        self._last_cut = -math.inf
        self._successes = 0
        self._changed = asyncio.Condition()

    async def _wait_for_capacity(self, input_tokens: int, output_tokens: int) -> None:
        """Wake-ups go one waiter at a time: a freed slot wakes one, and a waiter that takes a slot and leaves room
        wakes the next, so a release costs one check instead of one per queued request. A waiter held back by the
        buckets re-checks when they will have refilled; its time-out, or a cancellation, passes on a wake-up it may
        have swallowed."""
        async with self._changed:
            while True:
                wait = self._paused_until - self._clock()
                if wait <= 0 and self.in_flight < self.window:
                    wait = await self._take_budget(input_tokens, output_tokens)
                    if wait <= 0:
                        self.in_flight += 1
                        if self.in_flight < self.window:
                            self._changed.notify(1)
                        return
                try:
                    # Woken when a slot frees; otherwise re-check once the buckets have refilled.
                    await asyncio.wait_for(self._changed.wait(), timeout=wait if wait > 0 else None)
                except TimeoutError:
                    self._changed.notify(1)
                except asyncio.CancelledError:
                    self._changed.notify(1)
                    raise

    async def _take_budget(self, input_tokens: int, output_tokens: int) -> float:
        """Take one request's budget from the buckets and return 0, or return the seconds until it could be taken.
        The seam of the limiter that all workers share (shared_limiter.py), which takes it from Redis."""
        wait = max(
            self.requests.wait_time(1),
            self.input_tokens.wait_time(input_tokens),
            self.output_tokens.wait_time(output_tokens),
        )
        if wait <= 0:
            self.requests.take(1)
            self.input_tokens.take(input_tokens)
            self.output_tokens.take(output_tokens)
        return wait

    @asynccontextmanager
    async def slot(self, input_tokens: int, output_tokens: int) -> AsyncIterator[None]:
        with waiting():  # for a free slot and the buckets' budget: the question's wait, not its work
            await self._wait_for_capacity(input_tokens, output_tokens)
        try:
            yield
        finally:
            async with self._changed:
                self.in_flight -= 1
                self._changed.notify(1)

    def refund(self, input_tokens: int, output_tokens: int) -> None:
        """Give back reservations that nothing was charged against."""
        self.input_tokens.give_back(input_tokens)
        self.output_tokens.give_back(output_tokens)

    def settle(self, input_reserved: int, output_reserved: int, usage: Mapping[str, Any]) -> None:
        """Correct an answered request's reservations to what the API counted: uncached input and cache writes
        against ITPM, the output generated against OTPM. An estimate that fell short takes the rest now."""
        charged_input = _count(usage, "input_tokens") + _count(usage, "cache_creation_input_tokens")
        self.refund(input_reserved - charged_input, output_reserved - _count(usage, "output_tokens"))

    def observe(self, headers: Mapping[str, str]) -> None:
        for bucket, name in (
            (self.requests, "requests"),
            (self.input_tokens, "input-tokens"),
            (self.output_tokens, "output-tokens"),
        ):
            bucket.learn(
                _header_float(headers, f"anthropic-ratelimit-{name}-limit"),
                _header_float(headers, f"anthropic-ratelimit-{name}-remaining"),
            )

    def on_success(self) -> None:
        self._successes += 1
        if self.window < self.max_in_flight and (self._slow_start or self._successes >= SUCCESSES_PER_STEP):
            self.window += 1
            self._successes = 0

    def on_rate_limited(self, retry_after: float | None) -> None:
        now = self._clock()
        self._successes = 0
        self._slow_start = False
        if now - self._last_cut > BURST_SECONDS:  # one cut per burst of 429s
            self.window = max(1, math.floor(self.window * 0.75))
            self._last_cut = now
        self._paused_until = max(self._paused_until, now + min(retry_after or 1.0, self.max_pause))


class RateLimitMiddleware(anthropic.Middleware):
    """Applies the limiter and the attempt deadline to every HTTP attempt, and feeds the limiter what the responses
    say. `attempt_deadline` bounds one attempt (not the time queued for a slot); the SDK's retries each get their
    own, and the question's time budget (pipeline.py) bounds them all."""

    def __init__(self, limiter: RateLimiter, attempt_deadline: float | None = None):
        self.limiter = limiter
        self.attempt_deadline = attempt_deadline

    async def handle_async(self, request, call_next):
        body = request.json if isinstance(request.json, Mapping) else None
        reserve = int(body.get("max_tokens", 0)) if body else 0
        estimate = estimate_input_tokens(body)
        usage = current_usage()
        usage.calls += 1
        if request.retries_taken:
            usage.retries += 1
        try:
            async with self.limiter.slot(estimate, reserve):
                try:
                    # A non-streamed answer is read whole inside call_next, so this covers every read.
                    async with asyncio.timeout(self.attempt_deadline):
                        response = await call_next(request)
                except TimeoutError:
                    usage.deadlines_missed += 1
                    raise anthropic.RetryableError(
                        f"no complete answer within the request deadline of {self.attempt_deadline:g} s") from None
        except BaseException:  # timeouts and connection errors: nothing was generated
            self.limiter.refund(0, reserve)
            raise
        retry_after = self._capped_retry_after(response.http_response.headers, usage)
        to_messages = request.url.rstrip("/").endswith("/messages")
        answered = _messages_usage(response.http_response) if to_messages and response.status_code < 400 else None
        if response.status_code == 429:
            usage.rate_limited += 1
            self.limiter.on_rate_limited(retry_after)
            self.limiter.refund(estimate, reserve)  # refused: counted against no limit
        elif answered is not None:
            self.limiter.settle(estimate, reserve, answered)
        else:  # an error, or a 2xx that is no Messages answer: nothing was generated
            self.limiter.refund(0, reserve)
        self.limiter.observe(response.headers)  # after settling: the headers count this answer as settled
        if response.status_code >= 400:
            return response
        if to_messages and answered is None:
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise NotAMessagesAnswer(f"HTTP {response.status_code} with a body that is not a Messages answer ({kind})")
        self.limiter.on_success()
        return response

    def _capped_retry_after(self, headers: Any, usage: Any) -> float | None:
        """The server's retry-after, cut to the cap; a longer one is rewritten in the headers (retry-after-ms, which
        the SDK reads first) so that the SDK's own sleep before its retry is cut too."""
        asked = retry_after_seconds(headers)
        if asked is None or asked <= self.limiter.max_pause:
            return asked
        usage.pauses_capped += 1
        headers["retry-after-ms"] = str(self.limiter.max_pause * 1000)
        return self.limiter.max_pause
