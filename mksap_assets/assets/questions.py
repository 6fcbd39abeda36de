"""The question step: the four per-question assets, and the roll-ups and checks over them, computed by one step.

Dagster skips every downstream step of a run once an upstream step fails, so four separate steps would let one
malformed question stop all exports of a 2,198-question run. One subsettable multi-asset instead runs each
question through raw -> extracted -> validated -> exported concurrently (asyncio, on a background loop so that
Dagster's event writes overlap the work), yields one materialization per (asset, question) that succeeded, and
finally raises a Failure naming the questions that did not: those partitions, and only those, end FAILED.
Yielding events ourselves also keeps per-partition metadata linear in the number of partitions
(context.add_asset_metadata re-enumerates dynamic keys on every call: 18 ms a call at 2,198 partitions).

A step that records its partitions through events yields no output for them, and Dagster skips any other step that
depends on such an output ("skipped due to skipped dependencies"). So the unpartitioned roll-ups (the Anki deck and
the report) and the validation checks are specs of this same step, built at its end from every export when they
are selected: a run of all six assets has one step and nothing skipped, the roll-ups are rebuilt by every run that
selects them even when some questions failed, and the checks see this run's events.

A run covers a partition range (a key, a UI backfill's range, `dagster asset materialize --partition-range`), all of
it or only the questions listed in its config (`questions`): how the sensor and `mksap run` run a scattered set of
questions in a few runs over covering ranges instead of one run per contiguous range (partitions.py,
`question_runs`). Such a run does not fail for a failed question (that would mark every partition of its range
failed): it logs it, and the question is retried in a run of its own, which marks it failed if it fails again.
"""

import time
from collections import Counter
from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from mksap_assets.assets import GROUP
from mksap_assets.assets.anki import (
    ANKI_DECK,
    ANKI_DECK_SPEC,
    AnkiDeckConfig,
    build_deck,
)
from mksap_assets.assets.report import PIPELINE_REPORT, build_report, report_spec
from mksap_assets.checks import CHECK_SPECS, ValidationCheckConfig, check_results
from mksap_assets.domain.engine.pipeline import QuestionOutcome, usage_metadata
from mksap_assets.domain.engine.progress import Progress
from mksap_assets.domain.engine.stages import (
    EXPORTED,
    EXTRACTED,
    QUESTION_STAGES,
    STAGES,
    VALIDATED,
)
from mksap_assets.domain.exports.anki import AnkiExportError
from mksap_assets.domain.llm.providers.anthropic.endpoint import api_label, is_billed
from mksap_assets.domain.llm.spend import SpendLedger
from mksap_assets.partitions import backfill_policy, question_partitions
from mksap_assets.resources import PipelineResource

LLM_POOL = "llm"
MAX_FAILURES_LISTED = 50

ASSET_KEYS = {stage: dg.AssetKey(stage) for stage in STAGES}
EXPORTED_KEY = ASSET_KEYS[EXPORTED]
QUESTION_ASSET_KEYS = list(ASSET_KEYS.values())
ROLLUP_KEYS = [ANKI_DECK, PIPELINE_REPORT]
ALL_ASSET_KEYS = [*QUESTION_ASSET_KEYS, *ROLLUP_KEYS]
# An export's data version is its fingerprint, so the sensor reads every question's in one indexed query.
DATA_VERSION_TAG = "dagster/data_version"


def _metadata(duration_ms: float, values: dict) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {"duration_ms": dg.MetadataValue.float(duration_ms)}
    for name, value in values.items():
        metadata[name] = dg.MetadataValue.path(value) if name == "path" else value
    return metadata


def _failure_table(failures: list[QuestionOutcome]) -> str:
    rows = [f"| {o.question_id} | {o.failed_stage} | {o.error} | {o.usage.calls} | {round(o.usage.cost_usd, 6)} |"
            for o in failures[:MAX_FAILURES_LISTED]]
    more = len(failures) - MAX_FAILURES_LISTED
    tail = [f"\n… and {more} more"] if more > 0 else []
    return "\n".join(["| question | stage | reason | llm_calls | cost_usd |", "|---|---|---|---|---|", *rows, *tail])


