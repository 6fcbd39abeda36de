"""What the card preview costs at the bank's size: its page sizes and the time to write it.

The Claude code path over ../shared/corpus (benchmarks/quality.py's run_set, replaying ../shared/model_responses
against the fake Messages API) gives real statement texts; their exports are copied COPIES times under new question
ids (42 × 52 = 2,184 questions, about the bank's 2,198), into a temporary folder (they derive from the corpus: never
into the repository). The deck's notes are collected without dedup (the copies would merge into one note each), then
preview.write_preview is timed (best of 3) and each page measured. The systems keep the corpus's proportions (2 to 5
questions each), so the largest page stands for a system with that share of the bank. Appends to
benchmarks/results.md.

Usage: python benchmarks/bench_preview.py [--copies 52]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import quality  # benchmarks/, the script's folder, is on sys.path
from results_file import append_results

from mksap_assets.domain.exports.anki import (
    AnkiExportSummary,
    AnkiOptions,
    collect_notes,
)
from mksap_assets.domain.exports.deck_files import PREVIEW_INDEX
from mksap_assets.domain.exports.document import export_path, iter_exports
from mksap_assets.domain.exports.preview import write_preview
from mksap_assets.domain.inputs.bank import discover_questions


def copy_exports(source: Path, target: Path, copies: int) -> None:
    """Each export `copies` times, the copy number written into its question id after the type (cvmcq07…)."""
    for path in sorted(source.glob("[a-z][a-z]/*.json")):
        document = orjson.loads(path.read_bytes())
        question_id = document["question_id"]
        for copy in range(copies):
            new_id = f"{question_id[:5]}{copy:02d}{question_id[5:]}"
            destination = export_path(target, new_id)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(orjson.dumps({**document, "question_id": new_id}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=52)
    args = parser.parse_args()
    if not quality.CORPUS.is_dir():
        print(f"the corpus is not present ({quality.CORPUS})", file=sys.stderr)
        return 1
    corpus_ids = [q.question_id for q in discover_questions(quality.CORPUS)]
    with tempfile.TemporaryDirectory(prefix="mksap-bench-preview-") as folder:
        work = Path(folder)
        quality.run_set("model_responses", corpus_ids, work, provider="anthropic",
                        replay_dir=quality.MODEL_RESPONSES)
        bank = work / "bank"
        copy_exports(work / "model_responses" / "output", bank, args.copies)
        exports = list(iter_exports(bank))
        summary = AnkiExportSummary(output_dir=bank, options=AnkiOptions(merge_duplicates=False))
        notes = collect_notes(exports, summary.options, summary)
        documents = [export.document for export in exports if export.document is not None]
        seconds = []
        for _ in range(3):
            started = time.perf_counter()
            index = write_preview(bank / "anki" / "preview", documents, notes, summary.skip_log)
            seconds.append(time.perf_counter() - started)
        sizes = {page.name: page.stat().st_size for page in index.parent.glob("*.html")}
    pages = sorted(((name, size) for name, size in sizes.items() if name != PREVIEW_INDEX), key=lambda kv: -kv[1])
    rows = [
        f"| {name} | {summary.per_system[name.removesuffix('.html')].questions} | "
        f"{summary.per_system[name.removesuffix('.html')].notes} | {size / 1e6:.2f} |"
        for name, size in pages
    ]
    append_results([
        f"\n## Card preview at the bank's size ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n",
        f"`python benchmarks/bench_preview.py --copies {args.copies}`: the model_responses exports of the "
        f"{len(corpus_ids)} corpus questions copied {args.copies} times, no dedup. Machine: {platform.machine()}, "
        f"Python {platform.python_version()}.\n",
        f"{summary.questions} questions, {summary.notes} notes, {len(summary.skip_log)} statements left out; "
        f"preview written in {min(seconds):.2f} s (best of 3); {len(sizes)} pages, "
        f"{sum(sizes.values()) / 1e6:.1f} MB in all, index {sizes[PREVIEW_INDEX] / 1e3:.1f} kB; "
        f"{sum(size for _, size in pages) / (summary.notes + len(summary.skip_log)):.0f} bytes per statement.\n",
        "| page | questions | notes | MB |",
        "|---|---|---|---|",
        *rows,
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
