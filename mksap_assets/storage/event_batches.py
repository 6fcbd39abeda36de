"""DAGSTER_EVENT_BATCH_SIZE: an undocumented Dagster setting, read from the environment of the process that creates
a run (the `mksap` CLI, the daemon, the webserver) each time it creates one.

When it is set, Dagster hands a new run's "materialization planned" events (one per asset and partition) to the
event log's `store_event_batch` in batches of this size instead of one by one; the pooled SQLite log writes a batch
in one transaction (Dagster's stock SQLite class, and dagster-postgres for planned events, still write them one by
one). It is not part of Dagster's public API: if a Dagster release drops or renames it, those events are stored one
by one again, which is slower (docs/STORAGE.md), never wrong.
"""

import os

EVENT_BATCH_SIZE_VAR = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = 1000


def enable_event_batches() -> None:
    """For runs created in this process; a value the user set wins."""
    os.environ.setdefault(EVENT_BATCH_SIZE_VAR, str(EVENT_BATCH_SIZE))


def event_batch_env_line() -> str:
    """The `.env` line for Dagster's CLI and `dagster dev`, which load `.env` from the current folder."""
    return f"{EVENT_BATCH_SIZE_VAR}=${{{EVENT_BATCH_SIZE_VAR}:-{EVENT_BATCH_SIZE}}}"
