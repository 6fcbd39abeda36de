"""The rate limiter all workers share, on the real Redis server (skipped, saying so, when none answers;
docs/CLUSTER.md): two processes taking from one bucket never take more than it holds; the slots of a killed process
come back, those of a live one are kept; what one worker learns from the headers or a 429 holds for all; workers
that share it stay under the API's limit where two unshared ones do not; a server that does not answer leaves each
worker its own limiter."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import time

import pytest
import redis

from mksap_assets.domain.config import LLMConfig
from mksap_assets.domain.llm.providers.anthropic.limiter import RateLimiter
from mksap_assets.domain.llm.providers.anthropic.shared_limiter import (
    SCOPE_SEPARATOR,
    SharedBudget,
    SharedRateLimiter,
    open_rate_limiter,
)
from mksap_assets.domain.llm.redis_server import (
    LIMITER,
    LIMITER_PASSWORD_VAR,
    SharedServer,
)
from mksap_assets_tests import services
from mksap_assets_tests.services import free_port, worker_outcome
from mksap_assets_tests.shared_limiter_worker import PERIOD, SCOPE, budget

HANG_GUARD = 120.0  # seconds: only so that a broken limiter fails the test instead of hanging it


def start_worker(redis_url: str, namespace: str, *options: str) -> subprocess.Popen:
    return services.start_worker("mksap_assets_tests.shared_limiter_worker", redis_url, namespace, *options)


def outcome(worker: subprocess.Popen):
    return worker_outcome(worker, HANG_GUARD)


def test_two_processes_never_take_more_than_the_shared_bucket(redis_url, redis_namespace, tmp_path):
    per_period = 20
    go = tmp_path / "go"
    workers = [start_worker(redis_url, redis_namespace, "hammer", "--go", str(go), "--rpm", str(per_period),
                            "--seconds", "2.5") for _ in range(2)]
    go.touch()
    first, second = (outcome(worker) for worker in workers)
    assert first and second  # both took from the bucket
    admitted = sorted(first + second)  # the server's times: one clock for both
    start = admitted[0]  # the bucket was made, full, at the first admission
    for taken, at in enumerate(admitted, start=1):
        # A full bucket, then its refill; +1 for the server clock's millisecond.
        assert taken <= per_period + per_period * (at - start) / PERIOD + 1, (taken, at - start)
    assert len(admitted) > 2 * per_period  # the refill was taken too: the bound above is what held them back


def test_the_slots_of_a_killed_worker_come_back(redis_url, redis_namespace):
    holder = start_worker(redis_url, redis_namespace, "hold", "--slots", "2", "--slot-seconds", "1")
    held = json.loads(holder.stdout.readline())
    assert len(held) == 2
    holder.kill()
    holder.wait()
    shared = budget(redis_url, redis_namespace, max_in_flight=2, slot_seconds=1)
    assert shared.acquire("mine", 0, 0).wait > 0  # both slots still the dead worker's
    deadline = time.monotonic() + HANG_GUARD
    while (admission := shared.acquire("mine", 0, 0)).wait > 0:
        assert time.monotonic() < deadline, "the dead worker's slots never came back"
        time.sleep(admission.wait)
    assert admission.at >= max(held) + 1  # when its slots' lease ran out, not before


def test_a_live_request_keeps_its_slot_past_the_lease(redis_url, redis_namespace):
    shared = budget(redis_url, redis_namespace, max_in_flight=1, slot_seconds=0.3)
    limiter = SharedRateLimiter(shared)
    other = budget(redis_url, redis_namespace, max_in_flight=1, slot_seconds=0.3)

    async def scenario() -> tuple[list[float], float]:
        refused = []
        async with limiter.slot(0, 0):
            for _ in range(4):  # over three leases: renewed
                await asyncio.sleep(0.3)
                refused.append(other.acquire("other", 0, 0).wait)
        return refused, other.acquire("other", 0, 0).wait

    refused, after = asyncio.run(scenario())
    assert all(wait > 0 for wait in refused) and after == 0  # released at the end


def test_what_one_worker_learns_holds_for_all(redis_url, redis_namespace):
    learner = SharedRateLimiter(budget(redis_url, redis_namespace, rpm=100), rpm=100)
    learner.observe({"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "0"})
    server = redis.Redis.from_url(redis_url)
    stored = server.hgetall(f"{redis_namespace}:{SCOPE}:requests")
    assert float(stored[b"limit"]) == 50 and float(stored[b"level"]) < 1
    other = budget(redis_url, redis_namespace, rpm=100)  # another worker, started with the same setting
    assert 0 < other.acquire("x", 0, 0).wait <= PERIOD / 50  # waits for the learned bucket's refill

    learner.on_rate_limited(retry_after=5.0)
    server.delete(f"{redis_namespace}:{SCOPE}:requests")
    assert other.acquire("x", 0, 0).wait > 4  # the 429's pause holds the other worker too
    server.close()


def test_workers_that_share_the_limit_stay_under_the_apis(redis_url, redis_namespace, fake_api_factory, tmp_path):
    per_period, calls = 8, 12  # two workers ask for 24 requests: three periods' worth
    fake = fake_api_factory(rpm=per_period, period=PERIOD)
    go = tmp_path / "go"
    workers = [start_worker(redis_url, redis_namespace, "call", fake.url, "--go", str(go), "--calls", str(calls),
                            "--rpm", str(per_period), "--cache-dir", str(tmp_path / f"cache{n}")) for n in range(2)]
    go.touch()
    results = [outcome(worker) for worker in workers]
    # At most one refusal: a request leaves the limiter a little before the fake counts it, and the network's jitter
    # can bunch two arrivals by a fraction of a request's refill (one failure in ten runs on the 2-core machine).
    shared_refusals = fake.stats.refused_by_limit
    assert shared_refusals <= 1 and sum(r["answered"] for r in results) == 2 * calls - shared_refusals

    # The control: the same two workers, each with its own limiter, are refused (the SDK's retries are off).
    fake.reset_stats()
    go = tmp_path / "go-alone"
    workers = [start_worker(redis_url, f"{redis_namespace}:own{n}", "call", fake.url, "--go", str(go), "--calls",
                            str(calls), "--rpm", str(per_period), "--cache-dir", str(tmp_path / f"own{n}"))
               for n in range(2)]
    time.sleep(PERIOD)  # the fake's bucket full again
    go.touch()
    results = [outcome(worker) for worker in workers]
    assert fake.stats.refused_by_limit >= 4 and sum(r["refused"] for r in results) == fake.stats.refused_by_limit


def test_a_server_that_does_not_answer_leaves_each_worker_its_own_limiter(caplog):
    port = free_port()
    server = SharedServer(f"redis://127.0.0.1:{port}/0", what=LIMITER, password_var=LIMITER_PASSWORD_VAR)
    limiter = SharedRateLimiter(SharedBudget(server, SCOPE, limits={"requests": 60}, max_in_flight=4), rpm=60)

    async def two_requests() -> None:
        for _ in range(2):
            async with limiter.slot(0, 0):
                pass

    with caplog.at_level(logging.WARNING):
        asyncio.run(two_requests())
    warnings = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1 and f"127.0.0.1:{port}" in warnings[0]  # once: then left alone for a while
    assert limiter.requests.level == pytest.approx(58, abs=0.1)  # taken from this worker's own bucket


def test_the_configuration_chooses_the_limiter(monkeypatch, tmp_path):
    assert type(open_rate_limiter(LLMConfig(cache_dir=tmp_path))) is RateLimiter
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    shared = open_rate_limiter(LLMConfig(cache_dir=tmp_path, limiter_url="redis://10.0.0.7:6380/2", rpm=30,
                                         model="claude-haiku-5-5", concurrency=5))
    assert isinstance(shared, SharedRateLimiter) and shared.budget.server.where == "redis://10.0.0.7:6380/2"
    assert shared.budget.keys["requests"] == \
        f"mksap:llm-limits:http://127.0.0.1:9{SCOPE_SEPARATOR}claude-haiku-5-5:requests"
    assert (shared.budget.start["requests"], shared.budget.max_in_flight) == (30, 5)
    with pytest.raises(ValueError, match="MKSAP_LLM_LIMITER_PASSWORD"):
        LLMConfig(cache_dir=tmp_path, limiter_url="redis://:secret@cache.internal:6379/0")
    with pytest.raises(ValueError, match="shared rate limiter is a Redis URL"):
        LLMConfig(cache_dir=tmp_path, limiter_url="http://cache.internal")
