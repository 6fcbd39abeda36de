"""Resources: thin configurable wrappers that build the domain objects for a run."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import dagster as dg

from mksap_assets.dead_runs import fail_dead_runs, process_tags
from mksap_assets.domain.engine.changes import ExtractorIdentity
from mksap_assets.domain.engine.pipeline import QuestionOutcome
from mksap_assets.domain.engine.runner import stream_outcomes
from mksap_assets.domain.engine.spec import PipelineSpec
from mksap_assets.domain.extraction.base import Extractor
from mksap_assets.domain.extraction.registry import endpoint as provider_endpoint
from mksap_assets.domain.extraction.registry import extractor_identity
from mksap_assets.domain.extraction.settings import ExtractionSettings
from mksap_assets.domain.inputs.bank import (
    QuestionFile,
    discover_questions,
    is_safe_question_id,
)
from mksap_assets.pinned_settings import pin_if_absent
from mksap_assets.settings import (
    Settings,
    default_engine_process,
    default_validation_workers,
    has_api_key,
)

QUESTIONS_PER_REQUEST_SLOT = 2


class PipelineResource(dg.ConfigurableResource):
    """Where the bank is, where outputs go, and how Claude is called. Holds no secret: the SDK reads
    ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL) from the environment of the run. Its provider, model and cloze mode
    are only the values an instance pins first: runs and the sensor use the copy `pinned_to(instance)`."""

    data_dir: str
    output_dir: str
    store_dir: str
    llm_provider: str = ""
    llm_model: str
    llm_concurrency: int = 32
    cloze_mode: str = "folded"
    llm_cache_dir: str
    llm_cache_enabled: bool = True
    llm_cache_ttl: float | None = None
    llm_cache_max_entries: int | None = None
    llm_rpm: float | None = None
    llm_itpm: float | None = None
    llm_otpm: float | None = None
    llm_timeout: float = 120.0
    llm_max_retries: int = 4
    llm_request_deadline: float = 600.0
    llm_max_pause: float = 60.0
    question_budget: float = 1800.0
    validation_workers: int = default_validation_workers()
    engine_process: bool = default_engine_process()

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineResource:
        llm = settings.llm
        return cls(
            data_dir=str(settings.data_dir),
            output_dir=str(settings.output_dir),
            store_dir=str(settings.store_dir),
            llm_provider=llm.provider,
            llm_model=llm.model,
            llm_concurrency=llm.concurrency,
            cloze_mode=llm.cloze_mode,
            llm_cache_dir=str(llm.cache_dir),
            llm_cache_enabled=llm.cache_enabled,
            llm_cache_ttl=llm.cache_ttl,
            llm_cache_max_entries=llm.cache_max_entries,
            llm_rpm=llm.rpm,
            llm_itpm=llm.itpm,
            llm_otpm=llm.otpm,
            llm_timeout=llm.timeout,
            llm_max_retries=llm.max_retries,
            llm_request_deadline=llm.request_deadline,
            llm_max_pause=llm.max_pause,
            question_budget=llm.question_budget,
            validation_workers=settings.validation_workers,
            engine_process=settings.engine_process,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Dagster sets up a run's resources before its question step claims the "llm" pool slot, so this is the
        # run's first own code: it tags the run with its process, and frees the slots of dead runs it would wait for.
        if context.dagster_run is not None and context.instance is not None:
            context.instance.add_run_tags(context.dagster_run.run_id, process_tags())
            fail_dead_runs(context.instance)

    def question_files(self) -> list[QuestionFile]:
        """Question files in the bank that can be partitions (unsafe ids are reported by check-inputs)."""
        return [q for q in discover_questions(Path(self.data_dir)) if is_safe_question_id(q.question_id)]

    def question_ids(self) -> list[str]:
        return [q.question_id for q in self.question_files()]

    def pinned_settings(self, instance: dg.DagsterInstance) -> ExtractionSettings:
        """The provider, model and cloze mode pinned in the instance; when it has none, this resource's values are
        pinned first (an unset provider: anthropic when this process has an API key, else offline)."""
        initial = ExtractionSettings.initial(
            provider=self.llm_provider, model=self.llm_model, cloze_mode=self.cloze_mode, has_api_key=has_api_key()
        )
        return pin_if_absent(instance, initial)

    def pinned_to(self, instance: dg.DagsterInstance) -> PipelineResource:
        """A copy of this resource with the instance's pinned provider, model and cloze mode: what every run and
        tick on the instance uses, whatever the environment of the process."""
        pinned = self.pinned_settings(instance)
        return self.model_copy(
            update={"llm_provider": pinned.provider, "llm_model": pinned.model, "cloze_mode": pinned.cloze_mode}
        )

    def extraction_settings(self) -> ExtractionSettings:
        """This resource's provider, model and cloze mode, validated (the pinned ones on a `pinned_to` copy)."""
        return ExtractionSettings(self.llm_provider, self.llm_model, self.cloze_mode)

    def provider(self) -> str:
        return self.extraction_settings().provider

    def missing_requirement(self, process: str) -> str | None:
        """Why `process` cannot extract with this resource's provider (no API key for anthropic), or None."""
        return self.extraction_settings().missing_requirement(has_api_key=has_api_key(), process=process)

    def endpoint(self) -> str | None:
        """Where the provider's calls would go when that is not its own API (a fake, a proxy), or None."""
        return provider_endpoint(self.provider())

    def extractor_identity(self) -> ExtractorIdentity:
        """Which extractor, model and prompt a run would use now, without creating any client."""
        return extractor_identity(self.provider(), model=self.llm_model, cloze_mode=self.cloze_mode)

    def spec(self) -> PipelineSpec:
        """The run's pipeline as plain data (this resource's fields of the same names), built in the process that
        runs the questions. Fails, before anything is called, when this process lacks what the provider needs:
        never a fallback to another extractor."""
        if missing := self.missing_requirement("the process running this run"):
            raise dg.Failure(description=missing)  # a Failure: the run's failure message is the reason itself
        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(PipelineSpec) if f.name != "provider"}
        try:
            return PipelineSpec(**shared, provider=self.provider())
        except ValueError as exc:  # a setting out of range: the reason names it
            raise dg.Failure(description=str(exc)) from None

    def build_extractor(self) -> Extractor:
        return self.spec().build_extractor()

    def questions_in_flight(self) -> int:
        """Questions a run works on at once. Twice the requests the limiter lets in flight: questions that wait for
        validation or for their writes then never leave API slots idle."""
        return QUESTIONS_PER_REQUEST_SLOT * self.llm_concurrency

    def run_questions(self, question_ids: Sequence[str], stages: Collection[str]) -> Iterator[QuestionOutcome]:
        """Each question's outcome as it finishes, from this resource's pipeline (in an engine process when
        `engine_process` is set); closing the iterator early cancels the rest."""
        return stream_outcomes(
            self.spec().build_pipeline, question_ids, stages, self.questions_in_flight(),
            separate_process=self.engine_process,
        )
