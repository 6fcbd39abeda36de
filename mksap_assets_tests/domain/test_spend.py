"""The spend ledger: what each run paid, every time a question was paid for, read back per run."""

from pathlib import Path

import pytest

from mksap_assets.domain.exports.document import export_paths
from mksap_assets.domain.llm.spend import SpendLedger, read_spend, spend_dir


def test_each_run_is_summed_and_reruns_count_each_time(tmp_path: Path):
    first = SpendLedger(tmp_path, "run-1", billed=True)
    first.record("q1", 0.25)
    first.record("q2", 0.5)
    first.record("q3", 0.0)  # answered from the response cache: paid nothing, no line
    second = SpendLedger(tmp_path, "run-2", billed=False)  # the fake API: metered, not billed
    second.record("q1", 0.125)
    spend = read_spend(tmp_path)
    assert [(run.run_id, run.questions, run.cost_usd, run.unbilled_usd) for run in spend.runs] == [
        ("run-1", 2, 0.75, 0.0), ("run-2", 1, 0.125, 0.125)]
    assert spend.cost_usd == pytest.approx(0.875)
    assert spend.line() == ("spent so far: $0.8750 over 2 runs (of which $0.1250 not billed: answered by an "
                            "endpoint other than Anthropic's API)")


def test_a_torn_last_line_is_skipped(tmp_path: Path):
    ledger = SpendLedger(tmp_path, "killed", billed=True)
    ledger.record("q1", 1.5)
    with ledger.path.open("ab") as file:
        file.write(b'{"question_id": "q2", "cost')  # the process died mid-write
    [run] = read_spend(tmp_path).runs
    assert (run.questions, run.cost_usd) == (1, 1.5)


def test_no_ledger_is_nothing_spent_and_the_ledger_is_never_read_as_exports(tmp_path: Path):
    assert read_spend(tmp_path).line() == "spent so far: nothing (no run has paid for an API request)"
    SpendLedger(tmp_path, "run-1", billed=True).record("q1", 1.0)
    assert spend_dir(tmp_path).is_dir() and export_paths(tmp_path) == []
