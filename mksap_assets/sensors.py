"""The question sensor: the scheduled incremental rerun.

Each tick it registers new question files as partitions, removes the partitions of deleted files (moving their
outputs aside), and launches runs for exactly the questions whose expected fingerprint (input bytes, prompt
versions, model, extractor and validator versions) differs from what their last export recorded: contiguous ranges
of at most 500 keys (MKSAP_PARTITIONS_PER_RUN when set), or, for a scattered set, a few runs over covering ranges
that list their questions (partitions.question_runs). Its runs also report the checks, and a tick's only run
rebuilds the deck and the report. When nothing is to run but exports are newer than the deck (after a tick that
launched several runs, a UI backfill or a shell run of the question assets alone, a failed run), it launches a run
of the roll-ups. Each tick first fails the runs whose process is gone (dead_runs.py). It skips while any run is in
flight (its own, or a backfill's or shell run's, which may hold the same questions: they would be run twice), and
uses no run_key, so a failed run is retried (a bounded number of times for unchanged inputs, counted in the cursor).
The expected fingerprints follow the extraction settings pinned in the instance, never the environment of the daemon;
when the daemon lacks what the pinned provider needs (its API key) the sensor skips with that reason and launches
nothing. So it does when the cost estimate of the questions to run exceeds MKSAP_BUDGET_USD (budget.py).
In batch mode (MKSAP_LLM_MODE=batch, docs/BATCHES.md) a tick first submits the first-pass requests of the questions
to run as message batches, and launches a question's run only once no request of it waits for a batch (its answers
are then in the response cache); the tick polls and collects, never waits.
"""

import dataclasses
from pathlib import Path

import dagster as dg
import orjson
from dagster import DagsterEventType

from mksap_assets.assets.anki import ANKI_DECK
from mksap_assets.assets.questions import (
    ALL_ASSET_KEYS,
    ASSET_KEYS,
    DATA_VERSION_TAG,
    QUESTION_ASSET_KEYS,
    ROLLUP_KEYS,
)
from mksap_assets.budget import launch_refusal
from mksap_assets.dead_runs import IN_FLIGHT, fail_dead_runs
from mksap_assets.domain.engine.changes import (
    Plan,
    Recorded,
    next_attempts,
    plan_changes,
    retire_outputs,
)
from mksap_assets.domain.engine.stages import EXPORTED, STAGES
from mksap_assets.domain.extraction.batch_mode import batch_mode_off_reason, batch_step
from mksap_assets.domain.llm.batches.coordinator import Step
from mksap_assets.materializations import latest_materialization_records
from mksap_assets.partitions import (
    question_partitions,
    question_runs,
    run_config,
    run_tags,
)
from mksap_assets.resources import PipelineResource
from mksap_assets.settings import budget_from_env, sensor_interval_from_env

SENSOR_NAME = "question_sensor"
# A definition's property, so read when the code location loads (the rest of the config is read per tick and run).
SENSOR_INTERVAL_SECONDS = sensor_interval_from_env()


def latest_export_fingerprints(instance: dg.DagsterInstance) -> dict[str, str]:
    """The fingerprint of every question's latest export: its data version tag, one indexed query."""
    tags = instance.event_log_storage.get_latest_tags_by_partition(
        ASSET_KEYS[EXPORTED], DagsterEventType.ASSET_MATERIALIZATION, [DATA_VERSION_TAG]
    )
    return {key: values[DATA_VERSION_TAG] for key, values in tags.items() if DATA_VERSION_TAG in values}


def latest_export_records(instance: dg.DagsterInstance, keys: list[str]) -> dict[str, Recorded]:
    """What the latest exports of the given questions recorded about how they were made (full metadata)."""
    wanted = set(keys)
    return {
        record.asset_materialization.partition: Recorded.from_metadata(
            {name: value.value for name, value in record.asset_materialization.metadata.items()}
        )
        for record in latest_materialization_records(instance, ASSET_KEYS[EXPORTED], partitions=wanted)
    }


def failed_partitions(instance: dg.DagsterInstance, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    # None when the asset has never been materialized at all.
    statuses = instance.get_status_by_partition(ASSET_KEYS[EXPORTED], keys, question_partitions) or {}
    return {key for key, status in statuses.items() if status == dg.AssetPartitionStatus.FAILED}


def decode_attempts(cursor: str | None) -> dict[str, tuple[str, int]]:
    return {key: (tried, count) for key, (tried, count) in orjson.loads(cursor).items()} if cursor else {}


def current_plan(
    instance: dg.DagsterInstance, pipeline: PipelineResource, attempts: dict[str, tuple[str, int]]
) -> Plan:
    """The plan for `pipeline` as pinned to the instance (`PipelineResource.pinned_to`)."""
    return plan_changes(
        questions=pipeline.question_files(),
        partition_keys=list(instance.get_dynamic_partitions(question_partitions.name)),
        fingerprints=latest_export_fingerprints(instance),
        recorded_among=lambda keys: latest_export_records(instance, keys),
        failed_among=lambda keys: failed_partitions(instance, keys),
        attempts=attempts,
        identity=pipeline.extractor_identity(),
        output_dir=pipeline.resolved().output_dir,
    )


def sensor_cursor(instance: dg.DagsterInstance) -> str | None:
    """The sensor's stored cursor (its retry counts), for `mksap plan`."""
    from dagster._core.definitions.run_request import InstigatorType

    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name == SENSOR_NAME and state.instigator_data is not None:
            return getattr(state.instigator_data, "cursor", None)
    return None


def _runs_in_flight(context: dg.SensorEvaluationContext) -> bool:
    return bool(context.instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT), limit=1))


