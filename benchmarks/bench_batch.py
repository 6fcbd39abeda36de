"""Batch mode against sync mode at full scale, on the fake API (`make bench`).

1. Builds the bank of bench_extraction.py (N questions, default 2,198; or uses MKSAP_DATA_DIR as it is).
2. Serves the fake API in this process, a fresh one per mode (latency per sync call; a batch ends `--batch-delay`
   seconds after creation).
3. Sync: every question through Dagster in one run, cold response cache (the bench_extraction.py run).
4. Batch, on a fresh cache, output and instance: one step of the batch cycle submits every question's first-pass
   requests (domain/extraction/batch_mode.py, as the sensor and `mksap run` do), the API is polled until the batch
   has ended, then a step collects the answers into the response cache and one Dagster run materializes every
   partition (as `mksap run --wait` does).
5. Compares what the same first-pass requests cost: the batch run's, metered per question (the extracted_statements
   of the store, charged from the batch's answers), against the sync run's answers to the same requests (each
   distinct request once: see distinct_requests_usage), priced as the meter prices them; counts the batch run's sync
   first-pass requests (0 unless a batch answer failed), and reports the time from the batch's end until every
   partition is materialized; appends to benchmarks/results.md.

Usage: python benchmarks/bench_batch.py [--questions N] [--latency S] [--batch-delay S]
"""

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
from bench_extraction import (  # same folder, run as a script
    WORK,
    build_bank,
    dagster_run,
    machine,
    settings_for,
)
from results_file import append_results

FIRST_PASS_TOOL = "record_statements"
RECORDED_REQUESTS = 1_000_000  # the fake keeps every request of the sync run (distinct_requests_usage)
USAGE = ("calls", "batch_calls", "input_tokens", "output_tokens", "cache_creation_input_tokens",
         "cache_read_input_tokens", "cost_usd")


def first_pass_usage(store_dir: Path) -> dict[str, float]:
    """The extraction usage (first-pass calls only) of every question in the store, summed."""
    from mksap_assets.domain.engine.stages import EXTRACTED
    from mksap_assets.domain.statements import Extraction, LLMUsage

    total = LLMUsage()
    for path in (store_dir / EXTRACTED).glob("*.json"):
        total.add(Extraction.model_validate_json(path.read_bytes()).usage)
    return {name: getattr(total, name) for name in USAGE}


def distinct_requests_usage(recorded, model: str) -> dict[str, float]:
    """The sync run's first-pass requests counted once each, with the usage of their first answer, priced as the
    meter prices a sync call. Copies of a sample share their tables, so questions running at once send the same
    table request before any of them is cached; a batch sends each distinct request once (its key is its
    custom_id): these are the same requests as the batch's."""
    from mksap_assets.domain.llm.pricing import cost_usd

    first: dict[bytes, dict] = {}
    for request in recorded:
        if request.tool == FIRST_PASS_TOOL and request.status == 200:
            digest = hashlib.sha256(orjson.dumps(request.body, option=orjson.OPT_SORT_KEYS)).digest()
            first.setdefault(digest, request.usage)
    total = {name: sum(usage[name] for usage in first.values()) for name in USAGE[2:-1]}
    total["calls"] = len(first)
    total["cost_usd"] = sum(cost_usd(model, input_tokens=u["input_tokens"], output_tokens=u["output_tokens"],
                                     cache_write=u["cache_creation_input_tokens"],
                                     cache_read=u["cache_read_input_tokens"]) for u in first.values())
    return total


def fresh(settings, name: str, mode: str):
    """`settings` with outputs, store and response cache of their own (emptied), in `mode`."""
    for part in ("output", "store", "cache"):
        shutil.rmtree(WORK / f"{part}-{name}", ignore_errors=True)
    return settings.replace(output_dir=WORK / f"output-{name}", store_dir=WORK / f"store-{name}",
                            llm=settings.llm.replace(mode=mode, cache_dir=WORK / f"cache-{name}"))


def instance_home() -> Path:
    from mksap_assets.storage.profiles import install

    home = Path(tempfile.mkdtemp(dir=WORK))
    install(home, "sqlite")
    return home


def sync_run(settings, keys: list[str]) -> tuple[float, bool]:
    from mksap_assets.storage.instance import open_instance

    home = instance_home()
    try:
        with open_instance(home) as instance:
            instance.add_dynamic_partitions("question", keys)
            seconds, _, ok = dagster_run(settings, keys, instance)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return seconds, ok


