"""Backfills on the cluster profile with 1, 2 and 4 workers sharing one rate limit (issue 19's benchmark).

    python benchmarks/bench_workers.py --questions 400 --rpm 600 --latency 1.0 --workers 1 2 4 --kill 4

For each worker count: a fresh PostgreSQL database and Dagster home, `mksap init --storage cluster` with the run
queue and the `llm` pool set to that many workers, MKSAP_PARTITIONS_PER_RUN questions to a run, the response cache
and the rate limiter shared through the local Redis (MKSAP_LLM_CACHE_URL, MKSAP_LLM_LIMITER_URL), and a fresh fake
Messages API in this process with a requests-per-minute limit and a fixed latency. The daemon and the webserver run
the backfill of every question, launched as the UI does. Reported: wall time (launch to the backfill's end), the
requests the fake admitted per minute (the most in any 60 s window, and the mean) against its limit, its 429s,
duplicate paid requests (the same request body answered twice: the same cache key paid twice), and the exports
(questions exported, and exported more than once by Dagster's records). With --kill N, the run of N workers is done
again with one worker killed with SIGKILL once half the questions are exported, then a backfill of the questions
not exported (the failed ones) reruns them. Results are appended to benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
from results_file import (
    append_results,  # same folder; run as a script, so the folder is on sys.path
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mksap_assets.domain.exports.document import export_path  # noqa: E402
from mksap_assets.sample_bank import replicate_samples  # noqa: E402
from mksap_assets.storage.postgres import POSTGRES_URL_VAR  # noqa: E402
from mksap_assets_tests.dagster_services import (  # noqa: E402
    QUESTION_ASSETS,
    TERMINAL,
    dagster_services,
    launch_backfill,
    stop_sensors,
)
from mksap_assets_tests.services import GraphQL, free_port, tail  # noqa: E402
from mksap_devtools.fake_api import FakeAnthropic  # noqa: E402
from mksap_devtools.postgres_databases import PostgresDatabases  # noqa: E402

WORK = ROOT / "benchmarks" / "work" / "workers"
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("MKSAP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WINDOW = 60.0
BACKFILL_QUERY = """
query ($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { id status } ... on PythonError { message } } }
"""


def environment(home: Path, bank: Path, out: Path, args, workers_url: str, api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MKSAP_", "ANTHROPIC_", "DAGSTER_"))}
    return env | {
        "DAGSTER_HOME": str(home), "MKSAP_DATA_DIR": str(bank), "MKSAP_OUTPUT_DIR": str(out / "output"),
        "MKSAP_STORE_DIR": str(out / "store"), "MKSAP_LLM_CACHE_DIR": str(out / "llm_cache"),
        POSTGRES_URL_VAR: workers_url, "MKSAP_PARTITIONS_PER_RUN": str(args.per_run),
        "MKSAP_LLM_PROVIDER": "anthropic", "ANTHROPIC_API_KEY": "sk-bench-fake", "ANTHROPIC_BASE_URL": api_url,
        "MKSAP_LLM_CACHE_URL": REDIS_URL, "MKSAP_LLM_LIMITER_URL": REDIS_URL, "MKSAP_LLM_RPM": str(args.rpm),
        "MKSAP_LLM_CONCURRENCY": str(args.concurrency), "PYTHONUNBUFFERED": "1",
    }


def set_workers(home: Path, workers: int) -> None:
    """The run queue and the `llm` pool of the installed profile, both `workers` (docs/CLUSTER.md)."""
    path = home / "dagster.yaml"
    text = re.sub(r"(default_limit|max_concurrent_runs): \d+", lambda m: f"{m.group(1)}: {workers}", path.read_text())
    path.write_text(text)


def most_in_window(times: list[float]) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= WINDOW:
            start += 1
        most = max(most, end - start + 1)
    return most


def exported(out: Path, ids: list[str]) -> int:
    return sum(export_path(out / "output", key).is_file() for key in ids)


def export_records(home: Path) -> Counter:
    """Dagster's materializations of exported_question, by question."""
    import dagster as dg

    from mksap_assets.storage.instance import open_instance

    with open_instance(home) as instance:
        records = instance.fetch_materializations(dg.AssetKey("exported_question"), limit=10_000).records
    return Counter(record.asset_materialization.partition for record in records)


