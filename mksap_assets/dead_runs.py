"""Runs whose process is gone: marked failed, and their concurrency-pool slots freed.

A run whose process is killed (SIGKILL, out of memory, a closed terminal) stays STARTED in the instance and keeps
its slot in the "llm" pool, so every later run waits for that slot forever. Every run records which process runs
it, as run tags, when its pipeline resource is set up: that happens before its step claims the pool slot, whoever
launched it (the sensor, the UI, `dagster asset materialize`, `mksap run`). The host, the pid, and the process's
start time, so that a pid the system has since reused does not pass for the run's process.

The same tags say which worker ran which partitions: the UI shows them on each run (filter the runs by
`mksap/host`), and the report counts the questions each worker exported.

Whoever launches work first fails the runs of this host whose process is gone: each sensor tick, `mksap run`, and
each run as it starts. A run recorded on another host cannot be judged from here, and is left alone.
"""

from __future__ import annotations

import os
import socket

import dagster as dg
import psutil

RUN_HOST_TAG = "mksap/host"
RUN_PID_TAG = "mksap/pid"
RUN_PROCESS_STARTED_TAG = "mksap/process_started"
# psutil derives a start time from the boot time and clock ticks: the same process reads the same to well within this.
START_TIME_TOLERANCE_SECONDS = 1.0

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def process_tags(pid: int | None = None) -> dict[str, str]:
    """The tags that identify the process `pid` (default: this one) on this host."""
    pid = pid or os.getpid()
    return {
        RUN_HOST_TAG: socket.gethostname(),
        RUN_PID_TAG: str(pid),
        RUN_PROCESS_STARTED_TAG: f"{psutil.Process(pid).create_time():.2f}",
    }


def worker_name(tags: dict[str, str]) -> str | None:
    """The worker the tags name, "host:pid" (the report counts exports per worker), or None."""
    host, pid = tags.get(RUN_HOST_TAG), tags.get(RUN_PID_TAG)
    return f"{host}:{pid}" if host and pid else None


def process_gone(tags: dict[str, str]) -> bool:
    """Whether the process the tags name (on this host) has exited; False when they name none."""
    pid = int(tags.get(RUN_PID_TAG) or 0)
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:  # exited, not yet reaped by its parent
            return True
        started = process.create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:  # another user's live process
        return False
    recorded = tags.get(RUN_PROCESS_STARTED_TAG)
    return recorded is not None and abs(float(recorded) - started) > START_TIME_TOLERANCE_SECONDS


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every in-flight run of this host whose process is gone, and free its pool slots; their ids."""
    dead = []
    filters = dg.RunsFilter(statuses=IN_FLIGHT, tags={RUN_HOST_TAG: socket.gethostname()})
    for run in instance.get_runs(filters=filters):
        if process_gone(run.tags):
            pid = run.tags[RUN_PID_TAG]
            instance.report_run_failed(run, f"The process that ran it (pid {pid}) is gone; marked failed by mksap.")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            dead.append(run.run_id)
    return dead