class QuestionRunConfig(dg.Config):
    questions: list[str] | None = Field(
        default=None,
        description="Work only on these questions (partition keys) of the run's partition range, leaving the others "
        "as they were: how the sensor and `mksap run` run a scattered set in one run over a covering range. Leave "
        "unset when you pick partitions in the UI.",
    )
    deck: AnkiDeckConfig = Field(default_factory=AnkiDeckConfig, description="The Anki deck, when it is selected.")
    checks: ValidationCheckConfig = Field(
        default_factory=ValidationCheckConfig, description="Thresholds of the validation checks."
    )


@dg.multi_asset(
    specs=[
        *[
            dg.AssetSpec(
                ASSET_KEYS[stage.name],
                description=stage.description,
                deps=[ASSET_KEYS[upstream] for upstream in stage.upstream],
                group_name=GROUP,
                skippable=True,
                partitions_def=question_partitions,
            )
            for stage in QUESTION_STAGES
        ],
        ANKI_DECK_SPEC,
        report_spec(QUESTION_ASSET_KEYS),
    ],
    check_specs=CHECK_SPECS,
    backfill_policy=backfill_policy(),
    can_subset=True,
    # Runs from the sensor, UI backfills and the shell share this pool, so together they never exceed the API
    # concurrency configured for one step (MKSAP_LLM_CONCURRENCY); the pool's limit is set in dagster.yaml.
    pool=LLM_POOL,
)
def question_assets(context: dg.AssetExecutionContext, config: QuestionRunConfig, pipeline: PipelineResource):
    pipeline = pipeline.pinned_to(context.instance)  # the instance's provider, model and cloze mode, not the env's
    stages = [stage for stage in STAGES if ASSET_KEYS[stage] in context.selected_asset_keys]
    keys = _question_keys(context, config) if stages else []
    failures: list[QuestionOutcome] = (yield from _run_questions(context, pipeline, keys, stages)) if keys else []
    checks = {key.name for key in context.selected_asset_check_keys}
    if checks:
        yield from check_results(context.instance, checks, config.checks, context.run_id)
    rollup_error = None
    if ANKI_DECK in context.selected_asset_keys:
        try:
            yield build_deck(context.log, pipeline.resolved().output_dir, config.deck)
        except AnkiExportError as exc:
            rollup_error = f"anki_deck: {exc}"
    if PIPELINE_REPORT in context.selected_asset_keys:
        yield build_report(context.log, context.instance, pipeline.resolved().output_dir, QUESTION_ASSET_KEYS)
    if failures and config.questions is not None:
        # A failed step would mark every partition of the covering range failed, including those the run left
        # alone; so the failures are logged, and the sensor (or `mksap run`) retries them in a run of their own.
        context.log.warning(_failures_line(failures, len(keys)) + "; they are retried in a run of their own")
        failures = []
    if failures or rollup_error:
        raise _failure(failures, len(keys), rollup_error)


def _question_keys(context: dg.AssetExecutionContext, config: QuestionRunConfig) -> list[str]:
    if not (context.has_partition_key or context.has_partition_key_range):
        raise dg.Failure("the question assets need partitions: pick them (a key or a range)")
    keys = list(context.partition_keys)
    if config.questions is None:
        return keys
    outside = sorted(set(config.questions) - set(keys))
    if outside:
        raise dg.Failure(f"`questions` outside the run's partitions: {', '.join(outside[:10])}"
                         + (" …" if len(outside) > 10 else ""))
    return list(dict.fromkeys(config.questions))


