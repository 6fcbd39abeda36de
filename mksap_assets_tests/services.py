"""Background processes for the tests and the docs check (`docs_check.py`): a free port, a stop that leaves nothing
running, the Dagster webserver's GraphQL endpoint, databases on the PostgreSQL server, and worker processes that
answer in JSON (the shared cache's and the shared limiter's tests).

Each process is started in its own process group (`start_new_session=True`) and its output goes to
`<logs>/<name>.log`; `procs` maps those names to the processes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

READY_TIMEOUT = 90.0  # webserver answering and the code location loaded
STOP_GRACE = 8.0  # SIGINT -> SIGKILL

WORKSPACE_QUERY = """
{ workspaceOrError { __typename
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } }
    ... on PythonError { message } } }
"""


class ServiceError(RuntimeError):
    """A background process exited early or did not become ready."""


def local_http() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # never through a proxy
    return http


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_worker(module: str, *args: str) -> subprocess.Popen:
    """`python -m module args` in the project, once it printed "ready" (the test fails with its error if it does not)."""
    from mksap_assets.settings import PROJECT_ROOT

    worker = subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = worker.stdout.readline()
    if line.strip() != "ready":
        worker.kill()
        pytest.fail(f"worker did not start: {line}{worker.stderr.read()}")
    return worker


def worker_outcome(worker: subprocess.Popen, timeout: float) -> Any:
    """The JSON of the last line a worker printed, once it exited 0."""
    out, err = worker.communicate(timeout=timeout)
    assert worker.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # started with start_new_session=True: the group id is the leader's pid
    except (ProcessLookupError, PermissionError):
        pass


def _group_members(pgid: int) -> list[int]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process.pid)
        except (ProcessLookupError, psutil.Error):
            pass
    return members


def stop(procs: list[subprocess.Popen]) -> list[psutil.Process]:
    """SIGINT every group (what Ctrl-C sends), wait, SIGKILL what is left (groups and stray descendants); return
    the survivors."""
    tree: list[psutil.Process] = []
    for proc in procs:
        try:
            tree += psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
    for proc in procs:
        _signal_group(proc.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    _, alive = psutil.wait_procs(tree, timeout=max(0.1, deadline - time.monotonic()))
    for proc in procs:
        if proc.poll() is None or _group_members(proc.pid):  # only a group that is still ours
            _signal_group(proc.pid, signal.SIGKILL)
    for child in alive:  # a descendant that left the group (setsid) is still ours
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
    _, alive = psutil.wait_procs(alive, timeout=5)
    return [p for p in alive if p.is_running()] + [
        psutil.Process(proc.pid) for proc in procs if proc.poll() is None
    ]


def check_alive(procs: dict[str, subprocess.Popen], logs: Path) -> None:
    for name, proc in procs.items():
        if proc.poll() is not None:
            raise ServiceError(f"{name} exited with {proc.returncode}:\n{tail(logs / f'{name}.log')}")


class GraphQL:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.http = local_http()

    def __call__(self, query: str, variables: dict | None = None) -> dict:
        response = self.http.post(f"{self.base}/graphql", json={"query": query, "variables": variables or {}},
                                  timeout=60)
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def wait_ready(self, procs: dict[str, subprocess.Popen], logs: Path, name: str = "webserver") -> None:
        """/server_info answers, then every code location is LOADED (and loaded without error); `name` is the
        process that serves it."""
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            check_alive(procs, logs)
            try:
                if self.http.get(f"{self.base}/server_info", timeout=5).ok:
                    workspace = self(WORKSPACE_QUERY)["workspaceOrError"]
                    assert workspace["__typename"] == "Workspace", workspace
                    entries = workspace["locationEntries"]
                    if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
                        errors = [e for e in entries if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"]
                        assert not errors, errors
                        return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise ServiceError(f"webserver not ready in {READY_TIMEOUT:.0f} s:\n{tail(logs / f'{name}.log')}")
            time.sleep(0.5)
