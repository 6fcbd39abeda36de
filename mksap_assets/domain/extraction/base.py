"""What every extractor provides."""

from __future__ import annotations

from typing import Protocol

from mksap_assets.domain.inputs.bank import RawQuestion
from mksap_assets.domain.statements import Extraction


class Extractor(Protocol):
    name: str
    model: str | None
    prompt_version: str

    async def extract(self, raw: RawQuestion) -> Extraction: ...

    async def aclose(self) -> None:
        """Release clients and caches at the end of a run."""
