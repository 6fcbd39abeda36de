"""Extraction at full scale against the fake Messages API, measured in one run (`make bench`).

1. Builds a bank of N questions (default 2,198): the bundled samples replicated under new ids, each copy's text made
   unique so that no two requests are alike (or uses MKSAP_DATA_DIR as it is).
2. Starts `mksap fake-api` in its own process with a fixed latency per call and rate limits.
3. Measures, in this order:
   (a) the sequential baseline: the same pipeline (all four stages, the validation's repair turn included), one
       question and one call at a time, on a sample of questions, extrapolated linearly to N;
   (b) the full backfill through Dagster: all four assets for all N questions in one run (on-disk SQLite instance);
   (c) the same run again with the warm response cache (must make 0 API calls);
   (d) the same pipeline code without Dagster, warm cache: (c) − (d) is Dagster's bookkeeping;
   (e) the same pipeline code without Dagster, cold cache: the extraction engine on its own;
   (f) a no-op step with the four assets over as many partitions (bench_event_log.py): Dagster's bookkeeping alone.
4. Appends the figures, with the machine's description, to benchmarks/results.md.

With `--limits rpm=R,itpm=I,otpm=O` (or a preset: `--limits fable-start`) it measures instead the sync path at the API's
rate limits: the fake enforces those limits (realistic token counts, max_tokens reserved against OTPM), the client is
configured with the project's default limits and learns the fake's from its headers, and one cold run (b) reports the
requests, input and output tokens per minute the fake charged, each as a share of its limit, and the share of
requests answered 429.

Usage: python benchmarks/bench_extraction.py [--questions N] [--latency S] [--concurrency C] [--validation-workers W]
       [--engine-process 0|1] [--limits rpm=R,itpm=I,otpm=O|PRESET]
Profile it with py-spy from outside (`make profile`), so that the profiler adds nothing to the process measured.

Heavy imports (Dagster) happen inside functions, as in `mksap_assets/cli.py`: the run's engine process and validation
workers are spawned, and a spawned process re-imports the main script, here this one.
"""

import argparse
import asyncio
import multiprocessing
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from results_file import (
    append_results,  # same folder; run as a script, so the folder is on sys.path
)

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"


def build_bank(target: Path, count: int) -> Path:
    """Replicate the samples as <sys><type>9NNNN with a unique sentence in each critique and key point."""
    from mksap_assets.sample_bank import replicate_samples

    replicate_samples(target, count)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_fake(args, ledger: Path | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("mksap")), "fake-api", "--port", str(port), "--latency", str(args.latency),
        "--rpm", str(args.rpm), "--itpm", str(args.itpm), "--otpm", str(args.otpm),
        *(["--ledger", str(ledger)] if ledger else []),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the fake API did not start")


def peak_rss_of(pid: int) -> float:
    """A running process's peak resident set (VmHWM), in MB (0 once it has gone)."""
    try:
        match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return 0.0
    return int(match.group(1)) / 1024 if match else 0.0


