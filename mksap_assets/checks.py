"""Asset checks on `validated_statements`, at the level of statements (the deck gates statements, not questions),
over the latest materialization of every question and over this run.

The question step declares them (`CHECK_SPECS`) and reports them at its end, after its own events are written, from
the per-partition materialization metadata the pipeline records (statements, statements_passed,
statements_with_errors, errors, warnings, error_codes): two instance queries in batches of 1,000 (no stored file is
read). Severity is WARN: a low rate is a signal, not a reason to block exports.

- `validation_pass_rate` passes when at least `min_pass_rate` (default 0.9, run config) of all statements pass the
  card gate; its metadata lists the questions below that rate;
- `validation_errors` passes when at most `max_error_rate` (default 0.05) of this run's statements have an error;
  its metadata lists the error codes.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import dagster as dg

from mksap_assets.domain.engine.stages import VALIDATED
from mksap_assets.materializations import latest_materialization_records

VALIDATED_KEY = dg.AssetKey(VALIDATED)
PASS_RATE_CHECK = "validation_pass_rate"
ERRORS_CHECK = "validation_errors"
DEFAULT_MIN_PASS_RATE = 0.9
DEFAULT_MAX_ERROR_RATE = 0.05
LISTED = 25


class ValidationCheckConfig(dg.Config):
    min_pass_rate: float = DEFAULT_MIN_PASS_RATE  # of statements that pass the card gate, over all questions
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE  # of statements with an error, in this run


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


def tally(
    records: list, min_pass_rate: float = DEFAULT_MIN_PASS_RATE, run_id: str | None = None
) -> tuple[Tally, Tally, str | None]:
    """(every question, the given run's questions, that run's id). Without the given run among the records (a
    checks-only run), the latest run that validated any question stands in."""
    bank, run = Tally(min_pass_rate), Tally(min_pass_rate)
    if run_id is None or not any(record.run_id == run_id for record in records):
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


CHECK_SPECS = [
    dg.AssetCheckSpec(PASS_RATE_CHECK, asset=VALIDATED_KEY,
                      description="Share of statements that pass the card gate (no error, no card-breaking warning), "
                                  "latest materialization of every question; WARN below min_pass_rate."),
    dg.AssetCheckSpec(ERRORS_CHECK, asset=VALIDATED_KEY,
                      description="Share of this run's statements with a validation error (the latest run that "
                                  "validated any, for a checks-only run), and the errors by code; WARN above "
                                  "max_error_rate."),
]


def check_results(
    instance: dg.DagsterInstance, selected: set[str], config: ValidationCheckConfig, run_id: str
) -> Iterator[dg.AssetCheckResult]:
    """The selected checks' results, computed after this run's validated_statements events were written."""
    bank, run, run_id = tally(latest_validation_records(instance), config.min_pass_rate, run_id)
    if PASS_RATE_CHECK in selected:
        rate = bank.pass_rate
        yield dg.AssetCheckResult(
            asset_key=VALIDATED_KEY,
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
            asset_key=VALIDATED_KEY,
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