def latest_storage_id(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> int | None:
    result = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=asset_key), limit=1, ascending=False)
    return result.records[0].storage_id if result.records else None


def rollups_stale(instance: dg.DagsterInstance) -> bool:
    """Some question was exported after the deck was last built (or there is no deck yet)."""
    exported = latest_storage_id(instance, ASSET_KEYS[EXPORTED])
    deck = latest_storage_id(instance, ANKI_DECK)
    return exported is not None and (deck is None or exported > deck)


def batch_mode_ready(context: dg.SensorEvaluationContext, pipeline: PipelineResource, plan: Plan
                     ) -> tuple[set[str], Step | None]:
    """The questions to launch now: in batch mode, those none of whose first-pass requests waits for a message
    batch, after one step of the batch cycle (submit the others, poll, collect; logged); else all to run."""
    llm = pipeline.resolved().llm
    if llm.mode != "batch" or not plan.to_run:
        return set(plan.to_run), None
    if off := batch_mode_off_reason(llm):
        context.log.info(off)
        return set(plan.to_run), None
    files = [question for question in pipeline.question_files() if question.question_id in plan.to_run]
    step = batch_step(llm, Path(context.instance.root_directory), files)
    for line in step.lines():
        context.log.info(line)
    return set(step.ready), step


@dg.sensor(
    name=SENSOR_NAME,
    target=ALL_ASSET_KEYS,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Registers new question files, removes deleted ones, reruns only questions whose inputs, "
    "prompts, model or code changed (or that failed), and rebuilds the deck and report when exports are newer.",
)
def question_sensor(context: dg.SensorEvaluationContext, pipeline: PipelineResource):
    for run_id in fail_dead_runs(context.instance):
        context.log.warning(f"Dagster run {run_id}: its process is gone; marked failed and its pool slots freed")
    if _runs_in_flight(context):
        return dg.SkipReason("runs are in flight (this sensor's, a backfill's or another's)")
    pipeline = pipeline.pinned_to(context.instance)
    if missing := pipeline.missing_requirement("the process running this sensor"):
        return dg.SkipReason(f"{missing}. Nothing launched.")
    attempts = decode_attempts(context.cursor)
    plan = current_plan(context.instance, pipeline, attempts)
    if refusal := launch_refusal(pipeline, len(plan.to_run), budget_from_env()):
        return dg.SkipReason(refusal)  # before any change: the next tick decides again
    config = pipeline.resolved()
    for key in plan.removed_keys:
        retire_outputs(config.output_dir, config.store_dir, key, STAGES)
    to_launch, batches = batch_mode_ready(context, pipeline, plan)
    # A question waiting for its batch is not attempted: its count of failed attempts is left alone.
    launched = dataclasses.replace(plan, to_run={key: why for key, why in plan.to_run.items() if key in to_launch})
    counts = next_attempts(attempts, launched) | {key: attempts[key] for key in plan.to_run
                                                  if key not in to_launch and key in attempts}
    context.update_cursor(orjson.dumps(counts).decode())
    ordered = list(plan.expected)  # the partition order once this tick's additions and removals apply
    runs = question_runs(ordered, to_launch)
    # One run rebuilds the roll-ups at its end. Several (side by side on the cluster profile) leave them to the run of
    # the roll-ups a later tick launches once none is in flight: built once, from every export.
    selection = ALL_ASSET_KEYS if len(runs) == 1 else QUESTION_ASSET_KEYS
    run_requests = [
        dg.RunRequest(asset_selection=selection, tags=run_tags(run), run_config=run_config(run)) for run in runs
    ]
    if not run_requests and rollups_stale(context.instance):
        run_requests.append(dg.RunRequest(asset_selection=ROLLUP_KEYS))
    partition_requests = []
    if plan.new_keys:
        partition_requests.append(question_partitions.build_add_request(plan.new_keys))
    if plan.removed_keys:
        partition_requests.append(question_partitions.build_delete_request(plan.removed_keys))
    if not run_requests and not partition_requests:
        if batches is not None and batches.waiting:
            return dg.SkipReason(batches.lines()[-1])
        return dg.SkipReason(f"nothing changed ({len(plan.up_to_date)} up to date, {len(plan.waiting)} waiting)")
    return dg.SensorResult(run_requests=run_requests, dynamic_partitions_requests=partition_requests)
