"""What the spend ledger costs: a run appending one line per paid question (the bank's 2,198), and the report and
`mksap plan` reading the ledgers of RUNS such runs (default 10) back. CPU seconds, best of 5.

Usage: python benchmarks/bench_spend_ledger.py [RUNS]
"""

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from results_file import append_results

from mksap_assets.domain.llm.spend import SpendLedger, read_spend

QUESTIONS = 2198
REPEATS = 5


def write_run(output_dir: Path, run: int) -> None:
    ledger = SpendLedger(output_dir, f"run-{run:04d}", billed=True)
    for question in range(QUESTIONS):
        ledger.record(f"cvmcq{question:05d}", 0.0032)


def best_cpu(work) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory(prefix="bench_spend_") as root:
        output_dir = Path(root)
        write = best_cpu(lambda: write_run(output_dir / "one", 0))
        for run in range(runs):
            write_run(output_dir / "many", run)
        spend = read_spend(output_dir / "many")
        assert len(spend.runs) == runs and spend.runs[0].questions == QUESTIONS
        read = best_cpu(lambda: read_spend(output_dir / "many"))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    append_results([
        "", f"## Spend ledger ({stamp})", "",
        f"`python benchmarks/bench_spend_ledger.py {runs}`: CPU seconds, best of {REPEATS}.", "",
        "| work | CPU s |", "|---|---:|",
        f"| one run appending {QUESTIONS:,} lines (one per paid question) | {write:.3f} |",
        f"| reading {runs} runs' ledgers ({runs * QUESTIONS:,} lines) | {read:.3f} |",
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