def _run_questions(
    context: dg.AssetExecutionContext, pipeline: PipelineResource, keys: list[str], stages: list[str]
) -> Iterator[dg.AssetMaterialization]:
    """Yield each question's materializations as it finishes, and record what it paid in the run's spend ledger;
    return the questions that failed."""
    endpoint = pipeline.endpoint()  # the repair turn, in validation, calls it too
    ledger = SpendLedger(pipeline.resolved().output_dir, context.run_id, billed=is_billed(endpoint))
    if EXTRACTED in stages:
        context.log.info(_provider_line(pipeline, endpoint))
    started = time.perf_counter()
    failures: list[QuestionOutcome] = []
    totals: Counter[str] = Counter()
    progress = Progress(total=len(keys))
    for outcome in pipeline.run_questions(keys, stages):
        seconds = sum(result.duration_ms for result in outcome.results) / 1000
        for level, message in progress.record(outcome.question_id, seconds):
            getattr(context.log, level)(message)
        for result in outcome.results:
            if result.stage in (EXTRACTED, VALIDATED):
                totals.update({k: v for k, v in result.metadata.items() if k in SUMMED_METADATA})
            fingerprint = result.metadata.get("fingerprint")
            yield dg.AssetMaterialization(
                asset_key=ASSET_KEYS[result.stage],
                partition=outcome.question_id,
                metadata=_metadata(result.duration_ms, result.metadata),
                tags={DATA_VERSION_TAG: str(fingerprint)} if fingerprint else None,
            )
        if not outcome.ok:
            failures.append(outcome)
            totals.update(usage_metadata(outcome.usage))  # paid for, though nothing was materialized
        ledger.record(outcome.question_id, outcome.paid_usd)
    elapsed = time.perf_counter() - started
    context.log.info(
        f"{len(keys) - len(failures)}/{len(keys)} questions done in {elapsed:.1f}s "
        f"({', '.join(stages)}); {len(failures)} failed"
        + (f"; LLM: {_totals_line(totals, RUN_TOTALS)}" if EXTRACTED in stages else "")
        + (f"; not billed: answered by {endpoint}" if endpoint and totals["llm_calls"] else "")
        + (f"; repair turn: {_totals_line(totals, REPAIR_TOTALS)}" if totals["repair_sent"] else "")
    )
    return sorted(failures, key=lambda o: o.question_id)


def _failures_line(failures: list[QuestionOutcome], questions: int) -> str:
    listed = "; ".join(f"{o.question_id} ({o.failed_stage}): {o.error}" for o in failures[:5])
    return f"{len(failures)} of {questions} questions failed: {listed}" + (" …" if len(failures) > 5 else "")


def _failure(failures: list[QuestionOutcome], questions: int, rollup_error: str | None) -> dg.Failure:
    description = "; ".join(filter(None, [_failures_line(failures, questions) if failures else "", rollup_error]))
    metadata = {"failed_questions": dg.MetadataValue.md(_failure_table(failures))} if failures else {}
    return dg.Failure(description=description, metadata=metadata)


RUN_TOTALS = (
    "llm_calls", "batch_calls", "cache_hits", "cache_misses", "cache_write_errors", "retries", "rate_limited", "deadlines_missed",
    "pauses_capped", "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
    "cost_usd", "llm_seconds",
)


# What the repair turn (in the validation stage) sent, saved and cost; its cost is not in the LLM totals above.
REPAIR_TOTALS = (
    "repair_sent", "repair_saved", "repair_llm_calls", "repair_retries", "repair_rate_limited", "repair_cost_usd",
)
SUMMED_METADATA = frozenset((*RUN_TOTALS, *REPAIR_TOTALS))  # built once, not per question and metadata name


def _totals_line(totals: Counter[str], names: tuple[str, ...]) -> str:
    return ", ".join(f"{name}={round(totals[name], 4)}" for name in names)


def _provider_line(pipeline: PipelineResource, endpoint: str | None) -> str:
    if pipeline.provider() == "offline":
        return (
            "Extractor: offline (rule-based, pinned in this instance; `mksap settings --provider anthropic` to use "
            'Claude). Outputs are labelled "extractor": "offline".'
        )
    llm = pipeline.resolved().llm
    return (f"Extractor: {pipeline.provider()}, model {llm.model}, concurrency {llm.concurrency}; "
            f"{api_label(endpoint)}")
