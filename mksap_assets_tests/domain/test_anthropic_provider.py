"""The Anthropic provider keeps the response cache keys of the client it replaced: a changed key would make every
cached answer a miss, and every user pay for it again."""

import asyncio

import anthropic
import pytest

from mksap_assets.domain.extraction.schemas import StatementsWithClozes
from mksap_assets.domain.llm.cache import ResponseCache
from mksap_assets.domain.llm.meter import metering
from mksap_assets.domain.llm.provider import ToolCall
from mksap_assets.domain.llm.providers.anthropic.client import AnthropicProvider
from mksap_assets.domain.statements import LLMUsage

TOOL = {"name": "record_statements", "description": "Record the statements.",
        "input_schema": {"type": "object", "properties": {"statements": {"type": "array"}}, "required": ["statements"]}}
CALL = ToolCall(instructions=("The rules.", "The task."), user_text="<source>Gout affects the first toe.</source>",
                tool=TOOL, output=StatementsWithClozes, max_tokens=4096, prompt_version="v1")
# The keys ClaudeClient.call_tool gave this call (system blocks with the breakpoint on the task's) before the seam.
KEYS_BEFORE_THE_SEAM = {
    "https://api.anthropic.com": "c37a061ad0eedaa1926624c9422391c6083772c30c658a62781c6eaa3fd3734c",
    "http://127.0.0.1:8765": "e56392ab2b379058b8cf17c90b9ba67dcbdb364d1376b5fb3a54cd507b61f498",
}
ANSWER = {"statements": [{"statement": "Gout affects the first toe.", "extra_field": None,
                          "cloze_primary": "first toe", "cloze_secondary": []}]}


@pytest.mark.parametrize("base_url", sorted(KEYS_BEFORE_THE_SEAM))
def test_an_answer_cached_before_the_seam_is_still_a_hit(tmp_path, base_url):
    cache = ResponseCache(tmp_path, enabled=True)
    assert cache.set(KEYS_BEFORE_THE_SEAM[base_url], {"tool_input": ANSWER, "model": "claude-haiku-5-5"})
    api = anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=base_url, max_retries=0)
    provider = AnthropicProvider(api, model="claude-haiku-5-5", cache=cache)
    sent = []

    async def not_sent(request):
        sent.append(request)
        raise AssertionError("a cache hit sends nothing")

    provider._create = not_sent

    async def call_and_close() -> StatementsWithClozes:
        try:
            return await provider.call_tool(CALL)
        finally:
            await provider.aclose()

    with metering(LLMUsage()) as usage:
        answer = asyncio.run(call_and_close())
    assert answer == StatementsWithClozes.model_validate(ANSWER) and not sent
    assert (usage.cache_hits, usage.cache_misses) == (1, 0)
