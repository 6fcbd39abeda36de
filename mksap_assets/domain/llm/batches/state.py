"""The message batches batch mode submitted, persisted in one JSON file under DAGSTER_HOME.

Every change is written atomically (a temporary file renamed over the old one) under an exclusive lock held for a
whole step of the cycle, so the sensor and the CLI never submit the same requests twice. A batch is recorded as
`submitting` (with the keys of its requests) before the API is asked to create it, and gets its id right after: a
process killed in between leaves a `submitting` record, which the next step matches with the API's list of batches
(coordinator.py), rather than submitting again.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from mksap_assets.domain.statements import LLMUsage

STATE_FILE = Path("mksap") / "batches.json"

RecordStatus = Literal["submitting", "in_progress", "canceling", "ended", "collected"]


class BatchRecord(BaseModel):
    local_id: str  # ours, known before the API's id
    batch_id: str | None = None  # the API's, once it has created the batch
    status: RecordStatus = "submitting"
    keys: dict[str, str]  # its requests: response cache key (the custom_id) -> question id
    submitting_since: datetime  # just before the create call: a batch created from then on may be this one
    submitted_at: datetime | None = None
    ended_at: datetime | None = None
    collected_at: datetime | None = None
    results: dict[str, int] = Field(default_factory=dict)  # succeeded / errored / expired / canceled, and invalid
    usage: LLMUsage = Field(default_factory=LLMUsage)  # what its succeeded requests cost, at batch prices

    @property
    def open(self) -> bool:
        """Its results are not in the cache yet: its questions wait."""
        return self.status != "collected"

    def line(self) -> str:
        """One line for `mksap batch status` and the sensor's log."""
        name = self.batch_id or f"(local {self.local_id}, not confirmed by the API)"
        questions = len(set(self.keys.values()))
        text = f"{name}: {self.status}, {len(self.keys):,} requests for {questions:,} questions"
        if self.submitted_at:
            text += f", submitted {self.submitted_at:%Y-%m-%d %H:%M:%S} UTC"
        if self.results:
            text += "; " + ", ".join(f"{count:,} {kind}" for kind, count in sorted(self.results.items()))
        if self.usage.batch_calls:
            text += f"; USD {self.usage.cost_usd:.4f} at batch prices"
        return text


class StateFile(BaseModel):
    batches: list[BatchRecord] = Field(default_factory=list)


class BatchStateError(RuntimeError):
    """The state file cannot be read: the message names it."""


class BatchState:
    def __init__(self, path: Path, records: list[BatchRecord]):
        self.path = path
        self.records = records

    @classmethod
    @contextmanager
    def locked(cls, dagster_home: Path) -> Iterator[BatchState]:
        """The state, locked against every other process until the block ends."""
        path = Path(dagster_home) / STATE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield cls(path, cls._read(path))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _read(path: Path) -> list[BatchRecord]:
        if not path.exists():
            return []
        try:
            return StateFile.model_validate_json(path.read_bytes()).batches
        except (ValidationError, ValueError) as exc:
            raise BatchStateError(f"{path}: not a batch state file ({type(exc).__name__}: {str(exc)[:200]}); "
                                  "move it aside to start afresh (batches it lists are then not collected)") from None

    def save(self) -> None:
        data = StateFile(batches=self.records).model_dump_json(indent=1).encode()
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def submitted_keys(self) -> set[str]:
        """Keys of every request ever submitted (a key seen in an ended batch but not cached goes sync)."""
        return {key for record in self.records for key in record.keys}

    def waiting_keys(self) -> set[str]:
        return {key for record in self.records if record.open for key in record.keys}

    def forget_collected_before(self, moment: datetime) -> None:
        """Drop the batches collected before `moment`: their requests may then be submitted again."""
        kept = [r for r in self.records if r.collected_at is None or r.collected_at >= moment]
        if len(kept) < len(self.records):
            self.records = kept
            self.save()
