"""Shared fixtures: the bundled sample bank, the real corpus (skipped when absent), isolated settings, Dagster
instances on the PostgreSQL server, and key namespaces on the Redis server (each skipped when its server cannot be
reached)."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mksap_assets.domain.config import LLMConfig
from mksap_assets.settings import PROJECT_ROOT, Settings
from mksap_assets.storage.postgres import POSTGRES_URL_VAR
from mksap_assets_tests.fake_api_fixtures import fake_api, fake_api_factory  # noqa: F401
from mksap_assets_tests.helpers import open_instance
from mksap_devtools.postgres_databases import PostgresDatabases

SAMPLE_DIR = PROJECT_ROOT / "data" / "questions"
CORPUS_DIR = PROJECT_ROOT.parent / "shared" / "corpus"


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS_DIR.is_dir():
        pytest.skip("the real corpus (../shared/corpus) is not present")
    return CORPUS_DIR


@pytest.fixture
def sample_bank(tmp_path: Path) -> Path:
    """A writable copy of the bundled sample questions."""
    bank = tmp_path / "questions"
    shutil.copytree(SAMPLE_DIR, bank)
    return bank


@pytest.fixture
def settings(tmp_path: Path, sample_bank: Path) -> Settings:
    return Settings(
        data_dir=sample_bank,
        output_dir=tmp_path / "output",
        store_dir=tmp_path / "store",
        dagster_home=tmp_path / "dagster_home",
        llm=LLMConfig(cache_dir=tmp_path / "llm-cache"),
        validation_workers=0,  # in-thread: no worker process to start per test (the pool has its own tests)
        engine_process=False,  # likewise (test_runner.py runs the engine process)
    )


@pytest.fixture
def sqlite_instance(tmp_path: Path, monkeypatch):
    """A Dagster instance with the sqlite profile, on disk in the test's folder."""
    with open_instance(tmp_path / "sqlite_home", monkeypatch) as instance:
        yield instance


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """This session's databases on the PostgreSQL server, all dropped at the end."""
    databases = PostgresDatabases()
    reason = databases.unreachable()
    if reason:
        pytest.skip(f"{reason}: the PostgreSQL tests need a server (docs/STORAGE.md)")
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def dagster_schema(postgres_databases: PostgresDatabases, tmp_path_factory) -> str:
    """A database holding Dagster's empty schema, as the postgres profile creates it: creating the schema takes
    seconds, copying the database a fraction of one."""
    name = postgres_databases.create()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv(POSTGRES_URL_VAR, postgres_databases.url(name))
        open_instance(tmp_path_factory.mktemp("dagster_schema"), monkeypatch, "postgres").dispose()
    return name


@pytest.fixture
def postgres_instance(postgres_databases: PostgresDatabases, dagster_schema: str, tmp_path: Path, monkeypatch):
    """An empty Dagster instance with the postgres profile, in a database of its own."""
    name = postgres_databases.create(template=dagster_schema)
    monkeypatch.setenv(POSTGRES_URL_VAR, postgres_databases.url(name))
    with open_instance(tmp_path / "postgres_home", monkeypatch, "postgres") as instance:
        yield instance
    postgres_databases.drop(name)


# The Redis server of the shared-cache tests: MKSAP_TEST_REDIS_URL, default the local one (docs/STORAGE.md).
TEST_REDIS_URL = os.environ.get("MKSAP_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis server reachable at {TEST_REDIS_URL} ({type(error).__name__}: {error}): the shared "
                    "cache tests need one (docs/STORAGE.md)")
    finally:
        client.close()
    return TEST_REDIS_URL


@pytest.fixture
def redis_namespace(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own on the Redis server (mksap-test:<random>), its keys deleted afterwards, so that
    parallel workers and other sessions on the same server never share one."""
    import redis

    namespace = f"mksap-test:{secrets.token_hex(4)}"
    yield namespace
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{namespace}:*"):
        client.delete(key)
    client.close()
