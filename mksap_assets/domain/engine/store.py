"""JSON persistence: atomic writes (temp file + rename) with orjson, one file per question per asset."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to. On success it is flushed to disk (fsync) and renamed over
    `path`, so readers see the old file or the new one, never a half-written one, even after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        with tmp_path.open("rb+") as handle:
            os.fsync(handle.fileno())
        tmp_path.chmod(0o644)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, content: bytes) -> None:
    with atomic_target(path) as tmp_path:
        tmp_path.write_bytes(content)


def write_json_atomic(path: Path, data: Any) -> None:
    write_bytes_atomic(path, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))


class UnreadableFileError(ValueError):
    """A stored file (export, asset value, manifest) that is not what was written: its message names the file."""

    def __init__(self, path: Path, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self):  # picklable across processes (the engine sends errors back)
        return (type(self), (self.path, self.reason))


def read_json(path: Path) -> Any:
    """Raises OSError (it names the file) or UnreadableFileError for a file that does not parse."""
    content = path.read_bytes()
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise UnreadableFileError(path, f"not valid JSON ({len(content)} bytes): {exc}") from exc


class ArtifactStore:
    """Intermediate asset values: <root>/<asset name>/<question id>.json."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, asset: str, question_id: str) -> Path:
        return self.root / asset / f"{question_id}.json"

    def save(self, asset: str, question_id: str, value: BaseModel) -> Path:
        path = self.path(asset, question_id)
        write_json_atomic(path, value.model_dump(mode="json"))
        return path

    def load(self, asset: str, question_id: str, model: type[ModelT]) -> ModelT:
        path = self.path(asset, question_id)
        try:
            return model.model_validate(read_json(path))
        except ValidationError as exc:
            raise UnreadableFileError(path, f"not a stored {asset}: {exc}") from exc

    def exists(self, asset: str, question_id: str) -> bool:
        return self.path(asset, question_id).is_file()
