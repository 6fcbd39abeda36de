"""Validation CPU time per question after warm-up, and the NLP document cache's hit rate.

For every question of a bank (default: the real corpus in ../shared/corpus when present, else the bundled samples)
`validate_extraction(extraction, raw)` is timed with `time.process_time()` (CPU of this process) over several
rounds after one warm-up round over all questions (pipeline built, regexes compiled). Tokenised texts are
forgotten before every timed validation.

- warm: in pipeline order: the offline extractor (untimed) parses the critique and key points, then validation
  re-uses those documents from the cache. The cache starts empty each round, so its hit rate is the pipeline's;
- cold: the document cache is emptied before each validation, so the spaCy parse is included.

Usage: python benchmarks/bench_validation.py [--bank DIR] [--rounds N] [--statements offline|reference].
`--statements reference` validates the original system's stored statements (the corpus files that carry them;
their LLM-written extra_fields make them longer to ground) instead of the offline extractor's. Results are
appended to benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
from results_file import RESULTS

from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question
from mksap_assets.domain.nlp import parsing
from mksap_assets.domain.statements import Extraction
from mksap_assets.domain.validation import grounding, validate_extraction
from mksap_assets.settings import PROJECT_ROOT

CORPUS = PROJECT_ROOT.parent / "shared" / "corpus"
SAMPLES = PROJECT_ROOT / "data" / "questions"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _reference(question_file) -> Extraction | None:
    """The original system's stored statements, when the file carries them."""
    document = orjson.loads(question_file.path.read_bytes())
    if "true_statements" not in document:
        return None
    return Extraction.from_document(document, extractor="original", prompt_version="original")


def measure(bank: Path, rounds: int, statements_from: str = "offline") -> dict:
    extractor = OfflineExtractor()
    files = discover_questions(bank)
    if statements_from == "reference":
        files = [f for f in files if _reference(f) is not None]
    raws = [load_raw_question(f) for f in files]
    if statements_from == "reference":
        extractions = [_reference(f) for f in files]
    else:
        extractions = [asyncio.run(extractor.extract(raw)) for raw in raws]
    statements = sum(e.statement_count for e in extractions)
    for raw, extraction in zip(raws, extractions, strict=True):  # warm-up: pipeline built, regexes compiled
        validate_extraction(extraction, raw)

    # warm: in pipeline order, each question's extraction (untimed; it parses the critique and key points) just
    # before its validation (timed). The document cache starts empty every round: its hit rate is the pipeline's.
    warm: list[float] = []
    parsing.DOC_CACHE.clear()
    for _ in range(rounds):
        parsing.DOC_CACHE.clear(counters=False)
        for raw, stored in zip(raws, extractions, strict=True):
            grounding.clear_caches()
            extraction = asyncio.run(extractor.extract(raw))  # parses the critique and key points
            if statements_from == "reference":
                extraction = stored
            t0 = time.process_time()
            validate_extraction(extraction, raw)
            warm.append((time.process_time() - t0) * 1000)
    cache = parsing.cache_stats()

    # cold: the document cache emptied before each validation, so validation parses the sources itself.
    cold: list[float] = []
    for _ in range(rounds):
        for raw, extraction in zip(raws, extractions, strict=True):
            parsing.DOC_CACHE.clear(counters=False)
            grounding.clear_caches()
            t0 = time.process_time()
            validate_extraction(extraction, raw)
            cold.append((time.process_time() - t0) * 1000)
    return {
        "bank": bank, "questions": len(raws), "statements": statements, "rounds": rounds,
        "warm": warm, "cold": cold, "cache": cache, "pipeline": parsing.pipeline_name(),
        "statements_from": statements_from,
    }


def report(result: dict) -> str:
    def row(name: str, values: list[float]) -> str:
        return (f"| {name} | {statistics.mean(values):.1f} | {statistics.median(values):.1f} | "
                f"{_percentile(values, 0.95):.1f} | {max(values):.1f} |")

    per_statement = statistics.mean(result["warm"]) * result["questions"] / result["statements"]
    cache = result["cache"]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python benchmarks/bench_validation.py", *result["argv"]])
    return "\n".join([
        f"## Validation CPU time per question ({now})",
        f"`{command}` (bank `{os.path.relpath(result['bank'], PROJECT_ROOT)}`): "
        f"{result['questions']} questions, {result['statements']} {result['statements_from']} statements, NLP pipeline "
        f"`{result['pipeline']}`; `validate_extraction(extraction, raw)` timed with `time.process_time()` after "
        f"one warm-up round, {result['rounds']} rounds. Milliseconds of CPU per question.",
        "",
        "| documents | mean | median | p95 | max |",
        "|---|---|---|---|---|",
        row("warm (parsed by extraction, as in the pipeline)", result["warm"]),
        row("cold (document cache emptied: spaCy parse included)", result["cold"]),
        "",
        f"Warm: {per_statement:.2f} ms per statement. Document cache over the warm rounds (extraction then "
        f"validation of each question): {cache['hits']} hits, {cache['misses']} misses, hit rate "
        f"{cache['hit_rate']:.1%} (every document extraction parsed is served to validation from the cache).",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", type=Path, default=CORPUS if CORPUS.is_dir() else SAMPLES)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--statements", choices=["offline", "reference"], default="offline",
                        help="validate the offline extractor's statements, or the original system's stored ones "
                             "(only the files that carry them)")
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args()
    result = measure(args.bank.resolve(), args.rounds, args.statements)
    result["argv"] = [a for a in sys.argv[1:] if a != "--no-append"]
    text = report(result)
    print(text)
    if not args.no_append:
        with RESULTS.open("a") as handle:
            handle.write("\n" + text)


if __name__ == "__main__":
    main()
