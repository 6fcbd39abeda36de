"""The validation asset checks, at the level of statements: the share of statements that pass the card gate (WARN
below the configured minimum, with the questions below it listed) and the share of a run's statements with an error
(WARN above the configured maximum), computed from the latest materialization metadata of every question and of the
run; materializations without statement counts are unknown. The question step declares and reports them: from a
question run, and alone (a checks-only run of the step)."""

from __future__ import annotations

from types import SimpleNamespace

import dagster as dg
import pytest

from mksap_assets.assets.questions import question_assets
from mksap_assets.checks import (
    ERRORS_CHECK,
    PASS_RATE_CHECK,
    VALIDATED_KEY,
    latest_validation_records,
    tally,
)
from mksap_assets.partitions import range_tags
from mksap_assets.resources import PipelineResource
from mksap_assets.settings import Settings
from mksap_assets_tests.helpers import sample_ids

CHECK_KEYS = [dg.AssetCheckKey(VALIDATED_KEY, PASS_RATE_CHECK), dg.AssetCheckKey(VALIDATED_KEY, ERRORS_CHECK)]


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def _record(instance, partition: str, *, statements: int = 10, passed: int | None = None, with_errors: int = 0,
            errors: int | None = None, codes: str = "", metadata: dict | None = None):
    """A validated_statements materialization with the per-statement metadata the pipeline records (or, with
    `metadata`, exactly that metadata)."""
    if not instance.has_dynamic_partition("question", partition):
        instance.add_dynamic_partitions("question", [partition])
    passed = statements - with_errors if passed is None else passed
    recorded = metadata if metadata is not None else {
        "statements": statements,
        "statements_passed": passed,
        "pass_rate": round(passed / statements, 4) if statements else 0.0,
        "statements_with_errors": with_errors,
        "errors": with_errors if errors is None else errors,
        "warnings": 2,
        "error_codes": codes,
    }
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=VALIDATED_KEY, partition=partition, metadata=recorded)
    )


def _old_record(instance, partition: str, *, passed: bool):
    """What the pipeline recorded before the per-statement gate: a question-level flag, no statement counts."""
    _record(instance, partition, metadata={"passed": passed, "statements": 10, "errors": 0 if passed else 3,
                                           "warnings": 2, "error_codes": "" if passed else "number_not_in_source:3"})


def _run_checks(instance, settings: Settings | None = None, min_pass_rate: float | None = None,
                max_error_rate: float | None = None):
    """The checks alone: the question step with only its checks selected (no partition, no question run)."""
    resources = {"pipeline": PipelineResource.from_settings(settings or Settings.from_env())}
    config = {name: value for name, value in (("min_pass_rate", min_pass_rate), ("max_error_rate", max_error_rate))
              if value is not None}
    run_config = {"ops": {"question_assets": {"config": {"checks": config}}}} if config else None
    result = dg.materialize(
        [question_assets],
        instance=instance,
        resources=resources,
        selection=dg.AssetSelection.checks(*CHECK_KEYS),
        run_config=run_config,
        raise_on_error=False,
    )
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _fake_record(partition: str, storage_id: int, run_id: str, **counts):
    """A stand-in for an instance's materialization record, to give tally() several runs."""
    statements = counts.get("statements", 10)
    passed = counts.get("passed", statements - counts.get("with_errors", 0))
    metadata = {"statements": statements, "statements_passed": passed,
                "statements_with_errors": counts.get("with_errors", 0), "errors": counts.get("with_errors", 0),
                "warnings": 0, "error_codes": counts.get("codes", "")}
    return SimpleNamespace(
        storage_id=storage_id,
        run_id=run_id,
        asset_materialization=dg.AssetMaterialization(asset_key=VALIDATED_KEY, partition=partition,
                                                      metadata=metadata),
    )


