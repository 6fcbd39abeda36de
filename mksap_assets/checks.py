"""Asset checks on `validated_statements`, at the level of statements (the deck gates statements, not questions),
over the latest materialization of every question and over the latest run.

Both checks are computed by one step from the per-partition materialization metadata the pipeline records
(statements, statements_passed, statements_with_errors, errors, warnings, error_codes): two instance queries in
batches of 1,000 (no stored file is read). Severity is WARN: a low rate is a signal, not a reason to block exports.

- `validation_pass_rate` passes when at least `min_pass_rate` (default 0.9, run config) of all statements pass the
  card gate; its metadata lists the questions below that rate;
- `validation_errors` passes when at most `max_error_rate` (default 0.05) of the latest run's statements have an
  error; its metadata lists the error codes.

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
DEFAULT_MAX_ERROR_RATE = 0.05
LISTED = 25


class ValidationCheckConfig(dg.Config):
    min_pass_rate: float = DEFAULT_MIN_PASS_RATE  # of statements that pass the card gate, over all questions
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE  # of statements with an error, in the latest run


@dataclass
class Tally:
    min_pass_rate: float = DEFAULT_MIN_PASS_RATE
    questions: int = 0
    statements: int = 0
    statements_passed: int = 0
    statements_with_errors: int = 0
    errors: int = 0
    warnings: int = 0
    unknown: int = 0  # materializations without statement-level metadata (written before the per-statement gate)
    below_min: list[str] = field(default_factory=list)  # questions whose own pass rate is below min_pass_rate
    codes: Counter[str] = field(default_factory=Counter)

    def add(self, partition: str, metadata: dict) -> None:
        self.questions += 1
        if "statements_passed" not in metadata:
            self.unknown += 1
            return
        counts = {
            name: int(metadata[name].value if name in metadata else 0)
            for name in ("statements", "statements_passed", "statements_with_errors", "errors", "warnings")
        }
        for name, value in counts.items():
            setattr(self, name, getattr(self, name) + value)
        if counts["statements"] == 0 or counts["statements_passed"] < self.min_pass_rate * counts["statements"]:
            self.below_min.append(partition)
        codes = metadata.get("error_codes")
        for item in (codes.value.split(",") if codes is not None and codes.value else []):
            code, _, count = item.partition(":")
            self.codes[code] += int(count or 1)

    @property
    def pass_rate(self) -> float | None:
        return self.statements_passed / self.statements if self.statements else None

    @property
    def error_rate(self) -> float | None:
        return self.statements_with_errors / self.statements if self.statements else None


def latest_validation_records(instance: dg.DagsterInstance) -> list:
    """The latest materialization record of every validated_statements partition."""
    return list(latest_materialization_records(instance, VALIDATED_KEY))


def tally(records: list, min_pass_rate: float = DEFAULT_MIN_PASS_RATE) -> tuple[Tally, Tally, str | None]:
    """(every question, the latest run's questions, the latest run's id)."""
    bank, run = Tally(min_pass_rate), Tally(min_pass_rate)
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


def _listed(questions: list[str]) -> str:
    more = len(questions) - LISTED
    return ", ".join(questions[:LISTED]) + (f" … and {more} more" if more > 0 else "") if questions else "none"


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(PASS_RATE_CHECK, asset=VALIDATED_KEY,
                          description="Share of statements that pass the card gate (no error, no card-breaking "
                                      "warning), latest materialization of every question; WARN below "
                                      "min_pass_rate."),
        dg.AssetCheckSpec(ERRORS_CHECK, asset=VALIDATED_KEY,
                          description="Share of the latest run's statements with a validation error, and the "
                                      "errors by code; WARN above max_error_rate."),
    ],
    can_subset=True,
)
def validation_checks(context: dg.AssetCheckExecutionContext, config: ValidationCheckConfig):
    bank, run, run_id = tally(latest_validation_records(context.instance), config.min_pass_rate)
    selected = {key.name for key in context.selected_asset_check_keys}
    if PASS_RATE_CHECK in selected:
        rate = bank.pass_rate
        yield dg.AssetCheckResult(
            check_name=PASS_RATE_CHECK,
            passed=rate is None or rate >= config.min_pass_rate,
            severity=dg.AssetCheckSeverity.WARN,
            description=(f"{bank.statements_passed}/{bank.statements} statements pass ({rate:.1%}); "
                         f"minimum {config.min_pass_rate:.0%}" if rate is not None else "no validated statement yet"),
            metadata={
                "questions": bank.questions,
                "statements": bank.statements,
                "statements_passed": bank.statements_passed,
                "pass_rate": _rate(rate),
                "min_pass_rate": config.min_pass_rate,
                "errors": bank.errors,
                "warnings": bank.warnings,
                "without_metadata": bank.unknown,
                "latest_run_id": run_id or "",
                "latest_run_statements": run.statements,
                "latest_run_pass_rate": _rate(run.pass_rate),
                "questions_below_min_pass_rate": dg.MetadataValue.md(_listed(bank.below_min)),
            },
        )
    if ERRORS_CHECK in selected:
        rate = run.error_rate
        yield dg.AssetCheckResult(
            check_name=ERRORS_CHECK,
            passed=rate is None or rate <= config.max_error_rate,
            severity=dg.AssetCheckSeverity.WARN,
            description=(f"{run.statements_with_errors}/{run.statements} statements of the latest run have an error "
                         f"({_rate(rate):.1%}); maximum {config.max_error_rate:.0%}; {bank.errors} errors over all "
                         "questions"),
            metadata={
                "latest_run_id": run_id or "",
                "latest_run_questions": run.questions,
                "latest_run_statements": run.statements,
                "latest_run_statements_with_errors": run.statements_with_errors,
                "latest_run_error_rate": _rate(rate),
                "max_error_rate": config.max_error_rate,
                "latest_run_errors": run.errors,
                "latest_run_warnings": run.warnings,
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
