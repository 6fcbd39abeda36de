"""The code location loads and has the shape the product promises."""

import dagster as dg

from mksap_assets.assets.questions import question_assets
from mksap_assets.definitions import build_definitions, defs
from mksap_assets.domain.pipeline import STAGES


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_four_partitioned_assets_in_a_chain():
    assert {key.to_user_string() for key in question_assets.keys} == set(STAGES)
    graph = defs.resolve_asset_graph()
    for upstream, downstream in zip(STAGES, STAGES[1:]):
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys
    assert question_assets.partitions_def.name == "question"
    assert question_assets.backfill_policy == dg.BackfillPolicy.single_run()
    assert question_assets.can_subset


def test_in_process_executor_and_running_sensor(settings):
    definitions = build_definitions(settings)
    assert definitions.executor == dg.in_process_executor
    sensor = definitions.resolve_sensor_def("question_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
