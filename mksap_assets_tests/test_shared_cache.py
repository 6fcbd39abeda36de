"""The shared response cache on the real Redis server (skipped, saying so, when none answers; docs/STORAGE.md): an
answer paid for in one process is a hit in another; two processes asking for it at once pay once (the lease); a lease
whose holder was killed expires and another process pays; a server that does not answer is a miss, never a failed
question; nothing read from the server is unpickled."""

from __future__ import annotations

import asyncio
import logging
import pickle
import subprocess
import time

import redis

from mksap_assets.domain.llm.cache.redis import RedisResponseCache
from mksap_assets_tests import services
from mksap_assets_tests.services import free_port, worker_outcome
from mksap_assets_tests.shared_cache_worker import answer_once, provider

HANG_GUARD = 120.0  # seconds: only so that a broken lease fails the test instead of hanging it


def start_worker(redis_url: str, namespace: str, api_url: str, *options: str) -> subprocess.Popen:
    return services.start_worker("mksap_assets_tests.shared_cache_worker", redis_url, namespace, api_url, *options)


def outcome(worker: subprocess.Popen):
    return worker_outcome(worker, HANG_GUARD)


def test_an_answer_paid_for_in_one_process_is_a_hit_in_another(redis_url, redis_namespace, fake_api):
    first = outcome(start_worker(redis_url, redis_namespace, fake_api.url))
    second = outcome(start_worker(redis_url, redis_namespace, fake_api.url))
    assert (first["misses"], first["hits"]) == (1, 0) and first["answer"]["statements"]
    assert (second["misses"], second["hits"]) == (0, 1) and second["answer"] == first["answer"]
    assert fake_api.stats.total_requests == 1


def test_two_processes_asking_at_once_pay_once(redis_url, redis_namespace, fake_api_factory, tmp_path):
    fake = fake_api_factory(latency=2.0)  # the first call is still in flight when the second asks
    go = tmp_path / "go"
    workers = [start_worker(redis_url, redis_namespace, fake.url, "--go", str(go)) for _ in range(2)]
    go.touch()
    results = [outcome(worker) for worker in workers]
    assert fake.stats.total_requests == 1
    assert sorted((r["misses"], r["hits"]) for r in results) == [(0, 1), (1, 0)]
    assert results[0]["answer"] == results[1]["answer"]


def test_a_lease_whose_holder_was_killed_expires_and_another_process_pays(redis_url, redis_namespace,
                                                                          fake_api_factory):
    fake = fake_api_factory(latency=HANG_GUARD)  # the holder's call never ends
    holder = start_worker(redis_url, redis_namespace, fake.url, "--lease-seconds", "2")
    server = redis.Redis.from_url(redis_url)
    while fake.stats.in_flight == 0:  # the holder took the lease and is paying
        assert holder.poll() is None, holder.stderr.read()
        time.sleep(0.05)
    holder.kill()
    holder.wait()
    fake.latency = 0.0
    [lease] = server.keys(f"{redis_namespace}:lease:*")
    assert server.pttl(lease) > 0  # left by the dead holder, expiring

    cache = RedisResponseCache(redis_url, namespace=redis_namespace, poll_seconds=0.05)
    taker = answer_once(provider(cache, fake.url))
    assert (taker["misses"], taker["hits"]) == (1, 0) and taker["answer"]["statements"]
    assert fake.stats.total_requests == 2  # the dead holder's call, never stored, and the taker's
    assert len(server.keys(f"{redis_namespace}:answer:*")) == 1 and not server.exists(lease)
    server.close()


def test_an_unreachable_server_is_a_logged_miss_and_the_answer_still_comes(fake_api, caplog):
    port = free_port()
    cache = RedisResponseCache(f"redis://127.0.0.1:{port}/0")
    with caplog.at_level(logging.WARNING):
        result = answer_once(provider(cache, fake_api.url))
    assert (result["misses"], result["hits"], result["write_errors"]) == (1, 0, 1)
    assert result["answer"]["statements"] and fake_api.stats.total_requests == 1
    assert any("unreachable" in r.getMessage() and f"127.0.0.1:{port}" in r.getMessage() for r in caplog.records)


class _WritesAFileWhenUnpickled:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_entries_are_json_objects_only(redis_url, redis_namespace, tmp_path):
    cache = RedisResponseCache(redis_url, namespace=redis_namespace)
    server = redis.Redis.from_url(redis_url)
    marker = tmp_path / "ran"
    server.set(f"{redis_namespace}:answer:pickled", pickle.dumps(_WritesAFileWhenUnpickled(marker)))
    server.set(f"{redis_namespace}:answer:list", b"[1, 2]")
    assert cache.get("pickled") is None and cache.get("list") is None and not marker.exists()
    assert not server.exists(f"{redis_namespace}:answer:pickled", f"{redis_namespace}:answer:list")  # dropped
    assert cache.set("k", {"tool_input": {"when": object()}}) is False and cache.set("k", [1]) is False
    assert cache.get("k") is None and len(cache) == 0
    assert cache.set("k", {"tool_input": {"statements": []}}) and cache.get("k")["tool_input"] == {"statements": []}
    assert len(cache) == 1
    cache.close()
    server.close()


def test_a_process_waiting_on_the_lease_reads_the_holders_answer(redis_url, redis_namespace):
    holder = RedisResponseCache(redis_url, namespace=redis_namespace, poll_seconds=0.01)
    waiter = RedisResponseCache(redis_url, namespace=redis_namespace, poll_seconds=0.01)
    seen = []

    async def wait_then_read() -> None:
        async with waiter.lease("k"):
            seen.append(waiter.get("k"))

    async def hold_then_store() -> None:
        async with holder.lease("k"):
            waiting = asyncio.create_task(wait_then_read())
            await asyncio.sleep(0.2)
            assert not seen  # kept out while the holder pays
            holder.set("k", {"tool_input": 1})
        await asyncio.wait_for(waiting, HANG_GUARD)

    asyncio.run(hold_then_store())
    assert seen[0]["tool_input"] == 1
    assert not redis.Redis.from_url(redis_url).keys(f"{redis_namespace}:lease:*")  # released, none taken after
