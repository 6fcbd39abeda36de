"""The roll-up report: its CSV and Markdown numbers recomputed straight from the export JSON files, over the
offline pipeline's exports of the bundled samples and over small crafted documents with LLM usage."""

from __future__ import annotations

import math
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pandas as pd
import pytest

from mksap_assets.domain.engine.pipeline import STAGES, QuestionPipeline
from mksap_assets.domain.engine.runner import stream_outcomes
from mksap_assets.domain.engine.store import ArtifactStore
from mksap_assets.domain.exports.report import (
    REPORT_FILES,
    TIMING_COLUMNS,
    WORKER_COLUMNS,
    build_report,
    write_report,
)
from mksap_assets.domain.exports.summary import summarise_exports
from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.domain.llm.spend import SpendLedger
from mksap_assets.domain.validation.card_gate import CARD_BREAKING_WARNINGS
from mksap_assets_tests.conftest import SAMPLE_DIR
from mksap_assets_tests.helpers import sample_ids

# --------------------------------------------------------------------------------------------------------------------
# Recomputing the numbers from the files, independently of the report code


def _documents(output_dir: Path) -> dict[str, dict]:
    paths = sorted(p for p in output_dir.glob("[a-z][a-z]/*.json") if not p.name.startswith("."))
    return {p.stem: orjson.loads(p.read_bytes()) for p in paths}


def _items(document: dict) -> list[dict]:
    ts, tables = document["true_statements"], document["table_statements"]
    return [*ts["from_critique"], *ts["from_key_points"], *tables["statements"]]


def _statements(document: dict) -> int:
    return len(_items(document))


def _passed(document: dict) -> int:
    """Statements the deck takes: `blocked_by` empty, or for an export without it, no error and no card-breaking
    warning among its issues."""
    def blocked(item: dict) -> bool:
        if "blocked_by" in item:
            return bool(item["blocked_by"])
        return any(i["severity"] == "error" or (i["severity"] == "warning" and i["code"] in CARD_BREAKING_WARNINGS)
                   for i in item["issues"])

    return sum(not blocked(item) for item in _items(document))


def _expected(documents: dict[str, dict]) -> dict:
    per_system: dict[str, Counter] = defaultdict(Counter)
    per_type: dict[str, Counter] = defaultdict(Counter)
    for qid, document in documents.items():
        for bucket in (per_system[qid[:2]], per_type[qid[2:5]]):
            bucket.update(questions=1, statements=_statements(document), statements_passed=_passed(document))
            bucket["cost_usd"] += document["provenance"]["llm_usage"]["cost_usd"]
    usage = [d["provenance"]["llm_usage"] for d in documents.values()]
    hits, misses = sum(u["cache_hits"] for u in usage), sum(u["cache_misses"] for u in usage)
    return {
        "questions": len(documents),
        "statements": sum(_statements(d) for d in documents.values()),
        "statements_passed": sum(_passed(d) for d in documents.values()),
        "cost_usd": sum(u["cost_usd"] for u in usage),
        "input_tokens": sum(u["input_tokens"] for u in usage),
        "output_tokens": sum(u["output_tokens"] for u in usage),
        "cache_hit_rate": hits / (hits + misses) if hits + misses else None,
        "per_system": per_system,
        "per_type": per_type,
    }


def _read_csvs(output_dir: Path) -> dict[str, pd.DataFrame]:
    folder = output_dir / "report"
    return {
        name: pd.read_csv(folder / f"{name}.csv", keep_default_na=False, dtype={"model": str})
        for name in ("questions", "by_system", "by_type", "timings")
    }


