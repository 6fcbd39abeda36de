"""Anthropic's Messages API (Claude) as a provider: the client (client.py) and the request it sends (request.py),
the rate limiter that runs as SDK middleware (limiter.py; shared by all workers through Redis: shared_limiter.py),
the prompt-cache breakpoints (prompt_cache.py), which API the SDK talks to (endpoint.py), and the Message Batches API
for batch mode (batches.py). Nothing here imports the SDK until a run builds the client."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mksap_assets.domain.config import LLMConfig
    from mksap_assets.domain.llm.batches.api import BatchAPI
    from mksap_assets.domain.llm.provider import LLMProvider


class Anthropic:
    name = "anthropic"
    credential = "ANTHROPIC_API_KEY"  # read by the SDK itself, never by this project

    def build(self, settings: LLMConfig) -> LLMProvider:
        import anthropic

        from mksap_assets.domain.llm.cache import open_response_cache
        from mksap_assets.domain.llm.providers.anthropic.client import AnthropicProvider
        from mksap_assets.domain.llm.providers.anthropic.limiter import (
            RateLimitMiddleware,
        )
        from mksap_assets.domain.llm.providers.anthropic.shared_limiter import (
            open_rate_limiter,
        )

        limiter = open_rate_limiter(settings)
        api = anthropic.AsyncAnthropic(
            max_retries=settings.max_retries, timeout=settings.timeout,
            middleware=[RateLimitMiddleware(limiter, attempt_deadline=settings.request_deadline)],
        )
        return AnthropicProvider(api, model=settings.model, cache=open_response_cache(settings))

    def batches(self, settings: LLMConfig) -> BatchAPI:
        """Its Message Batches API (batches.py), for batch mode; a plain client: batch calls are few and the rate
        limiter is for Messages requests."""
        import anthropic

        from mksap_assets.domain.llm.providers.anthropic.batches import AnthropicBatches

        api = anthropic.Anthropic(max_retries=settings.max_retries, timeout=settings.timeout)
        return AnthropicBatches(api, model=settings.model)

    def endpoint(self) -> str | None:
        from mksap_assets.domain.llm.providers.anthropic.endpoint import sdk_endpoint

        return sdk_endpoint()
