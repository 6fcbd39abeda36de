"""The response cache on each backend: get/put latency alone, then several processes writing and reading at once.

Backends:
  disk:      the embedded default (domain/llm/cache/disk.py: diskcache on SQLite, in a temporary folder);
  redis:     the shared backend (domain/llm/cache/redis.py) on the Redis server of MKSAP_BENCH_REDIS_URL (default
             redis://127.0.0.1:6379/15; the benchmark's keys are under a prefix of their own, deleted at the end);
  postgres:  a candidate shared backend, not shipped: one table (key text primary key, value bytea), an upsert per put
             and a select per get through psycopg2 in autocommit, in a database of its own on the server of
             MKSAP_POSTGRES_URL (created, then dropped).
A backend whose server does not answer is not measured (the reason is printed).

Values are what the provider stores, {"tool_input": ..., "model": ...}, here 12 generated statements with their
clozes: a few KB of JSON, like an answer to a question's critique.

1. Latency: one process, N puts of distinct keys, then N gets of them (hits) and N gets of absent keys (misses).
2. Concurrent writers: P processes at once, each doing ROUNDS rounds of [put a key all processes share (one of 20),
   put a key of its own, get a shared key, get its own key]. Reported: wall time, operations per second over all
   processes, p50/p95 per operation, errors (raised, a put refused, or a get of a key the process has just put that
   found nothing: the shipped backends log a failure and carry on), and reads whose value was not one that some
   process wrote for that key (torn or mixed writes).
3. The same answers asked at once (disk and redis, the backends with a lease): P processes each ask for the same
   ASKED_KEYS answers, all at once as a run's calls are, the way the provider does (get; on a miss, the cache's lease,
   get again, then a simulated API call of CALL_SECONDS and a put). Reported: calls paid (ASKED_KEYS is the least
   possible; without a lease up to P x ASKED_KEYS) and wall time.

Usage: python benchmarks/bench_response_cache.py [--ops N] [--rounds R] [--processes 1,2,4,8]
Results are appended to benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from results_file import append_results

from mksap_assets.domain.llm.cache import ResponseCache
from mksap_assets.domain.llm.cache.redis import RedisResponseCache
from mksap_devtools.postgres_databases import PostgresDatabases

REDIS_URL = os.environ.get("MKSAP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SHARED_KEYS = 20
ASKED_KEYS = 20
CALL_SECONDS = 0.5
POLL_SECONDS = 0.05
WORDS = ("renal", "acute", "first", "line", "therapy", "patient", "dose", "risk", "chronic", "test", "level", "sign")


def answer(seed: int) -> dict[str, Any]:
    """A cached answer's shape and size: 12 statements of ~25 generated words, each with its cloze."""
    statements = []
    for index in range(12):
        words = [WORDS[(seed + index * 7 + n * 3) % len(WORDS)] for n in range(25)]
        statements.append({"statement": " ".join(words) + ".", "extra_field": None,
                           "cloze_primary": words[3], "cloze_secondary": [words[9]]})
    return {"tool_input": {"statements": statements}, "model": "claude-haiku-5-5", "writer": seed}


class PostgresCandidate:
    """One table, an upsert per put, a select per get; autocommit (each put is one committed transaction)."""

    def __init__(self, url: str):
        import psycopg2

        self.connection = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
        self.connection.autocommit = True

    def create_table(self) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS response_cache "
                           "(key text PRIMARY KEY, value bytea NOT NULL, stored_at double precision NOT NULL)")

    def get(self, key):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT value FROM response_cache WHERE key = %s", (key,))
            row = cursor.fetchone()
        return None if row is None else orjson.loads(bytes(row[0]))

    def set(self, key, value):
        with self.connection.cursor() as cursor:
            cursor.execute("INSERT INTO response_cache (key, value, stored_at) VALUES (%s, %s, %s) "
                           "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, stored_at = EXCLUDED.stored_at",
                           (key, orjson.dumps({**value, "stored_at": time.time()}), time.time()))
        return True

    def close(self):
        self.connection.close()