def _assert_agrees(output_dir: Path) -> None:
    expected = _expected(_documents(output_dir))
    csvs = _read_csvs(output_dir)
    questions, by_system, by_type = csvs["questions"], csvs["by_system"], csvs["by_type"]
    assert len(questions) == expected["questions"]
    assert questions["statements"].sum() == expected["statements"]
    assert questions["statements_passed"].sum() == expected["statements_passed"]
    assert "passed" not in questions.columns
    by_id = questions.set_index("question_id")["statements_passed"]
    assert {qid: int(n) for qid, n in by_id.items()} == {qid: _passed(d) for qid, d in _documents(output_dir).items()}
    assert questions["cost_usd"].sum() == pytest.approx(expected["cost_usd"])
    assert (questions["statements_critique"] + questions["statements_key_points"] + questions["statements_table"]
            == questions["statements"]).all()
    for table, key, buckets in ((by_system, "system", expected["per_system"]), (by_type, "type", expected["per_type"])):
        assert set(table[key]) == set(buckets)
        for row in table.itertuples(index=False):
            bucket = buckets[getattr(row, key)]
            assert (row.questions, row.statements, row.statements_passed) == (
                bucket["questions"], bucket["statements"], bucket["statements_passed"]
            )
            share = bucket["statements_passed"] / bucket["statements"] if bucket["statements"] else 0.0
            assert row.pass_rate == pytest.approx(share)  # a share of statements, not of questions
            assert row.cost_usd == pytest.approx(bucket["cost_usd"], abs=1e-6)
        assert table["questions"].sum() == expected["questions"]
    summary = (output_dir / "report" / "summary.md").read_text()
    assert f"| questions | {expected['questions']:,} |" in summary
    assert f"| statements | {expected['statements']:,} |" in summary
    passed, statements = expected["statements_passed"], expected["statements"]
    rate = passed / statements if statements else 0.0
    assert f"| statements passed | {passed:,}/{statements:,} ({rate:.1%}) |" in summary
    assert "validation passed" not in summary
    assert f"| cost (USD) | {expected['cost_usd']:.4f} |" in summary


# --------------------------------------------------------------------------------------------------------------------
# The offline pipeline's exports of the bundled samples


@pytest.fixture(scope="module")
def sample_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    bank = root / "questions"
    shutil.copytree(SAMPLE_DIR, bank)
    output_dir = root / "output"

    def build(stages) -> QuestionPipeline:
        return QuestionPipeline(bank, output_dir, ArtifactStore(root / "store"), OfflineExtractor())

    outcomes = list(stream_outcomes(build, sample_ids(bank), STAGES, concurrency=8))
    assert all(outcome.ok for outcome in outcomes)
    return output_dir


def test_numbers_agree_with_the_sample_exports(sample_exports: Path):
    ids = sorted(p.stem for p in sample_exports.glob("*/*.json"))
    timings = pd.DataFrame(
        [(stage, qid, float(i + 1)) for stage in STAGES for i, qid in enumerate(ids)], columns=list(TIMING_COLUMNS)
    )
    report = write_report(sample_exports, timings)
    assert sorted(report.paths) == sorted(REPORT_FILES)
    assert all(path.is_file() for path in report.paths.values())
    _assert_agrees(sample_exports)
    expected = _expected(_documents(sample_exports))
    assert report.totals.questions == expected["questions"] == 16
    assert report.totals.statements == expected["statements"]
    assert report.totals.statements_passed == expected["statements_passed"]
    assert report.totals.pass_rate == pytest.approx(expected["statements_passed"] / expected["statements"], abs=1e-6)
    assert report.totals.extractors == {"offline": 16} and report.totals.cache_hit_rate is None
    questions = _read_csvs(sample_exports)["questions"]
    assert set(questions["extractor"]) == {"offline"} and set(questions["model"]) == {""}
    assert questions.loc[questions["question_id"] == "cvmcq26001", "system_name"].item() == "Cardiovascular Medicine"
    assert "| cache hit rate | n/a (0 hits of 0 lookups) |" in report.markdown
    timing_csv = _read_csvs(sample_exports)["timings"]
    assert list(timing_csv["asset"]) == list(STAGES) and set(timing_csv["partitions"]) == {16}
    assert set(timing_csv["max_ms"]) == {16.0} and set(timing_csv["p50_ms"]) == {8.5}


# --------------------------------------------------------------------------------------------------------------------
# Crafted documents: LLM usage, failures, several questions per system and type


def _usage(calls: int, hits: int, misses: int, cost: float) -> dict:
    return {
        "calls": calls, "cache_hits": hits, "cache_misses": misses, "retries": 0, "rate_limited": 0,
        "input_tokens": 1000 * misses, "output_tokens": 200 * misses, "cache_read_input_tokens": 50 * hits,
        "cache_creation_input_tokens": 10 * misses, "cost_usd": cost, "llm_seconds": 0.5,
    }


def _issue(code: str, severity: str) -> dict:
    return {"code": code, "severity": severity, "message": code, "span": None}


