"""Materializing the four assets in an ephemeral instance: many partitions in one run, subsets, and bad input
failing only its own partitions."""

from collections import Counter
from pathlib import Path

import dagster as dg
import orjson
import pytest

from mksap_assets.definitions import build_definitions
from mksap_assets.domain.engine.pipeline import STAGES
from mksap_assets.domain.exports.document import export_path
from mksap_assets.partitions import question_partitions, range_tags
from mksap_assets.settings import Settings
from mksap_assets_tests.helpers import edit_question, sample_ids


def _run(settings: Settings, instance: dg.DagsterInstance, keys: list[str], selection: list[str] | None = None):
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        tags=range_tags(keys[0], keys[-1]),
        asset_selection=[dg.AssetKey(s) for s in selection] if selection else None,
        raise_on_error=False,
    )


def _statuses(instance: dg.DagsterInstance, stage: str, keys: list[str]) -> dict[str, str]:
    by_key = instance.get_status_by_partition(dg.AssetKey(stage), keys, question_partitions)
    return {key: status.value for key, status in by_key.items()}


@pytest.fixture
def instance(settings: Settings):
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("question", sample_ids(settings.data_dir))
        yield instance


def test_one_run_materializes_every_question(settings: Settings, instance: dg.DagsterInstance):
    """The four question assets, the deck, the report and the checks in one run: one step, nothing skipped."""
    keys = sample_ids(settings.data_dir)
    result = _run(settings, instance, keys)
    assert result.success
    for stage in STAGES:
        assert set(_statuses(instance, stage, keys).values()) == {"MATERIALIZED"}
    assert not [e for e in result.all_events if e.event_type_value == "STEP_SKIPPED"]
    assert [e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"] == ["question_assets"]
    events = result.get_asset_materialization_events()
    by_key = Counter(event.asset_key.to_user_string() for event in events)
    assert by_key == {**{stage: len(keys) for stage in STAGES}, "anki_deck": 1, "pipeline_report": 1}
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks == {"validation_pass_rate": True, "validation_errors": True}
    exported = [e for e in events if e.asset_key == dg.AssetKey("exported_question")]
    for event in exported:
        metadata = event.materialization.metadata
        assert metadata["duration_ms"].value >= 0 and metadata["statements"].value > 0
        assert len(metadata["fingerprint"].value) == 64
    for key in keys:
        document = orjson.loads(export_path(settings.output_dir, key).read_bytes())
        assert document["question_id"] == key and document["provenance"]["extractor"] == "offline"
        assert document["true_statements"]["from_critique"]
    for event in events:  # each question stage records its wait beside its work
        if event.asset_key.to_user_string() in STAGES:
            assert event.materialization.metadata["wait_ms"].value >= 0


def test_bad_input_fails_only_its_own_partition(settings: Settings, instance: dg.DagsterInstance):
    keys = sample_ids(settings.data_dir)
    broken, unreadable = keys[3], keys[7]
    edit_question(settings.data_dir, broken, critique=None)
    (settings.data_dir / unreadable[:2] / unreadable / f"{unreadable}.json").write_text("{not json")
    result = _run(settings, instance, keys)
    assert not result.success
    statuses = _statuses(instance, "exported_question", keys)
    assert statuses[broken] == statuses[unreadable] == "FAILED"
    assert all(status == "MATERIALIZED" for key, status in statuses.items() if key not in (broken, unreadable))
    assert not export_path(settings.output_dir, broken).exists()  # nothing partial written
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.user_failure_data.description
    assert broken in message and "critique" in message and unreadable in message and "json" in message


@pytest.mark.parametrize("count", [1, 3])
def test_a_subset_run_reads_upstream_from_the_store(settings: Settings, instance: dg.DagsterInstance, count: int):
    keys = sample_ids(settings.data_dir)
    assert _run(settings, instance, keys).success
    chosen = keys[:count]
    before = {key: export_path(settings.output_dir, key).stat().st_mtime_ns for key in chosen}
    result = _run(settings, instance, chosen, selection=["exported_question"])
    assert result.success
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == {"exported_question"}
    assert all(export_path(settings.output_dir, key).stat().st_mtime_ns > before[key] for key in chosen)


def test_subset_without_upstream_fails_with_a_reason(settings: Settings, instance: dg.DagsterInstance):
    key = sample_ids(settings.data_dir)[0]
    result = _run(settings, instance, [key], selection=["validated_statements"])
    assert not result.success
    assert _statuses(instance, "validated_statements", [key])[key] == "FAILED"
    assert not Path(settings.store_dir, "validated_statements", f"{key}.json").exists()
