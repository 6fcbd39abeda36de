"""The code location loads and has the shape the product promises."""

import dagster as dg

from mksap_assets.assets.questions import question_assets
from mksap_assets.definitions import build_definitions, defs
from mksap_assets.domain.engine.pipeline import STAGES
from mksap_assets.domain.engine.stages import QUESTION_STAGES


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_four_partitioned_assets_in_a_chain_then_the_rollups_and_checks_in_one_step():
    assert {key.to_user_string() for key in question_assets.keys} == {*STAGES, "anki_deck", "pipeline_report"}
    graph = defs.resolve_asset_graph()
    for upstream, downstream in zip(STAGES, STAGES[1:]):
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys
    for stage in STAGES:
        assert graph.get(dg.AssetKey(stage)).partitions_def.name == "question"
    for rollup in ("anki_deck", "pipeline_report"):
        node = graph.get(dg.AssetKey(rollup))
        assert node.partitions_def is None and dg.AssetKey("exported_question") in node.parent_keys
    assert {key.name for key in question_assets.check_keys} == {"validation_pass_rate", "validation_errors"}
    assert [sensor.name for sensor in defs.sensors] == ["question_sensor"]
    assert question_assets.backfill_policy == dg.BackfillPolicy.single_run()
    assert question_assets.can_subset


def test_the_question_assets_are_the_stage_table():
    specs = {spec.key.to_user_string(): spec for spec in question_assets.specs}
    for stage in QUESTION_STAGES:
        spec = specs[stage.name]
        assert spec.description == stage.description
        assert [dep.asset_key for dep in spec.deps] == [dg.AssetKey(upstream) for upstream in stage.upstream]
    assert [dep.asset_key.to_user_string() for dep in specs["validated_statements"].deps] == [
        "extracted_statements", "raw_question",
    ]


def test_in_process_executor_and_running_sensor(settings):
    definitions = build_definitions(settings)
    assert definitions.executor == dg.in_process_executor
    sensor = definitions.resolve_sensor_def("question_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
