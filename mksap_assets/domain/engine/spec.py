"""A run's pipeline, built from the typed config (domain/config.py) in whichever process runs the questions (the
run's own, or its engine process: the config is what crosses, pickled)."""

from __future__ import annotations

from collections.abc import Collection

from mksap_assets.domain.config import PipelineConfig
from mksap_assets.domain.engine.pipeline import STAGES, VALIDATED, QuestionPipeline
from mksap_assets.domain.engine.store import ArtifactStore
from mksap_assets.domain.extraction.base import Extractor
from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.domain.nlp import parsing
from mksap_assets.domain.validation.pool import ValidationPool


def build_extractor(config: PipelineConfig) -> Extractor:
    llm = config.llm
    if llm.provider == "offline":
        return OfflineExtractor()
    # Imported here: the SDK client is created inside the run, never at import time.
    import anthropic

    from mksap_assets.domain.extraction.claude import ClaudeExtractor
    from mksap_assets.domain.llm.cache import ResponseCache
    from mksap_assets.domain.llm.client import ClaudeClient
    from mksap_assets.domain.llm.limiter import RateLimiter, RateLimitMiddleware

    limiter = RateLimiter(
        rpm=llm.rpm, itpm=llm.itpm, otpm=llm.otpm, max_in_flight=llm.concurrency, max_pause=llm.max_pause,
    )
    api = anthropic.AsyncAnthropic(
        max_retries=llm.max_retries, timeout=llm.timeout,
        middleware=[RateLimitMiddleware(limiter, attempt_deadline=llm.request_deadline)],
    )
    cache = ResponseCache(llm.cache_dir, enabled=llm.cache_enabled, ttl=llm.cache_ttl, max_entries=llm.cache_max_entries)
    client = ClaudeClient(api, model=llm.model, cache=cache, limiter=limiter)
    return ClaudeExtractor(client, cloze_mode=llm.cloze_mode)


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
