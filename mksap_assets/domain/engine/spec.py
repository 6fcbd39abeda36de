"""A run's pipeline, built from the typed config (domain/config.py) in whichever process runs the questions (the
run's own, or its engine process: the config is what crosses, pickled)."""

from __future__ import annotations

from collections.abc import Collection

from mksap_assets.domain.config import PipelineConfig
from mksap_assets.domain.engine.pipeline import STAGES, VALIDATED, QuestionPipeline
from mksap_assets.domain.engine.store import ArtifactStore
from mksap_assets.domain.extraction import registry
from mksap_assets.domain.extraction.base import Extractor
from mksap_assets.domain.nlp import parsing
from mksap_assets.domain.validation.pool import ValidationPool


def build_extractor(config: PipelineConfig) -> Extractor:
    return registry.build_extractor(config.llm)


def build_pipeline(config: PipelineConfig, stages: Collection[str] = STAGES) -> QuestionPipeline:
    """The pipeline for a run of these stages; its validation workers (if it validates) start now, so that their
    few seconds of start-up overlap the SDK's import and the first API calls."""
    parsing.use_model(config.nlp_model)
    validation = ValidationPool(config.validation_workers, nlp_model=config.nlp_model)
    if VALIDATED in stages:
        validation.start()
    try:
        return QuestionPipeline(
            data_dir=config.data_dir,
            output_dir=config.output_dir,
            store=ArtifactStore(config.store_dir),
            extractor=build_extractor(config),
            validation=validation,
            question_budget=config.question_budget,
        )
    except BaseException:
        # A start that fails (unusable cache dir, full disk) stops the workers it started: nothing else holds
        # the pool, so they (and the resource tracker their pipes keep alive) would outlive the run.
        validation.close()
        raise
