"""One question through the four stages (stages.py), with timing and counts per stage; no Dagster here.

raw_question -> extracted_statements -> validated_statements -> exported_question

Validation includes the repair turn when the extractor has one (repair.py): the statements the gate keeps off the
deck go back to the model once, and those that come back passing replace them.

A run may select any subset of stages: a stage that is not selected but is needed downstream is read from the
artifact store. A failure stops that question only (later stages are not attempted, nothing partial is
written); other questions are unaffected. So does running past the question's time budget. What the failed stage
paid for (its calls, tokens and cost) is in the outcome's `usage`, so the run's totals count it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mksap_assets.domain.engine.stages import (
    EXPORTED,
    EXTRACTED,
    RAW,
    STAGES,
    VALIDATED,
)
from mksap_assets.domain.engine.store import ArtifactStore, write_json_atomic
from mksap_assets.domain.engine.waits import cpu_bound, in_thread, wait_clock
from mksap_assets.domain.errors import InputError
from mksap_assets.domain.exports.document import (
    build_export,
    export_path,
    output_fingerprint,
    read_export,
)
from mksap_assets.domain.extraction.base import Extractor
from mksap_assets.domain.extraction.repair import (
    StatementRepairer,
    merged,
    statements_to_repair,
    validation_identity,
    with_repairs,
)
from mksap_assets.domain.inputs.bank import (
    RawQuestion,
    load_raw_question,
    question_file_for,
)
from mksap_assets.domain.llm.meter import metering
from mksap_assets.domain.llm.providers.anthropic.endpoint import (
    endpoint_name,
    is_billed,
)
from mksap_assets.domain.nlp import parsing
from mksap_assets.domain.statements import Extraction, LLMUsage, ValidatedStatements
from mksap_assets.domain.validation.pool import ValidationPool

MetadataValue = int | float | str | bool
WAIT_MS = "wait_ms"


@dataclass
class StageResult:
    """`duration_ms` is the stage's work: its wall time less the time it waited (for request slots and rate-limit
    budget, a validation worker, a write thread, a core), which `metadata` records as `wait_ms` (waits.py)."""

    stage: str
    duration_ms: float
    metadata: dict[str, MetadataValue]

    @property
    def wait_ms(self) -> float:
        return self.metadata[WAIT_MS]


@dataclass
class QuestionOutcome:
    question_id: str
    results: list[StageResult] = field(default_factory=list)
    failed_stage: str | None = None
    error: str | None = None
    # What the failed stage paid for before it failed; a finished stage's usage is in its metadata instead.
    usage: LLMUsage = field(default_factory=LLMUsage)

    @property
    def ok(self) -> bool:
        return self.failed_stage is None

    @property
    def paid_usd(self) -> float:
        """What this question cost in this run: its finished stages' calls (the extraction's, the repair turn's)
        and the failed stage's."""
        finished = sum(result.metadata.get(name, 0.0) for result in self.results
                       for name in ("cost_usd", "repair_cost_usd"))
        return finished + self.usage.cost_usd


class MissingUpstreamError(RuntimeError):
    pass


