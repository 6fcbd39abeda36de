"""A worker process for test_shared_cache.py: one call through the Anthropic provider, on the shared (Redis)
response cache, against the fake API.

    python -m mksap_assets_tests.shared_cache_worker REDIS_URL NAMESPACE API_URL [--go FILE] [--lease-seconds S]

prints "ready", waits for FILE when given (so that several workers call at once), then makes the call and prints the
answer and its cache hits, misses and write errors as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import anthropic

from mksap_assets.domain.extraction.schemas import (
    STATEMENTS_WITH_CLOZES_TOOL,
    StatementsWithClozes,
)
from mksap_assets.domain.llm.cache.redis import RedisResponseCache
from mksap_assets.domain.llm.meter import metering
from mksap_assets.domain.llm.provider import ToolCall
from mksap_assets.domain.llm.providers.anthropic.client import AnthropicProvider
from mksap_assets.domain.statements import LLMUsage

CALL = ToolCall(instructions=("The rules.", "The task."), user_text="<source>Gout affects the first toe.</source>",
                tool=STATEMENTS_WITH_CLOZES_TOOL, output=StatementsWithClozes, max_tokens=4096, prompt_version="v1")
POLL_SECONDS = 0.05


def provider(cache: RedisResponseCache, api_url: str) -> AnthropicProvider:
    api = anthropic.AsyncAnthropic(api_key="sk-test-fake", base_url=api_url, max_retries=0)
    return AnthropicProvider(api, model="claude-haiku-5-5", cache=cache)


def answer_once(client: AnthropicProvider) -> dict:
    async def call_and_close() -> StatementsWithClozes:
        try:
            return await client.call_tool(CALL)
        finally:
            await client.aclose()

    with metering(LLMUsage()) as usage:
        answer = asyncio.run(call_and_close())
    return {"answer": answer.model_dump(mode="json"), "hits": usage.cache_hits, "misses": usage.cache_misses,
            "write_errors": usage.cache_write_errors}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("redis_url")
    parser.add_argument("namespace")
    parser.add_argument("api_url")
    parser.add_argument("--go", type=Path)
    parser.add_argument("--lease-seconds", type=float, default=30.0)
    args = parser.parse_args()
    cache = RedisResponseCache(args.redis_url, namespace=args.namespace, lease_seconds=args.lease_seconds,
                               poll_seconds=POLL_SECONDS)
    client = provider(cache, args.api_url)
    print("ready", flush=True)
    while args.go and not args.go.exists():
        time.sleep(0.01)
    print(json.dumps(answer_once(client)), flush=True)


if __name__ == "__main__":
    main()
