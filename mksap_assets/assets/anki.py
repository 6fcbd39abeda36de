"""The Anki deck: one unpartitioned asset over every exported question (all partitions of exported_question).

The question step builds it at its end when it is selected (assets/questions.py says why), from the export
documents in the output dir, so it sees every question exported so far, whichever run exported it. The work is in
mksap_assets/domain/exports/anki.py; this is the Dagster shell: its spec, config and metadata.
"""

from pathlib import Path

import dagster as dg
from pydantic import Field

from mksap_assets.assets import GROUP
from mksap_assets.domain.engine.stages import EXPORTED
from mksap_assets.domain.exports.anki import (
    AnkiExportSummary,
    AnkiOptions,
    write_anki_export,
)

ANKI_DECK = dg.AssetKey("anki_deck")
EXPORTED_QUESTION = dg.AssetKey(EXPORTED)
MAX_SKIPS_LISTED = 50


class AnkiDeckConfig(dg.Config):
    strict: bool = Field(
        default=False,
        description="Also leave out statements with any warning (by default only errors and card-breaking warnings "
        "keep a statement out; see docs/VALIDATION.md).",
    )
    system: str | None = Field(
        default=None,
        description='Export one system only: its code ("cv") or name ("Cardiovascular Medicine"). '
        "The files are then named mksap-<code>.apkg/.txt.",
    )
    merge_duplicates: bool = Field(
        default=True,
        description="One card per fact: merge near-duplicate statements (same c1 answer, numbers and negation, "
        "similar wording), within a question and across the bank, into one note whose Extra names the other source "
        "questions (docs/VALIDATION.md, \"One card per fact\").",
    )


def _systems_table(summary: AnkiExportSummary) -> str:
    rows = [
        f"| {code} | {s.name} | {s.questions} | {s.notes} | {s.cards} | {s.skipped} |"
        for code, s in sorted(summary.per_system.items())
    ]
    return "\n".join(["| system | name | questions | notes | cards | skipped |", "|---|---|---|---|---|---|", *rows])


def _counter_table(title: str, counts: dict[str, int]) -> str:
    rows = [f"| {name} | {count} |" for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "\n".join([f"| {title} | count |", "|---|---|", *rows]) if rows else "none"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _skips_table(summary: AnkiExportSummary) -> str:
    records = summary.skip_log[:MAX_SKIPS_LISTED]
    rows = [
        f"| {_cell(r.question_id)} | {r.section} | {r.index} | {r.reason} | {_cell(r.detail)} |" for r in records
    ]
    more = len(summary.skip_log) - len(records)
    tail = [f"\n… and {more} more"] if more > 0 else []
    return "\n".join(["| question | section | # | reason | detail |", "|---|---|---|---|---|", *rows, *tail])


ANKI_DECK_SPEC = dg.AssetSpec(
    ANKI_DECK,
    group_name=GROUP,
    deps=[dg.AssetDep(EXPORTED_QUESTION, partition_mapping=dg.AllPartitionMapping())],
    description="Anki cloze deck of the validated statements of every exported question: "
    "<output dir>/anki/mksap.apkg (genanki) and mksap.txt (Anki text import); mksap-<code>.* for one system; "
    "a card preview to open in a browser, <output dir>/anki/preview/index.html (preview-<code>/ for one system).",
    skippable=True,
)


def build_deck(log: dg.DagsterLogManager, output_dir: Path, config: AnkiDeckConfig) -> dg.MaterializeResult:
    """Write the deck from every export document in the output dir; AnkiExportError when there is nothing to export."""
    options = AnkiOptions(
        strict=config.strict, system=config.system or None, merge_duplicates=config.merge_duplicates
    )
    summary = write_anki_export(output_dir, options)
    # Skipped statements are listed in the `skipped_statements` metadata, not logged one event row each.
    for path in summary.unreadable:
        log.warning(f"unreadable export document skipped: {path}")
    log.info(summary.render())
    if summary.kept is not None:
        log.warning(summary.kept_line())
    return dg.MaterializeResult(
        asset_key=ANKI_DECK,
        metadata={
            "notes": dg.MetadataValue.int(summary.notes),
            "cards": dg.MetadataValue.int(summary.cards),
            "questions": dg.MetadataValue.int(summary.questions),
            "skipped": dg.MetadataValue.int(summary.skipped_total),
            "merged_duplicates": dg.MetadataValue.int(summary.merged),
            "merge_duplicates": dg.MetadataValue.bool(options.merge_duplicates),
            "retired_notes": dg.MetadataValue.int(len(summary.retired)),
            "retired_path": dg.MetadataValue.path(str(summary.retired_path)),
            "path": dg.MetadataValue.path(str(summary.apkg_path)),
            "txt_path": dg.MetadataValue.path(str(summary.txt_path)),
            # the card preview: open it in a browser (domain/exports/preview.py)
            "preview_path": dg.MetadataValue.path(str(summary.preview_path)),
            "strict": dg.MetadataValue.bool(options.strict),
            "system": dg.MetadataValue.text(options.system or "all"),
            "per_system": dg.MetadataValue.md(_systems_table(summary)),
            "skipped_by_reason": dg.MetadataValue.md(_counter_table("reason", dict(summary.skipped))),
            "skipped_by_issue": dg.MetadataValue.md(_counter_table("issue", dict(summary.skipped_issue_codes))),
            "dropped_candidates": dg.MetadataValue.md(_counter_table("reason", dict(summary.dropped_candidates))),
            "skipped_statements": dg.MetadataValue.md(_skips_table(summary)),
            "unreadable_documents": dg.MetadataValue.int(len(summary.unreadable)),
            "manifest_path": dg.MetadataValue.path(str(summary.manifest_path)),
            # The deck this build replaced, and the deck kept when this one has fewer than 4/5 of its notes.
            "previous_notes": (dg.MetadataValue.int(summary.previous_notes) if summary.previous_notes is not None
                               else dg.MetadataValue.null()),
            "previous_kept_path": (dg.MetadataValue.path(str(summary.kept.apkg)) if summary.kept
                                   else dg.MetadataValue.null()),
        }
    )