def cpu_seconds_of(pid: int) -> float:
    """A running process's CPU time so far (user + system), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ChildPeakRss(threading.Thread):
    """The largest peak RSS of the run's engine process and of its validation workers, sampled every half second.

    Both are multiprocessing spawns: the engine is this process's child, its workers are grandchildren (a worker is
    this process's child when the engine runs in a thread). RUSAGE_CHILDREN cannot tell: a child's ru_maxrss starts
    from its parent's size at the fork before exec.
    """

    def __init__(self):
        super().__init__(daemon=True)
        self.engine_mb = self.worker_mb = 0.0
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(0.5):
            for pid in _spawned_children(os.getpid()):
                grandchildren = _spawned_children(pid)
                if grandchildren:
                    self.engine_mb = max(self.engine_mb, peak_rss_of(pid))
                    self.worker_mb = max([self.worker_mb, *(peak_rss_of(child) for child in grandchildren)])
                else:
                    self.worker_mb = max(self.worker_mb, peak_rss_of(pid))

    def stop(self) -> tuple[float, float]:
        self._stopping.set()
        self.join()
        return self.engine_mb, self.worker_mb


def _spawned_children(pid: int) -> list[int]:
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids = children.read_text().split()
        except OSError:
            continue
        for child in pids:
            try:
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
            except OSError:
                continue
    return found


def fake_requests_served(process: subprocess.Popen) -> tuple[int, int]:
    """Stop the fake; it prints how many requests it served and how many it refused at its limits."""
    process.terminate()
    out, _ = process.communicate(timeout=30)
    match = re.search(r"served (\d+) requests .* (\d+) refused by limits", out)
    return (int(match.group(1)), int(match.group(2))) if match else (-1, -1)


def settings_for(bank: Path, cache_dir: Path, args, *, cache_enabled: bool = True, concurrency: int | None = None,
                 told_limits: bool = True):
    """`told_limits`: the client starts from the fake's limits; else from the project's defaults (and learns)."""
    from mksap_assets.domain.config import LLMConfig
    from mksap_assets.settings import Settings

    limits = {"rpm": args.rpm, "itpm": args.itpm, "otpm": args.otpm} if told_limits else {}

    return Settings(
        data_dir=bank,
        output_dir=WORK / "output",
        store_dir=WORK / "store",
        dagster_home=WORK / "dagster_home",
        validation_workers=args.validation_workers,
        engine_process=bool(args.engine_process),
        llm=LLMConfig(
            provider="anthropic",
            concurrency=concurrency or args.concurrency,
            cache_dir=cache_dir,
            cache_enabled=cache_enabled,
            **limits,
        ),
    )


def sequential_baseline(bank: Path, args) -> tuple[float, int]:
    """One question at a time and one call at a time (in-flight cap 1), cache off: the same four stages as the run
    (extraction, validation with its repair turn, export), in the run's own pipeline, validated in its thread."""
    from mksap_assets.domain.engine.pipeline import STAGES
    from mksap_assets.domain.engine.spec import build_pipeline
    from mksap_assets.domain.inputs.bank import discover_questions
    from mksap_assets.resources import PipelineResource

    settings = settings_for(bank, WORK / "cache-baseline", args, cache_enabled=False, concurrency=1)
    settings = settings.replace(output_dir=WORK / "output-baseline", store_dir=WORK / "store-baseline",
                       validation_workers=0)
    sample = discover_questions(bank)[: args.baseline_sample]

    async def run() -> int:
        pipeline = build_pipeline(PipelineResource.from_settings(settings).spec(), STAGES)
        calls = 0
        try:
            for question_file in sample:
                outcome = await pipeline.run(question_file.question_id)
                assert outcome.ok, outcome.error
                calls += sum(_api_calls(result.metadata) for result in outcome.results)
        finally:
            await pipeline.aclose()
        return calls

    started = time.perf_counter()
    calls = asyncio.run(run())
    return time.perf_counter() - started, calls


def _api_calls(metadata: dict) -> int:
    """The API calls a stage made: extraction's, or the validation's repair turn."""
    return int(metadata.get("llm_calls", 0)) + int(metadata.get("repair_llm_calls", 0))


CPU_PARTS = ("cpu_main", "cpu_children")


