"""Asset checks on `validated_statements`: the pass rate and the error counts, over the latest materialization of
every question and over the latest run.

Both checks are computed by one step from the per-partition materialization metadata the pipeline records
(passed, statements, errors, warnings, error_codes): two instance queries in batches of 1,000, about 0.3 s for
2,200 partitions on SQLite (no stored file is read). Severity is WARN: a low pass rate is a signal, not a reason
to block exports.

- `validation_pass_rate` passes when at least `min_pass_rate` (default 0.9, run config) of the questions pass;
- `validation_errors` passes when the latest run's questions have no error; its metadata lists the error codes.

The per-question asset step yields `AssetMaterialization` events rather than an output, so Dagster skips
checks selected in the same run: `validation_checks_sensor` launches a checks-only run once the pipeline runs
have settled after new validated materializations (or run them by hand: select the checks in the UI, or
`AssetSelection.checks_for_assets(VALIDATED_KEY)`). No `from __future__ import annotations` here: Dagster
resolves the config class from the check function's annotation at definition time.
"""

from collections import Counter
from dataclasses import dataclass, field

import dagster as dg
from dagster import DagsterRunStatus

from mksap_assets.materializations import latest_materialization_records

VALIDATED_KEY = dg.AssetKey("validated_statements")
PASS_RATE_CHECK = "validation_pass_rate"
ERRORS_CHECK = "validation_errors"
CHECK_KEYS = [dg.AssetCheckKey(VALIDATED_KEY, PASS_RATE_CHECK), dg.AssetCheckKey(VALIDATED_KEY, ERRORS_CHECK)]
DEFAULT_MIN_PASS_RATE = 0.9
LISTED = 25


class ValidationCheckConfig(dg.Config):
    min_pass_rate: float = DEFAULT_MIN_PASS_RATE


@dataclass
class Tally:
    questions: int = 0
    passed: int = 0
    statements: int = 0
    errors: int = 0
    warnings: int = 0
    unknown: int = 0  # materializations without validation metadata
    failing: list[str] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)

    def add(self, partition: str, metadata: dict) -> None:
        self.questions += 1
        if "passed" not in metadata:
            self.unknown += 1
            return
        passed = bool(metadata["passed"].value)
        self.passed += passed
        if not passed:
            self.failing.append(partition)
        for name in ("statements", "errors", "warnings"):
            value = metadata.get(name)
            setattr(self, name, getattr(self, name) + int(value.value if value is not None else 0))
        codes = metadata.get("error_codes")
        for item in (codes.value.split(",") if codes is not None and codes.value else []):
            code, _, count = item.partition(":")
            self.codes[code] += int(count or 1)

    @property
    def known(self) -> int:
        return self.questions - self.unknown

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.known if self.known else None


def latest_validation_records(instance: dg.DagsterInstance) -> list:
    """The latest materialization record of every validated_statements partition."""
    return list(latest_materialization_records(instance, VALIDATED_KEY))


def tally(records: list) -> tuple[Tally, Tally, str | None]:
    """(every question, the latest run's questions, the latest run's id)."""
    bank, run = Tally(), Tally()
    latest = max(records, key=lambda r: r.storage_id, default=None)
    run_id = latest.run_id if latest else None
    for record in sorted(records, key=lambda r: r.asset_materialization.partition or ""):
        materialization = record.asset_materialization
        metadata = dict(materialization.metadata)
        bank.add(materialization.partition or "", metadata)
        if record.run_id == run_id:
            run.add(materialization.partition or "", metadata)
    return bank, run, run_id


def _rate(value: float | None) -> float:
    return round(value, 4) if value is not None else 0.0


def _codes_table(codes: Counter[str]) -> str:
    rows = [f"| {code} | {count} |" for code, count in codes.most_common()]
    return "\n".join(["| error code | issues |", "|---|---|", *rows]) if rows else "no errors"


