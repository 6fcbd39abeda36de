"""Dagster's consolidated SQLite event log, with its connections pooled: the sqlite profile's event log.

The stock storage builds a new SQLAlchemy engine and opens (and closes) a new SQLite connection for every statement
it runs: about four per asset event. With a few thousand partitions a run writes tens of thousands of events, and
that setup was most of Dagster's bookkeeping (opening defeats SQLAlchemy's compiled-statement cache; closing the
last connection checkpoints the WAL). One engine per storage, with SQLAlchemy's default pool, keeps the same
tables, rows and durability (every event is committed when Dagster reports it) at a fraction of the cost; an asset
event's row and its index rows are written in one transaction instead of two (benchmarks/bench_event_log.py).

Per asset event, the event row is inserted with one statement compiled once (the stock storage builds a statement
holding the row's values for every event), and a materialization's asset-key row reuses the event's JSON instead of
serializing the event a second time.

Batches: with DAGSTER_EVENT_BATCH_SIZE set (event_batches.py), Dagster hands a new run's "materialization planned"
events (one per asset and partition: 8,792 for a full bank) to `store_event_batch` in batches. The stock SQLite
storage stores them one by one, two transactions each; here each batch is one transaction.

This subclass relies on Dagster internals (the imports below and the methods it overrides or calls);
test_pooled_sqlite.py pins them, so a Dagster upgrade that changes them fails there first. The way back to the
stock class is one line of dagster.yaml (docs/STORAGE.md): the tables are the same, so the history stays readable.
"""

from collections.abc import Sequence
from contextlib import contextmanager
from functools import cached_property

import sqlalchemy as sa
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._time import datetime_from_timestamp


class PooledSqliteEventLogStorage(ConsolidatedSqliteEventLogStorage):
    """Configured in dagster.yaml as `event_log_storage: {module: mksap_assets.storage.pooled_sqlite, class: ...}`."""

    @cached_property
    def _engine(self) -> sa.Engine:
        # Same busy timeout as the stock storage, so concurrent writers (daemon, webserver, runs) wait, not fail.
        return sa.create_engine(self._conn_string, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

    @contextmanager
    def _connect(self):
        with self._engine.connect() as conn, conn.begin():
            yield conn

    @cached_property
    def _asset_key_index_cols(self) -> bool:
        return self.has_asset_key_index_cols()

    def _has_asset_key_index_cols_on_connection(self, conn) -> bool:
        # The stock method reflects the table's columns on every asset event; the schema only changes through
        # `dagster instance migrate`, after which processes restart.
        return self._asset_key_index_cols

    def has_table(self, table_name: str) -> bool:
        # Asked on every asset event that carries tags; the stock method builds a new engine to answer.
        with self._engine.connect() as conn:
            return bool(self._engine.dialect.has_table(conn, table_name))

    def store_event(self, event: EventLogEntry) -> None:
        # An asset event in one transaction, not two (the event row, then its index rows): half the commits.
        if _is_asset_event(event):
            self.store_event_batch([event])
        else:
            super().store_event(event)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not all(_is_asset_event(event) for event in events):
            for event in events:
                self.store_event(event)
            return
        with self.index_transaction() as conn:
            rows = [self._event_to_row(event) for event in events]
            # One statement with the row as parameters: compiled once, where `prepare_insert_event`'s statement
            # carries its values and is rebuilt (and its cache key computed) for every event.
            event_ids = [conn.execute(_INSERT_EVENT, row).inserted_primary_key[0] for row in rows]
            self._store_asset_event_tags(conn, events, event_ids)
            # The asset-key row keeps only the latest event of each asset, so the last of the batch is enough.
            latest = {
                event.get_dagster_event().asset_key: (event, event_id, row["event"])
                for event, event_id, row in zip(events, event_ids, rows, strict=True)
            }
            for event, event_id, event_json in latest.values():
                self._serialized_event = (event_id, event_json)
                try:
                    self._store_asset_event(conn, event, event_id)
                finally:
                    self._serialized_event = None

    # (storage id, JSON) of the event whose asset-key row is being written by store_event_batch
    _serialized_event: tuple[int, str] | None = None

    def _get_asset_entry_values(self, event: EventLogEntry, event_id: int, has_asset_key_index_cols: bool) -> dict:
        """The stock values, but a materialization's record is built from the event's JSON, not serialized again."""
        serialized = self._serialized_event
        if serialized is None or serialized[0] != event_id or not event.get_dagster_event().is_step_materialization:
            return super()._get_asset_entry_values(event, event_id, has_asset_key_index_cols)
        values = {"last_materialization": event_log_record_json(serialized[1], event_id), "last_run_id": event.run_id}
        if has_asset_key_index_cols:
            values["last_materialization_timestamp"] = datetime_from_timestamp(event.timestamp)
        return values

    def dispose(self) -> None:
        super().dispose()
        if "_engine" in self.__dict__:
            self._engine.dispose()


_INSERT_EVENT = SqlEventLogStorageTable.insert()


def event_log_record_json(event_json: str, storage_id: int) -> str:
    """`serialize_value(EventLogRecord(storage_id, event))`, given the serialized event (equal: see the tests)."""
    return f'{{"__class__": "EventLogRecord", "event_log_entry": {event_json}, "storage_id": {storage_id}}}'


def _is_asset_event(event: EventLogEntry) -> bool:
    """An event whose storage is an event row, asset tags and the asset-key row (no asset-check bookkeeping)."""
    dagster_event = event.dagster_event
    return bool(
        dagster_event
        and dagster_event.event_type in ASSET_EVENTS
        and dagster_event.event_type not in ASSET_CHECK_EVENTS
        and dagster_event.asset_key
    )
