"""What per-partition metadata costs with thousands of dynamic partitions, for the two ways of recording it.

  add_asset_metadata: context.add_asset_metadata(md, partition_key=pk) per partition, then one MaterializeResult
                      (Dagster re-enumerates the run's dynamic keys on every call).
  yield_events:       yield AssetMaterialization(partition=pk, metadata=md) per partition (what mksap_assets does).

Each variant runs one range run over N partitions of one no-op asset on an on-disk SQLite instance, so the time is
pure Dagster bookkeeping. Usage: python benchmarks/bench_metadata.py [N ...]  (default 250 500 1000 2000).
Results are appended to benchmarks/results.md.
"""


import sys
import tempfile
import time
from datetime import UTC, datetime

import dagster as dg
from dagster._core.instance.ref import InstanceRef
from results_file import append_results

partitions = dg.DynamicPartitionsDefinition(name="question")
METADATA = {"duration_ms": 1.5, "statements": 20, "passed": True}


@dg.asset(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run())
def add_asset_metadata(context: dg.AssetExecutionContext):
    for key in context.partition_keys:
        context.add_asset_metadata(METADATA, partition_key=key)
    return dg.MaterializeResult()


@dg.asset(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(), output_required=False)
def yield_events(context: dg.AssetExecutionContext):
    for key in context.partition_keys:
        yield dg.AssetMaterialization(asset_key=context.asset_key, partition=key, metadata=METADATA)


def time_variant(asset: dg.AssetsDefinition, n: int) -> float:
    keys = [f"cvmcq{i:05d}" for i in range(n)]
    with tempfile.TemporaryDirectory() as home, dg.DagsterInstance.from_ref(InstanceRef.from_dir(home)) as instance:
        instance.add_dynamic_partitions("question", keys)
        job = dg.Definitions(assets=[asset], executor=dg.in_process_executor).resolve_implicit_global_asset_job_def()
        started = time.perf_counter()
        result = job.execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
        elapsed = time.perf_counter() - started
        assert result.success and len(instance.get_materialized_partitions(asset.key)) == n
    return elapsed


def main(sizes: list[int]) -> None:
    rows = []
    for n in sizes:
        a = time_variant(add_asset_metadata, n)
        b = time_variant(yield_events, n)
        rows.append(f"| {n} | {a:.1f} | {b:.1f} | {a / n * 1000:.1f} | {b / n * 1000:.1f} |")
        print(rows[-1], flush=True)
    report = [
        f"\n## Per-partition metadata cost ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "`python benchmarks/bench_metadata.py " + " ".join(map(str, sizes)) + "`: one range run, one no-op asset, "
        "on-disk SQLite, dynamic partitions. Seconds for the whole run, then milliseconds per partition.",
        "",
        "| partitions | add_asset_metadata s | yield AssetMaterialization s | add_asset_metadata ms/partition "
        "| yield ms/partition |",
        "|---|---|---|---|---|",
        *rows,
    ]
    append_results(report)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [250, 500, 1000, 2000])
