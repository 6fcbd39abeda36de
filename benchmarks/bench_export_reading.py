"""What reading the exports costs: N synthetic exports (default 2,198, the bank's size; 13 statements each, a third
with issues) read as bytes with orjson alone, as typed documents (document.iter_exports), and by the three readers:
the report's question table, `mksap summary` and the deck's notes. CPU seconds, best of 7.

Usage: python benchmarks/bench_export_reading.py [N]
"""

import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from mksap_assets.domain.engine.store import write_json_atomic
from mksap_assets.domain.exports.anki import (
    AnkiExportSummary,
    AnkiOptions,
    collect_notes,
)
from mksap_assets.domain.exports.document import export_path, export_paths, iter_exports
from mksap_assets.domain.exports.report import read_exports
from mksap_assets.domain.exports.summary import summarise_exports

SYSTEMS = ("cv", "dm", "en", "gi", "hm", "hp", "id", "nr", "np", "on", "pm", "rm")


def statement(index: int, rng: random.Random, table: bool = False) -> dict:
    issues, blocked_by = [], []
    if rng.random() < 0.3:
        issues.append({"code": "too_long", "severity": "warning", "message": "m", "span": [3, 9],
                       "category": "structure", "field": "statement"})
    if rng.random() < 0.1:
        issues.append({"code": "number_not_in_source", "severity": "error", "message": "m", "span": [3, 9],
                       "category": "grounding", "field": "statement"})
        blocked_by = ["number_not_in_source"]
    item = {"statement": f"Statement {index}: apixaban is reduced to 2.5 mg in older adults with renal disease.",
            "extra_field": "Context for the back of the card.", "cloze_candidates": ["apixaban", "2.5 mg"],
            "issues": issues, "passed": not blocked_by, "blocked_by": blocked_by}
    return {**item, "table_source": "table.html"} if table else item


def export(number: int, rng: random.Random) -> dict:
    code = SYSTEMS[number % len(SYSTEMS)]
    return {
        "question_id": f"{code}mcq{26000 + number}", "category": code, "category_name": f"{code.upper()} Medicine",
        "educational_objective": "Know the thing.", "question_text": "x" * 600, "critique": "z" * 2500,
        "key_points": ["k" * 150] * 3, "options": [{"letter": letter, "text": "an option"} for letter in "ABCDE"],
        "true_statements": {"from_critique": [statement(i, rng) for i in range(8)],
                            "from_key_points": [statement(i, rng) for i in range(3)]},
        "table_statements": {"statements": [statement(i, rng, table=True) for i in range(2)],
                             "tables_processed": 1, "tables_skipped": 0},
        "validation": {"statements": 13, "errors": 1, "warnings": 3, "infos": 0, "issues": [], "repair": None},
        "provenance": {"extractor": "anthropic", "model": "claude", "endpoint": None, "exported_at": f"t{number}",
                       "llm_usage": {"calls": 2, "input_tokens": 3000, "output_tokens": 900, "cost_usd": 0.0123}},
    }


def cpu_seconds(work: Callable[[], object]) -> float:
    times = []
    for _ in range(7):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def deck_notes(output_dir: Path) -> None:
    collect_notes(iter_exports(output_dir), AnkiOptions(), AnkiExportSummary(output_dir, AnkiOptions()))


def main(count: int) -> None:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        output_dir = Path(tmp)
        for number in range(count):
            document = export(number, rng)
            write_json_atomic(export_path(output_dir, document["question_id"]), document)
        measured = {
            "orjson only": lambda: [orjson.loads(path.read_bytes()) and None for path in export_paths(output_dir)],
            "iter_exports": lambda: [None for _ in iter_exports(output_dir)],
            "report question table": lambda: read_exports(output_dir),
            "mksap summary": lambda: summarise_exports(output_dir),
            "deck notes": lambda: deck_notes(output_dir),
        }
        print(f"{count} exports, CPU seconds (best of 7)")
        for name, work in measured.items():
            print(f"  {name:<22} {cpu_seconds(work):.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2198)
