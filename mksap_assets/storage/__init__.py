"""Where the Dagster instance keeps its history: the storage profiles `mksap init` installs (profiles.py,
dagster_yaml/), opening an instance with the environment they read (instance.py), the pooled SQLite event log of the
sqlite profile (pooled_sqlite.py), the PostgreSQL server of the postgres profile (postgres.py) and Dagster's event
batches (event_batches.py). docs/STORAGE.md explains the choice."""