def test_checks_after_a_real_run_of_the_sample_questions(settings: Settings, instance):
    keys = sample_ids(settings.data_dir)
    instance.add_dynamic_partitions("question", keys)
    defs = dg.Definitions(assets=[question_assets], resources={"pipeline": PipelineResource.from_settings(settings)},
                          executor=dg.in_process_executor)
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance, tags=range_tags(keys[0], keys[-1]))
    assert result.success
    validated_events = [e for e in result.get_asset_materialization_events() if e.asset_key == VALIDATED_KEY]
    assert len(validated_events) == len(keys)
    totals = {"statements": 0, "statements_passed": 0, "statements_with_errors": 0, "errors": 0}
    for event in validated_events:  # the per-partition metadata the pipeline records and the checks read
        metadata = {name: value.value for name, value in event.materialization.metadata.items()}
        assert {"statements", "statements_passed", "pass_rate", "statements_with_errors", "errors", "warnings",
                "fixes", "error_codes", "validator_ms", "validator_cpu_ms"} <= set(metadata)
        assert "passed" not in metadata and metadata["validator_ms"] > 0
        assert 0 <= metadata["statements_passed"] <= metadata["statements"] > 0
        assert metadata["pass_rate"] == pytest.approx(metadata["statements_passed"] / metadata["statements"], abs=1e-4)
        # a statement with an error never passes
        assert metadata["statements_with_errors"] <= metadata["statements"] - metadata["statements_passed"]
        for name in totals:
            totals[name] += metadata[name]
    # Reported by the question run itself, after its events: no separate checks run.
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    pass_rate, errors = evaluations[PASS_RATE_CHECK], evaluations[ERRORS_CHECK]
    assert errors.metadata["latest_run_id"].value == pass_rate.metadata["latest_run_id"].value == result.run_id
    rate = totals["statements_passed"] / totals["statements"]
    error_rate = totals["statements_with_errors"] / totals["statements"]
    assert pass_rate.passed == (rate >= 0.9) and errors.passed == (error_rate <= 0.05)
    assert pass_rate.metadata["questions"].value == len(keys)
    assert pass_rate.metadata["statements"].value == totals["statements"] == errors.metadata[
        "latest_run_statements"].value
    assert pass_rate.metadata["statements_passed"].value == totals["statements_passed"]
    assert pass_rate.metadata["pass_rate"].value == pytest.approx(rate, abs=1e-4)
    assert pass_rate.metadata["latest_run_pass_rate"].value == pytest.approx(rate, abs=1e-4)
    assert pass_rate.metadata["without_metadata"].value == 0
    assert errors.metadata["latest_run_statements_with_errors"].value == totals["statements_with_errors"]
    assert errors.metadata["latest_run_errors"].value == totals["errors"]
    assert pass_rate.severity == errors.severity == dg.AssetCheckSeverity.WARN


def test_low_statement_pass_rate_warns_and_lists_the_questions_below_it(instance):
    for i in range(8):  # 2 questions with half their statements blocked by errors: 70/80 statements pass
        _record(instance, f"cvmcq2600{i}", with_errors=5 if i < 2 else 0,
                codes="number_not_in_source:4,term_not_in_source:1" if i < 2 else "")
    evaluations = _run_checks(instance)
    pass_rate, errors = evaluations[PASS_RATE_CHECK], evaluations[ERRORS_CHECK]
    assert not pass_rate.passed and pass_rate.severity == dg.AssetCheckSeverity.WARN
    assert pass_rate.metadata["pass_rate"].value == 0.875
    assert (pass_rate.metadata["statements"].value, pass_rate.metadata["statements_passed"].value) == (80, 70)
    assert "70/80 statements pass" in pass_rate.description
    below = pass_rate.metadata["questions_below_min_pass_rate"].value
    assert "cvmcq26000" in below and "cvmcq26001" in below and "cvmcq26002" not in below
    assert not errors.passed and errors.metadata["latest_run_error_rate"].value == 0.125
    assert errors.metadata["latest_run_statements_with_errors"].value == 10 and errors.metadata["errors"].value == 10
    assert "number_not_in_source | 8" in errors.metadata["error_codes"].value


def test_a_question_that_fails_in_part_no_longer_fails_the_bank(instance):
    # Every question has one statement with an error; before the gate moved to statements no question passed.
    for i in range(10):
        _record(instance, f"cvmcq2601{i}", statements=20, with_errors=1, codes="number_not_in_source:1")
    evaluations = _run_checks(instance)
    pass_rate, errors = evaluations[PASS_RATE_CHECK], evaluations[ERRORS_CHECK]
    assert pass_rate.passed and pass_rate.metadata["pass_rate"].value == 0.95
    assert pass_rate.metadata["questions_below_min_pass_rate"].value == "none"
    assert errors.passed and errors.metadata["latest_run_error_rate"].value == 0.05  # at the maximum: passes
    assert errors.metadata["latest_run_errors"].value == 10  # errors are still counted and listed
    assert "number_not_in_source | 10" in errors.metadata["latest_run_error_codes"].value


def test_min_pass_rate_is_configurable(instance):
    for i in range(10):
        _record(instance, f"cvmcq2601{i}", passed=9)  # 90/100 statements pass
    assert _run_checks(instance)[PASS_RATE_CHECK].passed  # 90% >= default 0.9
    stricter = _run_checks(instance, min_pass_rate=0.95)[PASS_RATE_CHECK]
    assert not stricter.passed and stricter.metadata["min_pass_rate"].value == 0.95
    below = stricter.metadata["questions_below_min_pass_rate"].value  # each question at 90% is below 95%
    assert all(f"cvmcq2601{i}" in below for i in range(10))


