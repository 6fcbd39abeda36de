"""The project's extraction settings: which provider extracts the statements, with which model and cloze mode.

They are pinned once per Dagster instance (mksap_assets/pinned_settings.py stores them), not read from each
process's environment: a daemon started without an API key must not re-extract, with the offline extractor, what a
shell run paid Claude for. Only the API key comes from the environment, and a process that lacks it fails or skips
with the reason instead of falling back to another provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import get_args

import orjson

from mksap_assets.domain.config import ClozeMode
from mksap_assets.domain.extraction.registry import credential, provider_names

CLOZE_MODES: tuple[str, ...] = get_args(ClozeMode)


@dataclass(frozen=True)
class ExtractionSettings:
    provider: str  # one of provider_names()
    model: str  # the Claude model (the offline extractor has none and ignores it)
    cloze_mode: str  # one of CLOZE_MODES

    def __post_init__(self) -> None:
        if self.provider not in provider_names():
            raise ValueError(f"provider must be one of {', '.join(provider_names())}, not {self.provider!r}")
        if not self.model.strip():
            raise ValueError("model must not be empty")
        if self.cloze_mode not in CLOZE_MODES:
            raise ValueError(f"cloze mode must be one of {', '.join(CLOZE_MODES)}, not {self.cloze_mode!r}")

    @classmethod
    def initial(cls, *, provider: str, model: str, cloze_mode: str, has_api_key: bool) -> ExtractionSettings:
        """What an instance pins first: the provider asked for, else anthropic when an API key is at hand, else
        offline."""
        return cls(provider or ("anthropic" if has_api_key else "offline"), model, cloze_mode)

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str) -> ExtractionSettings:
        return cls(**orjson.loads(text))

    def describe(self) -> str:
        return f"provider {self.provider}, model {self.model}, cloze mode {self.cloze_mode}"

    def differing(self, requested: Mapping[str, str]) -> dict[str, str]:
        """The requested values (field name -> value) that are not the ones these settings hold."""
        return {name: value for name, value in requested.items() if getattr(self, name) != value}

    def missing_requirement(self, *, has_variable: Callable[[str], bool], process: str) -> str | None:
        """Why `process` (e.g. "the process running this sensor") cannot extract with these settings (its provider's
        credential is not in its environment), or None."""
        needed = credential(self.provider)
        if needed and not has_variable(needed):
            return (
                f"pinned provider {self.provider} needs {needed}, which {process} does not have; start it with the "
                "key in its environment (for the UI's daemon: export it before `make dev`), or pin the offline "
                "extractor with `mksap settings --provider offline`"
            )
        return None