@dataclass
class QuestionPipeline:
    data_dir: Path
    output_dir: Path
    store: ArtifactStore
    extractor: Extractor
    validation: ValidationPool = field(default_factory=lambda: ValidationPool(0))
    # Seconds a question may take, all its stages and waits included (None: no limit).
    question_budget: float | None = None

    async def run(self, question_id: str, stages: Collection[str] = STAGES) -> QuestionOutcome:
        outcome = QuestionOutcome(question_id)
        values: dict[str, Any] = {}
        stage = ""
        try:
            async with asyncio.timeout(self.question_budget):
                for stage in (s for s in STAGES if s in stages):
                    outcome.usage = LLMUsage()
                    if not await self._run_timed(stage, question_id, values, outcome):
                        return outcome
        except TimeoutError:  # the budget's own: a stage's timeouts are its errors, caught in _run_timed
            outcome.failed_stage = stage
            outcome.error = (f"{question_id} ran over its time budget of {self.question_budget:g} s "
                             f"(MKSAP_QUESTION_BUDGET) in {stage}")
            return outcome
        outcome.usage = LLMUsage()  # every stage finished: their usage is in their metadata
        return outcome

    async def _run_timed(self, stage: str, question_id: str, values: dict[str, Any], outcome: QuestionOutcome) -> bool:
        """Run one stage into `outcome`; False when it failed (the reason and what it paid are in `outcome`)."""
        started = time.perf_counter()
        try:
            with metering(outcome.usage), wait_clock() as waits:
                metadata = await self._run_stage(stage, question_id, values)
        except (InputError, MissingUpstreamError) as exc:
            outcome.failed_stage, outcome.error = stage, str(exc)
            return False
        except Exception as exc:  # any other bug or outage fails this question only, with its reason
            outcome.failed_stage, outcome.error = stage, f"{type(exc).__name__}: {exc}"
            return False
        wall_ms, wait_ms = (time.perf_counter() - started) * 1000, waits.seconds * 1000
        outcome.results.append(
            StageResult(stage, round(wall_ms - wait_ms, 3), {WAIT_MS: round(wait_ms, 3), **metadata}))
        return True

    async def aclose(self) -> None:
        self.validation.close()
        await self.extractor.aclose()

    async def _save(self, stage: str, question_id: str, value: Any) -> None:
        # In a thread: each write ends with an fsync, which under a full run's disk load can take long enough to
        # stall every question on the event loop.
        await in_thread(self.store.save, stage, question_id, value)

    def _upstream(self, stage: str, question_id: str, values: dict[str, Any], model: type) -> Any:
        if stage not in values:
            if not self.store.exists(stage, question_id):
                raise MissingUpstreamError(f"{stage} has not been materialized for {question_id}")
            values[stage] = self.store.load(stage, question_id, model)
        return values[stage]

    async def _run_stage(self, stage: str, question_id: str, values: dict[str, Any]) -> dict[str, MetadataValue]:
        return await STAGE_RUNNERS[stage](self, question_id, values)

    async def _raw(self, question_id: str, values: dict[str, Any]) -> dict[str, MetadataValue]:
        # Off the loop: a slow disk or a large file must not stall every other question.
        raw = await in_thread(load_raw_question, question_file_for(self.data_dir, question_id))
        await self._save(RAW, question_id, raw)
        values[RAW] = raw
        return {
            "input_sha256": raw.input_sha256,
            "key_points": len(raw.key_points),
            "tables": len(raw.tables),
            "critique_chars": len(raw.critique),
        }

    async def _extracted(self, question_id: str, values: dict[str, Any]) -> dict[str, MetadataValue]:
        raw = self._upstream(RAW, question_id, values, RawQuestion)
        extraction = await self.extractor.extract(raw)
        await self._save(EXTRACTED, question_id, extraction)
        values[EXTRACTED] = extraction
        usage = extraction.usage
        return {
            "statements": extraction.statement_count,
            "extractor": extraction.extractor,
            "model": extraction.model or "-",
            "endpoint": endpoint_name(extraction.endpoint) if extraction.model else "-",  # no model: no API
            "billed": usage.calls > 0 and is_billed(extraction.endpoint),
            **usage_metadata(usage),
        }

    async def _validated(self, question_id: str, values: dict[str, Any]) -> dict[str, MetadataValue]:
        raw = self._upstream(RAW, question_id, values, RawQuestion)
        extraction = self._upstream(EXTRACTED, question_id, values, Extraction)
        timed = await self.validation.validate(extraction, raw)
        validated = timed.validated
        validator_ms, validator_cpu_ms = timed.wall_ms, timed.cpu_ms
        if isinstance(self.extractor, StatementRepairer):
            to_repair = statements_to_repair(extraction, validated)
            if to_repair:
                answer = await self.extractor.repair(raw, to_repair)
                revalidated = validated  # nothing came back: nothing to validate again
                if answer.statements:
                    retimed = await self.validation.validate(with_repairs(extraction, answer.statements), raw)
                    validator_ms, validator_cpu_ms = validator_ms + retimed.wall_ms, validator_cpu_ms + retimed.cpu_ms
                    revalidated = retimed.validated
                validated = merged(validated, revalidated, answer, len(to_repair))
            identity = validation_identity(self.extractor.repair_version)
            validated = validated.model_copy(
                update={"validation": validated.validation.model_copy(update={"validator_version": identity})})
        await self._save(VALIDATED, question_id, validated)
        values[VALIDATED] = validated
        summary = validated.validation
        repair = summary.repair
        return {
            **summary.counts(),
            "error_codes": ",".join(f"{code}:{count}" for code, count in summary.error_codes.items()),
            "validator_ms": round(validator_ms, 3),
            "validator_cpu_ms": round(validator_cpu_ms, 3),
            "validator_version": summary.validator_version,
            "repair_sent": repair.statements_sent if repair else 0,
            "repair_saved": repair.statements_repaired if repair else 0,
            "repair_llm_calls": repair.usage.calls if repair else 0,
            # As the extraction's: a repair request answered 429 (and retried) is counted where it happened.
            "repair_retries": repair.usage.retries if repair else 0,
            "repair_rate_limited": repair.usage.rate_limited if repair else 0,
            "repair_input_tokens": repair.usage.input_tokens if repair else 0,
            "repair_output_tokens": repair.usage.output_tokens if repair else 0,
            "repair_cost_usd": round(repair.usage.cost_usd, 6) if repair else 0.0,
        }

    async def _exported(self, question_id: str, values: dict[str, Any]) -> dict[str, MetadataValue]:
        raw = self._upstream(RAW, question_id, values, RawQuestion)
        extraction = self._upstream(EXTRACTED, question_id, values, Extraction)
        validated = self._upstream(VALIDATED, question_id, values, ValidatedStatements)
        path = export_path(self.output_dir, question_id)
        # The last export gives the statements their ids (a reworded rerun keeps the learner's notes).
        previous = (await in_thread(read_export, path)).document if path.is_file() else None
        document = cpu_bound(build_export, raw, extraction, validated, nlp_pipeline=parsing.pipeline_name(),
                             previous=previous)
        await in_thread(write_json_atomic, path, document)
        # What made this export: the sensor compares these with the current inputs, prompts and model.
        return {
            "statements": validated.validation.statements,
            "statements_passed": validated.validation.statements_passed,
            "pass_rate": validated.validation.pass_rate,
            "fingerprint": output_fingerprint(raw, extraction, validated),
            "input_sha256": raw.input_sha256,
            "extractor": extraction.extractor,
            "model": extraction.model or "-",
            "endpoint": extraction.endpoint or "-",
            "prompt_version": extraction.prompt_version,
            "validator_version": validated.validation.validator_version,
            "path": str(path),
        }


# What runs each stage of the table (stages.py); a test checks that every stage has its runner.
STAGE_RUNNERS: dict[str, Callable[[QuestionPipeline, str, dict[str, Any]], Awaitable[dict[str, MetadataValue]]]] = {
    RAW: QuestionPipeline._raw,
    EXTRACTED: QuestionPipeline._extracted,
    VALIDATED: QuestionPipeline._validated,
    EXPORTED: QuestionPipeline._exported,
}


def usage_metadata(usage: LLMUsage) -> dict[str, MetadataValue]:
    """LLM usage as metadata: a finished extraction's, or what a failed question paid (the run totals add both)."""
    return {
        "llm_calls": usage.calls,
        "batch_calls": usage.batch_calls,
        "cache_hits": usage.cache_hits,
        "cache_misses": usage.cache_misses,
        "cache_write_errors": usage.cache_write_errors,
        "retries": usage.retries,
        "rate_limited": usage.rate_limited,
        "deadlines_missed": usage.deadlines_missed,
        "pauses_capped": usage.pauses_capped,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cost_usd": round(usage.cost_usd, 6),
        "llm_seconds": round(usage.llm_seconds, 3),
    }