def document(qid: str, name: str, *, critique: int, key_points: int = 1, tables: int = 0,
             issues: dict[int, list[tuple[str, str]]] | None = None, errors: int = 0, warnings: int = 0,
             usage: dict | None = None, gated: bool = True) -> dict:
    """`issues` maps a statement's position (critique, then key points, then tables) to its (code, severity) issues;
    `gated` writes each statement's gate (passed, blocked_by) as the current validator does: an error or a
    card-breaking warning blocks; without it the document looks like an export from before the per-statement gate
    (no passed/blocked_by on statements, a question-level validation.passed)."""
    count = critique + key_points + tables
    items = []
    for position in range(count):
        found = (issues or {}).get(position, [])
        item = {"statement": "S.", "extra_field": None, "cloze_candidates": [],
                "issues": [_issue(code, severity) for code, severity in found]}
        if gated:
            blocked_by = [c for c, s in found if s == "error" or (s == "warning" and c in CARD_BREAKING_WARNINGS)]
            item.update(passed=not blocked_by, blocked_by=blocked_by)
        items.append(item)
    validation = {"statements": count, "errors": errors, "warnings": warnings, "infos": 0, "issues": []}
    if gated:
        passed = sum(item["passed"] for item in items)
        validation.update(statements_passed=passed, pass_rate=round(passed / count, 4) if count else 0.0)
    else:
        validation["passed"] = errors == 0
    return {
        "question_id": qid,
        "category": qid[:2],
        "category_name": name,
        "true_statements": {
            "from_critique": items[:critique], "from_key_points": items[critique:critique + key_points],
        },
        "table_statements": {"statements": items[critique + key_points:], "tables_processed": tables,
                             "tables_skipped": 0},
        "validation": validation,
        "provenance": {"extractor": "anthropic", "model": "claude-haiku-5-5", "llm_usage": usage or _usage(0, 0, 0, 0)},
    }


def write_docs(output_dir: Path, *documents: dict) -> None:
    for doc in documents:
        path = output_dir / doc["question_id"][:2] / f"{doc['question_id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(doc))


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    output_dir = tmp_path / "output"
    write_docs(
        output_dir,
        document("cvmcq26001", "Cardiovascular Medicine", critique=3, tables=2, usage=_usage(3, 1, 2, 0.0125)),
        # Two statements blocked by errors; the third (with an ordinary warning) still counts as passed.
        document("cvmcq26002", "Cardiovascular Medicine", critique=2, errors=2, warnings=1,
                 issues={0: [("number_not_in_source", "error")], 1: [("cloze_not_in_statement", "error")],
                         2: [("too_long", "warning")]},
                 usage=_usage(2, 2, 0, 0.0)),
        document("cvvdx26001", "Cardiovascular Medicine", critique=1, key_points=0, usage=_usage(1, 0, 1, 0.1)),
        # An export from before the gate: one card-breaking warning blocks its statement, the others are advice.
        document("npmcq26001", "Nephrology", critique=4, key_points=2, warnings=3, gated=False,
                 issues={1: [("cloze_repeated", "warning")], 2: [("too_long", "warning")],
                         4: [("trivial_cloze", "warning")]},
                 usage=_usage(4, 3, 1, 0.2)),
    )
    # Not question exports: other folders, temp files, moved-aside outputs.
    write_docs(output_dir / "anki", document("zzmcq26001", "Nope", critique=9))
    write_docs(output_dir / "_removed" / "20260101T000000Z", document("cvmcq26099", "Removed", critique=9))
    (output_dir / "cv" / ".cvmcq26003.json.abc.tmp").write_text("{half")
    (output_dir / "np" / ".hidden.json").write_text("{half")
    return output_dir


