"""The pooled SQLite event log (the sqlite profile's): it stores exactly what Dagster's stock class stores, and the
Dagster internals it relies on are still there, with the signatures it calls them with (a Dagster upgrade that
changes them fails here first); the one-line switch back to the stock class keeps the history."""

import inspect

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.events import (
    AssetMaterializationPlannedData,
    AssetObservationData,
    DagsterEvent,
    DagsterEventType,
    StepMaterializationData,
)
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageMetadata
from dagster_shared.serdes import serialize_value

from mksap_assets.storage.pooled_sqlite import PooledSqliteEventLogStorage
from mksap_assets.storage.profiles import (
    CONFIG_FILE,
    profile_config,
    with_stock_event_log,
)
from mksap_assets_tests.helpers import open_instance

ASSET = dg.AssetKey("exported")

# What pooled_sqlite.py overrides or calls on Dagster's classes, with the parameters it passes.
RELIED_ON = {
    "__init__": ["self", "base_dir", "inst_data"],
    "_connect": ["self"],
    "has_asset_key_index_cols": ["self"],
    "_has_asset_key_index_cols_on_connection": ["self", "conn"],
    "has_table": ["self", "table_name"],
    "store_event": ["self", "event"],
    "store_event_batch": ["self", "events"],
    "index_transaction": ["self"],
    "_event_to_row": ["self", "event"],
    "_store_asset_event_tags": ["self", "conn", "events", "event_ids"],
    "_store_asset_event": ["self", "conn", "event", "event_id"],
    "_get_asset_entry_values": ["self", "event", "event_id", "has_asset_key_index_cols"],
    "dispose": ["self"],
}


def test_the_dagster_internals_it_relies_on_keep_their_signatures(tmp_path):
    for name, parameters in RELIED_ON.items():
        assert list(inspect.signature(getattr(ConsolidatedSqliteEventLogStorage, name)).parameters) == parameters, name
    stock = ConsolidatedSqliteEventLogStorage(str(tmp_path))
    try:
        assert stock._conn_string.startswith("sqlite:///") and stock._conn_string.endswith("event_log.db")
        entry = _entries()[0]
        row = stock._event_to_row(entry)
        assert row["event"] == serialize_value(entry)  # the JSON the pooled log reuses for the asset-key row
    finally:
        stock.dispose()


def test_the_stock_asset_event_path_calls_the_overridden_hooks(tmp_path, monkeypatch):
    """`_store_asset_event` asks `_has_asset_key_index_cols_on_connection` and `_get_asset_entry_values` (both
    overridden): were Dagster to stop, the overrides would silently do nothing."""
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    calls = []
    for hook in ("_has_asset_key_index_cols_on_connection", "_get_asset_entry_values"):
        original = getattr(storage, hook)
        monkeypatch.setattr(storage, hook, lambda *args, _hook=hook, _original=original: (
            calls.append((_hook, storage._serialized_event is not None)), _original(*args))[1])
    try:
        storage.store_event(_entries()[3])  # a materialization
    finally:
        storage.dispose()
    # The serialized event is there when the entry values are built: the materialization's JSON is reused.
    assert calls == [("_has_asset_key_index_cols_on_connection", True), ("_get_asset_entry_values", True)]


def _event(event_type: DagsterEventType, data) -> DagsterEvent:
    return DagsterEvent(event_type_value=event_type.value, job_name="__ASSET_JOB", event_specific_data=data)


def _entries() -> list[EventLogEntry]:
    """Planned events, materializations (with tags, metadata, partitions), an observation, a run-level log line."""
    materialization = dg.AssetMaterialization(
        ASSET, partition="q1", metadata={"n": 3, "cost_usd": 0.25, "table": dg.MetadataValue.json({"a": [1]})},
        tags={"dagster/data_version": "v1"},
    )
    events = [
        _event(DagsterEventType.ASSET_MATERIALIZATION_PLANNED, AssetMaterializationPlannedData(ASSET, partition=key))
        for key in ("q1", "q2", "q3")
    ] + [
        _event(DagsterEventType.ASSET_MATERIALIZATION, StepMaterializationData(materialization)),
        _event(DagsterEventType.ASSET_MATERIALIZATION,
               StepMaterializationData(dg.AssetMaterialization(ASSET, partition="q2", metadata={"n": 4}))),
        _event(DagsterEventType.ASSET_OBSERVATION, AssetObservationData(dg.AssetObservation(ASSET, partition="q3"))),
        None,
    ]
    return [
        EventLogEntry(error_info=None, level="debug", user_message="" if event else "a log line", run_id="run-1",
                      timestamp=1_700_000_000.0 + i, dagster_event=event)
        for i, event in enumerate(events)
    ]


def _store(storage) -> None:
    """One by one, in a batch of asset events, and in a mixed batch (stored one by one)."""
    entries = _entries()
    storage.store_event_batch(entries[:3])
    storage.store_event(entries[3])
    storage.store_event_batch(entries[4:])