def _cpu_seconds() -> tuple[float, float]:
    """CPU time of this process and of its finished children (the run's engine process and validation workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def dagster_run(settings, keys: list[str], instance) -> tuple[float, dict[str, float], bool]:
    from mksap_assets.assets.questions import QUESTION_ASSET_KEYS
    from mksap_assets.definitions import build_definitions
    from mksap_assets.partitions import range_tags

    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        tags=range_tags(keys[0], keys[-1]),
        asset_selection=QUESTION_ASSET_KEYS,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        raise_on_error=False,
    )
    elapsed = time.perf_counter() - started
    for child in multiprocessing.active_children():  # the engine exits after the run: wait, to count its CPU
        child.join()
    cpu_after = _cpu_seconds()
    totals: dict[str, float] = {name: cpu_after[i] - cpu_before[i] for i, name in enumerate(CPU_PARTS)}
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        if event.asset_key.to_user_string() == "extracted_statements":
            for name in ("llm_calls", "cache_hits", "rate_limited", "retries", "cost_usd", "input_tokens",
                         "output_tokens", "cache_read_input_tokens"):
                totals[name] = totals.get(name, 0) + metadata[name].value
        elif event.asset_key.to_user_string() == "validated_statements":  # the repair turn's calls and cost
            totals["llm_calls"] = totals.get("llm_calls", 0) + metadata["repair_llm_calls"].value
            totals["repair_llm_calls"] = totals.get("repair_llm_calls", 0) + metadata["repair_llm_calls"].value
            totals["cost_usd"] = totals.get("cost_usd", 0) + metadata["repair_cost_usd"].value
            for name in ("retries", "rate_limited"):
                totals[name] = totals.get(name, 0) + metadata[f"repair_{name}"].value
    return elapsed, totals, result.success


def plain_pipeline(settings, keys: list[str]) -> float:
    from mksap_assets.domain.engine.pipeline import STAGES
    from mksap_assets.resources import PipelineResource

    resource_ = PipelineResource.from_settings(settings)
    started = time.perf_counter()
    outcomes = list(resource_.run_questions(keys, STAGES))  # as the Dagster asset runs them, engine process included
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok][:3]
    return time.perf_counter() - started


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    memory_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024 / 1024:.0f} GiB, Python {platform.python_version()}"


# Named limits for `--limits`: see the rate-limited run's figures in results.md for why these bind where they do.
LIMIT_PRESETS = {"fable-start": "rpm=1000,itpm=500000,otpm=100000"}
LIMIT_NAMES = {"rpm": "requests", "itpm": "input tokens", "otpm": "output tokens"}


def parse_limits(text: str) -> dict[str, int]:
    """`rpm=R,itpm=I,otpm=O` (any of them; a missing one is unlimited) or a preset's name."""
    text = LIMIT_PRESETS.get(text, text)
    limits = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name.strip() not in LIMIT_NAMES or not value.strip().isdigit() or int(value) <= 0:
            raise ValueError(
                f"--limits: {part!r} is not rpm=N, itpm=N or otpm=N (N > 0); presets: {', '.join(LIMIT_PRESETS)}")
        limits[name.strip()] = int(value)
    return limits


def limit_usage(ledger: list[dict], limits: dict[str, int]) -> dict:
    """What the fake charged against each limit, per minute and as a share of the limit:
    - over the run (first request admitted to last answer), as charged: a run may spend the bucket's initial fill (one
      minute of the limit) on top of the refill, so this can pass 100%;
    - sustained: the same with the initial fill taken out, the share of the refill the run used;
    - in the steady state: the requests admitted from the end of the first minute (by then a run at the limit has
      spent the initial fill; before it, the pipeline's own start-up may be what holds it back) to the last
      admission (after it the run drains: fewer requests are left than the limit would admit)."""
    answered = [entry for entry in ledger if entry["status"] == 200]
    start = min(entry["admitted"] for entry in ledger)
    minutes = (max(entry["ended"] for entry in ledger) - start) / 60
    steady_from, steady_to = start + 60, max(entry["admitted"] for entry in ledger)
    steady = [entry for entry in answered if steady_from <= entry["admitted"] <= steady_to]
    steady_minutes = (steady_to - steady_from) / 60

    def charged(entries: list[dict]) -> dict[str, int]:
        return {"rpm": len(entries), "itpm": sum(entry["input_tokens"] for entry in entries),
                "otpm": sum(entry["output_tokens"] for entry in entries)}

    used, used_steady = charged(answered), charged(steady)
    shares = {
        name: {
            "per_minute": used[name] / minutes,
            "share": used[name] / minutes / limit,
            "sustained": (used[name] - limit) / minutes / limit,
            "steady": used_steady[name] / steady_minutes / limit if steady_minutes > 0 else None,
        }
        for name, limit in limits.items()
    }
    refused = len(ledger) - len(answered)
    return {"minutes": minutes, "steady_minutes": steady_minutes, "shares": shares, "requests": len(ledger),
            "refused": refused, "binding": max(shares, key=lambda name: shares[name]["share"])}