def open_backend(name: str, where: str):
    if name == "disk":
        return ResponseCache(Path(where))
    if name == "redis":
        return RedisResponseCache(REDIS_URL, namespace=where, poll_seconds=POLL_SECONDS)
    return PostgresCandidate(where)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed(operation, *args) -> float:
    started = time.perf_counter()
    operation(*args)
    return (time.perf_counter() - started) * 1000


def latency(name: str, where: str, ops: int) -> dict[str, list[float]]:
    backend = open_backend(name, where)
    try:
        values = [answer(n) for n in range(ops)]
        put = [timed(backend.set, f"lat-{n}", values[n]) for n in range(ops)]
        hit = [timed(backend.get, f"lat-{n}") for n in range(ops)]
        miss = [timed(backend.get, f"absent-{n}") for n in range(ops)]
        assert backend.get("lat-0")["tool_input"] == values[0]["tool_input"]
        return {"put": put, "get (hit)": hit, "get (miss)": miss}
    finally:
        backend.close()


def worker(name: str, where: str, index: int, rounds: int, start, results) -> None:
    backend = open_backend(name, where)
    samples: dict[str, list[float]] = {"put": [], "get": []}
    errors = wrong = 0
    mine = answer(1000 + index)
    start.wait()
    for round_ in range(rounds):
        shared = f"shared-{round_ % SHARED_KEYS}"
        for operation, key in (("put", shared), ("put", f"own-{index}-{round_}"), ("get", shared),
                               ("get", f"own-{index}-{round_}")):
            started = time.perf_counter()
            try:
                value = backend.set(key, mine) if operation == "put" else backend.get(key)
            except Exception:  # noqa: BLE001 - counted: the benchmark reports how often a backend raises
                errors += 1
                continue
            samples[operation].append((time.perf_counter() - started) * 1000)
            if value is False or value is None:  # a put refused, or a get of a key this process has just put
                errors += 1
            elif operation == "get":
                writer = value.get("writer")
                if not (isinstance(writer, int) and value["tool_input"] == answer(writer)["tool_input"]):
                    wrong += 1
    backend.close()
    results.put((samples, errors, wrong))


def concurrent(name: str, where: str, processes: int, rounds: int) -> dict[str, Any]:
    wall, gathered = in_processes(worker, name, where, processes, rounds)
    puts = [ms for samples, _, _ in gathered for ms in samples["put"]]
    gets = [ms for samples, _, _ in gathered for ms in samples["get"]]
    return {"wall": wall, "ops": len(puts) + len(gets), "put": puts, "get": gets,
            "errors": sum(e for _, e, _ in gathered), "wrong": sum(w for _, _, w in gathered)}


async def ask(backend, key: str, index: int) -> int:
    """1 when this process paid for the answer, as AnthropicProvider.call_tool would."""
    if backend.get(key) is not None:
        return 0
    async with backend.lease(key):
        if backend.get(key) is not None:
            return 0
        await asyncio.sleep(CALL_SECONDS)
        backend.set(key, answer(index))
        return 1


def asker(name: str, where: str, index: int, start, results) -> None:
    backend = open_backend(name, where)

    async def ask_all() -> int:
        return sum(await asyncio.gather(*(ask(backend, f"asked-{n}", index) for n in range(ASKED_KEYS))))

    start.wait()
    paid = asyncio.run(ask_all())
    backend.close()
    results.put(paid)


