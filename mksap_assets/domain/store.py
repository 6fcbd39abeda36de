"""JSON persistence: atomic writes (temp file + rename) with orjson, one file per question per asset."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)


def write_json_atomic(path: Path, data: Any) -> None:
    """Readers see the old file or the new one, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


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
        return model.model_validate(read_json(self.path(asset, question_id)))

    def exists(self, asset: str, question_id: str) -> bool:
        return self.path(asset, question_id).is_file()
