"""The Dagster UI end to end: `dagster-webserver` and `dagster-daemon` on the project's workspace, driven over GraphQL.

A tmp copy of the sample bank, a tmp instance with the project's dagster.yaml and partitions registered by
`mksap sync`; then the webserver (on 127.0.0.1 only) must list the four question assets with the sample ids as
partition keys. With the sensors stopped over GraphQL (they would launch runs of their own), a partition backfill
launched through GraphQL must be run by the daemon to COMPLETED_SUCCESS, one run per contiguous range, leaving
exactly those partitions MATERIALIZED and their exports on disk. Both process groups are stopped (SIGINT, then
SIGKILL) whatever happens, and nothing may outlive them. See docs/UI.md for the same steps in the UI.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import orjson
import psutil
import pytest

from mksap_assets.settings import PROJECT_ROOT, Settings
from mksap_assets.storage.profiles import install
from mksap_assets_tests.dagster_services import (
    BIN,
    QUESTION_ASSETS,
    dagster_environment,
    dagster_services,
    launch_backfill,
    stop_sensors,
    wait_for_backfill,
)
from mksap_assets_tests.helpers import sample_ids
from mksap_assets_tests.services import GraphQL, free_port, tail

ASSETS_QUERY = """
{ assetNodes {
    assetKey { path }
    isPartitioned
    partitionDefinition { type name }
    partitionKeys
    assetPartitionStatuses { __typename
      ... on DefaultPartitionStatuses {
        materializedPartitions failedPartitions materializingPartitions unmaterializedPartitions } } } }
"""
RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId status } } } }"


# --------------------------------------------------------------------------------------------- GraphQL


def _question_assets(graphql: GraphQL) -> dict[str, dict]:
    nodes = graphql(ASSETS_QUERY)["assetNodes"]
    return {"/".join(node["assetKey"]["path"]): node for node in nodes if node["isPartitioned"]}


# --------------------------------------------------------------------------------------------- network


def _non_loopback_addresses() -> list[str]:
    addresses = []
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family == socket.AF_INET and not entry.address.startswith("127."):
                addresses.append(entry.address)
            elif entry.family == socket.AF_INET6 and entry.address != "::1" and not entry.address.startswith("fe80"):
                addresses.append(entry.address.split("%")[0])
    return addresses


def _connects(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def _listening_inet_sockets(pid: int) -> list[tuple[str, int]]:
    process = psutil.Process(pid)
    found = []
    for proc in [process, *process.children(recursive=True)]:
        for conn in proc.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                found.append((conn.laddr.ip, conn.laddr.port))
    return found


# --------------------------------------------------------------------------------------------- the test


@pytest.mark.slow
def test_webserver_lists_the_assets_and_runs_a_graphql_backfill(settings: Settings, tmp_path: Path):
    started = time.monotonic()

    def phase(what: str) -> None:  # printed on failure (pytest shows captured output): where the time went
        print(f"{time.monotonic() - started:6.1f} s  {what}")

    keys = sample_ids(settings.data_dir)
    # Two contiguous partitions and one apart: the backfill must make one run per contiguous range.
    chosen = [keys[0], keys[1], keys[-1]]
    expected_ranges = {(keys[0], keys[1]), (keys[-1], keys[-1])}

    env = dagster_environment(settings, tmp_path)
    install(settings.dagster_home, "sqlite")
    sync = subprocess.run([BIN / "mksap", "sync"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert sync.returncode == 0, sync.stderr[-3000:]
    assert f"{len(keys)} partitions added" in sync.stdout
    phase("partitions registered")

    port = free_port()
    logs = tmp_path / "logs"
    survivors: list[psutil.Process] = []
    with dagster_services(env, port, logs, survivors) as services:
        procs = services.procs
        services.start("webserver")
        graphql = GraphQL(port)
        graphql.wait_ready(procs, logs)
        phase(f"webserver ready on 127.0.0.1:{port}")

        # Bound to loopback only: the listening socket is 127.0.0.1, and no other address of this machine answers.
        listening = _listening_inet_sockets(procs["webserver"].pid)
        assert ("127.0.0.1", port) in listening, listening
        assert all(ip in ("127.0.0.1", "::1") for ip, _ in listening), listening
        for address in _non_loopback_addresses():
            assert not _connects(address, port), f"webserver reachable on {address}:{port}"

        # The four question assets, on the dynamic "question" partitions, with exactly the sample ids.
        assets = _question_assets(graphql)
        assert sorted(assets) == sorted(QUESTION_ASSETS)
        for name, node in assets.items():
            assert node["partitionDefinition"] == {"type": "DYNAMIC", "name": "question"}, name
            assert node["partitionKeys"] == keys, name
            assert node["assetPartitionStatuses"]["materializedPartitions"] == [], name

        # The question sensor is on by default and would queue runs for every missing partition: turn it off, as
        # a user would in the UI, so that only the backfill materializes anything.
        stop_sensors(graphql)

        backfill_id = launch_backfill(graphql, chosen, QUESTION_ASSETS, "test_webserver")
        phase(f"backfill {backfill_id} launched")
        # Started only now: the backfill daemon looks at new backfills on start, then every 30 s.
        services.start("daemon")
        backfill = wait_for_backfill(graphql, backfill_id, services)
        phase(f"backfill {backfill['status']}")

        assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (backfill, tail(logs / "daemon.log"))
        assert backfill["isAssetBackfill"] and sorted(backfill["partitionNames"]) == sorted(chosen)
        runs = backfill["runs"]
        assert [run["status"] for run in runs] == ["SUCCESS"] * len(runs), runs
        ranges = set()
        for run in runs:
            tags = {tag["key"]: tag["value"] for tag in run["tags"]}
            assert tags["dagster/backfill"] == backfill_id
            ranges.add((tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]))
        assert ranges == expected_ranges and len(runs) == len(expected_ranges), runs
        all_runs = graphql(RUNS_QUERY)["runsOrError"]["results"]
        assert sorted(run["runId"] for run in all_runs) == sorted(run["runId"] for run in runs), all_runs

        # Exactly the chosen partitions are MATERIALIZED, for all four assets; nothing failed or is still running.
        for name, node in _question_assets(graphql).items():
            statuses = node["assetPartitionStatuses"]
            assert sorted(statuses["materializedPartitions"]) == sorted(chosen), (name, statuses)
            assert statuses["failedPartitions"] == statuses["materializingPartitions"] == [], (name, statuses)
            assert sorted(statuses["unmaterializedPartitions"]) == sorted(set(keys) - set(chosen)), (name, statuses)

    phase("webserver and daemon stopped")
    assert survivors == [], f"processes left running: {survivors}"

    exported = sorted(settings.output_dir.glob("*/*.json"))
    assert [path.stem for path in exported] == sorted(chosen)
    for path in exported:
        document = orjson.loads(path.read_bytes())
        assert document["question_id"] == path.stem and path.parent.name == path.stem[:2]
        assert document["provenance"]["extractor"] == "offline"
