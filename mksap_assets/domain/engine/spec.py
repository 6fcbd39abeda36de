"""Everything needed to build a run's pipeline, as plain picklable data: the Dagster resource makes one, and the
pipeline is built from it in whichever process runs the questions (the run's own, or its engine process)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from mksap_assets.domain.engine.pipeline import STAGES, VALIDATED, QuestionPipeline
from mksap_assets.domain.engine.store import ArtifactStore
from mksap_assets.domain.extraction.base import Extractor
from mksap_assets.domain.extraction.registry import build_extractor
from mksap_assets.domain.llm.provider import ProviderSettings
from mksap_assets.domain.validation.pool import ValidationPool

# Settings that must be positive (None, where allowed, means no limit), and the variable that sets each: a zero or
# negative value would hang a run or fail it obscurely, so it is refused before anything starts.
POSITIVE_SETTINGS = {
    "llm_concurrency": "MKSAP_LLM_CONCURRENCY",
    "llm_rpm": "MKSAP_LLM_RPM",
    "llm_itpm": "MKSAP_LLM_ITPM",
    "llm_otpm": "MKSAP_LLM_OTPM",
    "llm_timeout": "MKSAP_LLM_TIMEOUT",
    "llm_request_deadline": "MKSAP_LLM_REQUEST_DEADLINE",
    "llm_max_pause": "MKSAP_LLM_MAX_PAUSE",
    "question_budget": "MKSAP_QUESTION_BUDGET",
}


@dataclass(frozen=True)
class PipelineSpec:
    # Named as PipelineResource's fields, which `PipelineResource.spec()` copies (it passes paths as strings).
    data_dir: str | Path
    output_dir: str | Path
    store_dir: str | Path
    provider: str  # a name in extraction/registry.py, already resolved
    llm_model: str
    llm_concurrency: int
    cloze_mode: str
    llm_cache_dir: str | Path
    llm_cache_enabled: bool
    llm_cache_ttl: float | None
    llm_cache_max_entries: int | None
    llm_rpm: float | None
    llm_itpm: float | None
    llm_otpm: float | None
    llm_timeout: float
    llm_max_retries: int
    llm_request_deadline: float
    llm_max_pause: float
    question_budget: float
    validation_workers: int

    def __post_init__(self) -> None:
        for name, variable in POSITIVE_SETTINGS.items():
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{variable} must be a positive number, not {value!r}")
        if self.llm_max_retries < 0:
            raise ValueError(f"MKSAP_LLM_MAX_RETRIES must be 0 or more, not {self.llm_max_retries!r}")

    def build_extractor(self) -> Extractor:
        settings = ProviderSettings(
            model=self.llm_model, concurrency=self.llm_concurrency, rpm=self.llm_rpm, itpm=self.llm_itpm,
            otpm=self.llm_otpm, timeout=self.llm_timeout, max_retries=self.llm_max_retries,
            request_deadline=self.llm_request_deadline, max_pause=self.llm_max_pause,
            cache_dir=Path(self.llm_cache_dir), cache_enabled=self.llm_cache_enabled, cache_ttl=self.llm_cache_ttl,
            cache_max_entries=self.llm_cache_max_entries,
        )
        return build_extractor(self.provider, settings, cloze_mode=self.cloze_mode)

    def build_pipeline(self, stages: Collection[str] = STAGES) -> QuestionPipeline:
        """The pipeline for a run of these stages; its validation workers (if it validates) start now, so that their
        few seconds of start-up overlap the SDK's import and the first API calls."""
        validation = ValidationPool(self.validation_workers)
        if VALIDATED in stages:
            validation.start()
        try:
            return QuestionPipeline(
                data_dir=Path(self.data_dir),
                output_dir=Path(self.output_dir),
                store=ArtifactStore(Path(self.store_dir)),
                extractor=self.build_extractor(),
                validation=validation,
                question_budget=self.question_budget,
            )
        except BaseException:
            # A start that fails (unusable cache dir, full disk) stops the workers it started: nothing else holds
            # the pool, so they (and the resource tracker their pipes keep alive) would outlive the run.
            validation.close()
            raise
