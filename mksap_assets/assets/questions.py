"""The four per-question assets, computed by one step so that a bad question fails only its own partitions.

Dagster skips every downstream step of a run once an upstream step fails, so four separate steps would let one
malformed question stop all exports of a 2,198-question run. One subsettable multi-asset instead runs each
question through raw -> extracted -> validated -> exported concurrently (asyncio, on a background loop so that
Dagster's event writes overlap the work), yields one materialization per (asset, question) that succeeded, and
finally raises a Failure naming the questions that did not: those partitions, and only those, end FAILED.
Yielding events ourselves also keeps per-partition metadata linear in the number of partitions
(context.add_asset_metadata re-enumerates dynamic keys on every call).
"""


import time
from collections import Counter

import dagster as dg

from mksap_assets.domain.llm.endpoint import api_label, sdk_endpoint
from mksap_assets.domain.pipeline import EXPORTED, EXTRACTED, RAW, STAGES, VALIDATED, QuestionOutcome
from mksap_assets.domain.progress import Progress
from mksap_assets.partitions import question_partitions
from mksap_assets.resources import PipelineResource

GROUP = "mksap"
LLM_POOL = "llm"
MAX_FAILURES_LISTED = 50

_DESCRIPTIONS = {
    RAW: "The question file parsed, validated and normalised (glued sentences repaired, tables parsed).",
    EXTRACTED: "Statements extracted from the critique, key points and educational tables, with cloze candidates.",
    VALIDATED: "The statements with the issues the validators found, each marked passed or blocked (the repair "
    "turn's corrections in place), and the share that passed.",
    EXPORTED: "The exported JSON: the input question plus its statements, validation and provenance.",
}
_UPSTREAM = {EXTRACTED: [RAW], VALIDATED: [EXTRACTED, RAW], EXPORTED: [VALIDATED]}

ASSET_KEYS = {stage: dg.AssetKey(stage) for stage in STAGES}
QUESTION_ASSET_KEYS = list(ASSET_KEYS.values())
# An export's data version is its fingerprint, so the sensor reads every question's in one indexed query.
DATA_VERSION_TAG = "dagster/data_version"


def _metadata(duration_ms: float, values: dict) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {"duration_ms": dg.MetadataValue.float(duration_ms)}
    for name, value in values.items():
        metadata[name] = dg.MetadataValue.path(value) if name == "path" else value
    return metadata


def _failure_table(failures: list[QuestionOutcome]) -> str:
    rows = [f"| {o.question_id} | {o.failed_stage} | {o.error} |" for o in failures[:MAX_FAILURES_LISTED]]
    more = len(failures) - MAX_FAILURES_LISTED
    tail = [f"\n… and {more} more"] if more > 0 else []
    return "\n".join(["| question | stage | reason |", "|---|---|---|", *rows, *tail])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ASSET_KEYS[stage],
            description=_DESCRIPTIONS[stage],
            deps=[ASSET_KEYS[up] for up in _UPSTREAM.get(stage, [])],
            group_name=GROUP,
            skippable=True,
        )
        for stage in STAGES
    ],
    partitions_def=question_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
    # Runs from the sensor, UI backfills and the shell share this pool, so together they never exceed the API
    # concurrency configured for one step (MKSAP_LLM_CONCURRENCY); the pool's limit is set in dagster.yaml.
    pool=LLM_POOL,
)
def question_assets(context: dg.AssetExecutionContext, pipeline: PipelineResource):
    stages = {key.path[-1] for key in context.selected_asset_keys}
    keys = context.partition_keys
    if EXTRACTED in stages:
        context.log.info(_provider_line(pipeline))
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
                totals.update({k: v for k, v in result.metadata.items() if k in (*RUN_TOTALS, *REPAIR_TOTALS)})
            fingerprint = result.metadata.get("fingerprint")
            yield dg.AssetMaterialization(
                asset_key=ASSET_KEYS[result.stage],
                partition=outcome.question_id,
                metadata=_metadata(result.duration_ms, result.metadata),
                tags={DATA_VERSION_TAG: str(fingerprint)} if fingerprint else None,
            )
        if not outcome.ok:
            failures.append(outcome)
    elapsed = time.perf_counter() - started
    context.log.info(
        f"{len(keys) - len(failures)}/{len(keys)} questions done in {elapsed:.1f}s "
        f"({', '.join(sorted(stages, key=STAGES.index))}); {len(failures)} failed"
        + (f"; LLM: {_totals_line(totals, RUN_TOTALS)}" if EXTRACTED in stages else "")
        + (f"; repair turn: {_totals_line(totals, REPAIR_TOTALS)}" if totals["repair_sent"] else "")
    )
    if failures:
        failures.sort(key=lambda o: o.question_id)
        raise dg.Failure(
            description=f"{len(failures)} of {len(keys)} questions failed: "
            + "; ".join(f"{o.question_id} ({o.failed_stage}): {o.error}" for o in failures[:5])
            + (" …" if len(failures) > 5 else ""),
            metadata={"failed_questions": dg.MetadataValue.md(_failure_table(failures))},
        )


RUN_TOTALS = (
    "llm_calls", "cache_hits", "cache_misses", "retries", "rate_limited", "input_tokens", "output_tokens",
    "cache_read_input_tokens", "cache_creation_input_tokens", "cost_usd", "llm_seconds",
)


# What the repair turn (in the validation stage) sent, saved and cost; its cost is not in the LLM totals above.
REPAIR_TOTALS = ("repair_sent", "repair_saved", "repair_llm_calls", "repair_cost_usd")


def _totals_line(totals: Counter[str], names: tuple[str, ...]) -> str:
    return ", ".join(f"{name}={round(totals[name], 4)}" for name in names)


def _provider_line(pipeline: PipelineResource) -> str:
    if pipeline.provider() == "offline":
        return (
            "Extractor: offline (rule-based; no ANTHROPIC_API_KEY or MKSAP_LLM_PROVIDER=offline). "
            'Outputs are labelled "extractor": "offline".'
        )
    return (f"Extractor: anthropic, model {pipeline.llm_model}, concurrency {pipeline.llm_concurrency}; "
            f"{api_label(sdk_endpoint())}")
