"""One step of batch mode's cycle, for the questions about to run: reconcile, poll, collect, submit. It never waits
for a batch: the sensor calls it on every tick, `mksap run` once (or in a loop with --wait).

1. Reconcile: a `submitting` record (a process killed between recording a batch and learning its id) is matched
   with a batch the API created since then with as many requests; with none, nothing was submitted and the record
   is dropped.
2. Poll every open batch; when one has ended, its results (any order) are collected: each succeeded answer that
   validates as its tool's output model is written into the response cache under the key the sync path uses, with its
   usage at batch prices (usage.py). Errored, expired and canceled requests, and answers that do not validate, are
   left out: the question's run makes them as sync requests (where the repair turn mends a malformed answer).
3. Submit the questions' first-pass requests that are neither cached nor were ever submitted, in batches of at most
   100,000 requests and 256 MB.

A question is ready to run once none of its requests waits for an open batch.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
from pydantic import BaseModel, ValidationError

from mksap_assets.domain.llm.batches.api import (
    BatchAnswer,
    BatchAPI,
    BatchRejected,
    BatchRequest,
    BatchView,
)
from mksap_assets.domain.llm.batches.state import BatchRecord, BatchState
from mksap_assets.domain.llm.batches.usage import (
    BATCH_USAGE,
    batch_answer_entry,
)
from mksap_assets.domain.llm.cache import CacheBackend
from mksap_assets.domain.statements import LLMUsage

# The Message Batches API's limits per batch; the size margin leaves room for the envelope of the JSON body.
MAX_BATCH_REQUESTS = 100_000
MAX_BATCH_BYTES = 256 * 1024 * 1024
BATCH_BYTES_MARGIN = 1024 * 1024
# Our clock and the API's may differ: a batch created this long before a `submitting` record may still be its own.
CLOCK_SLACK = timedelta(minutes=5)
RESULTS_KEPT = timedelta(days=29)


@dataclass(frozen=True)
class QuestionRequests:
    """A question's first-pass requests."""

    question_id: str
    requests: list[BatchRequest]


@dataclass
class Step:
    ready: list[str] = field(default_factory=list)  # questions none of whose requests waits for a batch
    waiting: list[str] = field(default_factory=list)
    submitted: list[BatchRecord] = field(default_factory=list)  # by this step
    collected: list[BatchRecord] = field(default_factory=list)  # by this step
    open: list[BatchRecord] = field(default_factory=list)  # still waiting for the API after this step
    notes: list[str] = field(default_factory=list)  # reconciled records, and the like

    def lines(self) -> list[str]:
        lines = list(self.notes)
        lines += [f"submitted {record.line()}" for record in self.submitted]
        lines += [f"collected {record.line()}" for record in self.collected]
        lines += [f"waiting for {record.line()}" for record in self.open if record not in self.submitted]
        lines.append(f"batch mode: {len(self.ready):,} questions ready to run, {len(self.waiting):,} waiting for "
                     f"{len(self.open)} open batch(es)")
        return lines


def split(requests: list[BatchRequest]) -> list[list[BatchRequest]]:
    """`requests` in batches within the API's limits, in order."""
    batches: list[list[BatchRequest]] = [[]]
    size = 0
    for request in requests:
        length = len(orjson.dumps({"custom_id": request.key, "params": request.body}))
        if batches[-1] and (len(batches[-1]) >= MAX_BATCH_REQUESTS
                            or size + length > MAX_BATCH_BYTES - BATCH_BYTES_MARGIN):
            batches.append([])
            size = 0
        batches[-1].append(request)
        size += length
    return [batch for batch in batches if batch]


