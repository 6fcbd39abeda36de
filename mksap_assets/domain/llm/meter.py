"""Per-question accounting. The extractor opens a meter for each question; the client and the limiter middleware
(which runs inside the SDK, once per HTTP attempt) find it through a context variable, so retries and 429s are
charged to the question that caused them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from mksap_assets.domain.statements import LLMUsage

_current: contextvars.ContextVar[LLMUsage | None] = contextvars.ContextVar("mksap_llm_usage", default=None)


@contextmanager
def metering(usage: LLMUsage) -> Iterator[LLMUsage]:
    token = _current.set(usage)
    try:
        yield usage
    finally:
        _current.reset(token)


def current_usage() -> LLMUsage:
    """The open meter, or a throw-away one when a call is made outside any question."""
    return _current.get() or LLMUsage()
