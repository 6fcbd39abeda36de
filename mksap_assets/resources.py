"""Resources: thin configurable wrappers that build the domain objects for a run."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, get_origin

import dagster as dg
from pydantic import BaseModel, Field, create_model

from mksap_assets.dead_runs import fail_dead_runs, process_tags
from mksap_assets.domain.config import PipelineConfig
from mksap_assets.domain.engine.changes import ExtractorIdentity
from mksap_assets.domain.engine.pipeline import QuestionOutcome
from mksap_assets.domain.engine.runner import stream_outcomes
from mksap_assets.domain.engine.spec import build_extractor, build_pipeline
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
    ConfigError,
    Settings,
    has_api_key,
    has_variable,
    nested_merge,
    resolve_settings,
)

QUESTIONS_PER_REQUEST_SLOT = 2


def dagster_twin(model: type[BaseModel]) -> type[dg.Config]:
    """The Dagster run-config twin of a domain config model (domain/config.py): the same fields and descriptions,
    generated rather than copied, each optional. A field left unset is resolved from the environment when a run or
    tick starts (settings.py); one set here (the launchpad, a test) overrides it for that run. Bounds are checked
    when the two are merged into the domain model."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = dagster_twin(annotation)
        elif annotation is Path or get_origin(annotation) is Literal:  # Dagster config knows neither
            annotation = str
        fields[name] = (annotation | None, Field(None, description=info.description))
    return create_model(f"{model.__name__}Overrides", __base__=dg.Config, __module__=__name__, **fields)


PipelineOverrides = dagster_twin(PipelineConfig)


class PipelineResource(dg.ConfigurableResource):
    """Where the bank is, where outputs go, and how Claude is called: the typed config of domain/config.py, resolved
    when a run or tick starts. Holds no secret: the SDK reads ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL) from the
    environment of the run. Its provider, model and cloze mode are only the values an instance pins first: runs and
    the sensor use the copy `pinned_to(instance)`."""

    config: PipelineOverrides = PipelineOverrides()  # type: ignore[valid-type]

    @classmethod
    def of(cls, config: PipelineConfig) -> PipelineResource:
        """A resource with every value given: the environment decides nothing."""
        return cls(config=PipelineOverrides.model_validate(config.model_dump(mode="json")))

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineResource:
        return cls.of(settings.pipeline_config())

    def overridden(self, changes: dict[str, Any]) -> PipelineResource:
        """A copy with some values given (nested dicts: {"llm": {"concurrency": 3}})."""
        values = nested_merge(self.config.model_dump(exclude_none=True), changes)
        return self.model_copy(update={"config": PipelineOverrides.model_validate(values)})

    def resolved(self) -> PipelineConfig:
        """The config this run uses: defaults, the environment, then the values given here. A value out of range
        fails with its variable's name (a Failure: the run's failure message is the reason itself)."""
        try:
            return resolve_settings(overrides=self.config.model_dump(exclude_none=True)).pipeline_config()
        except ConfigError as exc:
            raise dg.Failure(description=str(exc)) from None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Dagster sets up a run's resources before its question step claims the "llm" pool slot, so this is the
        # run's first own code: it tags the run with its process, and frees the slots of dead runs it would wait for.
        if context.dagster_run is not None and context.instance is not None:
            context.instance.add_run_tags(context.dagster_run.run_id, process_tags())
            fail_dead_runs(context.instance)

    def question_files(self) -> list[QuestionFile]:
        """Question files in the bank that can be partitions (unsafe ids are reported by check-inputs)."""
        return [q for q in discover_questions(self.resolved().data_dir) if is_safe_question_id(q.question_id)]

    def question_ids(self) -> list[str]:
        return [q.question_id for q in self.question_files()]

    def pinned_settings(self, instance: dg.DagsterInstance) -> ExtractionSettings:
        """The provider, model and cloze mode pinned in the instance; when it has none, this resource's values are
        pinned first (an unset provider: anthropic when this process has an API key, else offline)."""
        llm = self.resolved().llm
        initial = ExtractionSettings.initial(
            provider=llm.provider, model=llm.model, cloze_mode=llm.cloze_mode, has_api_key=has_api_key()
        )
        return pin_if_absent(instance, initial)

    def pinned_to(self, instance: dg.DagsterInstance) -> PipelineResource:
        """A copy of this resource with the instance's pinned provider, model and cloze mode: what every run and
        tick on the instance uses, whatever the environment of the process."""
        pinned = self.pinned_settings(instance)
        return self.overridden(
            {"llm": {"provider": pinned.provider, "model": pinned.model, "cloze_mode": pinned.cloze_mode}}
        )

    def extraction_settings(self) -> ExtractionSettings:
        """This resource's provider, model and cloze mode, validated (the pinned ones on a `pinned_to` copy)."""
        llm = self.resolved().llm
        return ExtractionSettings(llm.provider, llm.model, llm.cloze_mode)

    def provider(self) -> str:
        return self.extraction_settings().provider

    def missing_requirement(self, process: str) -> str | None:
        """Why `process` cannot extract with this resource's provider (no API key for anthropic), or None."""
        return self.extraction_settings().missing_requirement(has_variable=has_variable, process=process)

    def endpoint(self) -> str | None:
        """Where the provider's calls would go when that is not its own API (a fake, a proxy), or None."""
        return provider_endpoint(self.provider())

    def extractor_identity(self) -> ExtractorIdentity:
        """Which extractor, model and prompt a run would use now, without creating any client."""
        llm = self.resolved().llm
        return extractor_identity(self.provider(), model=llm.model, cloze_mode=llm.cloze_mode)

    def spec(self) -> PipelineConfig:
        """The run's config with its provider resolved: plain picklable data, from which the process that runs the
        questions builds the pipeline (engine/spec.py). Fails, before anything is called, when this process lacks
        what the provider needs: never a fallback to another extractor."""
        if missing := self.missing_requirement("the process running this run"):
            raise dg.Failure(description=missing)  # a Failure: the run's failure message is the reason itself
        config = self.resolved()
        return config.model_copy(update={"llm": config.llm.model_copy(update={"provider": self.provider()})})

    def build_extractor(self) -> Extractor:
        return build_extractor(self.spec())

    def questions_in_flight(self) -> int:
        """Questions a run works on at once. Twice the requests the limiter lets in flight: questions that wait for
        validation or for their writes then never leave API slots idle."""
        return QUESTIONS_PER_REQUEST_SLOT * self.resolved().llm.concurrency

    def run_questions(self, question_ids: Sequence[str], stages: Collection[str]) -> Iterator[QuestionOutcome]:
        """Each question's outcome as it finishes, from this resource's pipeline (in an engine process when
        `engine_process` is set); closing the iterator early cancels the rest."""
        spec = self.spec()
        return stream_outcomes(
            functools.partial(build_pipeline, spec), question_ids, stages, self.questions_in_flight(),
            separate_process=spec.engine_process,
        )
