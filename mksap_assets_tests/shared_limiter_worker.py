"""A worker process for test_shared_limiter.py, on the shared (Redis) rate limiter.

    python -m mksap_assets_tests.shared_limiter_worker REDIS_URL NAMESPACE hammer --go FILE --rpm N --seconds S
    python -m mksap_assets_tests.shared_limiter_worker REDIS_URL NAMESPACE hold --slots N --slot-seconds S
    python -m mksap_assets_tests.shared_limiter_worker REDIS_URL NAMESPACE call API_URL --go FILE --calls N --rpm N

hammer: takes one request's budget from a bucket of N per PERIOD seconds as often as it can for S seconds (once FILE
exists) and prints the server times of its admissions as JSON. hold: takes N slots of S seconds, prints the server time
it took them, then sleeps (to be killed). call: N different calls through the Anthropic provider and its limiter
(SDK retries off), against the fake API, and prints how many were answered and how many refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from pathlib import Path

import anthropic

from mksap_assets.domain.extraction.schemas import (
    STATEMENTS_WITH_CLOZES_TOOL,
    StatementsWithClozes,
)
from mksap_assets.domain.llm.cache import ResponseCache
from mksap_assets.domain.llm.meter import metering
from mksap_assets.domain.llm.provider import ExtractionError, ToolCall
from mksap_assets.domain.llm.providers.anthropic.client import AnthropicProvider
from mksap_assets.domain.llm.providers.anthropic.limiter import RateLimitMiddleware
from mksap_assets.domain.llm.providers.anthropic.shared_limiter import (
    SharedBudget,
    SharedRateLimiter,
)
from mksap_assets.domain.llm.redis_server import (
    LIMITER,
    LIMITER_PASSWORD_VAR,
    SharedServer,
)
from mksap_assets.domain.statements import LLMUsage

PERIOD = 1.0  # seconds: the buckets' period in these tests (60 in a run)
SCOPE = "test|claude-haiku-5-5"
POLL_SECONDS = 0.01


def budget(redis_url: str, namespace: str, *, rpm: float | None = None, max_in_flight: int = 1000,
           slot_seconds: float = 30.0, period: float = PERIOD) -> SharedBudget:
    server = SharedServer(redis_url, what=LIMITER, password_var=LIMITER_PASSWORD_VAR)
    return SharedBudget(server, SCOPE, namespace=namespace, limits={"requests": rpm}, max_in_flight=max_in_flight,
                        slot_seconds=slot_seconds, period=period)


def wait_for(go: Path) -> None:
    while not go.exists():
        time.sleep(POLL_SECONDS)


def hammer(shared: SharedBudget, go: Path, seconds: float) -> list[float]:
    wait_for(go)
    admitted: list[float] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        slot = secrets.token_hex(8)
        admission = shared.acquire(slot, 0, 0)
        if admission.wait > 0:
            time.sleep(min(admission.wait, POLL_SECONDS))
            continue
        admitted.append(admission.at)
        shared.release(slot)
    return admitted


async def call(limiter: SharedRateLimiter, api_url: str, cache_dir: Path, calls: int) -> dict[str, int]:
    api = anthropic.AsyncAnthropic(api_key="sk-test-fake", base_url=api_url, max_retries=0,
                                   middleware=[RateLimitMiddleware(limiter)])
    provider = AnthropicProvider(api, model="claude-haiku-5-5", cache=ResponseCache(cache_dir))
    answered = refused = 0

    async def one(n: int) -> None:
        nonlocal answered, refused
        request = ToolCall(instructions=("The rules.", "The task."),
                           user_text=f"<source>Fact {n} of {cache_dir.name}: gout affects the first toe.</source>",
                           tool=STATEMENTS_WITH_CLOZES_TOOL, output=StatementsWithClozes, max_tokens=512,
                           prompt_version="v1")
        try:
            await provider.call_tool(request)
            answered += 1
        except ExtractionError:
            refused += 1

    with metering(LLMUsage()):
        await asyncio.gather(*(one(n) for n in range(calls)))
    await provider.aclose()
    return {"answered": answered, "refused": refused}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("redis_url")
    parser.add_argument("namespace")
    parser.add_argument("action", choices=("hammer", "hold", "call"))
    parser.add_argument("api_url", nargs="?")
    parser.add_argument("--go", type=Path)
    parser.add_argument("--rpm", type=float)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--slots", type=int, default=1)
    parser.add_argument("--slot-seconds", type=float, default=30.0)
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--cache-dir", type=Path)
    args = parser.parse_args()
    print("ready", flush=True)
    if args.action == "hammer":
        print(json.dumps(hammer(budget(args.redis_url, args.namespace, rpm=args.rpm), args.go, args.seconds)))
    elif args.action == "hold":
        shared = budget(args.redis_url, args.namespace, max_in_flight=args.slots, slot_seconds=args.slot_seconds)
        times = [shared.acquire(secrets.token_hex(8), 0, 0) for _ in range(args.slots)]
        print(json.dumps([admission.at for admission in times if admission.wait == 0]), flush=True)
        time.sleep(3600)
    else:
        shared = budget(args.redis_url, args.namespace, rpm=args.rpm, period=PERIOD)
        limiter = SharedRateLimiter(shared, rpm=args.rpm, itpm=None, otpm=None)
        wait_for(args.go)
        print(json.dumps(asyncio.run(call(limiter, args.api_url, args.cache_dir, args.calls))))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
