"""Opening the instance in a folder the way every Dagster process opens it (`DagsterInstance.get()`, from
DAGSTER_HOME), with the environment the profiles read when they load."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import yaml

from mksap_assets.storage.event_batches import enable_event_batches
from mksap_assets.storage.postgres import (
    POSTGRES_URL_VAR,
    configured_url,
    ensure_database,
    postgres_url,
)
from mksap_assets.storage.profiles import CONFIG_FILE


def open_instance(home: Path) -> dg.DagsterInstance:
    """The instance whose dagster.yaml is in `home`. DAGSTER_HOME (where the sqlite profile's files go), the
    PostgreSQL URL (with the driver Dagster needs) and the event batch size are set for this process and those it
    starts (a value already set wins, except DAGSTER_HOME); on PostgreSQL, the database is created first when the
    server lacks it."""
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ[POSTGRES_URL_VAR] = postgres_url()
    enable_event_batches()
    url = configured_url(yaml.safe_load((home / CONFIG_FILE).read_text()) or {})
    if url:
        ensure_database(url)
    return dg.DagsterInstance.get()
