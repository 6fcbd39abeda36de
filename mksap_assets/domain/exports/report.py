"""The roll-up report over every exported question: pandas tables written as CSV and a Markdown summary.

Reads the export documents (document.iter_exports: <output dir>/<system>/<id>.json) and builds:

- questions.csv  one row per question: system, type (id[2:5]), statements by section, statements that passed the
                 card gate (card_gate.py), errors, warnings, extractor, model, endpoint (blank for Anthropic's
                 own API or offline), and the LLM usage recorded in provenance.llm_usage (calls, cache hits and
                 misses, tokens, cost_usd);
- by_system.csv  and by_type.csv: questions, statements, statements passed, pass rate (of statements), errors,
                 warnings, cost;
- source_concerns.csv  the statements the model flagged as contradicting established medical knowledge
                 (validation/evidence.py): question, section, index, statement, concern. They stay off the deck
                 until a physician has looked; summary.md lists the first of them;
- timings.csv    per asset: p50/p95/max of duration_ms over the reported questions, from a timings table the
                 caller passes in (columns asset, question_id, duration_ms; the Dagster asset reads it from the
                 latest materialization of each partition);
- spend.csv      what each run paid for API requests, from the spend ledger (llm/spend.py): the exports hold only
                 each question's latest usage, the ledger every run that paid;
- summary.md     the totals (the spend to date among them), the three small tables, the latest runs' spend and,
                 from a workers table the caller passes in (columns question_id, worker; the Dagster asset reads which
                 process made each question's latest export), the questions each worker exported, as Markdown (the
                 per-question table stays in the CSV).

Every file is written to a temporary name and renamed. No Dagster import.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mksap_assets.domain.engine.store import write_bytes_atomic
from mksap_assets.domain.exports.document import ExportDocument, iter_exports
from mksap_assets.domain.exports.identity import SECTION_LABELS
from mksap_assets.domain.llm.spend import SpendToDate, read_spend

log = logging.getLogger(__name__)

REPORT_DIR = "report"
REPORT_FILES = (
    "questions.csv", "by_system.csv", "by_type.csv", "timings.csv", "source_concerns.csv", "spend.csv", "summary.md",
)
CONCERN_COLUMNS = ("question_id", "section", "index", "statement", "source_concern")
CONCERNS_IN_SUMMARY = 50  # the rest are in source_concerns.csv
RUNS_IN_SUMMARY = 20  # the latest; all are in spend.csv
SPEND_COLUMNS = ("run_id", "started", "questions", "cost_usd", "unbilled_usd")
TIMING_COLUMNS = ("asset", "question_id", "duration_ms")
USAGE_FIELDS = (
    "llm_calls", "cache_hits", "cache_misses", "input_tokens", "output_tokens",
    "cache_read_input_tokens", "cache_creation_input_tokens", "cost_usd",
)
# provenance.llm_usage names these fields without the llm_ prefix
_USAGE_SOURCE = {"llm_calls": "calls"}
QUESTION_COLUMNS = (
    "question_id", "system", "system_name", "type",
    "statements_critique", "statements_key_points", "statements_table", "statements",
    "statements_passed", "errors", "warnings", "extractor", "model", "endpoint", *USAGE_FIELDS,
)
_COUNT_COLUMNS = (
    "statements_critique", "statements_key_points", "statements_table", "statements", "statements_passed", "errors",
    "warnings",
)
GROUP_COLUMNS = ("questions", "statements", "statements_passed", "pass_rate", "errors", "warnings", "cost_usd")
TIMING_TABLE_COLUMNS = ("asset", "partitions", "p50_ms", "p95_ms", "max_ms")
WORKER_COLUMNS = ("question_id", "worker")
WORKER_TABLE_COLUMNS = ("worker", "questions")
COST_DECIMALS = 6
RATE_DECIMALS = 6


def report_dir(output_dir: Path) -> Path:
    return output_dir / REPORT_DIR


def write_csv_atomic(path: Path, frame: pd.DataFrame) -> None:
    write_bytes_atomic(path, frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------------------------------
# Reading the exports


def question_row(document: ExportDocument, path: Path) -> dict[str, Any]:
    """One row of questions.csv from one export document."""
    question_id = document.question_id
    system = path.parent.name
    provenance = document.provenance
    sections = {
        "statements_critique": document.true_statements.from_critique,
        "statements_key_points": document.true_statements.from_key_points,
        "statements_table": document.table_statements.statements,
    }
    counts = {name: len(items) for name, items in sections.items()}
    row: dict[str, Any] = {
        "question_id": question_id,
        "system": system,
        "system_name": (document.category_name or system).strip() or system,
        "type": question_id[2:5],
        **counts,
        "statements": sum(counts.values()),
        "errors": document.validation.errors,
        "warnings": document.validation.warnings,
        "statements_passed": sum(
            1 for items in sections.values() for item in items if not item.blocking_codes()
        ),
        "extractor": provenance.extractor or "?",
        "model": provenance.model or "",
        "endpoint": provenance.endpoint or "",  # not Anthropic's API: its costs were never billed
    }
    for name in USAGE_FIELDS:
        row[name] = getattr(provenance.llm_usage, _USAGE_SOURCE.get(name, name))
    return row


def concern_rows(document: ExportDocument) -> list[dict[str, Any]]:
    """The statements of one export that the model flagged as medically doubtful."""
    return [
        {"question_id": document.question_id, "section": SECTION_LABELS[section], "index": index,
         "statement": item.statement, "source_concern": item.source_concern}
        for section, items in document.sections() for index, item in enumerate(items) if item.source_concern
    ]


def read_exports(output_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[Path]]:
    """In one pass over the exports: the per-question table (sorted by question id), the source concerns, and the
    export files that could not be read."""
    rows, concerns, unreadable = [], [], []
    for export in iter_exports(output_dir):
        if export.document is None:
            log.warning("report: cannot read %s", export.error)
            unreadable.append(export.path)
        else:
            rows.append(question_row(export.document, export.path))
            concerns += concern_rows(export.document)
    frame = pd.DataFrame(rows, columns=list(QUESTION_COLUMNS))
    frame = frame.astype({n: int for n in _COUNT_COLUMNS})
    frame = frame.astype({n: (float if n == "cost_usd" else int) for n in USAGE_FIELDS})
    concern_frame = pd.DataFrame(concerns, columns=list(CONCERN_COLUMNS)).astype({"index": int})
    return (frame.sort_values("question_id", kind="stable").reset_index(drop=True),
            concern_frame.sort_values(["question_id", "section", "index"], kind="stable").reset_index(drop=True),
            unreadable)


# --------------------------------------------------------------------------------------------------------------------
# Tables


def _grouped(questions: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = questions.groupby(keys, sort=True).agg(
        questions=("question_id", "size"),
        statements=("statements", "sum"),
        statements_passed=("statements_passed", "sum"),
        errors=("errors", "sum"),
        warnings=("warnings", "sum"),
        cost_usd=("cost_usd", "sum"),
    )
    grouped = grouped.reset_index()
    grouped["pass_rate"] = (grouped["statements_passed"] / grouped["statements"].where(grouped["statements"] > 0)
                            ).fillna(0.0).round(RATE_DECIMALS)
    grouped["cost_usd"] = grouped["cost_usd"].round(COST_DECIMALS)
    grouped = grouped.astype({n: int for n in ("questions", "statements", "statements_passed", "errors", "warnings")})
    return grouped[[*keys, *GROUP_COLUMNS]]


def by_system_table(questions: pd.DataFrame) -> pd.DataFrame:
    """Per system code; the name is the first one seen for the code (names are per document)."""
    table = _grouped(questions, ["system"])
    names = questions.groupby("system", sort=True)["system_name"].first()
    table.insert(1, "system_name", table["system"].map(names))
    return table


def by_type_table(questions: pd.DataFrame) -> pd.DataFrame:
    return _grouped(questions, ["type"])


def timing_table(timings: pd.DataFrame | None, question_ids: set[str] | None = None) -> pd.DataFrame:
    """p50/p95/max of duration_ms per asset, in the order the assets first appear in `timings`.

    Only rows of `question_ids` count when it is given (the questions in the report; a deleted question's old
    timings are left out). Rows without a duration are ignored.
    """
    if timings is None or timings.empty:
        return pd.DataFrame(columns=list(TIMING_TABLE_COLUMNS))
    missing = set(TIMING_COLUMNS) - set(timings.columns)
    if missing:
        raise ValueError(f"timings needs the columns {', '.join(TIMING_COLUMNS)}; missing {', '.join(sorted(missing))}")
    frame = timings.loc[:, list(TIMING_COLUMNS)].copy()
    frame["duration_ms"] = pd.to_numeric(frame["duration_ms"], errors="coerce")
    frame = frame.dropna(subset=["duration_ms"])
    if question_ids is not None:
        frame = frame[frame["question_id"].isin(question_ids)]
    if frame.empty:
        return pd.DataFrame(columns=list(TIMING_TABLE_COLUMNS))
    groups = frame.groupby("asset", sort=False)["duration_ms"]
    table = pd.DataFrame(
        {
            "partitions": groups.size(),
            "p50_ms": groups.quantile(0.5),
            "p95_ms": groups.quantile(0.95),
            "max_ms": groups.max(),
        }
    ).reset_index()
    table[["p50_ms", "p95_ms", "max_ms"]] = table[["p50_ms", "p95_ms", "max_ms"]].round(3)
    return table[list(TIMING_TABLE_COLUMNS)]


def worker_table(workers: pd.DataFrame | None, question_ids: set[str]) -> pd.DataFrame:
    """Questions per worker (the process that made a question's latest export), most first, over the reported
    questions that name one."""
    if workers is None or workers.empty:
        return pd.DataFrame(columns=list(WORKER_TABLE_COLUMNS))
    named = workers[workers["question_id"].isin(question_ids) & workers["worker"].notna()]
    counts = named.groupby("worker").size().rename("questions").reset_index()
    return counts.sort_values(["questions", "worker"], ascending=[False, True], ignore_index=True)


@dataclass(frozen=True)
class ReportTotals:
    questions: int = 0
    statements: int = 0
    statements_passed: int = 0
    pass_rate: float = 0.0  # statements_passed / statements (0.0 when there are none)
    errors: int = 0
    warnings: int = 0
    llm_calls: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    cache_hit_rate: float | None = None  # hits / (hits + misses); None when nothing was looked up (offline)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: float = 0.0
    # The part answered by an endpoint other than Anthropic's API (llm/providers/anthropic/endpoint.py).
    unbilled_cost_usd: float = 0.0
    extractors: dict[str, int] = field(default_factory=dict)  # extractor -> questions
    unreadable: int = 0


def totals_of(questions: pd.DataFrame, unreadable: int = 0) -> ReportTotals:
    count = len(questions)
    sums = {name: int(questions[name].sum()) for name in USAGE_FIELDS if name != "cost_usd"}
    lookups = sums["cache_hits"] + sums["cache_misses"]
    passed = int(questions["statements_passed"].sum())
    statements = int(questions["statements"].sum())
    return ReportTotals(
        questions=count,
        statements=statements,
        statements_passed=passed,
        pass_rate=round(passed / statements, RATE_DECIMALS) if statements else 0.0,
        errors=int(questions["errors"].sum()),
        warnings=int(questions["warnings"].sum()),
        cache_hit_rate=round(sums["cache_hits"] / lookups, RATE_DECIMALS) if lookups else None,
        cost_usd=round(float(questions["cost_usd"].sum()), COST_DECIMALS),
        unbilled_cost_usd=round(float(questions.loc[questions["endpoint"] != "", "cost_usd"].sum()), COST_DECIMALS),
        extractors={str(k): int(v) for k, v in questions["extractor"].value_counts().sort_index().items()},
        unreadable=unreadable,
        **sums,
    )


# --------------------------------------------------------------------------------------------------------------------
# Markdown


def _cell(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "–"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, formats: Mapping[str, str] | None = None) -> str:
    """A GitHub Markdown table; numbers right-aligned; `formats` maps a column to a format spec ("{:.1%}")."""
    formats = formats or {}
    if frame.empty:
        return "none"
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool for c in frame.columns]
    header = "| " + " | ".join(_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---:" if n else "---" for n in numeric) + "|"
    rows = []
    for record in frame.itertuples(index=False):
        cells = [
            formats[c].format(v) if c in formats and not (isinstance(v, float) and math.isnan(v)) else _cell(v)
            for c, v in zip(frame.columns, record, strict=True)
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join([header, rule, *rows])


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def totals_table(totals: ReportTotals, spend: SpendToDate) -> str:
    lookups = totals.cache_hits + totals.cache_misses
    extractors = ", ".join(f"{name} ({count})" for name, count in totals.extractors.items()) or "–"
    rows = [
        ("questions", f"{totals.questions:,}"),
        ("statements", f"{totals.statements:,}"),
        ("statements passed", f"{totals.statements_passed:,}/{totals.statements:,} ({_percent(totals.pass_rate)})"),
        ("errors / warnings", f"{totals.errors:,} / {totals.warnings:,}"),
        ("extractor", extractors),
        ("LLM calls", f"{totals.llm_calls:,}"),
        ("cache hit rate", f"{_percent(totals.cache_hit_rate)} ({totals.cache_hits:,} hits of {lookups:,} lookups)"),
        ("input / output tokens", f"{totals.input_tokens:,} / {totals.output_tokens:,}"),
        (
            "cache read / creation tokens",
            f"{totals.cache_read_input_tokens:,} / {totals.cache_creation_input_tokens:,}",
        ),
        ("cost (USD)", f"{totals.cost_usd:.4f}" + (
            f", of which {totals.unbilled_cost_usd:.4f} not billed (answered by an endpoint other than Anthropic's API)"
            if totals.unbilled_cost_usd else "")),
        ("spent to date", spend.summary()),
    ]
    if totals.unreadable:
        rows.append(("unreadable export files", f"{totals.unreadable:,}"))
    return "\n".join(["| total | value |", "|---|---:|", *(f"| {name} | {value} |" for name, value in rows)])


_GROUP_FORMATS = {"pass_rate": "{:.1%}", "cost_usd": "{:.4f}"}
_TIMING_FORMATS = {"p50_ms": "{:.1f}", "p95_ms": "{:.1f}", "max_ms": "{:.1f}"}


def render_markdown(report: PipelineReport, *, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return "\n".join(
        [
            "# MKSAP pipeline report",
            "",
            f"{report.totals.questions:,} exported questions in `{report.output_dir}`, generated {stamp}.",
            "",
            "## Totals",
            "",
            "The cost is what the current exports cost when they were made; what was spent to date counts every run "
            "that paid, reruns and failed questions included.",
            "",
            totals_table(report.totals, report.spend),
            "",
            "## By system",
            "",
            markdown_table(report.by_system, _GROUP_FORMATS),
            "",
            "## By question type",
            "",
            markdown_table(report.by_type, _GROUP_FORMATS),
            "",
            "## Timing per asset (duration_ms, latest materialization of each question)",
            "",
            markdown_table(report.timings, _TIMING_FORMATS),
            "",
            *concerns_section(report.concerns),
            *spend_section(report.spend),
            *workers_section(report.workers),
        ]
    )


def spend_table(spend: SpendToDate) -> pd.DataFrame:
    """One row per run that paid for API requests, oldest first."""
    rows = [(run.run_id, run.started, run.questions, round(run.cost_usd, COST_DECIMALS),
             round(run.unbilled_usd, COST_DECIMALS)) for run in spend.runs]
    return pd.DataFrame(rows, columns=list(SPEND_COLUMNS)).astype({"questions": int})


def spend_section(spend: SpendToDate) -> list[str]:
    """The latest runs' spend, as Markdown lines (none: no section)."""
    if not spend.runs:
        return []
    shown = spend_table(spend).tail(RUNS_IN_SUMMARY).iloc[::-1]
    more = f"the latest {len(shown)} of {len(spend.runs):,}; all" if len(spend.runs) > len(shown) else "all"
    return [
        "## Spent per run",
        "",
        f"Spent to date: {spend.summary()}. The runs that paid for API requests, newest first ({more} are in "
        "`spend.csv`).",
        "",
        markdown_table(shown, {"cost_usd": "{:.4f}", "unbilled_usd": "{:.4f}"}),
        "",
    ]


def concerns_section(concerns: pd.DataFrame) -> list[str]:
    """The statements held for a physician, as Markdown lines (none: no section)."""
    if concerns.empty:
        return []
    shown = concerns.head(CONCERNS_IN_SUMMARY)
    more = f" The first {len(shown)} are listed; all are" if len(concerns) > len(shown) else " All are also"
    return [
        "## Held for a physician: source concerns",
        "",
        f"{len(concerns):,} statements the model believes contradict established medical knowledge, though they "
        f"follow their source. They stay off the deck until someone checks the source.{more} in "
        "`source_concerns.csv`.",
        "",
        markdown_table(shown),
        "",
    ]


def workers_section(workers: pd.DataFrame) -> list[str]:
    """Which worker (host:pid of a run's process) exported how many questions, as Markdown lines (none: no
    section)."""
    if workers.empty:
        return []
    return ["## Workers (the process that made each question's latest export)", "", markdown_table(workers), ""]


# --------------------------------------------------------------------------------------------------------------------
# Building and writing


@dataclass
class PipelineReport:
    output_dir: Path
    questions: pd.DataFrame
    by_system: pd.DataFrame
    by_type: pd.DataFrame
    timings: pd.DataFrame
    totals: ReportTotals
    concerns: pd.DataFrame
    workers: pd.DataFrame
    spend: SpendToDate = field(default_factory=SpendToDate)
    unreadable: list[Path] = field(default_factory=list)
    markdown: str = ""
    paths: dict[str, Path] = field(default_factory=dict)  # file name -> path, once written


def build_report(
    output_dir: Path, timings: pd.DataFrame | None = None, *, workers: pd.DataFrame | None = None,
    now: datetime | None = None,
) -> PipelineReport:
    """Read every export under output_dir and build the tables and the Markdown (nothing is written)."""
    questions, concerns, unreadable = read_exports(output_dir)
    report = PipelineReport(
        output_dir=output_dir,
        questions=questions,
        by_system=by_system_table(questions),
        by_type=by_type_table(questions),
        timings=timing_table(timings, set(questions["question_id"])),
        totals=totals_of(questions, len(unreadable)),
        concerns=concerns,
        workers=worker_table(workers, set(questions["question_id"])),
        spend=read_spend(output_dir),
        unreadable=unreadable,
    )
    report.markdown = render_markdown(report, now=now)
    return report


def write_report(
    output_dir: Path, timings: pd.DataFrame | None = None, *, workers: pd.DataFrame | None = None,
    now: datetime | None = None,
) -> PipelineReport:
    """Build the report and write its files (REPORT_FILES) to <output dir>/report/."""
    report = build_report(output_dir, timings, workers=workers, now=now)
    target = report_dir(output_dir)
    frames = {
        "questions.csv": report.questions,
        "by_system.csv": report.by_system,
        "by_type.csv": report.by_type,
        "timings.csv": report.timings,
        "source_concerns.csv": report.concerns,
        "spend.csv": spend_table(report.spend),
    }
    for name, frame in frames.items():
        write_csv_atomic(target / name, frame)
        report.paths[name] = target / name
    write_bytes_atomic(target / "summary.md", report.markdown.encode("utf-8"))
    report.paths["summary.md"] = target / "summary.md"
    return report