def _failing(t: Tally) -> str:
    more = len(t.failing) - LISTED
    return ", ".join(t.failing[:LISTED]) + (f" … and {more} more" if more > 0 else "") if t.failing else "none"


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(PASS_RATE_CHECK, asset=VALIDATED_KEY,
                          description="Share of questions whose statements have no error (latest materialization "
                                      "of every question); WARN below min_pass_rate."),
        dg.AssetCheckSpec(ERRORS_CHECK, asset=VALIDATED_KEY,
                          description="Validation errors of the questions in the latest run, by code; WARN when "
                                      "there are any."),
    ],
    can_subset=True,
)
def validation_checks(context: dg.AssetCheckExecutionContext, config: ValidationCheckConfig):
    bank, run, run_id = tally(latest_validation_records(context.instance))
    selected = {key.name for key in context.selected_asset_check_keys}
    if PASS_RATE_CHECK in selected:
        rate = bank.pass_rate
        yield dg.AssetCheckResult(
            check_name=PASS_RATE_CHECK,
            passed=rate is None or rate >= config.min_pass_rate,
            severity=dg.AssetCheckSeverity.WARN,
            description=(f"{bank.passed}/{bank.known} questions pass ({rate:.1%}); minimum {config.min_pass_rate:.0%}"
                         if rate is not None else "no validated question yet"),
            metadata={
                "questions": bank.questions,
                "passed_questions": bank.passed,
                "pass_rate": _rate(rate),
                "min_pass_rate": config.min_pass_rate,
                "statements": bank.statements,
                "errors": bank.errors,
                "warnings": bank.warnings,
                "without_metadata": bank.unknown,
                "latest_run_id": run_id or "",
                "latest_run_questions": run.questions,
                "latest_run_pass_rate": _rate(run.pass_rate),
                "failing_questions": dg.MetadataValue.md(_failing(bank)),
            },
        )
    if ERRORS_CHECK in selected:
        yield dg.AssetCheckResult(
            check_name=ERRORS_CHECK,
            passed=run.errors == 0,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{run.errors} errors in {run.questions} questions of the latest run; "
                        f"{bank.errors} over all questions",
            metadata={
                "latest_run_id": run_id or "",
                "latest_run_questions": run.questions,
                "latest_run_errors": run.errors,
                "latest_run_warnings": run.warnings,
                "latest_run_failing_questions": dg.MetadataValue.md(_failing(run)),
                "latest_run_error_codes": dg.MetadataValue.md(_codes_table(run.codes)),
                "errors": bank.errors,
                "error_codes": dg.MetadataValue.md(_codes_table(bank.codes)),
            },
        )


# ---------------------------------------------------------------------------------------------------------
# Running the checks after the pipeline's runs
# ---------------------------------------------------------------------------------------------------------

_IN_FLIGHT = [
    DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED,
]


def newest_validation_storage_id(instance: dg.DagsterInstance) -> int | None:
    result = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=VALIDATED_KEY), limit=1, ascending=False)
    return result.records[0].storage_id if result.records else None


@dg.sensor(
    name="validation_checks_sensor",
    target=dg.AssetSelection.checks(*CHECK_KEYS),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the validation checks once new validated_statements materializations exist and no run "
                "is in flight.",
)
def validation_checks_sensor(context: dg.SensorEvaluationContext):
    newest = newest_validation_storage_id(context.instance)
    if newest is None or str(newest) == (context.cursor or ""):
        return dg.SkipReason("no new validated_statements materialization")
    if context.instance.get_runs(filters=dg.RunsFilter(statuses=_IN_FLIGHT), limit=1):
        return dg.SkipReason("waiting for the runs in flight to finish")
    context.update_cursor(str(newest))
    return dg.RunRequest(run_key=f"validation-checks-{newest}")


VALIDATION_CHECKS = [validation_checks]
VALIDATION_SENSORS = [validation_checks_sensor]