def test_crafted_totals_by_system_and_type(crafted: Path):
    report = write_report(crafted)
    _assert_agrees(crafted)
    totals = report.totals
    assert (totals.questions, totals.statements, totals.statements_passed) == (4, 16, 13)
    assert totals.pass_rate == 0.8125 and (totals.errors, totals.warnings) == (2, 4)
    assert totals.llm_calls == 10 and (totals.cache_hits, totals.cache_misses) == (6, 4)
    assert totals.cache_hit_rate == 0.6
    assert totals.input_tokens == 4000 and totals.output_tokens == 800
    assert totals.cache_read_input_tokens == 300 and totals.cache_creation_input_tokens == 40
    assert totals.cost_usd == pytest.approx(0.3125) and totals.extractors == {"anthropic": 4}
    csvs = _read_csvs(crafted)
    by_system = csvs["by_system"].set_index("system")
    assert by_system.loc["cv", "system_name"] == "Cardiovascular Medicine"
    assert by_system.loc["cv", ["questions", "statements", "statements_passed"]].tolist() == [3, 10, 8]
    assert by_system.loc["cv", "pass_rate"] == pytest.approx(0.8, abs=1e-6)
    assert by_system.loc["np", ["statements", "statements_passed"]].tolist() == [6, 5]
    questions = csvs["questions"].set_index("question_id")
    assert questions.loc["cvmcq26002", ["statements", "statements_passed", "errors"]].tolist() == [3, 1, 2]
    assert by_system.loc["np", "cost_usd"] == pytest.approx(0.2)
    by_type = csvs["by_type"].set_index("type")
    assert by_type.loc["vdx", ["questions", "statements"]].tolist() == [1, 1]
    assert by_type.loc["mcq", ["statements", "statements_passed"]].tolist() == [15, 12]
    assert by_type.loc["mcq", "cost_usd"] == pytest.approx(0.2125)
    assert "| cache hit rate | 60.0% (6 hits of 10 lookups) |" in report.markdown
    assert "| cv | Cardiovascular Medicine | 3 | 10 | 8 | 80.0% | 2 | 1 | 0.1125 |" in report.markdown
    assert "| statements passed | 13/16 (81.2%) |" in report.markdown
    assert "| input / output tokens | 4,000 / 800 |" in report.markdown
    assert totals.unreadable == 0


def test_an_unreadable_export_is_skipped_and_counted(crafted: Path):
    (crafted / "np" / "npmcq26002.json").write_text("{not json")
    (crafted / "np" / "npmcq26003.json").write_text("[1, 2]")
    report = build_report(crafted)
    assert report.totals.questions == 4 and report.totals.unreadable == 2
    assert sorted(p.name for p in report.unreadable) == ["npmcq26002.json", "npmcq26003.json"]
    assert "| unreadable export files | 2 |" in report.markdown


def test_timings_give_p50_p95_max_per_asset_for_reported_questions_only(crafted: Path):
    rows = [("raw_question", f"cvmcq2600{i}", float(ms)) for i, ms in ((1, 10), (2, 20))]
    rows += [("raw_question", "cvvdx26001", 30.0), ("raw_question", "npmcq26001", 40.0)]
    rows += [("raw_question", "gone26001", 10_000.0)]  # no export any more: left out
    rows += [("exported_question", "cvmcq26001", 5.0), ("exported_question", "cvmcq26002", float("nan"))]
    report = write_report(crafted, pd.DataFrame(rows, columns=list(TIMING_COLUMNS)))
    timings = _read_csvs(crafted)["timings"].set_index("asset")
    assert list(timings.index) == ["raw_question", "exported_question"]
    raw = timings.loc["raw_question"]
    assert raw["partitions"] == 4 and raw["p50_ms"] == 25.0 and raw["max_ms"] == 40.0
    assert raw["p95_ms"] == pytest.approx(pd.Series([10.0, 20, 30, 40]).quantile(0.95))
    assert timings.loc["exported_question"].tolist() == [1, 5.0, 5.0, 5.0]
    assert "| raw_question | 4 | 25.0 | 38.5 | 40.0 |" in report.markdown


def test_workers_count_the_reported_questions_each_exported(crafted: Path):
    reported = ["cvmcq26001", "cvmcq26002", "cvvdx26001", "npmcq26001"]
    rows = [(reported[0], "host-a:11"), (reported[1], "host-b:7"), (reported[2], "host-b:7"),
            (reported[3], None),  # a run without process tags (an earlier mksap)
            ("gone26001", "host-c:1")]  # no export any more: left out
    report = build_report(crafted, workers=pd.DataFrame(rows, columns=list(WORKER_COLUMNS)))
    assert report.workers.to_dict("records") == [{"worker": "host-b:7", "questions": 2},
                                                 {"worker": "host-a:11", "questions": 1}]
    assert "## Workers" in report.markdown and "| host-b:7 | 2 |" in report.markdown
    assert "## Workers" not in build_report(crafted).markdown  # nothing known: no section


def test_timings_without_the_columns_are_refused(crafted: Path):
    with pytest.raises(ValueError, match="duration_ms"):
        build_report(crafted, pd.DataFrame({"asset": ["raw_question"], "question_id": ["cvmcq26001"]}))


