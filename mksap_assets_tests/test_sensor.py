"""The question sensor registers new question files as sorted partitions and launches runs for them."""

import shutil

import dagster as dg

from mksap_assets.definitions import build_definitions
from mksap_assets.resources import PipelineResource
from mksap_assets.sensors import question_sensor
from mksap_assets.settings import Settings
from mksap_assets_tests.helpers import sample_ids


def _tick(settings: Settings, instance: dg.DagsterInstance):
    context = dg.build_sensor_context(
        instance=instance,
        definitions=build_definitions(settings),
        sensor_name="question_sensor",
        resources={"pipeline": PipelineResource.from_settings(settings)},
    )
    return question_sensor(context)


def _apply(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


def test_first_tick_adds_every_question_sorted_and_requests_one_run(settings: Settings):
    keys = sample_ids(settings.data_dir)
    with dg.DagsterInstance.ephemeral() as instance:
        result = _tick(settings, instance)
        [add] = result.dynamic_partitions_requests
        assert add.partitions_def_name == "question" and list(add.partition_keys) == keys
        [run] = result.run_requests
        assert run.tags["dagster/asset_partition_range_start"] == keys[0]
        assert run.tags["dagster/asset_partition_range_end"] == keys[-1]
        _apply(instance, result)
        assert isinstance(_tick(settings, instance), dg.SkipReason)


def test_a_new_question_file_is_added_and_run_alone(settings: Settings):
    keys = sample_ids(settings.data_dir)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("question", keys)
        source = settings.data_dir / "cv" / keys_for(keys, "cv")
        new_id = "cvmcq26999"
        target = settings.data_dir / "cv" / new_id
        shutil.copytree(source, target)
        (target / f"{source.name}.json").rename(target / f"{new_id}.json")
        result = _tick(settings, instance)
        [add] = result.dynamic_partitions_requests
        assert list(add.partition_keys) == [new_id]
        [run] = result.run_requests
        assert run.tags["dagster/asset_partition_range_start"] == new_id == run.tags["dagster/asset_partition_range_end"]


def test_unsafe_folder_names_never_become_partitions(settings: Settings):
    (settings.data_dir / "cv" / "CV bad").mkdir()
    (settings.data_dir / "cv" / "CV bad" / "CV bad.json").write_text("{}")
    with dg.DagsterInstance.ephemeral() as instance:
        [add] = _tick(settings, instance).dynamic_partitions_requests
        assert "CV bad" not in add.partition_keys


def keys_for(keys: list[str], system: str) -> str:
    return next(key for key in keys if key.startswith(system))
