"""The one error type for bad input: it always names the file and the field (of a pydantic error: failed_field)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


class InputError(ValueError):
    """A question file (or one of its tables) that cannot be used as it is."""

    def __init__(self, path: Path | str, field: str, reason: str):
        self.path = str(path)
        self.field = field
        self.reason = reason
        super().__init__(f"{self.path}: {field}: {reason}")


def failed_field(error: ValidationError) -> tuple[str, str]:
    """The dotted field of a pydantic error's first failure ("(root)" for the document itself) and its message."""
    first = error.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or "(root)", first["msg"]