def wait(graphql: GraphQL, backfill_id: str, services, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        backfill = graphql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
        if backfill.get("status") in TERMINAL:
            return backfill["status"]
        if time.monotonic() > deadline:
            raise SystemExit(f"backfill {backfill_id} still {backfill}\n{tail(services.logs / 'daemon.log')}")
        time.sleep(1)


def kill_one_worker(home: Path, out: Path, ids: list[str]) -> str:
    """Once half the questions are exported, SIGKILL the process tree of one run in flight; its run id."""
    import dagster as dg

    from mksap_assets.dead_runs import RUN_PID_TAG
    from mksap_assets.storage.instance import open_instance

    while exported(out, ids) < len(ids) // 2:
        time.sleep(0.5)
    with open_instance(home) as instance:
        while True:
            for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
                if RUN_PID_TAG in run.tags:
                    process = psutil.Process(int(run.tags[RUN_PID_TAG]))
                    for member in [process, *process.children(recursive=True)]:
                        try:
                            member.kill()
                        except psutil.NoSuchProcess:
                            pass
                    return run.run_id
            time.sleep(0.2)


def one(args, bank: Path, ids: list[str], workers: int, kill: bool, databases: PostgresDatabases) -> dict:
    label = f"{workers}-kill" if kill else str(workers)
    out = WORK / label
    shutil.rmtree(out, ignore_errors=True)
    home = out / "dagster_home"
    home.mkdir(parents=True)
    database = databases.create()
    url = databases.url(database)
    fake = FakeAnthropic(latency=args.latency, rpm=args.rpm, itpm=None, otpm=None, ledger=True,
                         history=1_000_000).start()
    env = environment(home, bank, out, args, url, fake.url)
    saved_env = dict(os.environ)
    os.environ[POSTGRES_URL_VAR] = url
    try:
        for command in (["init", "--storage", "cluster"], ["sync"]):
            done = subprocess.run([BIN / "mksap", *command], cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"mksap {' '.join(command)} failed: {done.stderr[-3000:]}")
        set_workers(home, workers)
        survivors: list = []
        result: dict = {"workers": label}
        port = free_port()
        with dagster_services(env, port, out / "logs", survivors) as services:
            services.start("webserver")
            graphql = GraphQL(port)
            graphql.wait_ready(services.procs, services.logs)
            stop_sensors(graphql)
            started = time.monotonic()
            backfill_id = launch_backfill(graphql, ids, QUESTION_ASSETS, f"bench_workers {label}")
            services.start("daemon")
            killed = kill_one_worker(home, out, ids) if kill else None
            result["status"] = wait(graphql, backfill_id, services, args.timeout)
            result["wall"] = time.monotonic() - started
            if kill:
                missing = [key for key in ids if not export_path(out / "output", key).is_file()]
                result["killed_run"], result["missing_after_kill"] = killed, len(missing)
                rerun_started = time.monotonic()
                if missing:
                    rerun = launch_backfill(graphql, missing, QUESTION_ASSETS, f"bench_workers {label} failed only")
                    result["rerun_status"] = wait(graphql, rerun, services, args.timeout)
                result["rerun_wall"] = time.monotonic() - rerun_started
        ledger = fake.ledger()
        answered = [admitted for admitted, _, status, _, _ in ledger if status == 200]
        span = (max(answered) - min(answered)) if answered else 0.0
        bodies = Counter(hashlib.sha256(json.dumps(r.body, sort_keys=True).encode()).hexdigest()
                         for r in fake.requests if r.path == "/v1/messages" and r.status == 200)
        records = export_records(home)
        result.update({
            "answered": len(answered), "refused": sum(1 for entry in ledger if entry[2] == 429),
            "most_per_minute": most_in_window(answered),
            "mean_per_minute": len(answered) / span * WINDOW if span > WINDOW else float(len(answered)),
            "duplicates": sum(count - 1 for count in bodies.values()),
            "exported": exported(out, ids), "exported_twice": sum(1 for n in records.values() if n > 1),
            "export_records": sum(records.values()), "survivors": len(survivors),
        })
        return result
    finally:
        fake.stop()
        os.environ.clear()
        os.environ.update(saved_env)
        databases.drop(database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--rpm", type=int, default=600, help="the fake's requests per minute (and MKSAP_LLM_RPM)")
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32, help="MKSAP_LLM_CONCURRENCY: of all workers")
    parser.add_argument("--per-run", type=int, default=50, help="MKSAP_PARTITIONS_PER_RUN")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--kill", type=int, default=None, help="also run this many workers with one killed")
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    databases = PostgresDatabases()
    if reason := databases.unreachable():
        raise SystemExit(reason)
    bank = WORK / "bank"
    ids = sorted(replicate_samples(bank, args.questions))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    plan = [(n, False) for n in args.workers] + ([(args.kill, True)] if args.kill else [])
    results = []
    for workers, kill in plan:
        result = one(args, bank, ids, workers, kill, databases)
        print(json.dumps(result), flush=True)
        results.append(result)
    command = "python benchmarks/bench_workers.py " + " ".join(sys.argv[1:])
    lines = [
        f"## Workers sharing one rate limit ({started})",
        f"`{command}`. {args.questions} questions, {args.per_run} to a run, on the cluster profile (PostgreSQL and "
        f"Redis on 127.0.0.1); the fake API at {args.rpm} requests per minute, {args.latency:g} s latency; "
        f"MKSAP_LLM_CONCURRENCY={args.concurrency} for all workers together. Machine: {os.cpu_count()} cores.",
        "",
        "| workers | backfill | wall s | answered | most / min | mean / min | limit | 429s | duplicate paid "
        "| exported | exported twice |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        status = r["status"]
        if "killed_run" in r:
            status += (f"; {r['missing_after_kill']} not exported after the kill, rerun "
                       f"{r.get('rerun_status', '-')} in {r['rerun_wall']:.1f} s")
        lines.append(f"| {r['workers']} | {status} | {r['wall']:.1f} | {r['answered']} | {r['most_per_minute']} | "
                     f"{r['mean_per_minute']:.0f} | {args.rpm} | {r['refused']} | {r['duplicates']} | "
                     f"{r['exported']}/{args.questions} | {r['exported_twice']} |")
    append_results([*lines, ""])


if __name__ == "__main__":
    main()
