"""The cluster profile (docs/CLUSTER.md): the postgres profile's storage with several runs in flight through Dagster's
queued run coordinator, an `llm` pool as large, run monitoring, and backfills (and the sensor's runs) split into runs
of MKSAP_PARTITIONS_PER_RUN questions; its Docker variant; and, on a real PostgreSQL server with the daemon, a
backfill of six questions run as three runs of two, each in a process of its own, every question exported once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import orjson
import psutil
import pytest
import yaml
from dagster import DagsterEventType
from dagster._core.instance.config import dagster_instance_config

from mksap_assets.assets.questions import LLM_POOL
from mksap_assets.cli import cmd_init
from mksap_assets.dead_runs import IN_FLIGHT, RUN_HOST_TAG, RUN_PID_TAG
from mksap_assets.domain.exports.document import export_path
from mksap_assets.partitions import MAX_KEYS_PER_RUN, backfill_policy, question_runs
from mksap_assets.settings import PROJECT_ROOT, ConfigError, Settings, setting_from_env
from mksap_assets.storage.postgres import POSTGRES_URL_VAR
from mksap_assets.storage.profiles import (
    CONFIG_FILE,
    describe,
    profile_config,
    storage_kind,
)
from mksap_assets_tests.dagster_services import (
    BIN,
    QUESTION_ASSETS,
    dagster_environment,
    dagster_services,
    launch_backfill,
    stop_sensors,
    wait_for_backfill,
)
from mksap_assets_tests.helpers import open_instance, question_json, sample_ids
from mksap_assets_tests.services import GraphQL, free_port, tail
from mksap_devtools.postgres_databases import PostgresDatabases

DOCKER_YAML = PROJECT_ROOT / "docs" / "cluster" / "dagster.docker.yaml"
PER_RUN_VAR = "MKSAP_PARTITIONS_PER_RUN"


def _postgres_url(request) -> str:
    """A database of this test's, with Dagster's schema."""
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.url(databases.create(template=request.getfixturevalue("dagster_schema")))


# --------------------------------------------------------------------------------------------- the profile


def test_the_cluster_profile_is_the_postgres_profile_with_workers_and_run_monitoring():
    postgres, cluster = (yaml.safe_load(profile_config(profile)) for profile in ("postgres", "cluster"))
    assert cluster.pop("storage") == postgres.pop("storage") == {
        "postgres": {"postgres_url": {"env": POSTGRES_URL_VAR}}
    }
    concurrency = cluster.pop("concurrency")
    # As many runs calling the API as runs in flight, more than one; a backfill's runs are not held to one at a time.
    assert concurrency == {"pools": {"default_limit": 4}, "runs": {"max_concurrent_runs": 4}}
    assert postgres.pop("concurrency")["runs"]["tag_concurrency_limits"] == [{"key": "dagster/backfill", "limit": 1}]
    # A dead worker's run is failed, not resumed: the sensor reruns its questions.
    assert cluster.pop("run_monitoring") == {
        "enabled": True, "max_resume_run_attempts": 0, "poll_interval_seconds": 30,
        "free_slots_after_run_end_seconds": 30,  # the `llm` slot of a worker that died
    }
    assert cluster == postgres  # telemetry, sensors, retention: the same
    assert storage_kind(profile_config("cluster")) == "cluster"
    assert describe(profile_config("cluster")) == "the cluster profile, as shipped"
    edited = profile_config("cluster").replace("max_concurrent_runs: 4", "max_concurrent_runs: 8")
    assert describe(edited) == "the cluster profile, edited"


def test_mksap_init_installs_the_cluster_profile_with_the_queue_the_pool_and_run_monitoring(
    settings: Settings, tmp_path: Path, monkeypatch, capsys, request
):
    monkeypatch.setenv(POSTGRES_URL_VAR, _postgres_url(request))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert cmd_init(settings, env_file=tmp_path / ".env", storage="cluster") == 0
    assert "Storage:          the cluster profile, as shipped, written to" in capsys.readouterr().out
    with open_instance(settings.dagster_home, monkeypatch, "cluster") as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"  # each run a process of the daemon's
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 4
        assert concurrency.run_queue_config.tag_concurrency_limits == []
        assert concurrency.pool_config.default_pool_limit == 4
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 30
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"


# --------------------------------------------------------------------------------------------- N per run


def test_partitions_per_run_cuts_backfills_and_the_sensors_runs_alike(monkeypatch):
    assert backfill_policy(None) == dg.BackfillPolicy.single_run()  # one machine: unchanged
    assert backfill_policy(2) == dg.BackfillPolicy.multi_run(2)
    assert backfill_policy(10 * MAX_KEYS_PER_RUN).max_partitions_per_run == MAX_KEYS_PER_RUN
    keys = [f"q{i}" for i in range(8)]
    runs = question_runs(keys, set(keys[:6]), max_len=2)
    assert [(run.first, run.last, run.questions) for run in runs] == [
        ("q0", "q1", None), ("q2", "q3", None), ("q4", "q5", None)
    ]
    monkeypatch.setenv(PER_RUN_VAR, "0")
    with pytest.raises(ConfigError, match=PER_RUN_VAR):
        setting_from_env(PER_RUN_VAR)


@pytest.mark.parametrize("per_run, expected", [("", (None, 500, 1)), ("2", (2, 2, 3))])
def test_the_code_location_reads_partitions_per_run_when_it_loads(per_run: str, expected: tuple):
    """(the question step's backfill policy, the sensor's run size, the sensor's runs for six contiguous questions)"""
    script = (
        "from mksap_assets.assets.questions import question_assets as q; from mksap_assets import partitions as p\n"
        "keys = [f'q{i}' for i in range(6)]\n"
        "print(q.backfill_policy.max_partitions_per_run, p.RUN_SIZE, len(p.question_runs(keys, set(keys))))"
    )
    env = {PER_RUN_VAR: per_run, "PATH": "/usr/bin:/bin", "HOME": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(value) for value in expected]


# --------------------------------------------------------------------------------------------- Docker


def test_the_docker_variant_is_the_cluster_profile_with_dockers_run_launcher_and_dagster_accepts_it(tmp_path: Path):
    docker = yaml.safe_load(DOCKER_YAML.read_text())
    launcher = docker.pop("run_launcher")
    assert docker == yaml.safe_load(profile_config("cluster"))  # the two cannot drift apart
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    # Dagster's instance schema takes the whole file (the launcher's own config is checked by the next test, where
    # dagster-docker is installed).
    shutil.copy(DOCKER_YAML, tmp_path / CONFIG_FILE)
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_launcher"] == launcher
    # The containers get the instance's URL, the API key, the shared response cache and rate limit from the daemon's
    # environment, never written here, and find the bank, the outputs and the store in the shared folder they mount.
    settings = launcher["config"]
    assert {POSTGRES_URL_VAR, "ANTHROPIC_API_KEY", "MKSAP_LLM_CACHE_URL", "MKSAP_LLM_LIMITER_URL"} <= \
        set(settings["env_vars"])
    [volume] = settings["container_kwargs"]["volumes"]
    mounted = volume.split(":")[1]
    paths = dict(v.split("=", 1) for v in settings["env_vars"] if "=" in v)
    assert set(paths) == {"MKSAP_DATA_DIR", "MKSAP_OUTPUT_DIR", "MKSAP_STORE_DIR"}
    assert all(path.startswith(mounted + "/") for path in paths.values()), paths


def test_the_docker_variant_loads_with_dagster_docker(tmp_path: Path, monkeypatch, request):
    pytest.importorskip(
        "dagster_docker", reason="dagster-docker is not installed: the DockerRunLauncher's own config is checked only "
        "where it is (docs/CLUSTER.md)"
    )
    shutil.copy(DOCKER_YAML, tmp_path / CONFIG_FILE)
    monkeypatch.setenv(POSTGRES_URL_VAR, _postgres_url(request))
    monkeypatch.setenv("MKSAP_RUN_IMAGE", "mksap-assets:test")
    monkeypatch.setenv("MKSAP_DOCKER_NETWORK", "mksap")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:  # no Docker daemon needed until a run launches
        launcher = instance.run_launcher
        assert type(launcher).__name__ == "DockerRunLauncher"
        assert (launcher.image, launcher.networks) == ("mksap-assets:test", ["mksap"])
        assert launcher.supports_check_run_worker_health and instance.run_monitoring_enabled


# --------------------------------------------------------------------------------------------- end to end


def _runs_in_flight_at_once(records: list) -> int:
    """The most runs that were between their start and their end at the same moment."""
    moments = sorted([(r.start_time, 1) for r in records] + [(r.end_time, -1) for r in records])
    most = current = 0
    for _, step in moments:
        current += step
        most = max(most, current)
    return most


@pytest.mark.slow
def test_a_backfill_on_the_cluster_profile_runs_in_runs_of_n_questions_each_in_a_worker_of_its_own(
    settings: Settings, tmp_path: Path, monkeypatch, request, capsys
):
    """Six contiguous questions, MKSAP_PARTITIONS_PER_RUN=2: the backfill daemon makes three runs of two, the queued
    run coordinator launches them (each a process of its own, Dagster's default launcher), and every question is
    exported exactly once."""
    started = time.monotonic()

    def phase(what: str) -> None:  # printed on failure (pytest shows captured output): where the time went
        print(f"{time.monotonic() - started:6.1f} s  {what}")

    keys = sample_ids(settings.data_dir)
    chosen = keys[:6]
    url = _postgres_url(request)
    env = dagster_environment(settings, tmp_path) | {POSTGRES_URL_VAR: url, PER_RUN_VAR: "2"}
    init = subprocess.run([BIN / "mksap", "init", "--storage", "cluster"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr[-3000:]
    assert "the cluster profile, as shipped, written to" in init.stdout
    sync = subprocess.run([BIN / "mksap", "sync"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert sync.returncode == 0, sync.stderr[-3000:]
    phase("cluster instance set up, partitions registered")

    port = free_port()
    logs = tmp_path / "logs"
    survivors: list[psutil.Process] = []
    with dagster_services(env, port, logs, survivors) as services:
        services.start("webserver")
        graphql = GraphQL(port)
        graphql.wait_ready(services.procs, logs)
        stop_sensors(graphql)  # only the backfill runs anything
        backfill_id = launch_backfill(graphql, chosen, QUESTION_ASSETS, "test_cluster")
        services.start("daemon")
        phase(f"backfill {backfill_id} launched, daemon started")
        backfill = wait_for_backfill(graphql, backfill_id, services)
        phase(f"backfill {backfill['status']}")
        assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (backfill, tail(logs / "daemon.log"))
        services_pids = {proc.pid for proc in services.procs.values()} | {os.getpid()}
    assert survivors == [], f"processes left running: {survivors}"

    monkeypatch.setenv(POSTGRES_URL_VAR, url)
    with open_instance(settings.dagster_home, monkeypatch, "cluster") as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        ranges = sorted((run.tags["dagster/asset_partition_range_start"],
                         run.tags["dagster/asset_partition_range_end"]) for run in runs)
        assert ranges == [(chosen[0], chosen[1]), (chosen[2], chosen[3]), (chosen[4], chosen[5])]
        assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
        for run in runs:  # through the queue: the coordinator, not the backfill daemon, launched it
            assert instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_ENQUEUED), run.run_id
        # Each run in a worker of its own, which it recorded (host and pid): not the daemon, the webserver or this.
        workers = {(run.tags[RUN_HOST_TAG], int(run.tags[RUN_PID_TAG])) for run in runs}
        assert len(workers) == len(runs) and not {pid for _, pid in workers} & services_pids, workers
        # Every question exported exactly once, the others not at all.
        exported = instance.fetch_materializations(dg.AssetKey("exported_question"), limit=100).records
        assert sorted(record.asset_materialization.partition for record in exported) == chosen
        records = instance.get_run_records(filters=dg.RunsFilter(run_ids=[run.run_id for run in runs]))
    for key in keys:
        assert export_path(settings.output_dir, key).is_file() == (key in chosen), key
    for key in chosen:
        assert orjson.loads(export_path(settings.output_dir, key).read_bytes())["question_id"] == key
    with capsys.disabled():
        print(f"\ncluster backfill: {len(runs)} runs of 2 questions; at most {_runs_in_flight_at_once(records)} "
              f"in flight at once; {time.monotonic() - started:.1f} s in all")


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and its children (what a dying container or machine does to a worker)."""
    process = psutil.Process(pid)
    for member in [process, *process.children(recursive=True)]:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.mark.slow
def test_a_worker_killed_mid_run_leaves_its_questions_to_the_sensor_which_reruns_them_once(
    settings: Settings, tmp_path: Path, monkeypatch, request, fake_api_factory, capsys
):
    """The sensor's own runs, on the cluster profile with MKSAP_PARTITIONS_PER_RUN=2, against the fake Claude API
    (slow enough that a run is caught at work): one run's worker is killed with SIGKILL. The run is marked failed
    (by the code server that started its process, which sees it exit; else by the sensor's next tick, which sees its
    process gone: dead_runs.py), the sensor reruns its questions, and its `llm` slot is given back; in the end every
    question is exported exactly once, and no output file is half-written."""
    started = time.monotonic()

    def phase(what: str) -> None:
        print(f"{time.monotonic() - started:6.1f} s  {what}")

    keys = sample_ids(settings.data_dir)
    chosen = keys[:6]
    for key in keys[6:]:  # a bank of six questions
        shutil.rmtree(question_json(settings.data_dir, key).parent)
    fake = fake_api_factory(latency=1.0)
    url = _postgres_url(request)
    env = dagster_environment(settings, tmp_path) | {
        POSTGRES_URL_VAR: url, PER_RUN_VAR: "2", "MKSAP_SENSOR_INTERVAL": "2", "MKSAP_LLM_PROVIDER": "anthropic",
        "MKSAP_LLM_CONCURRENCY": "2", "ANTHROPIC_API_KEY": "sk-test-fake", "ANTHROPIC_BASE_URL": fake.url,
    }
    init = subprocess.run([BIN / "mksap", "init", "--storage", "cluster"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr[-3000:]
    assert "Extraction:       provider anthropic" in init.stdout, init.stdout

    monkeypatch.setenv(POSTGRES_URL_VAR, url)
    logs = tmp_path / "logs"
    survivors: list[psutil.Process] = []
    with open_instance(settings.dagster_home, monkeypatch, "cluster") as instance, \
            dagster_services(env, free_port(), logs, survivors) as services:
        services.start("daemon")  # the question sensor is on by default: it registers the six and runs them
        deadline = time.monotonic() + 180
        killed = None
        while killed is None:  # the first run seen at work: past its pool slot, its questions calling the API
            for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
                if fake.stats.total_requests and any(
                    entry.message.startswith("Extractor: anthropic") for entry in instance.all_logs(run.run_id)
                ):
                    _kill_tree(int(run.tags[RUN_PID_TAG]))
                    killed = run
                    break
            assert time.monotonic() < deadline, tail(logs / "daemon.log")
            time.sleep(0.2)
        phase(f"killed the worker of run {killed.run_id} ({killed.tags['dagster/asset_partition_range_start']}..)")

        def settled() -> bool:
            exported = instance.get_materialized_partitions(dg.AssetKey("exported_question"))
            in_flight = instance.get_runs(filters=dg.RunsFilter(statuses=list(IN_FLIGHT)), limit=1)
            return exported == set(chosen) and not in_flight

        while not settled():
            assert time.monotonic() < deadline + 180, tail(logs / "daemon.log")
            time.sleep(1)
        phase("every question exported, nothing in flight")
        # The `llm` slot the dead worker held is given back (run monitoring's free_slots_after_run_end_seconds),
        # or the pool would have one worker fewer for good.
        while killed.run_id in instance.event_log_storage.get_concurrency_info(LLM_POOL).active_run_ids:
            assert time.monotonic() < deadline + 360, tail(logs / "daemon.log")
            time.sleep(1)
        phase("the dead worker's pool slot freed")
        after = instance.get_run_by_id(killed.run_id)
        assert after.status == dg.DagsterRunStatus.FAILURE
        assert instance.all_logs(killed.run_id, of_type=DagsterEventType.RUN_FAILURE)
        exported = instance.fetch_materializations(dg.AssetKey("exported_question"), limit=100).records
        runs = {record.run_id for record in exported}
        succeeded = instance.get_runs(filters=dg.RunsFilter(run_ids=list(runs)))
    assert survivors == [], f"processes left running: {survivors}"
    # Each question's export recorded once: what the killed run had finished is not redone, the rest was rerun.
    assert sorted(record.asset_materialization.partition for record in exported) == chosen
    assert {run.status for run in succeeded} == {dg.DagsterRunStatus.SUCCESS}
    # Never half-written: every output is whole JSON; a write cut short leaves at most a hidden temp file.
    for path in [*settings.output_dir.rglob("*.json"), *settings.store_dir.rglob("*.json")]:
        orjson.loads(path.read_bytes())
    assert all(path.name.startswith(".") for path in settings.output_dir.rglob("*.tmp"))
    with capsys.disabled():
        print(f"\nkilled worker: run {killed.run_id} marked failed; {len(runs)} runs exported the six "
              f"questions; the fake API answered {fake.stats.total_requests} requests; "
              f"{time.monotonic() - started:.1f} s in all")
