"""Dagster's bookkeeping for the four question assets on each storage: stock SQLite, pooled SQLite, PostgreSQL.

One no-op step shaped like `question_assets` (four asset specs, one range run over N dynamic partitions, one
materialization yielded per asset and partition, with a small metadata dict) runs on an instance with:

  stock:    the sqlite profile switched back to Dagster's ConsolidatedSqliteEventLogStorage (docs/STORAGE.md), planned
            events stored one by one (no DAGSTER_EVENT_BATCH_SIZE);
  pooled:   the sqlite profile as `mksap init` writes it (mksap_assets.storage.pooled_sqlite), with
            DAGSTER_EVENT_BATCH_SIZE as `mksap` and the project's .env set it;
  postgres: the postgres profile, with the same batch size, in a database of its own on the server of
            MKSAP_POSTGRES_URL (created, then dropped); not measured, with the reason, when no server answers.

The run does no work, so its wall time is Dagster's bookkeeping: run creation (a planned event per asset and
partition), the materialization events, and the step around them. Usage:
python benchmarks/bench_event_log.py [N]  (default 2198; `make bench` runs it). Results are appended to
benchmarks/results.md.
"""

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from results_file import append_results

from mksap_assets.domain.engine.stages import STAGES
from mksap_assets.storage.event_batches import EVENT_BATCH_SIZE, EVENT_BATCH_SIZE_VAR
from mksap_assets.storage.instance import open_instance
from mksap_assets.storage.postgres import POSTGRES_URL_VAR
from mksap_assets.storage.profiles import (
    CONFIG_FILE,
    profile_config,
    with_stock_event_log,
)
from mksap_devtools.postgres_databases import PostgresDatabases

ASSETS = STAGES
METADATA = {"duration_ms": 1.5, "statements": 20, "passed": True, "fingerprint": "0" * 64}
STORAGES = {
    "stock": "SQLite, Dagster's ConsolidatedSqliteEventLogStorage, planned events one by one",
    "pooled": f"SQLite, the pooled event log (the sqlite profile, {EVENT_BATCH_SIZE_VAR}={EVENT_BATCH_SIZE})",
    "postgres": f"PostgreSQL (the postgres profile, dagster-postgres, {EVENT_BATCH_SIZE_VAR}={EVENT_BATCH_SIZE})",
}
partitions = dg.DynamicPartitionsDefinition(name="question")


@dg.multi_asset(
    specs=[dg.AssetSpec(name, skippable=True) for name in ASSETS],
    partitions_def=partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def four_assets(context: dg.AssetExecutionContext):
    for key in context.partition_keys:
        for name in ASSETS:
            yield dg.AssetMaterialization(name, partition=key, metadata=METADATA)


def timed_run(n: int, storage: str, databases: PostgresDatabases | None = None) -> float:
    """Seconds for one range run over n partitions on `storage` (a key of STORAGES); postgres needs `databases`."""
    keys = [f"cvmcq{i:05d}" for i in range(n)]
    os.environ[EVENT_BATCH_SIZE_VAR] = str(EVENT_BATCH_SIZE)
    config = {
        "stock": with_stock_event_log(profile_config("sqlite")),
        "pooled": profile_config("sqlite"),
        "postgres": profile_config("postgres"),
    }[storage]
    database = databases.new_name() if storage == "postgres" else None
    if database:
        os.environ[POSTGRES_URL_VAR] = databases.url(database)
    try:
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder)
            (home / CONFIG_FILE).write_text(config)
            with open_instance(home) as instance:
                if storage == "stock":
                    del os.environ[EVENT_BATCH_SIZE_VAR]  # Dagster's default: no batches
                instance.add_dynamic_partitions("question", keys)
                job = dg.Definitions(assets=[four_assets], executor=dg.in_process_executor)
                started = time.perf_counter()
                result = job.resolve_implicit_global_asset_job_def().execute_in_process(
                    instance=instance,
                    tags={"dagster/asset_partition_range_start": keys[0],
                          "dagster/asset_partition_range_end": keys[-1]},
                    run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
                )
                elapsed = time.perf_counter() - started
                assert result.success
                assert all(len(instance.get_materialized_partitions(dg.AssetKey(a))) == n for a in ASSETS)
    finally:
        if database:
            databases.drop(database)
    return elapsed


def main(n: int) -> None:
    from bench_extraction import machine

    databases = PostgresDatabases()
    unreachable = databases.unreachable()
    rows = []
    timed_run(10, "pooled")  # not measured: the first run in a process pays for imports and Dagster's set-up
    for storage, label in STORAGES.items():
        if storage == "postgres" and unreachable:
            rows.append(f"| {label} | not measured: {unreachable} | |")
            continue
        seconds = timed_run(n, storage, databases)
        rows.append(f"| {label} | {seconds:.1f} | {seconds / n * 1000:.1f} |")
    databases.drop_all()
    report = [
        f"\n## Dagster bookkeeping per storage for the four question assets ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        f"`python benchmarks/bench_event_log.py {n}` (in `make bench`): one range run over {n} partitions of a no-op "
        "step with the four question assets (one materialization per asset and partition), on each storage; "
        f"PostgreSQL on the same machine (127.0.0.1). Machine: {machine()}.",
        "",
        "| storage | run s | ms per question (4 assets) |",
        "|---|---|---|",
        *rows,
    ]
    append_results(report)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2198)
