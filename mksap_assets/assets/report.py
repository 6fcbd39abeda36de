"""The roll-up report: one unpartitioned asset over every exported question (all partitions of the four assets).

The question step builds it at its end when it is selected (assets/questions.py says why). It reads the export
documents from the output dir, like anki_deck, and the per-partition duration_ms of the four question assets from
the latest materialization of each partition (two instance queries per asset per 1,000 partitions). With the
worker that made each question's latest export (its run's process tags, dead_runs.py: one more query per 1,000
runs). The work is in mksap_assets/domain/exports/report.py; this is the Dagster shell: its spec and metadata.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from mksap_assets.assets import GROUP
from mksap_assets.dead_runs import worker_name
from mksap_assets.domain.engine.stages import EXPORTED
from mksap_assets.domain.exports.report import (
    TIMING_COLUMNS,
    WORKER_COLUMNS,
    report_dir,
    write_report,
)
from mksap_assets.materializations import FETCH_CHUNK, latest_materialization_records

PIPELINE_REPORT = dg.AssetKey("pipeline_report")
MAX_UNREADABLE_LOGGED = 20


def latest_durations(instance: dg.DagsterInstance, asset_keys: list[dg.AssetKey]) -> pd.DataFrame:
    """duration_ms of the latest materialization of every partition of each asset: columns asset, question_id,
    duration_ms. Per asset one query for the latest storage ids, then one per 1,000 partitions for the records."""
    rows: list[tuple[str, str, float]] = []
    for asset_key in asset_keys:
        for record in latest_materialization_records(instance, asset_key):
            materialization = record.asset_materialization
            duration = materialization.metadata.get("duration_ms")
            if materialization.partition is None or duration is None or duration.value is None:
                continue
            rows.append((asset_key.to_user_string(), materialization.partition, float(duration.value)))
    return pd.DataFrame(rows, columns=list(TIMING_COLUMNS))


def latest_workers(instance: dg.DagsterInstance) -> pd.DataFrame:
    """The worker (dead_runs.worker_name) of the run that made each question's latest export: columns question_id,
    worker (None for a run without process tags)."""
    run_by_question = {
        record.asset_materialization.partition: record.run_id
        for record in latest_materialization_records(instance, dg.AssetKey(EXPORTED))
    }
    run_ids = sorted(set(run_by_question.values()))
    workers: dict[str, str | None] = {}
    for start in range(0, len(run_ids), FETCH_CHUNK):
        runs = instance.get_runs(filters=dg.RunsFilter(run_ids=run_ids[start : start + FETCH_CHUNK]))
        workers.update({run.run_id: worker_name(run.tags) for run in runs})
    rows = [(question, workers.get(run_id)) for question, run_id in run_by_question.items()]
    return pd.DataFrame(rows, columns=list(WORKER_COLUMNS))


def report_spec(question_asset_keys: list[dg.AssetKey]) -> dg.AssetSpec:
    return dg.AssetSpec(
        PIPELINE_REPORT,
        group_name=GROUP,
        deps=[dg.AssetDep(key, partition_mapping=dg.AllPartitionMapping()) for key in question_asset_keys],
        description="Roll-up report over every exported question: statements, pass rate by system and question "
        "type, LLM tokens, cost and cache hit rate, p50/p95/max duration per asset, and the money spent to date per "
        "run. Written to <output dir>/report/ (questions.csv, by_system.csv, by_type.csv, timings.csv, "
        "source_concerns.csv, spend.csv, summary.md).",
        skippable=True,
    )


def build_report(
    log: dg.DagsterLogManager, instance: dg.DagsterInstance, output_dir: Path, question_asset_keys: list[dg.AssetKey]
) -> dg.MaterializeResult:
    timings = latest_durations(instance, question_asset_keys)
    report = write_report(output_dir, timings, workers=latest_workers(instance))
    for path in report.unreadable[:MAX_UNREADABLE_LOGGED]:
        log.warning(f"unreadable export document skipped: {path}")
    if len(report.unreadable) > MAX_UNREADABLE_LOGGED:
        log.warning(f"… and {len(report.unreadable) - MAX_UNREADABLE_LOGGED} more unreadable documents")
    if not report.totals.questions:
        log.warning(f"no exported questions in {output_dir}: the report is empty")
    totals = report.totals
    log.info(
        f"report: {totals.questions} questions, {totals.statements} statements, pass rate {totals.pass_rate:.1%}, "
        f"cost ${totals.cost_usd:.4f} -> {report_dir(output_dir)}"
    )
    metadata: dict[str, dg.MetadataValue] = {
        "questions": dg.MetadataValue.int(totals.questions),
        "statements": dg.MetadataValue.int(totals.statements),
        "statements_passed": dg.MetadataValue.int(totals.statements_passed),
        "pass_rate": dg.MetadataValue.float(totals.pass_rate),
        "errors": dg.MetadataValue.int(totals.errors),
        "warnings": dg.MetadataValue.int(totals.warnings),
        "llm_calls": dg.MetadataValue.int(totals.llm_calls),
        "cache_hits": dg.MetadataValue.int(totals.cache_hits),
        "cache_misses": dg.MetadataValue.int(totals.cache_misses),
        "input_tokens": dg.MetadataValue.int(totals.input_tokens),
        "output_tokens": dg.MetadataValue.int(totals.output_tokens),
        "cache_read_input_tokens": dg.MetadataValue.int(totals.cache_read_input_tokens),
        "cache_creation_input_tokens": dg.MetadataValue.int(totals.cache_creation_input_tokens),
        "cost_usd": dg.MetadataValue.float(totals.cost_usd),
        "unbilled_cost_usd": dg.MetadataValue.float(totals.unbilled_cost_usd),
        "spent_to_date_usd": dg.MetadataValue.float(round(report.spend.cost_usd, 6)),
        "runs_paid": dg.MetadataValue.int(len(report.spend.runs)),
        "unreadable_documents": dg.MetadataValue.int(totals.unreadable),
        "source_concerns": dg.MetadataValue.int(len(report.concerns)),
        "workers": dg.MetadataValue.int(len(report.workers)),
        "path": dg.MetadataValue.path(str(report_dir(output_dir))),
        "report": dg.MetadataValue.md(report.markdown),
    }
    # Undefined without any cache lookup (offline extractor): left out rather than plotted as a fake 0 %.
    if totals.cache_hit_rate is not None:
        metadata["cache_hit_rate"] = dg.MetadataValue.float(totals.cache_hit_rate)
    return dg.MaterializeResult(asset_key=PIPELINE_REPORT, metadata=metadata)
