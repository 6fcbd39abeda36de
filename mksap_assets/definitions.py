"""The code location: the question step (four per-question assets, the deck, the report and the validation checks),
the question sensor, and the pipeline resource."""

from __future__ import annotations

import dagster as dg

from mksap_assets.assets.questions import question_assets
from mksap_assets.resources import PipelineResource
from mksap_assets.sensors import question_sensor
from mksap_assets.settings import Settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Without settings, the resource reads its config from the environment when each run or tick starts (and the
    launchpad can override any value for one run, but the provider, model and cloze mode the instance pins); with
    them (the CLI, tests), the config is fixed."""
    pipeline = PipelineResource.from_settings(settings) if settings else PipelineResource()
    return dg.Definitions(
        assets=[question_assets],
        sensors=[question_sensor],
        resources={"pipeline": pipeline},
        # One process per run and one event loop: the work is I/O-bound asyncio, and subprocess start-up per step
        # would cost more than it saves.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
