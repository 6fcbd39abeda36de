"""Batch mode for a set of questions: their first-pass calls (llm_extractor.first_pass_calls, the very calls
`extract` makes) as the provider's batch requests, and one step of the batch cycle over them
(llm/batches/coordinator.py). Plain Python: the sensor and the CLI call it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mksap_assets.domain.config import LLMConfig
from mksap_assets.domain.errors import InputError
from mksap_assets.domain.extraction.llm_extractor import (
    first_pass_calls,
    first_pass_outputs,
)
from mksap_assets.domain.extraction.registry import LLM_PROVIDERS, OFFLINE
from mksap_assets.domain.inputs.bank import QuestionFile, load_raw_question
from mksap_assets.domain.llm.batches.api import BatchAPI
from mksap_assets.domain.llm.batches.coordinator import (
    BatchCoordinator,
    QuestionRequests,
    Step,
)
from mksap_assets.domain.llm.batches.state import BatchState
from mksap_assets.domain.llm.cache import open_response_cache


def batch_mode_off_reason(llm: LLMConfig) -> str | None:
    """Why `llm` (provider resolved) runs sync although it asks for batch mode; None when batch mode applies or
    was not asked for."""
    if llm.mode != "batch":
        return None
    if llm.provider == OFFLINE:
        return "MKSAP_LLM_MODE=batch does nothing with the offline extractor (it makes no API requests)"
    if not llm.cache_enabled:
        return ("MKSAP_LLM_MODE=batch needs the response cache, where batch answers wait for their runs "
                "(MKSAP_LLM_CACHE_ENABLED=0): running sync")
    if not hasattr(LLM_PROVIDERS[llm.provider], "batches"):
        return f"MKSAP_LLM_MODE=batch: provider {llm.provider} has no message batches: running sync"
    return None


def batch_api(llm: LLMConfig) -> BatchAPI:
    return LLM_PROVIDERS[llm.provider].batches(llm)  # type: ignore[attr-defined]


def question_requests(api: BatchAPI, questions: Iterable[QuestionFile], cloze_mode: str
                      ) -> tuple[list[QuestionRequests], list[str]]:
    """Each question's first-pass requests, and the questions that cannot be read (their runs report why)."""
    built, unreadable = [], []
    for question in questions:
        try:
            raw = load_raw_question(question)
        except InputError:
            unreadable.append(question.question_id)
            continue
        calls = first_pass_calls(raw, cloze_mode).calls()
        built.append(QuestionRequests(question.question_id, [api.prepare(call) for call in calls]))
    return built, unreadable


def batch_step(llm: LLMConfig, dagster_home: Path, questions: Iterable[QuestionFile], *, submit: bool = True) -> Step:
    """One step of the cycle for `questions` (module docstring of coordinator.py). Unreadable questions are ready
    at once: their runs fail with the reason."""
    api = batch_api(llm)
    cache = open_response_cache(llm)  # the runs' own (disk or shared): where they will look the answers up
    try:
        built, unreadable = question_requests(api, questions, llm.cloze_mode)
        with BatchState.locked(dagster_home) as state:
            step = BatchCoordinator(api, cache, state).step(built, first_pass_outputs(llm.cloze_mode), submit=submit)
    finally:
        cache.close()
        api.close()
    step.ready += unreadable
    return step


def batch_command(llm: LLMConfig, dagster_home: Path, action: str, batch_id: str | None = None) -> list[str]:
    """`mksap batch status` (refreshed from the API) or `cancel`: one line per batch of the state file."""
    api = batch_api(llm)
    try:
        with BatchState.locked(dagster_home) as state:
            coordinator = BatchCoordinator(api, None, state)
            notes = coordinator.reconcile()
            if action == "cancel":
                canceled = coordinator.cancel(batch_id)
                notes.append(f"cancel requested for {len(canceled)} batch(es); their unfinished requests go sync "
                             "when the batch has ended")
            else:
                coordinator.refresh()
            records = list(state.records)
    finally:
        api.close()
    return [*notes, *(record.line() for record in records)] or ["no message batches in this instance"]
