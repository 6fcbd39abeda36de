"""What the API cost, run after run: a ledger of one JSON-lines file per Dagster run, <output dir>/spend/<run id>.jsonl,
one line per question the run paid for (its metered cost, whether Anthropic billed it, when).

Neither the exports nor Dagster's materialization history can say this: an export keeps only its question's latest
usage, and a materialization is recorded only for a stage that succeeded, while a question is paid for each time it
runs, failed or not. A file per run has a single writer, so a line appended per question needs no lock, and a run
killed midway keeps the lines of the questions it finished; each line goes out in one write, and a torn last line
(a crash mid-write) is skipped when the ledger is read. No Dagster import.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from mksap_assets.domain.llm.cost_plan import dollars

log = logging.getLogger(__name__)

SPEND_DIR = "spend"  # beside the exports' two-letter folders, never read as one (document.export_paths)


def spend_dir(output_dir: Path) -> Path:
    return output_dir / SPEND_DIR


@dataclass(frozen=True)
class SpendLedger:
    """One run's ledger file, appended to as its questions finish."""

    output_dir: Path
    run_id: str
    billed: bool  # whether the run's endpoint is Anthropic's own API (endpoint.is_billed)

    @property
    def path(self) -> Path:
        return spend_dir(self.output_dir) / f"{self.run_id}.jsonl"

    def record(self, question_id: str, cost_usd: float) -> None:
        """One question's cost in this run; nothing when it paid nothing (offline, the response cache)."""
        if cost_usd <= 0:
            return
        line = orjson.dumps({"question_id": question_id, "cost_usd": cost_usd, "billed": self.billed,
                             "at": datetime.now(UTC).isoformat(timespec="milliseconds")}) + b"\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as file:  # O_APPEND, one write of the whole line
            file.write(line)


@dataclass(frozen=True)
class RunSpend:
    run_id: str
    started: str  # when its first paid question finished (ISO 8601, UTC)
    questions: int  # the questions it paid for
    cost_usd: float
    unbilled_usd: float  # the part answered by an endpoint other than Anthropic's API


@dataclass(frozen=True)
class SpendToDate:
    runs: tuple[RunSpend, ...] = ()  # oldest first

    @property
    def cost_usd(self) -> float:
        return sum((run.cost_usd for run in self.runs), 0.0)

    @property
    def unbilled_usd(self) -> float:
        return sum((run.unbilled_usd for run in self.runs), 0.0)

    def summary(self) -> str:
        if not self.runs:
            return "nothing (no run has paid for an API request)"
        unbilled = (f" (of which ${dollars(self.unbilled_usd)} not billed: answered by an endpoint other than "
                    "Anthropic's API)" if self.unbilled_usd else "")
        runs = len(self.runs)
        return f"${dollars(self.cost_usd)} over {runs:,} run{'' if runs == 1 else 's'}{unbilled}"

    def line(self) -> str:
        return f"spent so far: {self.summary()}"


def _run_spend(path: Path) -> RunSpend | None:
    entries = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            entry = orjson.loads(line)
            entries.append((str(entry["at"]), float(entry["cost_usd"]), bool(entry["billed"])))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("spend ledger %s line %d: not a ledger entry; skipped", path, number)
    if not entries:
        return None
    return RunSpend(
        run_id=path.stem,
        started=min(at for at, _, _ in entries),
        questions=len(entries),
        cost_usd=sum(cost for _, cost, _ in entries),
        unbilled_usd=sum(cost for _, cost, billed in entries if not billed),
    )


def read_spend(output_dir: Path) -> SpendToDate:
    """Every run's spending recorded under output_dir, oldest first."""
    directory = spend_dir(output_dir)
    paths = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
    runs = [run for run in map(_run_spend, paths) if run is not None]
    return SpendToDate(tuple(sorted(runs, key=lambda run: (run.started, run.run_id))))
