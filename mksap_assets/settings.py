"""Where things live, resolved once from the environment.

Relative values of the MKSAP_* variables are taken relative to the current directory, as a shell user expects;
the defaults are anchored at the project root so that `make run`, `dagster dev` and the tests agree wherever they
are started from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    output_dir: Path
    store_dir: Path
    dagster_home: Path

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            data_dir=_path_from_env("MKSAP_DATA_DIR", PROJECT_ROOT / "data" / "questions"),
            output_dir=_path_from_env("MKSAP_OUTPUT_DIR", PROJECT_ROOT / "data" / "output"),
            store_dir=_path_from_env("MKSAP_STORE_DIR", PROJECT_ROOT / "data" / "store"),
            dagster_home=_path_from_env("DAGSTER_HOME", PROJECT_ROOT / ".dagster_home"),
        )
