"""Storage profiles: the shipped dagster.yaml files load anywhere and keep their storage in DAGSTER_HOME (or on the
PostgreSQL server), `mksap init` writes one once and never overwrites an edited one, and the postgres profile runs
the sample questions end to end on a real server."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dotenv import dotenv_values

from mksap_assets.cli import cmd_init, cmd_run, cmd_sync, main
from mksap_assets.domain.exports.document import export_path
from mksap_assets.settings import PROJECT_ROOT, Settings, resolve_settings
from mksap_assets.storage.event_batches import EVENT_BATCH_SIZE_VAR
from mksap_assets.storage.pooled_sqlite import PooledSqliteEventLogStorage
from mksap_assets.storage.postgres import (
    POSTGRES_URL_VAR,
    PostgresUnavailable,
    driver_url,
    ensure_database,
)
from mksap_assets.storage.profiles import (
    CONFIG_FILE,
    PROFILES,
    describe,
    install,
    profile_config,
)
from mksap_assets_tests.helpers import sample_ids
from mksap_assets_tests.services import free_port
from mksap_devtools.postgres_databases import PostgresDatabases

# What `mksap init` wrote before the profiles (the __DAGSTER_HOME__ template, filled in), abridged.
EARLIER_MKSAP_CONFIG = """\
event_log_storage:
  module: mksap_assets.event_log
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {home}/history
"""


@pytest.fixture
def env(monkeypatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """What opening an instance sets in this process's environment is restored after the test; the current
    directory is an empty folder, to see that nothing is written there."""
    for name in ("DAGSTER_HOME", EVENT_BATCH_SIZE_VAR, POSTGRES_URL_VAR, "MKSAP_STORAGE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return monkeypatch


def _postgres_url(postgres_databases: PostgresDatabases, request) -> str:
    """A database of this test's with Dagster's schema."""
    return postgres_databases.url(postgres_databases.create(template=request.getfixturevalue("dagster_schema")))


@pytest.mark.parametrize("profile", PROFILES)
def test_a_shipped_profile_loads_in_any_dagster_home_and_keeps_its_storage_out_of_the_current_folder(
    profile, tmp_path: Path, env, request
):
    home = tmp_path / "a home of its own"
    home.mkdir()
    (home / CONFIG_FILE).write_text(profile_config(profile))  # copied by hand, as a user would
    env.setenv("DAGSTER_HOME", str(home))
    if profile != "sqlite":
        env.setenv(POSTGRES_URL_VAR, _postgres_url(request.getfixturevalue("postgres_databases"), request))
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("question", ["q1"])
        instance.report_runless_asset_event(dg.AssetMaterialization("exported", partition="q1"))
        storage = type(instance.event_log_storage).__name__
    with dg.DagsterInstance.get() as again:
        assert again.get_materialized_partitions(dg.AssetKey("exported")) == {"q1"}
    assert list(Path.cwd().iterdir()) == []
    if profile == "sqlite":
        assert storage == PooledSqliteEventLogStorage.__name__
        assert (home / "event_log.db").is_file() and (home / "history" / "runs.db").is_file()
    else:
        assert storage == "PostgresEventLogStorage"
        assert not list(home.glob("**/*.db"))


def test_the_top_level_dagster_yaml_is_the_sqlite_profile():
    assert (PROJECT_ROOT / "dagster.yaml").read_text() == profile_config("sqlite")


def test_the_profiles_differ_only_in_their_storage():
    sqlite, postgres = (yaml.safe_load(profile_config(profile)) for profile in ("sqlite", "postgres"))
    assert sqlite.pop("event_log_storage")["class"] == PooledSqliteEventLogStorage.__name__
    assert postgres.pop("storage") == {"postgres": {"postgres_url": {"env": POSTGRES_URL_VAR}}}
    assert sqlite == postgres


def _edit(path: Path) -> str:
    edited = path.read_text().replace("max_concurrent_runs: 2", "max_concurrent_runs: 3") + "# mine\n"
    path.write_text(edited)
    return edited


def test_install_writes_a_profile_once_and_never_overwrites_an_edited_config(tmp_path: Path):
    first = install(tmp_path, "sqlite")
    assert first.written == "sqlite" and first.path.read_text() == profile_config("sqlite")
    edited = _edit(first.path)
    for profile in PROFILES:
        kept = install(tmp_path, profile)
        assert kept.written is None and kept.path.read_text() == edited
    report = kept.report("postgres")
    assert f"{first.path} exists (the sqlite profile, edited): kept" in report
    assert "mksap init --storage postgres --force" in report and "dagster.yaml.bak" in report


def test_force_replaces_the_config_and_keeps_each_old_one(tmp_path: Path):
    edited = _edit(install(tmp_path, "sqlite").path)
    forced = install(tmp_path, "postgres", force=True)
    assert forced.path.read_text() == profile_config("postgres")
    assert forced.backup == tmp_path / "dagster.yaml.bak" and forced.backup.read_text() == edited
    again = install(tmp_path, "sqlite", force=True)
    assert again.backup == tmp_path / "dagster.yaml.bak.2" and again.backup.read_text() == profile_config("postgres")
    assert install(tmp_path, "sqlite", force=True).backup is None  # nothing to keep: the same file


def test_an_earlier_mksaps_config_gets_the_event_logs_new_module_path_and_keeps_its_history(
    tmp_path: Path, env
):
    home = tmp_path / "home"
    home.mkdir()
    (home / CONFIG_FILE).write_text(EARLIER_MKSAP_CONFIG.format(home=home))
    upgraded = install(home, "sqlite")
    assert upgraded.upgraded and upgraded.backup.read_text() == EARLIER_MKSAP_CONFIG.format(home=home)
    assert "written by an earlier mksap" in upgraded.report(None)
    env.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        instance.add_dynamic_partitions("question", ["q1"])
    assert (home / "history" / "event_log.db").is_file()  # where that config always kept it


def test_describe_names_the_profile_a_config_looks_like():
    assert describe(profile_config("postgres")) == "the postgres profile, as shipped"
    stock = profile_config("sqlite").replace(
        "event_log_storage: {module: mksap_assets.storage.pooled_sqlite, class: PooledSqliteEventLogStorage",
        "event_log_storage: {module: dagster._core.storage.event_log, class: ConsolidatedSqliteEventLogStorage",
    )
    assert describe(stock) == "the sqlite profile, edited (Dagster's stock event log class)"
    assert describe("telemetry:\n  enabled: false\n") == "the sqlite profile, edited"  # Dagster's default storage
    assert describe("storage:\n  mysql: {}\n") == "a storage of its own (no profile's)"


def test_init_keeps_an_edited_instance_config_on_make_runs_path(settings: Settings, tmp_path: Path, env, capsys):
    """`make run` is `mksap init` then `mksap run` (whose instance is opened like `mksap sync`'s)."""
    env_file = tmp_path / ".env"
    assert cmd_init(settings, env_file=env_file) == 0
    assert "Storage:          the sqlite profile, as shipped, written to" in capsys.readouterr().out
    edited = _edit(settings.dagster_home / CONFIG_FILE)
    assert cmd_init(settings, env_file=env_file) == 0
    out = capsys.readouterr().out
    assert "exists (the sqlite profile, edited): kept" in out and "mksap init --storage sqlite --force" in out
    assert cmd_sync(settings) == 0
    assert (settings.dagster_home / CONFIG_FILE).read_text() == edited
    with dg.DagsterInstance.get() as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 3  # the edit is in use
    assert not list((settings.dagster_home).glob("dagster.yaml.bak*"))


def test_init_takes_the_profile_from_mksap_storage_and_refuses_an_unknown_one(
    settings: Settings, tmp_path: Path, env, capsys
):
    env.setenv("DAGSTER_HOME", str(settings.dagster_home))
    env.setenv("MKSAP_STORAGE", "postgres")
    assert resolve_settings().storage == "postgres"
    env.setenv("MKSAP_STORAGE", "oracle")
    assert main(["init"]) == 2
    assert "MKSAP_STORAGE: Input should be 'sqlite', 'postgres' or 'cluster' (got 'oracle')" in capsys.readouterr().err
    assert not (settings.dagster_home / CONFIG_FILE).exists()
    with pytest.raises(SystemExit):
        main(["init", "--storage", "oracle"])


def test_the_env_file_gives_dagster_the_postgres_url_and_a_users_own_wins(settings: Settings, tmp_path: Path, env):
    env_file = tmp_path / ".env"
    assert cmd_init(settings, env_file=env_file) == 0
    env.delenv(POSTGRES_URL_VAR)
    assert dotenv_values(env_file)[POSTGRES_URL_VAR] == "postgresql+psycopg2://postgres@127.0.0.1:5432/mksap"
    env.setenv(POSTGRES_URL_VAR, "postgresql+psycopg2://me@db.example:5433/mine")
    assert dotenv_values(env_file)[POSTGRES_URL_VAR] == "postgresql+psycopg2://me@db.example:5433/mine"


def test_a_url_without_a_driver_gets_psycopg2():
    assert driver_url("postgresql://u@h:5432/d") == "postgresql+psycopg2://u@h:5432/d"
    assert driver_url("postgres://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert driver_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"


def test_an_unreachable_server_is_named_without_its_password():
    with pytest.raises(PostgresUnavailable) as raised:
        ensure_database(f"postgresql://someone:s3cret-pw@127.0.0.1:{free_port()}/mksap")
    message = str(raised.value)
    assert message.startswith("PostgreSQL at postgresql://someone:***@127.0.0.1:") and "s3cret" not in message
    assert "Connection refused" in message


def test_the_database_is_created_when_missing(postgres_databases: PostgresDatabases):
    url = postgres_databases.url(postgres_databases.new_name())
    assert ensure_database(url) is True
    assert ensure_database(url) is False


def _run_on_postgres(settings: Settings, databases: PostgresDatabases, env_file: Path, env, capsys,
                     count: int | None) -> None:
    """`mksap init --storage postgres` on a server without the database, then `mksap run` for the first `count`
    questions of the bank (all: None) with the offline extractor: every asset materialized, the history in
    PostgreSQL."""
    database = databases.new_name()
    bare = databases.url(database).replace("postgresql+psycopg2://", "postgresql://")  # as users write it
    env.setenv(POSTGRES_URL_VAR, bare)
    settings = settings.replace(llm=settings.llm.replace(provider="offline"))
    assert cmd_init(settings, env_file=env_file, storage="postgres") == 0
    assert "Storage:          the postgres profile, as shipped, written to" in capsys.readouterr().out
    keys = sample_ids(settings.data_dir)
    chosen = keys[:count] if count else keys
    assert cmd_run(settings, chosen if count else []) == 0
    assert f"questions exported: {len(chosen)}" in capsys.readouterr().out
    assert all(export_path(settings.output_dir, key).is_file() for key in chosen)
    assert all(not export_path(settings.output_dir, key).exists() for key in keys[len(chosen):])
    with dg.DagsterInstance.get() as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert database in instance.event_log_storage.postgres_url
        assert list(instance.get_dynamic_partitions("question")) == keys
        for asset in ("raw_question", "extracted_statements", "validated_statements", "exported_question"):
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(chosen), asset
        assert instance.get_latest_materialization_event(dg.AssetKey("anki_deck")) is not None
    assert not list(settings.dagster_home.glob("**/*.db"))


def test_the_postgres_profile_runs_the_sample_questions_end_to_end(
    settings: Settings, postgres_databases: PostgresDatabases, tmp_path: Path, env, capsys
):
    _run_on_postgres(settings, postgres_databases, tmp_path / ".env", env, capsys, count=4)


@pytest.mark.corpus
@pytest.mark.slow
def test_the_postgres_profile_runs_the_real_corpus_end_to_end(
    settings: Settings, corpus_dir: Path, postgres_databases: PostgresDatabases, tmp_path: Path, env, capsys
):
    bank = tmp_path / "corpus"
    shutil.copytree(corpus_dir, bank)
    settings = settings.replace(data_dir=bank)
    _run_on_postgres(settings, postgres_databases, tmp_path / ".env", env, capsys, count=None)