def test_max_error_rate_is_configurable(instance):
    for i in range(10):
        _record(instance, f"cvmcq2601{i}", with_errors=int(i < 4))  # 4/100 statements with an error
    default = _run_checks(instance)[ERRORS_CHECK]
    assert default.passed and default.metadata["max_error_rate"].value == 0.05
    assert default.metadata["latest_run_error_rate"].value == 0.04
    stricter = _run_checks(instance, max_error_rate=0.03)[ERRORS_CHECK]
    assert not stricter.passed and stricter.severity == dg.AssetCheckSeverity.WARN
    assert "4/100 statements of the latest run have an error" in stricter.description


def test_the_error_rate_is_of_the_latest_run_and_the_pass_rate_of_every_question():
    records = [
        _fake_record("cvmcq26001", 1, "run-a", with_errors=10),  # an old run, all blocked
        _fake_record("cvmcq26002", 2, "run-a", with_errors=10),
        _fake_record("cvmcq26003", 3, "run-b", with_errors=0),  # the latest run
        _fake_record("cvmcq26004", 4, "run-b", with_errors=1, codes="term_not_in_source:1"),
    ]
    bank, run, run_id = tally(records)
    assert run_id == "run-b"
    assert (bank.questions, bank.statements, bank.statements_passed, bank.statements_with_errors) == (4, 40, 19, 21)
    assert bank.pass_rate == pytest.approx(19 / 40) and bank.below_min == ["cvmcq26001", "cvmcq26002"]
    assert (run.questions, run.statements, run.statements_with_errors) == (2, 20, 1)
    assert run.error_rate == 0.05 and run.pass_rate == 0.95 and run.codes == {"term_not_in_source": 1}


def test_below_min_uses_each_questions_own_statements():
    records = [
        _fake_record("cvmcq26001", 1, "r", statements=20, passed=18),  # 90%: at the minimum, not below
        _fake_record("cvmcq26002", 2, "r", statements=3, passed=2),  # 67%
        _fake_record("cvmcq26003", 3, "r", statements=0, passed=0),  # nothing extracted
        _fake_record("cvmcq26004", 4, "r", statements=1, passed=1),
    ]
    bank, _, _ = tally(records)
    assert bank.below_min == ["cvmcq26002", "cvmcq26003"]
    assert tally(records, min_pass_rate=0.5)[0].below_min == ["cvmcq26003"]
    assert tally(records, min_pass_rate=0.95)[0].below_min == ["cvmcq26001", "cvmcq26002", "cvmcq26003"]


def test_only_the_latest_materialization_of_each_question_counts(instance):
    _record(instance, "cvmcq26001", with_errors=5, codes="number_not_in_source:5")
    _record(instance, "cvmcq26001")
    bank, run, _ = tally(latest_validation_records(instance))
    assert bank.questions == 1 and (bank.statements, bank.statements_passed) == (10, 10)
    assert bank.errors == 0 and bank.statements_with_errors == 0 and not bank.codes and bank.below_min == []


def test_materializations_without_statement_metadata_count_as_unknown(instance):
    _old_record(instance, "cvmcq26001", passed=False)
    _old_record(instance, "cvmcq26002", passed=True)
    bank, _, _ = tally(latest_validation_records(instance))
    assert (bank.questions, bank.unknown, bank.statements, bank.errors) == (2, 2, 0, 0)
    assert bank.pass_rate is None and bank.error_rate is None and bank.below_min == [] and not bank.codes
    evaluations = _run_checks(instance)  # nothing known: neither check warns
    pass_rate, errors = evaluations[PASS_RATE_CHECK], evaluations[ERRORS_CHECK]
    assert pass_rate.passed and errors.passed
    assert pass_rate.metadata["without_metadata"].value == 2 and pass_rate.metadata["statements"].value == 0
    assert "no validated statement yet" in pass_rate.description

    _record(instance, "cvmcq26003", passed=6)  # one question validated since: only it is counted
    pass_rate = _run_checks(instance)[PASS_RATE_CHECK]
    assert not pass_rate.passed and pass_rate.metadata["pass_rate"].value == 0.6
    assert (pass_rate.metadata["questions"].value, pass_rate.metadata["without_metadata"].value) == (3, 2)
    assert pass_rate.metadata["questions_below_min_pass_rate"].value == "cvmcq26003"


def test_no_materialization_yet_passes_with_a_note(instance):
    evaluation = _run_checks(instance)[PASS_RATE_CHECK]
    assert evaluation.passed and evaluation.metadata["questions"].value == 0