def _tables(storage) -> dict[str, list[tuple]]:
    """Every row of every event-log table; left out: columns the database fills itself (creation times) and the
    schema's own bookkeeping (when each secondary index was built)."""
    engine = sa.create_engine(storage._conn_string)
    tables = {}
    with engine.connect() as conn:
        for table in SqlEventLogStorageMetadata.sorted_tables:
            if table.name == "secondary_indexes":
                continue
            columns = [column for column in table.columns if column.server_default is None]
            tables[table.name] = [tuple(row) for row in conn.execute(sa.select(*columns).order_by(*columns))]
    engine.dispose()
    return tables


def test_events_are_stored_exactly_as_the_stock_class_stores_them(tmp_path):
    stock = ConsolidatedSqliteEventLogStorage(str(tmp_path / "stock"))
    pooled = PooledSqliteEventLogStorage(str(tmp_path / "pooled"))
    try:
        _store(stock)
        _store(pooled)
        expected = _tables(stock)
        assert sum(len(rows) for rows in expected.values()) > len(_entries())  # events, asset keys, tags
        assert _tables(pooled) == expected
        for storage in (stock, pooled):  # and Dagster reads them back the same
            assert storage.get_materialized_partitions(ASSET) == {"q1", "q2"}
        records = [s.fetch_materializations(ASSET, limit=5).records for s in (stock, pooled)]
        assert records[0] == records[1]
        observations = [s.fetch_observations(ASSET, limit=5).records for s in (stock, pooled)]
        assert observations[0] == observations[1] and len(observations[0]) == 1
    finally:
        stock.dispose()
        pooled.dispose()


def test_the_project_instance_uses_the_pooled_event_log_and_other_processes_see_its_writes(tmp_path, monkeypatch):
    with open_instance(tmp_path, monkeypatch) as writer, dg.DagsterInstance.get() as reader:
        assert isinstance(writer.event_log_storage, PooledSqliteEventLogStorage)
        writer.add_dynamic_partitions("question", ["q1", "q2"])
        for key in ("q1", "q2"):
            writer.report_runless_asset_event(dg.AssetMaterialization(ASSET, partition=key, metadata={"n": 1}))
        # One engine serves every statement (the point of the class); a second instance reads the committed rows.
        assert writer.event_log_storage._engine is writer.event_log_storage._engine
        assert reader.get_materialized_partitions(ASSET) == {"q1", "q2"}
        latest = reader.fetch_materializations(ASSET, limit=1).records[0]
        assert latest.asset_materialization.metadata["n"].value == 1


def test_the_one_line_switch_to_the_stock_class_keeps_the_history(tmp_path, monkeypatch):
    with open_instance(tmp_path, monkeypatch) as instance:
        instance.add_dynamic_partitions("question", ["q1", "q2"])
        instance.report_runless_asset_event(dg.AssetMaterialization(ASSET, partition="q1"))
    switched = with_stock_event_log(profile_config("sqlite"))
    assert len(set(switched.splitlines()) - set(profile_config("sqlite").splitlines())) == 1  # one line changed
    (tmp_path / CONFIG_FILE).write_text(switched)
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert type(storage) is ConsolidatedSqliteEventLogStorage
        assert instance.get_materialized_partitions(ASSET) == {"q1"}
        assert list(instance.get_dynamic_partitions("question")) == ["q1", "q2"]


def test_the_asset_key_row_holds_exactly_the_record_dagster_serializes(tmp_path, monkeypatch):
    from dagster._core.storage.event_log.schema import AssetKeyTable

    metadata = {"n": 3, "cost_usd": 0.25, "model": "claude", "ok": True, "table": dg.MetadataValue.json({"a": [1]})}
    with open_instance(tmp_path, monkeypatch) as instance:
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


def test_dispose_closes_the_pool(tmp_path, monkeypatch):
    instance = open_instance(tmp_path, monkeypatch)
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


@pytest.mark.parametrize("profile", ["sqlite", "postgres"])
@pytest.mark.parametrize("batch_size", [3, 0])
def test_planned_events_keep_per_partition_statuses_with_batches_or_without(monkeypatch, request, profile, batch_size):
    """With DAGSTER_EVENT_BATCH_SIZE, Dagster hands a new run's planned events over in batches; without it (0, as if
    Dagster dropped the variable) one by one. The per-partition statuses Dagster reads back are the same."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", str(batch_size))  # 3: several batches, the last one partial
    keys = [f"q{i}" for i in range(1, 6)]
    instance = request.getfixturevalue(f"{profile}_instance")
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
    assert not result.success
    # 10 planned events: with batches of 3, three batches and a last one that Dagster stores as a single event; then
    # the 8 materializations, single. The pooled log stores every single asset event through store_event_batch (one
    # transaction); PostgreSQL stores single events with store_event.
    planned_batches = [3, 3, 3] if batch_size else []
    singles = (18 - sum(planned_batches)) if profile == "sqlite" else 0
    assert batches == planned_batches + [1] * singles
    for asset in ("first", "second"):
        statuses = instance.get_status_by_partition(dg.AssetKey(asset), keys, partitions)
        assert {k: s.value for k, s in statuses.items()} == {
            **{k: "MATERIALIZED" for k in keys}, "q3": "FAILED"
        }
        record = instance.get_asset_records([dg.AssetKey(asset)])[0]
        assert record.asset_entry.last_run_id == result.run_id
        planned = instance.fetch_planned_materializations(dg.AssetKey(asset), limit=10).records
        assert sorted(r.partition_key for r in planned) == keys
