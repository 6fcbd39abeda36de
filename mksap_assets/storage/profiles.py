"""Storage profiles: the instance configurations (dagster.yaml) that `mksap init` installs, and what it does with
one that is already there (keeps it).

Each profile is a complete dagster.yaml in dagster_yaml/, valid in any DAGSTER_HOME: it names no path (the SQLite
files go where Dagster's `env: DAGSTER_HOME` puts them) and no secret (the PostgreSQL URL is read from
MKSAP_POSTGRES_URL when the instance loads). sqlite and postgres differ only in their storage; cluster is postgres
with more runs in flight and run monitoring (test_storage_profiles.py, test_cluster.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import yaml

from mksap_assets.settings import Settings, StorageProfile

PROFILES: tuple[str, ...] = get_args(StorageProfile)
DEFAULT_PROFILE: str = Settings.model_fields["storage"].default  # MKSAP_STORAGE's default (settings.py)
CONFIG_FILE = "dagster.yaml"
PROFILE_DIR = Path(__file__).with_name("dagster_yaml")
# The event log's module before it moved here: dagster.yaml files an earlier `mksap init` wrote still name it.
LEGACY_EVENT_LOG_MODULE = "module: mksap_assets.event_log\n"
EVENT_LOG_MODULE = "module: mksap_assets.storage.pooled_sqlite\n"


class StorageProfileError(ValueError):
    """An unknown profile name."""


def profile_config(profile: str) -> str:
    if profile not in PROFILES:
        raise StorageProfileError(f"unknown storage profile {profile!r}: expected one of {', '.join(PROFILES)}")
    return (PROFILE_DIR / f"{profile}.yaml").read_text()


def with_stock_event_log(config_text: str) -> str:
    """The sqlite profile switched back to Dagster's stock event log class: its active event_log_storage line
    replaced by the commented one above it (the one-line switch docs/STORAGE.md describes)."""
    lines = config_text.splitlines()
    [active] = [i for i, line in enumerate(lines) if line.startswith("event_log_storage:")]
    [stock] = [line.removeprefix("# ") for line in lines if line.startswith("# event_log_storage:")]
    lines[active] = stock
    return "\n".join(lines) + "\n"


def storage_kind(config_text: str) -> str:
    """The profile a dagster.yaml's storage is (sqlite, postgres, or cluster: postgres that monitors its runs'
    workers), or "custom"."""
    config = yaml.safe_load(config_text) or {}
    storage = config.get("storage") or {}
    event_log = config.get("event_log_storage") or {}
    if "postgres" in storage or str(event_log.get("module", "")).startswith("dagster_postgres"):
        return "cluster" if (config.get("run_monitoring") or {}).get("enabled") else "postgres"
    if "sqlite" in storage or not (storage or event_log) or "Sqlite" in str(event_log.get("class", "")):
        return "sqlite"  # an explicit SQLite storage, or none at all (Dagster's default is SQLite)
    return "custom"


def describe(config_text: str) -> str:
    """What a dagster.yaml is, for people: "the sqlite profile, as shipped", "the postgres profile, edited"..."""
    for profile in PROFILES:
        if config_text == profile_config(profile):
            return f"the {profile} profile, as shipped"
    kind = storage_kind(config_text)
    if kind == "custom":
        return "a storage of its own (no profile's)"
    event_log = (yaml.safe_load(config_text) or {}).get("event_log_storage") or {}
    stock = kind == "sqlite" and event_log.get("class") == "ConsolidatedSqliteEventLogStorage"
    return f"the {kind} profile, edited" + (" (Dagster's stock event log class)" if stock else "")


@dataclass(frozen=True)
class InstanceConfig:
    """What `install` did with an instance folder's dagster.yaml."""

    path: Path
    description: str  # what the file is now (describe())
    written: str | None = None  # the profile written, if one was
    backup: Path | None = None  # where the replaced file was kept
    upgraded: bool = False  # an earlier mksap's file, its event log module path updated

    def report(self, asked: str | None) -> str:
        """For `mksap init`; `asked`: the profile the user named (--storage or MKSAP_STORAGE), if any."""
        if self.written:
            kept = f"; the previous one kept as {self.backup}" if self.backup else ""
            return f"{self.description}, written to {self.path}{kept}"
        if self.upgraded:
            return (f"{self.path} ({self.description}), written by an earlier mksap: its event log module path "
                    f"updated, the previous file kept as {self.backup}")
        wanted = asked or storage_kind(self.path.read_text())
        return (f"{self.path} exists ({self.description}): kept. To replace it with a profile: "
                f"mksap init --storage {wanted if wanted in PROFILES else DEFAULT_PROFILE} --force "
                f"(the current file is kept as {CONFIG_FILE}.bak)")


def install(home: Path, profile: str, *, force: bool = False) -> InstanceConfig:
    """Write `profile`'s dagster.yaml into `home` unless one is there; `force`: replace it, keeping the old file as
    dagster.yaml.bak (.bak.2, ... when that exists). An existing file is never changed otherwise, except the module
    path of an earlier mksap's event log (the old path no longer imports)."""
    wanted = profile_config(profile)
    home.mkdir(parents=True, exist_ok=True)
    path = home / CONFIG_FILE
    if not path.exists():
        path.write_text(wanted)
        return InstanceConfig(path, describe(wanted), written=profile)
    current = path.read_text()
    if force:
        backup = _keep(path) if current != wanted else None
        path.write_text(wanted)
        return InstanceConfig(path, describe(wanted), written=profile, backup=backup)
    if LEGACY_EVENT_LOG_MODULE in current:
        backup = _keep(path)
        upgraded = current.replace(LEGACY_EVENT_LOG_MODULE, EVENT_LOG_MODULE)
        path.write_text(upgraded)
        return InstanceConfig(path, describe(upgraded), backup=backup, upgraded=True)
    return InstanceConfig(path, describe(current))


def _keep(path: Path) -> Path:
    """Copy `path` to the first free backup name."""
    candidates = (path.with_name(f"{path.name}.bak{'' if n == 1 else f'.{n}'}") for n in range(1, 10_000))
    backup = next(candidate for candidate in candidates if not candidate.exists())
    backup.write_text(path.read_text())
    return backup
