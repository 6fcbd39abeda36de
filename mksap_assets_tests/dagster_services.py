"""`dagster-webserver` and `dagster-daemon` on the project's workspace for the end-to-end tests (test_webserver.py,
test_cluster.py): the processes, the environment they run in, and the GraphQL calls that stop the sensors and run a
partition backfill."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mksap_assets.settings import PROJECT_ROOT, Settings
from mksap_assets_tests.services import GraphQL, check_alive, stop, tail

BIN = Path(sys.executable).parent
WORKSPACE = PROJECT_ROOT / "workspace.yaml"
BACKFILL_TIMEOUT = 180.0  # backfill requested -> terminal status (daemon ticks, queue, the runs)
QUESTION_ASSETS = ["raw_question", "extracted_statements", "validated_statements", "exported_question"]
TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

LAUNCH_BACKFILL = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) { __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on Error { message } } }
"""
SENSORS_QUERY = """
{ repositoriesOrError { __typename
    ... on RepositoryConnection { nodes { name sensors { id name sensorState { status } } } }
    ... on Error { message } } }
"""
STOP_SENSOR = """
mutation StopSensor($id: String!) {
  stopSensor(id: $id) { __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on Error { message } } }
"""
BACKFILL_QUERY = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename
    ... on PartitionBackfill {
      status isAssetBackfill numPartitions partitionNames assetSelection { path } error { message }
      runs { runId status tags { key value } } }
    ... on Error { message } } }
"""


class Services:
    """`dagster-webserver` and `dagster-daemon` on the project's workspace, each in its own process group."""

    def __init__(self, env: dict[str, str], port: int, logs: Path):
        self.env, self.logs = env, logs
        self.commands = {
            "webserver": [str(BIN / "dagster-webserver"), "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)],
            "daemon": [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)],
        }
        self.procs: dict[str, subprocess.Popen] = {}
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "wb") as log:  # the child keeps its own copy of the descriptor
            self.procs[name] = subprocess.Popen(
                self.commands[name], cwd=PROJECT_ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self.procs[name]


@contextmanager
def dagster_services(env: dict[str, str], port: int, logs: Path, survivors: list) -> Iterator[Services]:
    """Whatever was started is stopped on exit; what outlived SIGKILL is appended to survivors."""
    services = Services(env, port, logs)
    try:
        yield services
    finally:
        survivors += stop(list(services.procs.values()))


def dagster_environment(settings: Settings, tmp_path: Path) -> dict[str, str]:
    # Nothing of the caller's Dagster, MKSAP or Anthropic set-up leaks in: no ANTHROPIC_API_KEY -> offline extractor.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MKSAP_", "ANTHROPIC_", "DAGSTER_"))}
    return env | {
        "DAGSTER_HOME": str(settings.dagster_home),
        "MKSAP_DATA_DIR": str(settings.data_dir),
        "MKSAP_OUTPUT_DIR": str(settings.output_dir),
        "MKSAP_STORE_DIR": str(settings.store_dir),
        "MKSAP_LLM_PROVIDER": "offline",
        "MKSAP_LLM_CACHE_DIR": str(tmp_path / "llm_cache"),
        "PYTHONUNBUFFERED": "1",
    }


def stop_sensors(graphql: GraphQL) -> None:
    """Stop every sensor, as a user would in the UI (the question sensor, on by default, would launch runs)."""
    repositories = graphql(SENSORS_QUERY)["repositoriesOrError"]
    assert repositories["__typename"] == "RepositoryConnection", repositories
    for sensor in (sensor for repository in repositories["nodes"] for sensor in repository["sensors"]):
        stopped = graphql(STOP_SENSOR, {"id": sensor["id"]})["stopSensor"]
        assert stopped["__typename"] == "StopSensorMutationResult", stopped
        assert stopped["instigationState"]["status"] == "STOPPED", (sensor["name"], stopped)


def launch_backfill(graphql: GraphQL, partitions: list[str], assets: list[str], title: str) -> str:
    """A partition backfill of those assets, as the UI launches one; its id."""
    launched = graphql(LAUNCH_BACKFILL, {"params": {
        "partitionNames": partitions,
        "assetSelection": [{"path": [name]} for name in assets],
        "title": title,
    }})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def wait_for_backfill(graphql: GraphQL, backfill_id: str, services: Services) -> dict:
    """The backfill (BACKFILL_QUERY's fields) once it is in a terminal status; fails the test after BACKFILL_TIMEOUT."""
    deadline = time.monotonic() + BACKFILL_TIMEOUT
    while True:
        backfill = graphql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] in TERMINAL:
            return backfill
        check_alive(services.procs, services.logs)
        if time.monotonic() > deadline:
            pytest.fail(f"backfill still {backfill['status']} after {BACKFILL_TIMEOUT:.0f} s; runs: "
                        f"{[(r['runId'], r['status']) for r in backfill['runs']]}\n"
                        f"{tail(services.logs / 'daemon.log')}")
        time.sleep(1)
