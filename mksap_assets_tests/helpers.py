"""Small helpers for tests: building bad inputs, listing samples, calling an extractor."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson


def question_json(bank: Path, question_id: str) -> Path:
    return bank / question_id[:2] / question_id / f"{question_id}.json"


def edit_question(bank: Path, target_id: str, /, **changes) -> Path:
    """Rewrite one question file with some top-level fields changed (value None deletes the field)."""
    path = question_json(bank, target_id)
    document = orjson.loads(path.read_bytes())
    for name, value in changes.items():
        if value is None:
            document.pop(name, None)
        else:
            document[name] = value
    path.write_bytes(orjson.dumps(document))
    return path


def sample_ids(bank: Path) -> list[str]:
    return sorted(p.stem for p in bank.glob("*/*/*.json"))


def call_and_close(extractor: Any, call: Callable[[Any], Awaitable[Any]]) -> Any:
    """`await call(extractor)` on a fresh event loop, then close the extractor (its client and cache)."""

    async def run() -> Any:
        try:
            return await call(extractor)
        finally:
            await extractor.aclose()

    return asyncio.run(run())


def dead_process_tags() -> dict[str, str]:
    """The run tags (dead_runs.process_tags) of a process that has exited."""
    import subprocess
    import sys

    from mksap_assets.dead_runs import process_tags

    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    tags = process_tags(process.pid)
    process.communicate(timeout=30)
    return tags


def open_instance(home: Path, monkeypatch, profile: str = "sqlite"):
    """The Dagster instance in `home` with a storage profile installed, opened as `mksap` opens it
    (storage.instance.open_instance); the environment variables that sets are restored after the test."""
    from mksap_assets.storage import instance
    from mksap_assets.storage.event_batches import EVENT_BATCH_SIZE_VAR
    from mksap_assets.storage.postgres import POSTGRES_URL_VAR
    from mksap_assets.storage.profiles import install

    for variable in ("DAGSTER_HOME", EVENT_BATCH_SIZE_VAR, POSTGRES_URL_VAR):
        if variable in os.environ:
            monkeypatch.setenv(variable, os.environ[variable])
        else:
            monkeypatch.delenv(variable, raising=False)
    install(home, profile)
    return instance.open_instance(home)


def load_benchmark(name: str) -> Any:
    """benchmarks/<name>.py as a module (benchmarks/ is no package: its scripts import each other as siblings)."""
    benchmarks = Path(__file__).resolve().parent.parent / "benchmarks"
    spec = importlib.util.spec_from_file_location(name, benchmarks / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it is being executed
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module
