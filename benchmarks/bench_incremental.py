"""Incremental reruns at full scale (`make bench-incremental`).

With N (default 2,198) materialized partitions on the project's on-disk SQLite instance, measures:
- a sensor tick when nothing changed (and that it requests no run);
- after editing one question's critique: the tick that finds it plus the run that re-exports it, end to end, with
  the run launched the way a shell user would (`dagster asset materialize --partition`, a new process);
- after editing 300 questions scattered over the bank (every 7th), then 300 contiguous ones, twice in turn: the tick
  plus the runs it requests (executed in this process, as the daemon's run worker would, roll-ups included): how many
  runs, and the time of the scattered set against the contiguous one.
The offline extractor is used (no API): the figures are about change detection and Dagster, not the LLM.
Appends to benchmarks/results.md.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extraction import ROOT, WORK, build_bank, machine  # noqa: E402
from results_file import append_results  # noqa: E402

SCATTERED = 300
WHERE = {"scattered": "every 7th question", "contiguous": "one range"}
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2198)
    args = parser.parse_args()

    import dagster as dg

    from mksap_assets.assets.questions import ALL_ASSET_KEYS, EXPORTED_KEY
    from mksap_assets.cli import instance_config
    from mksap_assets.definitions import build_definitions
    from mksap_assets.domain.config import LLMConfig
    from mksap_assets.partitions import range_tags
    from mksap_assets.resources import PipelineResource
    from mksap_assets.sensors import question_sensor
    from mksap_assets.settings import Settings

    work = WORK / "incremental"
    shutil.rmtree(work, ignore_errors=True)  # an instance, outputs or a cache left by an earlier run would skew it
    bank = build_bank(work / "bank", args.questions)
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(instance_config(home))
    settings = Settings(
        data_dir=bank, output_dir=work / "output", store_dir=work / "store", dagster_home=home,
        llm=LLMConfig(provider="offline", cache_dir=work / "llm-cache"),
    )
    env = {
        **os.environ, "DAGSTER_HOME": str(home), "MKSAP_DATA_DIR": str(bank), "MKSAP_OUTPUT_DIR": str(work / "output"),
        "MKSAP_STORE_DIR": str(work / "store"), "MKSAP_LLM_PROVIDER": "offline",
    }
    os.environ.update(env)
    definitions = build_definitions(settings)
    resources = {"pipeline": PipelineResource.from_settings(settings)}

    with dg.DagsterInstance.get() as instance:
        def tick(cursor=None):
            context = dg.build_sensor_context(
                instance=instance, definitions=definitions, sensor_name="question_sensor", cursor=cursor,
                resources=resources,
            )
            started = time.perf_counter()
            result = question_sensor(context)
            return time.perf_counter() - started, result, context.cursor

        _, first, cursor = tick()
        keys = list(first.dynamic_partitions_requests[0].partition_keys)
        instance.add_dynamic_partitions("question", keys)
        started = time.perf_counter()
        job = definitions.resolve_implicit_global_asset_job_def()
        initial = job.execute_in_process(
            instance=instance, tags=range_tags(keys[0], keys[-1]), asset_selection=ALL_ASSET_KEYS,
            run_config=QUIET, raise_on_error=False,
        )
        initial_seconds = time.perf_counter() - started

        idle = [tick(cursor) for _ in range(3)]
        idle_seconds = [seconds for seconds, _, _ in idle]
        idle_runs = sum(len(getattr(result, "run_requests", None) or []) for _, result, _ in idle)

        changed = keys[len(keys) // 2]
        path = bank / changed[:2] / changed / f"{changed}.json"
        document = orjson.loads(path.read_bytes())
        document["critique"] += " One more sentence was added to this critique."
        path.write_bytes(orjson.dumps(document))
        started = time.perf_counter()
        change_tick, change_result, cursor = tick(cursor)
        [request] = change_result.run_requests
        partition = request.tags["dagster/asset_partition_range_start"]
        shell = subprocess.run(
            [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "mksap_assets.definitions",
             "--select", "*", "--partition", partition],
            env=env, cwd=ROOT, capture_output=True, text=True,
        )
        end_to_end = time.perf_counter() - started
        after_seconds, after, cursor = tick(cursor)

        def rerun(edited: list[str], sentence: str) -> tuple[float, int, bool, dict]:
            for key in edited:
                path = bank / key[:2] / key / f"{key}.json"
                document = orjson.loads(path.read_bytes())
                document["critique"] += sentence
                path.write_bytes(orjson.dumps(document))
            nonlocal cursor
            started = time.perf_counter()
            _, result, cursor = tick(cursor)
            results = [
                job.execute_in_process(
                    instance=instance, tags=request.tags, asset_selection=request.asset_selection,
                    run_config={**request.run_config, **QUIET}, raise_on_error=False,
                )
                for request in result.run_requests
            ]
            seconds = time.perf_counter() - started
            exported = {e.partition for r in results for e in r.get_asset_materialization_events()
                        if e.asset_key == EXPORTED_KEY}
            return seconds, len(results), all(r.success for r in results) and exported == set(edited), {
                "stale after": tick(cursor)[1]}

        # Alternated, two rounds each: the machine is shared, and the first run after a pause pays for warming up.
        sets = {"scattered": keys[::7][:SCATTERED], "contiguous": keys[len(keys) // 3 :][:SCATTERED]}
        reruns = [(name, rerun(sets[name], f" Edit {round_} of the {name} set."))
                  for round_ in (1, 2) for name in sets]

    def total(name: str) -> float:
        return sum(seconds for run_name, (seconds, *_rest) in reruns if run_name == name)

    lines = [
        f"\n## Incremental reruns ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        f"`make bench-incremental` (= `python benchmarks/bench_incremental.py --questions {len(keys)}`), offline "
        f"extractor, the project's on-disk SQLite instance. Machine: {machine()}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| initial run, {len(keys)} questions × 4 assets, then the deck and report | {initial_seconds:.0f} s, "
        f"{'succeeded' if initial.success else 'FAILED'} |",
        f"| sensor tick, nothing changed (3 ticks) | median {statistics.median(idle_seconds):.2f} s, "
        f"max {max(idle_seconds):.2f} s; runs requested: {idle_runs} |",
        f"| one critique edited: tick | {change_tick:.2f} s, requested {partition} "
        f"({'the edited question' if partition == changed else 'WRONG question'}) |",
        f"| one critique edited: tick + `dagster asset materialize --select '*' --partition` (new process) | "
        f"{end_to_end:.1f} s, "
        f"exit code {shell.returncode} |",
        f"| tick after that run | {after_seconds:.2f} s, "
        f"{'no run requested' if isinstance(after, dg.SkipReason) else 'requested runs'} |",
        *(
            f"| {len(sets[name])} {name} questions edited ({WHERE[name]}), round {index // 2 + 1}: tick + the runs it "
            f"requests | {seconds:.1f} s in {runs} run{'s' * (runs != 1)}, "
            f"{'all re-exported' if ok else 'NOT all re-exported'}; next tick: "
            f"{'no run requested' if isinstance(extra['stale after'], dg.SkipReason) else 'requested runs'} |"
            for index, (name, (seconds, runs, ok, extra)) in enumerate(reruns)
        ),
        f"| scattered / contiguous time, both rounds | {total('scattered') / total('contiguous'):.2f}× |",
    ]
    append_results(lines)


if __name__ == "__main__":
    main()
