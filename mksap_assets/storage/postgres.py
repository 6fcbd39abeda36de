"""The postgres profile's server: its URL (MKSAP_POSTGRES_URL, which dagster.yaml names and Dagster reads when it
loads the instance) and its database, created when the server does not have it yet."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

POSTGRES_URL_VAR = "MKSAP_POSTGRES_URL"
# dagster-postgres needs the psycopg2 driver (its NOTIFY statements fail under psycopg 3), and SQLAlchemy 2.1 maps a
# bare postgresql:// to psycopg 3: the URL Dagster reads names psycopg2 (driver_url).
PSYCOPG2_SCHEME = "postgresql+psycopg2"
DEFAULT_POSTGRES_URL = f"{PSYCOPG2_SCHEME}://postgres@127.0.0.1:5432/mksap"
BARE_SCHEMES = ("postgresql", "postgres")
# Creating a database takes a connection to another one; every server has this one.
MAINTENANCE_DATABASE = "postgres"


class PostgresUnavailable(RuntimeError):
    """The server cannot be reached, or refuses to create the database."""


def postgres_url() -> str:
    """MKSAP_POSTGRES_URL (default: the local server's mksap database), with the driver Dagster needs."""
    return driver_url(os.environ.get(POSTGRES_URL_VAR) or DEFAULT_POSTGRES_URL)


def driver_url(url: str) -> str:
    """`url` with psycopg2 named when it names no driver (postgresql://, postgres://)."""
    scheme, separator, rest = url.partition("://")
    return f"{PSYCOPG2_SCHEME}://{rest}" if separator and scheme in BARE_SCHEMES else url


def postgres_url_env_line() -> str:
    """The `.env` line for Dagster's CLI and `dagster dev`: a URL the user exported wins."""
    return f"{POSTGRES_URL_VAR}=${{{POSTGRES_URL_VAR}:-{DEFAULT_POSTGRES_URL}}}"


def configured_url(config: Mapping[str, Any]) -> str | None:
    """The URL of a dagster.yaml's `storage: postgres: postgres_url` (a literal or `{env: VAR}`); None for other
    storages (and for `postgres_db`, whose database its owner manages)."""
    url = ((config.get("storage") or {}).get("postgres") or {}).get("postgres_url")
    if isinstance(url, Mapping):
        variable = url.get("env")
        return postgres_url() if variable == POSTGRES_URL_VAR else os.environ.get(variable or "")
    return url


def redacted(url: str) -> str:
    """For messages: the URL without its password."""
    return sa.make_url(url).render_as_string(hide_password=True)


def ensure_database(url: str) -> bool:
    """Create the URL's database, through the server's maintenance database, unless it exists; True when created."""
    target = sa.make_url(driver_url(url))
    name = target.database
    if not name:
        raise PostgresUnavailable(f"{redacted(url)} names no database")
    engine = sa.create_engine(target.set(database=MAINTENANCE_DATABASE), isolation_level="AUTOCOMMIT",
                              poolclass=NullPool)
    exists = sa.text("SELECT 1 FROM pg_database WHERE datname = :name")
    try:
        with engine.connect() as conn:
            if conn.execute(exists, {"name": name}).first():
                return False
            try:
                conn.execute(sa.text(f"CREATE DATABASE {engine.dialect.identifier_preparer.quote(name)}"))
            except sa.exc.DBAPIError:
                if conn.execute(exists, {"name": name}).first():  # another process created it meanwhile
                    return False
                raise
            return True
    except sa.exc.DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise PostgresUnavailable(f"PostgreSQL at {redacted(url)}: {reason}") from None
    finally:
        engine.dispose()