def batch_run(settings, keys: list[str], poll: float) -> dict[str, float]:
    from mksap_assets.domain.extraction.batch_mode import batch_api, batch_step
    from mksap_assets.domain.inputs.bank import discover_questions
    from mksap_assets.domain.llm.batches.state import BatchState
    from mksap_assets.storage.instance import open_instance

    home = instance_home()
    questions = discover_questions(settings.data_dir)
    try:
        started = time.perf_counter()
        submitted = batch_step(settings.llm, home, questions)
        submit_seconds = time.perf_counter() - started
        assert not submitted.ready and len(submitted.submitted) >= 1, submitted.lines()
        api = batch_api(settings.llm)
        try:
            for record in submitted.submitted:
                while api.retrieve(record.batch_id).status != "ended":
                    time.sleep(poll)
        finally:
            api.close()
        ended = time.perf_counter()
        collected = batch_step(settings.llm, home, questions)
        collect_seconds = time.perf_counter() - ended
        assert not collected.waiting, collected.lines()
        with open_instance(home) as instance:
            instance.add_dynamic_partitions("question", keys)
            run_seconds, _, ok = dagster_run(settings, keys, instance)
        materialized = time.perf_counter()
        with BatchState.locked(home) as state:
            results: dict[str, int] = {}
            for record in state.records:
                for kind, count in record.results.items():
                    results[kind] = results.get(kind, 0) + count
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return {"submit": submit_seconds, "waited": ended - started - submit_seconds, "collect": collect_seconds,
            "run": run_seconds, "after_end": materialized - ended, "ok": ok, "batches": len(submitted.submitted),
            "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2198)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per sync call")
    parser.add_argument("--batch-delay", type=float, default=10.0, help="seconds until a batch ends")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between polls of the batch")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    args.rpm, args.itpm, args.otpm = 5000, 5_000_000, 1_000_000  # bench_extraction.py's limits (settings_for)
    from mksap_assets.domain.config import (
        default_engine_process,
        default_validation_workers,
    )
    from mksap_assets.domain.inputs.bank import discover_questions
    from mksap_devtools.fake_api import FakeAnthropic

    args.validation_workers, args.engine_process = default_validation_workers(), int(default_engine_process())
    WORK.mkdir(parents=True, exist_ok=True)
    bank = Path(os.environ["MKSAP_DATA_DIR"]) if os.environ.get("MKSAP_DATA_DIR") else build_bank(
        WORK / "bank", args.questions
    )
    keys = [q.question_id for q in discover_questions(bank)]
    base = settings_for(bank, WORK / "cache", args)
    # A fake of its own for each mode: neither finds the other's prompt-cache prefixes written.
    with FakeAnthropic(latency=args.latency, history=RECORDED_REQUESTS) as fake:
        os.environ.update({"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-bench-not-a-real-key"})
        sync_settings = fresh(base, "sync", "sync")
        sync_seconds, sync_ok = sync_run(sync_settings, keys)
        sync_first_pass_requests = fake.stats.by_tool.get(FIRST_PASS_TOOL, 0)
        distinct = distinct_requests_usage(fake.stats.requests, sync_settings.llm.model)
    with FakeAnthropic(latency=args.latency, batch_delay=args.batch_delay) as fake:
        os.environ["ANTHROPIC_BASE_URL"] = fake.url
        batch_settings = fresh(base, "batch", "batch")
        batch = batch_run(batch_settings, keys, args.poll)
        batch_sync_first_pass = fake.stats.by_tool.get(FIRST_PASS_TOOL, 0)
        batch_requests = fake.stats.batch_requests
    sync, paid = first_pass_usage(sync_settings.store_dir), first_pass_usage(batch_settings.store_dir)
    ratio = paid["cost_usd"] / distinct["cost_usd"]
    tokens = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    n = len(keys)
    lines = [
        f"\n## Batch mode benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        f"`make bench` (= `python benchmarks/bench_batch.py --questions {n} --latency {args.latency} "
        f"--batch-delay {args.batch_delay}`). Machine: {machine()}. The fake API in the benchmark's process, a fresh "
        f"one per mode; a batch ends {args.batch_delay:g} s after creation, polled every {args.poll:g} s. Costs are "
        "those of the first-pass requests (critique, key points, tables), metered per question (the "
        "extracted_statements of the store); the validation's repair turns are sync in both modes and left out. "
        "The same requests: the sync run sends some table requests more than once (copies of a sample share their "
        "tables and run at once, before the first answer is cached); counted once each, with the usage of their "
        "first answer, they are the batch's requests.",
        "",
        "| measure | sync run | the same requests, sync | batch run |",
        "|---|---|---|---|",
        f"| questions | {n} | | {n} |",
        f"| first-pass requests: sync / in batches | {sync_first_pass_requests:,} / 0 | {distinct['calls']:,} / 0 | "
        f"{batch_sync_first_pass:,} / {batch_requests:,} in {batch['batches']} batch(es) |",
        f"| batch results | | | {', '.join(f'{v:,} {k}' for k, v in sorted(batch['results'].items()))} |",
        *(f"| {name.replace('_', ' ')} | {sync[name]:,} | {distinct[name]:,} | {paid[name]:,} |" for name in tokens),
        f"| metered cost | ${sync['cost_usd']:.4f} | ${distinct['cost_usd']:.4f} | ${paid['cost_usd']:.4f} = "
        f"{ratio:.2%} of the same requests sync (50% ± 1%: {'yes' if abs(ratio - 0.5) <= 0.01 else 'no'}) |",
        f"| wall time | {sync_seconds:.1f} s run, {'succeeded' if sync_ok else 'FAILED'} | | "
        f"{batch['submit']:.1f} s submitting, {batch['waited']:.1f} s until the batch ended |",
        f"| from the batch's end until every partition is materialized | | | {batch['after_end']:.1f} s = "
        f"{batch['collect']:.1f} s collecting into the cache + {batch['run']:.1f} s Dagster run "
        f"({'succeeded' if batch['ok'] else 'FAILED'}) + opening the instance |",
    ]
    append_results(lines)


if __name__ == "__main__":
    main()
