"""The validation asset checks: pass rate (WARN below the configured minimum) and error counts, computed from the
latest materialization metadata of every question and of the latest run; and the sensor that runs them."""

from __future__ import annotations

import dagster as dg
import pytest

from mksap_assets.assets.questions import question_assets
from mksap_assets.checks import (
    CHECK_KEYS,
    ERRORS_CHECK,
    PASS_RATE_CHECK,
    VALIDATED_KEY,
    VALIDATION_CHECKS,
    VALIDATION_SENSORS,
    latest_validation_records,
    tally,
    validation_checks_sensor,
)
from mksap_assets.partitions import range_tags
from mksap_assets.resources import PipelineResource
from mksap_assets.settings import Settings
from mksap_assets_tests.helpers import sample_ids


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def _record(instance, partition: str, *, passed: bool, errors: int = 0, codes: str = "", run_tags=None):
    instance.add_dynamic_partitions("question", [partition]) if not instance.has_dynamic_partition(
        "question", partition) else None
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=VALIDATED_KEY,
            partition=partition,
            metadata={"passed": passed, "statements": 10, "errors": errors, "warnings": 2, "error_codes": codes},
        )
    )


def _run_checks(instance, settings: Settings | None = None, min_pass_rate: float | None = None):
    resources = {"pipeline": PipelineResource.from_settings(settings)} if settings else {}
    run_config = {"ops": {"validation_checks": {"config": {"min_pass_rate": min_pass_rate}}}} if min_pass_rate else None
    result = dg.materialize(
        [question_assets, *VALIDATION_CHECKS] if settings else [*VALIDATION_CHECKS],
        instance=instance,
        resources=resources,
        selection=dg.AssetSelection.checks(*CHECK_KEYS),
        run_config=run_config,
        raise_on_error=False,
    )
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_exports_are_lists(settings: Settings):
    assert len(VALIDATION_CHECKS) == 1 and {k.name for k in CHECK_KEYS} == {PASS_RATE_CHECK, ERRORS_CHECK}
    assert VALIDATION_SENSORS == [validation_checks_sensor]
    defs = dg.Definitions(assets=[question_assets], asset_checks=VALIDATION_CHECKS, sensors=VALIDATION_SENSORS,
                          resources={"pipeline": PipelineResource.from_settings(settings)})
    assert defs.resolve_asset_graph().asset_check_keys == set(CHECK_KEYS)


def test_checks_after_a_real_run_of_the_sample_questions(settings: Settings, instance):
    keys = sample_ids(settings.data_dir)
    instance.add_dynamic_partitions("question", keys)
    defs = dg.Definitions(assets=[question_assets], asset_checks=VALIDATION_CHECKS,
                          resources={"pipeline": PipelineResource.from_settings(settings)},
                          executor=dg.in_process_executor)
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance, tags=range_tags(keys[0], keys[-1]))
    assert result.success
    validated_events = [e for e in result.get_asset_materialization_events() if e.asset_key == VALIDATED_KEY]
    assert len(validated_events) == len(keys)
    for event in validated_events:  # the per-partition metadata the pipeline records and the checks read
        metadata = event.materialization.metadata
        assert {"statements", "passed", "errors", "warnings", "fixes", "error_codes", "validator_ms",
                "validator_cpu_ms"} <= set(metadata)
        assert metadata["passed"].value is True and metadata["validator_ms"].value > 0
    evaluations = _run_checks(instance, settings)
    pass_rate, errors = evaluations[PASS_RATE_CHECK], evaluations[ERRORS_CHECK]
    assert pass_rate.passed and errors.passed
    assert pass_rate.metadata["questions"].value == len(keys)
    assert pass_rate.metadata["pass_rate"].value == 1.0
    assert pass_rate.metadata["latest_run_questions"].value == len(keys)
    assert pass_rate.metadata["statements"].value > 0
    assert errors.metadata["latest_run_errors"].value == 0
    assert pass_rate.severity == dg.AssetCheckSeverity.WARN


def test_low_pass_rate_warns_and_lists_failing_questions_and_codes(instance):
    for i in range(8):
        _record(instance, f"cvmcq2600{i}", passed=i >= 2, errors=0 if i >= 2 else 3,
                codes="" if i >= 2 else "number_not_in_source:2,term_not_in_source:1")
    evaluations = _run_checks(instance)
    pass_rate, errors = evaluations[PASS_RATE_CHECK], evaluations[ERRORS_CHECK]
    assert not pass_rate.passed and pass_rate.severity == dg.AssetCheckSeverity.WARN
    assert pass_rate.metadata["pass_rate"].value == 0.75
    assert "cvmcq26000" in pass_rate.metadata["failing_questions"].value
    assert not errors.passed and errors.metadata["errors"].value == 6
    assert "number_not_in_source | 4" in errors.metadata["error_codes"].value


def test_min_pass_rate_is_configurable(instance):
    for i in range(10):
        _record(instance, f"cvmcq2601{i}", passed=i > 0, errors=int(i == 0))
    assert _run_checks(instance)[PASS_RATE_CHECK].passed  # 90% >= default 0.9
    assert not _run_checks(instance, min_pass_rate=0.95)[PASS_RATE_CHECK].passed


def test_only_the_latest_materialization_of_each_question_counts(instance):
    _record(instance, "cvmcq26001", passed=False, errors=2)
    _record(instance, "cvmcq26001", passed=True)
    bank, run, _ = tally(latest_validation_records(instance))
    assert bank.questions == 1 and bank.passed == 1 and bank.errors == 0


def test_no_materialization_yet_passes_with_a_note(instance):
    evaluation = _run_checks(instance)[PASS_RATE_CHECK]
    assert evaluation.passed and evaluation.metadata["questions"].value == 0


def test_sensor_requests_a_checks_run_once_per_new_materialization(instance):
    context = dg.build_sensor_context(instance=instance)
    assert isinstance(validation_checks_sensor(context), dg.SkipReason)
    _record(instance, "cvmcq26001", passed=True)
    context = dg.build_sensor_context(instance=instance)
    request = validation_checks_sensor(context)
    assert isinstance(request, dg.RunRequest)
    again = validation_checks_sensor(dg.build_sensor_context(instance=instance, cursor=context.cursor))
    assert isinstance(again, dg.SkipReason)
