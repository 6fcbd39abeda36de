"""Dagster's bookkeeping for the four question assets, on Dagster's stock SQLite event log and on the project's.

One no-op step shaped like `question_assets` (four asset specs, one range run over N dynamic partitions, one
materialization yielded per asset and partition, with a small metadata dict) runs on an on-disk instance:

  stock:   Dagster's ConsolidatedSqliteEventLogStorage, planned events stored one by one;
  project: the instance `mksap init` writes (mksap_assets.event_log.PooledSqliteEventLogStorage) with
           DAGSTER_EVENT_BATCH_SIZE as the project's .env sets it.

The run does no work, so its wall time is Dagster's bookkeeping: run creation (a planned event per asset and
partition), the materialization events, and the step around them. Usage:
python benchmarks/bench_event_log.py [N]  (default 2198). Results are appended to benchmarks/results.md.
"""

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef
from results_file import append_results

from mksap_assets.cli import instance_config
from mksap_assets.event_log import EVENT_BATCH_SIZE, EVENT_BATCH_SIZE_VAR

ASSETS = ("raw_question", "extracted_statements", "validated_statements", "exported_question")
METADATA = {"duration_ms": 1.5, "statements": 20, "passed": True, "fingerprint": "0" * 64}
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


STOCK_CONFIG = """
event_log_storage:
  module: dagster._core.storage.event_log
  class: ConsolidatedSqliteEventLogStorage
  config:
    base_dir: {home}/history
"""


def timed_run(n: int, *, project: bool) -> float:
    keys = [f"cvmcq{i:05d}" for i in range(n)]
    if project:
        os.environ[EVENT_BATCH_SIZE_VAR] = str(EVENT_BATCH_SIZE)
    else:
        os.environ.pop(EVENT_BATCH_SIZE_VAR, None)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "dagster.yaml").write_text(instance_config(home) if project else STOCK_CONFIG.format(home=home))
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            instance.add_dynamic_partitions("question", keys)
            job = dg.Definitions(assets=[four_assets], executor=dg.in_process_executor)
            started = time.perf_counter()
            result = job.resolve_implicit_global_asset_job_def().execute_in_process(
                instance=instance,
                tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
                run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            )
            elapsed = time.perf_counter() - started
            assert result.success
            assert all(len(instance.get_materialized_partitions(dg.AssetKey(a))) == n for a in ASSETS)
    return elapsed


def main(n: int) -> None:
    stock = timed_run(n, project=False)
    project = timed_run(n, project=True)
    report = [
        f"\n## Dagster bookkeeping for the four question assets ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        f"`python benchmarks/bench_event_log.py {n}`: one range run over {n} partitions of a no-op step with the "
        "four question assets (one materialization per asset and partition), on-disk SQLite.",
        "",
        "| event log | run s | ms per question (4 assets) |",
        "|---|---|---|",
        f"| Dagster's ConsolidatedSqliteEventLogStorage | {stock:.1f} | {stock / n * 1000:.1f} |",
        f"| the project's (pooled connections, {EVENT_BATCH_SIZE_VAR}={EVENT_BATCH_SIZE}) | {project:.1f} | "
        f"{project / n * 1000:.1f} |",
    ]
    append_results(report)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2198)
