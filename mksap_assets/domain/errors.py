"""The one error type for bad input: it always names the file and the field."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """A question file (or one of its tables) that cannot be used as it is."""

    def __init__(self, path: Path | str, field: str, reason: str):
        self.path = str(path)
        self.field = field
        self.reason = reason
        super().__init__(f"{self.path}: {field}: {reason}")
