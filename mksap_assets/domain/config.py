"""The pipeline's configuration, defined once: typed, bounded, frozen and picklable.

`mksap_assets/settings.py` fills it from the environment (the one place that reads its MKSAP_* variables), the Dagster
resource holds it as nested run config (a generated twin, resources.py), and the engine process receives this very
object (engine/spec.py builds the pipeline from it). Every number has bounds: a zero or negative limit would hang a
run or fail it obscurely, so it is refused before anything starts.

The API key is not here: the SDK reads ANTHROPIC_API_KEY itself, so it never enters config, metadata or logs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MODEL = "claude-haiku-5-5"
ClozeMode = Literal["folded", "separate"]
LLMMode = Literal["sync", "batch"]


def default_validation_workers() -> int:
    """Validation's worker processes: one core is left to the run's own process (event loop, HTTP, Dagster)."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def default_engine_process() -> bool:
    """Questions run in an engine process beside the run's (which then only records Dagster's events) when there is
    a core to spare for it."""
    return (os.cpu_count() or 1) >= 2


class FrozenConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes`, validated again (pydantic's model_copy does not validate)."""
        return type(self).model_validate({**dict(self), **changes})


class LLMConfig(FrozenConfig):
    """How Claude is called. Provider, model and cloze mode are the values a Dagster instance pins first
    (extraction/settings.py); once pinned, the pin decides."""

    # A name in extraction/registry.py; "" = anthropic when the process has ANTHROPIC_API_KEY, else offline.
    provider: str = ""
    model: str = Field(DEFAULT_MODEL, min_length=1, max_length=200)
    cloze_mode: ClozeMode = "folded"
    # batch: a backfill's first-pass requests go through message batches at half price first (llm/batches/).
    mode: LLMMode = "sync"
    concurrency: int = Field(32, ge=1, le=1024, description="requests in flight at once")
    # Starting limits (requests, input and output tokens per minute); the limiter corrects them from the headers.
    rpm: float | None = Field(1000, gt=0, le=1e7)
    itpm: float | None = Field(2_000_000, gt=0, le=1e10)
    otpm: float | None = Field(400_000, gt=0, le=1e10)
    timeout: float = Field(120.0, gt=0, le=3600, description="seconds per read (the SDK's httpx timeout)")
    max_retries: int = Field(4, ge=0, le=20)
    # One HTTP attempt, connect and every read, at most; the SDK retries an attempt cut off here. Generous: a
    # 16,000-token answer (the largest budget, client.py) from a slow model takes minutes.
    request_deadline: float = Field(600.0, gt=0, le=86400)
    # A retry-after (or a pause the limiter derives from one) is cut to this.
    max_pause: float = Field(60.0, gt=0, le=3600)
    cache_dir: Path
    cache_enabled: bool = True
    cache_ttl: float | None = Field(None, gt=0, description="seconds an answer stays in the cache (None: forever)")
    cache_max_entries: int | None = Field(None, ge=1, description="entries the disk cache keeps at most")
    cache_url: str | None = Field(
        None, max_length=2000,
        description="redis://host:port/db: the shared response cache several machines use (unset: the disk cache)",
    )
    limiter_url: str | None = Field(
        None, max_length=2000,
        description="redis://host:port/db: the rate limit all workers share (unset: each process its own)",
    )

    @field_validator("provider")
    @classmethod
    def _registered(cls, provider: str) -> str:
        from mksap_assets.domain.extraction.registry import (
            provider_names,  # (imports no provider's SDK)
        )

        if provider and provider not in provider_names():
            raise ValueError(f"provider must be one of {', '.join(provider_names())}")
        return provider

    @field_validator("cache_url")
    @classmethod
    def _shared_cache(cls, url: str | None) -> str | None:
        from mksap_assets.domain.llm.cache.redis import check_url

        return check_url(url) if url else None

    @field_validator("limiter_url")
    @classmethod
    def _shared_limiter(cls, url: str | None) -> str | None:
        from mksap_assets.domain.llm.redis_server import check_limiter_url

        return check_limiter_url(url) if url else None


class PipelineConfig(FrozenConfig):
    """Everything a run's pipeline is built from, in whichever process runs the questions."""

    data_dir: Path
    output_dir: Path
    store_dir: Path
    llm: LLMConfig
    # One question, all its stages and its calls' retries and waits, at most.
    question_budget: float = Field(1800.0, gt=0, le=86400)
    # 0 validates in the run's own thread (what the tests use: no process start per test).
    validation_workers: int = Field(default_factory=default_validation_workers, ge=0, le=64)
    # False runs the questions' event loop in a thread of the run's process (tests: no process start per run).
    engine_process: bool = Field(default_factory=default_engine_process)
    # A spaCy package or pipeline folder; "" = scispaCy's en_core_sci_sm when installed; "rules" = rule pipeline.
    nlp_model: str = Field("", max_length=1000)