def in_processes(target, name: str, where: str, processes: int, *args) -> tuple[float, list[Any]]:
    """Run `target` in `processes` processes started together; the wall time from the start and their results."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    procs = [context.Process(target=target, args=(name, where, i, *args, start, results)) for i in range(processes)]
    for proc in procs:
        proc.start()
    time.sleep(3.0)  # every process imported and connected before the clock starts
    started = time.perf_counter()
    start.set()
    gathered = [results.get() for _ in procs]
    wall = time.perf_counter() - started
    for proc in procs:
        proc.join()
    return wall, gathered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--processes", default="1,2,4,8")
    args = parser.parse_args()
    counts = [int(p) for p in args.processes.split(",")]
    size = len(orjson.dumps(answer(0)))

    where: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        where["disk"] = lambda run: str(Path(tmp) / run)
        try:
            import redis

            server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
            server.ping()
            prefix = f"mksap-bench-{uuid.uuid4().hex[:8]}"
            where["redis"] = lambda run: f"{prefix}-{run}"
        except Exception as exc:  # noqa: BLE001 - a backend without a server is reported, not measured
            skipped["redis"] = f"no Redis at {REDIS_URL} ({type(exc).__name__})"
        databases = PostgresDatabases()
        reason = databases.unreachable()
        if reason:
            skipped["postgres"] = reason
        else:
            def postgres_database(run: str) -> str:
                url = databases.url(databases.create())
                candidate = PostgresCandidate(url)
                candidate.create_table()
                candidate.close()
                return url
            where["postgres"] = postgres_database

        try:
            lat = {name: latency(name, make("latency"), args.ops) for name, make in where.items()}
            conc = {(name, p): concurrent(name, make(f"concurrent-{p}"), p, args.rounds)
                    for name, make in where.items() for p in counts}
            asked = {(name, p): in_processes(asker, name, where[name](f"asked-{p}"), p)
                     for name in ("disk", "redis") if name in where for p in counts}
        finally:
            databases.drop_all()
            if "redis" in where:
                for key in server.scan_iter(f"{prefix}-*"):
                    server.delete(key)

    now = datetime.now(UTC)
    lines = [
        f"## Response cache backends: latency and concurrent writers ({now:%Y-%m-%d %H:%M} UTC)",
        f"`python benchmarks/bench_response_cache.py --ops {args.ops} --rounds {args.rounds} "
        f"--processes {args.processes}`: values of {size:,} bytes of JSON (a cached answer's shape); servers on "
        f"127.0.0.1 with default settings. Machine: {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "One process (ms per operation):",
        "",
        "| backend | put p50 | put p95 | get hit p50 | get hit p95 | get miss p50 | get miss p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, samples in lat.items():
        cells = [f"{percentile(samples[op], q):.3f}" for op in ("put", "get (hit)", "get (miss)") for q in (0.5, 0.95)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Concurrent writers: each process {args.rounds} rounds of [put shared key (one of {SHARED_KEYS}), put own "
        "key, get shared key, get own key]:",
        "",
        "| backend | processes | wall s | ops/s (all) | put p50 ms | put p95 ms | get p50 ms | get p95 ms | errors "
        "| wrong reads |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (name, p), row in conc.items():
        lines.append(
            f"| {name} | {p} | {row['wall']:.2f} | {row['ops'] / row['wall']:,.0f} | "
            f"{statistics.median(row['put']):.3f} | {percentile(row['put'], 0.95):.3f} | "
            f"{statistics.median(row['get']):.3f} | {percentile(row['get'], 0.95):.3f} | {row['errors']} | "
            f"{row['wrong']} |")
    lines += [
        "",
        f"The same {ASKED_KEYS} answers asked at once by every process (a simulated API call of {CALL_SECONDS} s "
        "on a miss, under the cache's lease):",
        "",
        "| backend | processes | calls paid | least possible | wall s |",
        "|---|---|---|---|---|",
    ]
    for (name, p), (wall, paid) in asked.items():
        lines.append(f"| {name} | {p} | {sum(paid)} | {ASKED_KEYS} | {wall:.2f} |")
    for name, reason in skipped.items():
        lines.append(f"\n{name}: not measured: {reason}.")
    lines.append("")
    append_results(lines)


if __name__ == "__main__":
    main()
