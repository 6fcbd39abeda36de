"""Per-question accounting. The extractor opens a meter for each question; the provider (provider.py), and inside it
code the provider does not call directly (Anthropic's limiter middleware runs inside the SDK, once per HTTP attempt),
find it through a context variable, so retries and 429s are charged to the question that caused them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from mksap_assets.domain.statements import LLMUsage

_current: contextvars.ContextVar[LLMUsage | None] = contextvars.ContextVar("mksap_llm_usage", default=None)


@contextmanager
def metering(usage: LLMUsage) -> Iterator[LLMUsage]:
    """Charge calls to `usage`; on leaving (failure and cancellation included), add it to the meter it was opened
    within, so that what a failed question paid still reaches its outcome (pipeline.py)."""
    outer = _current.get()
    token = _current.set(usage)
    try:
        yield usage
    finally:
        _current.reset(token)
        if outer is not None:
            outer.add(usage)


def current_usage() -> LLMUsage:
    """The open meter, or a throw-away one when a call is made outside any question."""
    return _current.get() or LLMUsage()
