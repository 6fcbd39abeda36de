"""The extraction settings pinned in the Dagster instance itself: one row of its key-value store (the `kvs` table of
its run storage), so that every process on the instance (the `mksap` CLI, the webserver, the daemon and its run
workers, and several machines sharing a PostgreSQL instance) reads the same provider, model and cloze mode."""

from __future__ import annotations

import dagster as dg

from mksap_assets.domain.extraction.settings import ExtractionSettings

PIN_KEY = "mksap/extraction_settings"


def read_pin(instance: dg.DagsterInstance) -> ExtractionSettings | None:
    stored = instance.run_storage.get_cursor_values({PIN_KEY}).get(PIN_KEY)
    return ExtractionSettings.from_json(stored) if stored else None


def write_pin(instance: dg.DagsterInstance, settings: ExtractionSettings) -> None:
    instance.run_storage.set_cursor_values({PIN_KEY: settings.to_json()})


def pin_if_absent(instance: dg.DagsterInstance, initial: ExtractionSettings) -> ExtractionSettings:
    """The pinned settings; `initial` is pinned first when the instance has none."""
    pinned = read_pin(instance)
    if pinned is None:
        write_pin(instance, initial)
        # Read back: a process pinning at the same moment may have won, and everyone must use the stored value.
        pinned = read_pin(instance) or initial
    return pinned