class BatchCoordinator:
    """Batch mode over one state file (already locked by the caller), one provider's batches and the response
    cache (None for status and cancel, which collect nothing)."""

    def __init__(self, api: BatchAPI, cache: CacheBackend | None, state: BatchState):
        self.api = api
        self.cache = cache
        self.state = state

    def step(self, questions: Iterable[QuestionRequests], outputs: Mapping[str, type[BaseModel]], *,
             submit: bool = True) -> Step:
        """`outputs`: each tool the requests force -> the pydantic model its input must validate as."""
        questions = list(questions)
        step = Step(notes=self.reconcile())
        for record in [r for r in self.state.records if r.open and r.batch_id]:
            if self._poll(record, outputs):
                step.collected.append(record)
        # Forgotten after the 29 days the API keeps results: the state stays small, and the rare request of theirs
        # still to run (its answer evicted from the cache) may be submitted again.
        self.state.forget_collected_before(datetime.now(UTC) - RESULTS_KEPT)
        if submit:
            step.submitted = self._submit(questions, step.notes)
        waiting = self.state.waiting_keys()
        for question in questions:
            pending = any(request.key in waiting for request in question.requests)
            (step.waiting if pending else step.ready).append(question.question_id)
        step.open = [record for record in self.state.records if record.open]
        return step

    def reconcile(self) -> list[str]:
        """Match `submitting` records with the API's batches (module docstring); the lines say what was done."""
        submitting = sorted((r for r in self.state.records if r.status == "submitting"),
                            key=lambda r: r.submitting_since)
        if not submitting:
            return []
        known = {record.batch_id for record in self.state.records if record.batch_id}
        since = submitting[0].submitting_since - CLOCK_SLACK
        candidates: list[BatchView] = []
        for view in self.api.recent():
            if view.created_at < since:
                break
            if view.id not in known:
                candidates.append(view)
        candidates.sort(key=lambda view: view.created_at)
        notes = []
        for record in submitting:
            match = next((view for view in candidates if view.created_at >= record.submitting_since - CLOCK_SLACK
                          and view.requests == len(record.keys)), None)
            if match is None:
                self.state.records.remove(record)
                notes.append(f"local batch {record.local_id} was never created by the API: its "
                             f"{len(record.keys):,} requests will be submitted again")
                continue
            candidates.remove(match)
            record.batch_id, record.status, record.submitted_at = match.id, match.status, match.created_at
            notes.append(f"local batch {record.local_id} is {match.id} (created before this process learnt its id)")
        self.state.save()
        return notes

    def refresh(self) -> None:
        """The status of each open batch from the API, without collecting any result."""
        for record in self.state.records:
            if record.open and record.batch_id and record.status != "ended":
                record.status = self.api.retrieve(record.batch_id).status
        self.state.save()

    def cancel(self, batch_id: str | None = None) -> list[BatchRecord]:
        """Ask the API to cancel the given open batch (None: every open one); their unfinished requests go sync."""
        self.reconcile()
        chosen = [record for record in self.state.records
                  if record.batch_id and record.status in ("in_progress", "canceling")
                  and batch_id in (None, record.batch_id)]
        if batch_id is not None and not chosen:
            raise ValueError(f"{batch_id} is not an open batch of this instance (`mksap batch status` lists them)")
        for record in chosen:
            record.status = self.api.cancel(record.batch_id).status
            self.state.save()
        return chosen

    def _poll(self, record: BatchRecord, outputs: Mapping[str, type[BaseModel]]) -> bool:
        """Whether `record`'s batch has ended and its results were collected now."""
        view = self.api.retrieve(record.batch_id)
        record.status = view.status
        if view.status != "ended":
            self.state.save()
            return False
        record.ended_at = view.ended_at or datetime.now(UTC)
        self._collect(record, outputs)
        record.status, record.collected_at = "collected", datetime.now(UTC)
        self.state.save()
        return True

    def _collect(self, record: BatchRecord, outputs: Mapping[str, type[BaseModel]]) -> None:
        counts: Counter[str] = Counter()
        usage = LLMUsage()
        for answer in self.api.results(record.batch_id):
            if answer.key not in record.keys:
                counts["not ours"] += 1
                continue
            usage += answer.usage  # a succeeded request is billed whether or not its answer is usable
            counts[self._store(answer, outputs)] += 1
        record.results, record.usage = dict(counts), usage

    def _store(self, answer: BatchAnswer, outputs: Mapping[str, type[BaseModel]]) -> str:
        """Cache one answer; what became of it: its result type, or why a succeeded answer was not cached."""
        if answer.type != "succeeded":
            return answer.type
        if answer.tool is None or answer.tool_input is None:
            return "not cached: cut off or refused"
        output = outputs.get(answer.tool)
        if output is None:
            return f"not cached: {answer.tool} is not a first-pass tool"
        try:
            parsed = output.model_validate(answer.tool_input)
        except ValidationError:
            return "not cached: invalid"
        existing = self.cache.get(answer.key)
        if existing is not None and BATCH_USAGE not in existing:
            return "not cached: answered meanwhile"  # a sync run's answer (or a claimed one): never replaced
        entry = batch_answer_entry(parsed.model_dump(mode="json"), answer.model or self.api.model, answer.usage)
        return "succeeded" if self.cache.set(answer.key, entry) else "not cached: cache write failed"

    def _submit(self, questions: list[QuestionRequests], notes: list[str]) -> list[BatchRecord]:
        """Submit the requests neither cached nor ever submitted; a batch the API refuses is noted and its requests
        left to the sync runs (whose answers, once cached, are not submitted again)."""
        submitted = self.state.submitted_keys()
        owner: dict[str, str] = {}
        new: list[BatchRequest] = []
        for question in questions:
            for request in question.requests:
                if request.key in submitted or request.key in owner or self.cache.get(request.key) is not None:
                    continue
                owner[request.key] = question.question_id
                new.append(request)
        records = []
        for chunk in split(new):
            record = BatchRecord(local_id=uuid.uuid4().hex, keys={r.key: owner[r.key] for r in chunk},
                                 submitting_since=datetime.now(UTC))
            self.state.records.append(record)
            self.state.save()  # before the API call: a kill from here on is reconciled, never submitted twice
            try:
                view = self.api.create(chunk)
            except BatchRejected as refused:
                self.state.records.remove(record)
                self.state.save()
                notes.append(f"{refused}: its {len(chunk):,} requests run sync")
                continue
            record.batch_id, record.status, record.submitted_at = view.id, view.status, view.created_at
            self.state.save()
            records.append(record)
        return records
