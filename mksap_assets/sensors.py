"""The question sensor: registers new question files as partitions and launches runs for them."""


import dagster as dg

from mksap_assets.assets.questions import question_assets
from mksap_assets.partitions import contiguous_ranges, new_partition_keys, question_partitions, range_tags
from mksap_assets.resources import PipelineResource

SENSOR_INTERVAL_SECONDS = 60


@dg.sensor(
    name="question_sensor",
    target=[question_assets],
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition for each new question file (sorted by id) and materializes the new ones.",
)
def question_sensor(context: dg.SensorEvaluationContext, pipeline: PipelineResource):
    existing = list(context.instance.get_dynamic_partitions(question_partitions.name))
    new_keys = new_partition_keys(pipeline.question_ids(), existing)
    if not new_keys:
        return dg.SkipReason("no new question files")
    ordered = existing + new_keys
    return dg.SensorResult(
        dynamic_partitions_requests=[question_partitions.build_add_request(new_keys)],
        run_requests=[
            dg.RunRequest(tags=range_tags(first, last)) for first, last in contiguous_ranges(ordered, set(new_keys))
        ],
    )
