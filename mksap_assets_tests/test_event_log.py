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


def test_dispose_closes_the_pool(tmp_path):
    (tmp_path / "dagster.yaml").write_text(instance_config(tmp_path))
    instance = _instance(tmp_path)
    storage = instance.event_log_storage
    instance.report_runless_asset_event(dg.AssetMaterialization(ASSET))
    assert storage._engine.pool.checkedin() == 1  # the connection went back to the pool instead of being closed
    instance.dispose()
    assert storage._engine.pool.checkedin() == 0
