"""Throwaway databases on a PostgreSQL server, for the tests and the storage benchmark."""

from __future__ import annotations

import secrets


class PostgresDatabases:
    """Databases for one test session on the PostgreSQL server of MKSAP_POSTGRES_URL (default: the postgres
    profile's, 127.0.0.1:5432), named mksap_test_<random>_<n> so that parallel workers and other people's sessions
    on the same server never share one; `drop_all` removes them."""

    def __init__(self) -> None:
        import sqlalchemy as sa

        from mksap_assets.storage.postgres import MAINTENANCE_DATABASE, postgres_url

        self.server = sa.make_url(postgres_url()).set(database=MAINTENANCE_DATABASE)
        self.prefix = f"mksap_test_{secrets.token_hex(4)}"
        self.names: list[str] = []
        self.engine = sa.create_engine(self.server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool,
                                       connect_args={"connect_timeout": 5})

    def unreachable(self) -> str | None:
        """Why the server cannot be used, or None."""
        import sqlalchemy as sa

        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.DBAPIError as error:
            reason = str(error.orig or error).strip().splitlines()[0]
            return f"no PostgreSQL server reachable at {self.server.render_as_string(hide_password=True)} ({reason})"
        return None

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def new_name(self) -> str:
        """A fresh database name, dropped by `drop_all` once something created it."""
        self.names.append(f"{self.prefix}_{len(self.names)}")
        return self.names[-1]

    def create(self, template: str | None = None) -> str:
        """A new database (a copy of `template`, if given); returns its name."""
        import sqlalchemy as sa

        name = self.new_name()
        with self.engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        return name

    def drop(self, name: str) -> None:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop_all(self) -> None:
        for name in self.names:
            self.drop(name)
        self.engine.dispose()