def timeline(ledger: list[dict], step: float = 10.0) -> list[str]:
    """Per `step` seconds from the first request: requests answered, 429s, input and output tokens (for profiling)."""
    start = min(entry["admitted"] for entry in ledger)
    rows: dict[int, list[int]] = {}
    for entry in ledger:
        row = rows.setdefault(int((entry["admitted"] - start) // step), [0, 0, 0, 0])
        row[0 if entry["status"] == 200 else 1] += 1
        row[2] += entry["input_tokens"]
        row[3] += entry["output_tokens"]
    return [f"{index * step:5.0f} s  {r[0]:5d} ok {r[1]:4d} 429  {r[2]:8d} in {r[3]:7d} out"
            for index, r in sorted(rows.items())]


def rate_limited_benchmark(args) -> None:
    """One cold run through Dagster against the rate-limited fake (see the module docstring)."""
    import json

    from mksap_assets.domain.inputs.bank import discover_questions
    from mksap_assets.storage.instance import open_instance
    from mksap_assets.storage.profiles import install

    WORK.mkdir(parents=True, exist_ok=True)
    for leftover in ("output", "store", "cache-limited"):
        shutil.rmtree(WORK / leftover, ignore_errors=True)
    bank = Path(os.environ["MKSAP_DATA_DIR"]) if os.environ.get("MKSAP_DATA_DIR") else build_bank(
        WORK / "bank", args.questions
    )
    keys = [q.question_id for q in discover_questions(bank)]
    args.rpm, args.itpm, args.otpm = (args.limits.get(name, 10**9) for name in LIMIT_NAMES)
    ledger_path = WORK / "fake-ledger.jsonl"
    fake, url = start_fake(args, ledger_path)
    os.environ.update({"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "sk-bench-not-a-real-key"})
    home = Path(tempfile.mkdtemp(dir=WORK))
    try:
        settings = settings_for(bank, WORK / "cache-limited", args, told_limits=False)
        install(home, "sqlite")
        with open_instance(home) as instance:
            instance.add_dynamic_partitions("question", keys)
            seconds, totals, ok = dagster_run(settings, keys, instance)
    finally:
        served, refused = fake_requests_served(fake)
        shutil.rmtree(home, ignore_errors=True)
    ledger = [json.loads(line) for line in ledger_path.read_text().splitlines()]
    print("\n".join(timeline(ledger)))
    limits = args.limits
    usage = limit_usage(ledger, limits)
    binding = usage["binding"]
    from mksap_assets.domain.config import LLMConfig

    defaults = LLMConfig.model_fields
    met = usage["shares"][binding]["sustained"] >= 0.9 and usage["refused"] <= 0.01 * usage["requests"]
    lines = [
        f"\n## Rate-limited extraction benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        f"`python benchmarks/bench_extraction.py --questions {len(keys)} --limits {args.limits_text} --latency "
        f"{args.latency} --concurrency {args.concurrency}`. Machine: {machine()}. Fake API limits: "
        + ", ".join(f"{limit:,} {name.upper()}" for name, limit in args.limits.items())
        + f"; latency {args.latency} s per call. The client starts from the project's default limits "
        f"({defaults['rpm'].default:,.0f} RPM, {defaults['itpm'].default:,.0f} ITPM, {defaults['otpm'].default:,.0f} "
        f"OTPM) and learns the fake's from its headers; in-flight cap {args.concurrency}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| questions; run through Dagster, cold cache | {len(keys)}; {seconds:.1f} s, "
        f"{'succeeded' if ok else 'FAILED'} |",
        f"| run as the fake saw it: first request to last answer; its steady state (minute 1 to the last admission) "
        f"| {usage['minutes'] * 60:.1f} s; {usage['steady_minutes'] * 60:.1f} s |",
        *(
            f"| {LIMIT_NAMES[name]} per minute charged by the fake{' (**binding**)' if name == binding else ''}: over "
            f"the run; share of the {limits[name]:,} {name.upper()} limit over the run / sustained (initial full "
            f"bucket excluded) / in the steady state | {figures['per_minute']:,.0f}; {figures['share']:.1%} / "
            f"{figures['sustained']:.1%} / "
            + (f"{figures['steady']:.1%}" if figures["steady"] is not None else "n/a (under a minute)") + " |"
            for name, figures in usage["shares"].items()
        ),
        f"| requests answered 429 by the fake's limits | {usage['refused']} of {usage['requests']} "
        f"({usage['refused'] / usage['requests']:.2%}) |",
        f"| ≥ 90% of the binding limit sustained over the run with ≤ 1% 429s? | {'yes' if met else 'no'} |",
        f"| run metadata: API calls, retries, answered 429 (metered per question) | "
        f"{int(totals.get('llm_calls', 0))}, {int(totals.get('retries', 0))}, {int(totals.get('rate_limited', 0))} |",
        f"| the fake's own count: served / refused at its limits | {served} / {refused} |",
    ]
    append_results(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2198)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--baseline-sample", type=int, default=40)
    parser.add_argument("--rpm", type=int, default=5000)
    parser.add_argument("--itpm", type=int, default=5_000_000)
    parser.add_argument("--otpm", type=int, default=1_000_000)
    parser.add_argument("--validation-workers", type=int, default=None, help="default: the project's (cores - 1)")
    parser.add_argument("--engine-process", type=int, choices=(0, 1), default=None, help="default: the project's")
    parser.add_argument("--limits", default=None, metavar="rpm=R,itpm=I,otpm=O|PRESET",
                        help=f"measure the sync path at these API limits instead (presets: {', '.join(LIMIT_PRESETS)})")
    args = parser.parse_args()
    if args.limits is not None:
        try:
            args.limits_text, args.limits = args.limits, parse_limits(args.limits)
        except ValueError as exc:
            parser.error(str(exc))
    from mksap_assets.domain.config import (
        default_engine_process,
        default_validation_workers,
    )

    if args.validation_workers is None:
        args.validation_workers = default_validation_workers()
    if args.engine_process is None:
        args.engine_process = int(default_engine_process())

    if args.limits is not None:
        rate_limited_benchmark(args)
        return

    from mksap_assets.storage.instance import open_instance
    from mksap_assets.storage.profiles import install

    WORK.mkdir(parents=True, exist_ok=True)
    for leftover in ("output", "store", "cache", "cache-baseline", "cache-engine", "output-baseline", "store-baseline"):
        shutil.rmtree(WORK / leftover, ignore_errors=True)
    bank = Path(os.environ["MKSAP_DATA_DIR"]) if os.environ.get("MKSAP_DATA_DIR") else build_bank(
        WORK / "bank", args.questions
    )
    from mksap_assets.domain.inputs.bank import discover_questions

    keys = [q.question_id for q in discover_questions(bank)]
    fake, url = start_fake(args)
    child_rss = ChildPeakRss()
    child_rss.start()
    os.environ.update({"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "sk-bench-not-a-real-key"})
    try:
        baseline_seconds, baseline_calls = sequential_baseline(bank, args)
        settings = settings_for(bank, WORK / "cache", args)
        home = Path(tempfile.mkdtemp(dir=WORK))
        install(home, "sqlite")  # the instance users get from `make run`, opened as `mksap run` opens it
        with open_instance(home) as instance:
            instance.add_dynamic_partitions("question", keys)
            fake_cpu_before = cpu_seconds_of(fake.pid)
            cold_seconds, cold, cold_ok = dagster_run(settings, keys, instance)
            cold["cpu_fake"] = cpu_seconds_of(fake.pid) - fake_cpu_before
            warm_seconds, warm, warm_ok = dagster_run(settings, keys, instance)
        plain_seconds = plain_pipeline(settings, keys)
        engine_seconds = plain_pipeline(settings_for(bank, WORK / "cache-engine", args), keys)
        import bench_event_log  # imported here, as Dagster is: see the module docstring

        noop_seconds = bench_event_log.timed_run(len(keys), "pooled")
    finally:
        engine_rss_mb, worker_rss_mb = child_rss.stop()
        fake_rss_mb = peak_rss_of(fake.pid)
        served, refused = fake_requests_served(fake)
        shutil.rmtree(home, ignore_errors=True)

    n = len(keys)
    calls = int(cold.get("llm_calls", 0))
    bound = calls * args.latency / args.concurrency
    baseline_per_question = baseline_seconds / args.baseline_sample
    baseline_total = baseline_per_question * n
    bookkeeping = warm_seconds - plain_seconds
    checks = [("(c) − (d)", bookkeeping), ("(f)", noop_seconds)]
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_total = cold["cpu_main"] + cold["cpu_children"] + cold["cpu_fake"]
    lines = [
        f"\n## Extraction benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        f"`make bench` (= `python benchmarks/bench_extraction.py --questions {n} --latency {args.latency} "
        f"--concurrency {args.concurrency}`). Machine: {machine()}. "
        f"Fake API limits: {args.rpm} RPM, {args.itpm} ITPM, {args.otpm} OTPM; latency {args.latency} s per call. "
        f"Validation workers: {args.validation_workers}; engine process: {'yes' if args.engine_process else 'no'}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| questions | {n} |",
        f"| (a) sequential baseline, {args.baseline_sample} questions | {baseline_seconds:.1f} s, "
        f"{baseline_calls} calls ({baseline_per_question:.2f} s per question) |",
        f"| (a) baseline extrapolated to {n} questions | {baseline_total:.0f} s ({baseline_total / 3600:.2f} h) |",
        f"| (b) full run through Dagster, cold cache | {cold_seconds:.1f} s, {'succeeded' if cold_ok else 'FAILED'} |",
        f"| (b) API calls (metered per question; {cold.get('repair_llm_calls', 0):.0f} of them repair turns) | {calls} "
        f"({cold.get('retries', 0):.0f} retries, "
        f"{cold.get('rate_limited', 0):.0f} answered 429) |",
        f"| (b) concurrency bound = calls × latency / concurrency | {bound:.1f} s |",
        f"| (b) full run ÷ concurrency bound | {cold_seconds / bound:.2f} |" if bound else "| (b) bound | n/a |",
        # two decimals: at one, 29.95× would print as 30.0×
        f"| (b) speed-up over the sequential baseline | {baseline_total / cold_seconds:.2f}× "
        f"(≥ 30×: {'yes' if baseline_total >= 30 * cold_seconds else 'no'}) |",
        f"| (b) estimated cost at the model's prices | ${cold.get('cost_usd', 0):.2f} |",
        f"| (b) CPU time: the run's process / its engine process and validation workers / the fake API | "
        f"{cold['cpu_main']:.0f} s / {cold['cpu_children']:.0f} s / {cold['cpu_fake']:.0f} s = "
        f"{cpu_total / n * 1000:.0f} ms per question; ÷ {os.cpu_count()} cores = "
        f"{cpu_total / (os.cpu_count() or 1):.0f} s |",
        f"| (c) same run, warm cache | {warm_seconds:.1f} s, {int(warm.get('llm_calls', 0))} API calls, "
        f"{int(warm.get('cache_hits', 0))} cache hits, {'succeeded' if warm_ok else 'FAILED'} |",
        f"| (d) same pipeline without Dagster, warm cache | {plain_seconds:.1f} s |",
        f"| Dagster bookkeeping as added wall time = (c) − (d) | {bookkeeping:.1f} s = "
        f"{bookkeeping / n * 1000:.0f} ms per question (4 assets) |",
        f"| (f) Dagster bookkeeping on its own: a no-op step with the four assets over {n} partitions "
        f"(bench_event_log.py) | {noop_seconds:.1f} s = {noop_seconds / n * 1000:.1f} ms per question |",
        *(
            f"| (b) ≤ 1.25 × bound + bookkeeping {name}? | {cold_seconds:.1f} s vs {1.25 * bound + seconds:.1f} s: "
            f"{'yes' if cold_seconds <= 1.25 * bound + seconds else 'no'} |"
            for name, seconds in checks
        ),
        f"| (e) the engine without Dagster, cold cache | {engine_seconds:.1f} s = "
        f"{engine_seconds / bound:.2f} × bound, {baseline_total / engine_seconds:.0f}× the sequential baseline |",
        f"| requests the fake API served / refused at its limits | {served} / {refused} |",
        f"| peak RSS of the benchmark process | {peak_rss_mb:.0f} MB |",
        f"| peak RSS of the engine process / a validation worker / the fake API process | {engine_rss_mb:.0f} MB / "
        f"{worker_rss_mb:.0f} MB / {fake_rss_mb:.0f} MB |",
    ]
    append_results(lines)


if __name__ == "__main__":
    main()