def test_an_empty_output_dir_gives_an_empty_report(tmp_path: Path):
    report = write_report(tmp_path / "output")
    assert report.totals.questions == 0 and report.totals.pass_rate == 0.0 and report.totals.cache_hit_rate is None
    csvs = _read_csvs(tmp_path / "output")
    assert all(frame.empty for frame in csvs.values())
    assert list(csvs["by_system"].columns)[:3] == ["system", "system_name", "questions"]
    assert list(csvs["timings"].columns) == ["asset", "partitions", "p50_ms", "p95_ms", "max_ms"]
    assert "| questions | 0 |" in report.markdown


def test_rewrites_atomically_and_leaves_no_temp_files(crafted: Path):
    write_report(crafted)
    write_docs(crafted, document("rmmcq26001", "Rheumatology", critique=1))
    write_docs(crafted, document("gimcq26001", "Gastroenterology", critique=0, key_points=0))  # no statement
    write_report(crafted)
    folder = crafted / "report"
    assert sorted(p.name for p in folder.iterdir()) == sorted(REPORT_FILES)
    assert len(pd.read_csv(folder / "questions.csv")) == 6
    _assert_agrees(crafted)
    assert not math.isnan(pd.read_csv(folder / "by_type.csv")["pass_rate"].sum())
    by_system = pd.read_csv(folder / "by_system.csv").set_index("system")
    assert by_system.loc["gi", ["statements", "statements_passed", "pass_rate"]].tolist() == [0, 0, 0.0]


def test_the_run_summary_counts_statements_that_passed(crafted: Path):
    summary = summarise_exports(crafted)
    assert (summary.questions, summary.statements, summary.statements_passed) == (4, 16, 13)
    assert summary.pass_rate == 0.8125
    assert "statements passed:  13/16 (81.2%)" in summary.render()
    assert "validation passed" not in summary.render()
    one = summarise_exports(crafted, ["cvmcq26002", "cvmcq26099"])
    assert (one.statements, one.statements_passed, one.missing) == (3, 1, ["cvmcq26099"])


def test_statements_with_a_source_concern_are_listed_for_a_physician(crafted: Path):
    flagged = document("cvmcq26004", "Cardiovascular Medicine", critique=2, errors=1,
                       issues={1: [("source_concern", "error")]})
    flagged["true_statements"]["from_critique"][1]["source_concern"] = "Malaria is spread by Anopheles | not Aedes."
    write_docs(crafted, flagged)
    report = write_report(crafted)
    concerns = pd.read_csv(crafted / "report" / "source_concerns.csv")
    assert concerns[["question_id", "section", "index"]].values.tolist() == [["cvmcq26004", "critique", 1]]
    assert concerns.loc[0, "source_concern"] == "Malaria is spread by Anopheles | not Aedes."
    assert "## Held for a physician: source concerns" in report.markdown
    assert "| cvmcq26004 | critique | 1 |" in report.markdown and "Anopheles \\| not Aedes" in report.markdown
    assert report.totals.statements_passed == 13 + 2  # the flagged one of its three statements is off the deck


def test_no_source_concern_no_section(crafted: Path):
    report = write_report(crafted)
    assert "source concerns" not in report.markdown
    assert pd.read_csv(crafted / "report" / "source_concerns.csv").empty


def test_the_spend_to_date_counts_every_run_that_paid_newest_first(crafted: Path):
    no_runs = write_report(crafted)
    assert "| spent to date | nothing (no run has paid for an API request) |" in no_runs.markdown
    assert "## Spent per run" not in no_runs.markdown
    first = SpendLedger(crafted, "run-a", billed=True)
    first.record("cvmcq26001", 0.25)
    first.record("cvmcq26002", 0.5)
    SpendLedger(crafted, "run-b", billed=True).record("cvmcq26001", 0.25)  # the same question, paid again
    report = write_report(crafted)
    assert "| spent to date | $1.00 over 2 runs |" in report.markdown
    spend = pd.read_csv(crafted / "report" / "spend.csv")
    assert spend[["run_id", "questions", "cost_usd"]].values.tolist() == [["run-a", 2, 0.75], ["run-b", 1, 0.25]]
    section = report.markdown.split("## Spent per run", 1)[1]
    assert section.index("| run-b |") < section.index("| run-a |")
    assert "| run-a |" in section and "| 2 | 0.7500 | 0.0000 |" in section
