"""The pooled SQLite event log: what the project's dagster.yaml configures, and that it stores what Dagster's does."""

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from mksap_assets.cli import instance_config
from mksap_assets.event_log import PooledSqliteEventLogStorage

ASSET = dg.AssetKey("exported")


def _instance(home):
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def test_the_project_instance_uses_the_pooled_event_log_and_other_processes_see_its_writes(tmp_path):
    (tmp_path / "dagster.yaml").write_text(instance_config(tmp_path))
    with _instance(tmp_path) as writer, _instance(tmp_path) as reader:
        assert isinstance(writer.event_log_storage, PooledSqliteEventLogStorage)
        writer.add_dynamic_partitions("question", ["q1", "q2"])
        for key in ("q1", "q2"):
            writer.report_runless_asset_event(dg.AssetMaterialization(ASSET, partition=key, metadata={"n": 1}))
        # One engine serves every statement (the point of the class); a second instance reads the committed rows.
        assert writer.event_log_storage._engine is writer.event_log_storage._engine
        assert reader.get_materialized_partitions(ASSET) == {"q1", "q2"}
        latest = reader.fetch_materializations(ASSET, limit=1).records[0]
        assert latest.asset_materialization.metadata["n"].value == 1


def test_the_asset_key_row_holds_exactly_the_record_dagster_serializes(tmp_path):
    from dagster._core.storage.event_log.schema import AssetKeyTable
    from dagster_shared.serdes import serialize_value

    (tmp_path / "dagster.yaml").write_text(instance_config(tmp_path))
    metadata = {"n": 3, "cost_usd": 0.25, "model": "claude", "ok": True, "table": dg.MetadataValue.json({"a": [1]})}
    with _instance(tmp_path) as instance:
        for key in ("q1", "q2"):
            instance.report_runless_asset_event(dg.AssetMaterialization(ASSET, partition=key, metadata=metadata))
        latest = instance.fetch_materializations(ASSET, limit=1).records[0]
        with instance.event_log_storage._engine.connect() as conn:
            stored = conn.execute(
                AssetKeyTable.select().where(AssetKeyTable.c.asset_key == ASSET.to_string())
            ).one()
        assert stored.last_materialization == serialize_value(latest)  # what the stock storage writes
        entry = instance.get_asset_records([ASSET])[0].asset_entry
        assert entry.last_materialization_record == latest and entry.last_run_id == latest.run_id


def test_dispose_closes_the_pool(tmp_path):
    (tmp_path / "dagster.yaml").write_text(instance_config(tmp_path))
    instance = _instance(tmp_path)
    storage = instance.event_log_storage
    instance.report_runless_asset_event(dg.AssetMaterialization(ASSET))
    pool = storage._engine.pool
    assert pool.checkedout() == 0 and pool.checkedin() >= 1  # connections went back to the pool, not closed
    instance.dispose()
    assert storage._engine.pool.checkedin() == 0


partitions = dg.DynamicPartitionsDefinition(name="question")


@dg.multi_asset(
    specs=[dg.AssetSpec("first", skippable=True), dg.AssetSpec("second", skippable=True)],
    partitions_def=partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def two_assets_one_failing_partition(context: dg.AssetExecutionContext):
    for key in context.partition_keys:
        if key != "q3":
            for asset in ("first", "second"):
                yield dg.AssetMaterialization(asset, partition=key)
    raise dg.Failure("q3 failed")


def test_batched_planned_events_keep_per_partition_statuses(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "3")  # several batches, the last one partial
    (tmp_path / "dagster.yaml").write_text(instance_config(tmp_path))
    keys = [f"q{i}" for i in range(1, 6)]
    with _instance(tmp_path) as instance:
        storage = instance.event_log_storage
        batches = []
        original = storage.store_event_batch
        monkeypatch.setattr(storage, "store_event_batch", lambda events: (batches.append(len(events)), original(events)))
        instance.add_dynamic_partitions("question", keys)
        job = dg.Definitions(assets=[two_assets_one_failing_partition], executor=dg.in_process_executor)
        result = job.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": "q1", "dagster/asset_partition_range_end": "q5"},
            raise_on_error=False,
        )
        # 10 planned events: three batches of 3, and a last one that Dagster stores as a single event; then the 8
        # materializations. Every asset event, single or batched, is one transaction through store_event_batch.
        assert not result.success and batches == [3, 3, 3] + [1] * 9
        for asset in ("first", "second"):
            statuses = instance.get_status_by_partition(dg.AssetKey(asset), keys, partitions)
            assert {k: s.value for k, s in statuses.items()} == {
                **{k: "MATERIALIZED" for k in keys}, "q3": "FAILED"
            }
            record = instance.get_asset_records([dg.AssetKey(asset)])[0]
            assert record.asset_entry.last_run_id == result.run_id
            planned = instance.fetch_planned_materializations(dg.AssetKey(asset), limit=10).records
            assert sorted(r.partition_key for r in planned) == keys
