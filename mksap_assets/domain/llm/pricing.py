"""Estimated cost of a call from its usage and the price table in prices.json."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import orjson
from pydantic import BaseModel

PRICES_FILE = Path(__file__).with_name("prices.json")
_DATED_SUFFIX_RE = re.compile(r"-\d{8}$")
# The Message Batches API bills every token kind (input, output, cache writes and reads) at half the listed price.
BATCH_MULTIPLIER = 0.5


class Price(BaseModel):
    input: float
    output: float
    cache_write: float
    cache_read: float


@functools.cache
def price_table() -> dict[str, Price]:
    raw = orjson.loads(PRICES_FILE.read_bytes())
    return {model: Price(**values) for model, values in raw.items() if not model.startswith("_")}


def price_for(model: str) -> Price | None:
    """Dated snapshots ("claude-haiku-4-5-20251001") are priced as their model."""
    table = price_table()
    return table.get(model) or table.get(_DATED_SUFFIX_RE.sub("", model))


def cost_usd(
    model: str, *, input_tokens: int, output_tokens: int, cache_write: int, cache_read: int, batch: bool = False
) -> float:
    """USD at the listed prices, or at batch prices when the tokens were answered through a message batch."""
    price = price_for(model)
    if price is None:
        return 0.0
    listed = (
        input_tokens * price.input
        + output_tokens * price.output
        + cache_write * price.cache_write
        + cache_read * price.cache_read
    ) / 1_000_000
    return listed * BATCH_MULTIPLIER if batch else listed
