"""The fake Anthropic API, driven by the real `anthropic` SDK over loopback (strict response validation on)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

import anthropic
import pytest
from pydantic import ValidationError

from mksap_assets.domain.extraction.schemas import (
    CLOZES_TOOL,
    CLOZES_TOOL_DEF,
    STATEMENTS_ONLY_TOOL,
    STATEMENTS_TOOL,
    STATEMENTS_WITH_CLOZES_TOOL,
    ClozeMapping,
    StatementsOnly,
    StatementsWithClozes,
)
from mksap_assets.settings import PROJECT_ROOT
from mksap_devtools.fake_api import (
    DEFAULT_CLI_PORT,
    FakeAnthropic,
    add_arguments,
    count_tokens,
    longest_word,
)

API_KEY = "sk-test-fake"
MODEL = "claude-haiku-5-5"
SYSTEM = [
    {"type": "text", "text": "You turn MKSAP critiques into atomic, testable flashcard statements. " * 20},
    {
        "type": "text",
        "text": "Each statement stands alone. Clozes are exact substrings of the statement.",
        "cache_control": {"type": "ephemeral"},
    },
]
SOURCE = (
    "Aspirin reduces mortality in acute myocardial infarction (Option A).  Start it now. "
    "Beta-blockers lower heart rate and myocardial oxygen demand! "
    "Is nitroglycerin contraindicated after sildenafil use within 24 hours?"
)
NUMBERED = "1. Aspirin reduces mortality in acute myocardial infarction.\n2. Beta-blockers lower heart rate."


def statements_request(source: str = SOURCE, tool: dict[str, Any] = STATEMENTS_WITH_CLOZES_TOOL, **overrides: Any):
    request: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 2048,
        "system": SYSTEM,
        "tools": [tool],
        "tool_choice": {"type": "tool", "name": tool["name"]},
        "messages": [{"role": "user", "content": [{"type": "text", "text": f"Critique:\n<source>{source}</source>"}]}],
    }
    request.update(overrides)
    return request


def clozes_request(numbered: str = NUMBERED) -> dict[str, Any]:
    return statements_request(
        tool=CLOZES_TOOL_DEF,
        messages=[{"role": "user", "content": f"Pick clozes.\n<statements>\n{numbered}\n</statements>"}],
    )


def client(fake: FakeAnthropic, max_retries: int = 0, timeout: float = 10.0) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=fake.url,
        api_key=API_KEY,
        _strict_response_validation=True,
        max_retries=max_retries,
        timeout=timeout,
    )


async def create(fake: FakeAnthropic, request: dict[str, Any], **client_options: Any):
    async with client(fake, **client_options) as c:
        return await c.messages.create(**request)


def run(coro):
    return asyncio.run(coro)


def raw_post(fake: FakeAnthropic, path: str, body: Any, headers: dict[str, str] | None = None):
    """(status, headers, JSON body) of one plain urllib request."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(fake.url + path, data=data, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers, json.loads(err.read())


# -- content ----------------------------------------------------------------------------------------------------------


def test_record_statements_validates_against_the_schema(fake_api: FakeAnthropic):
    message = run(create(fake_api, statements_request()))
    assert message.stop_reason == "tool_use" and message.model == MODEL and message.role == "assistant"
    assert message.id.startswith("msg_")
    [block] = message.content
    assert block.type == "tool_use" and block.name == STATEMENTS_TOOL and block.id.startswith("toolu_")
    parsed = StatementsWithClozes.model_validate(block.input)
    assert all(s.cloze_primary in s.statement for s in parsed.statements)
    assert [s.statement for s in parsed.statements] == [
        "Aspirin reduces mortality in acute myocardial infarction.",  # citation dropped, "Start it now." too short
        "Beta-blockers lower heart rate and myocardial oxygen demand.",
        "Is nitroglycerin contraindicated after sildenafil use within 24 hours.",
    ]
    assert [s.cloze_primary for s in parsed.statements] == ["myocardial", "myocardial", "contraindicated"]
    assert all(s.extra_field is None and s.cloze_secondary == [] for s in parsed.statements)
    assert fake_api.stats.by_tool == {STATEMENTS_TOOL: 1}


def test_statements_only_tool_gets_items_without_clozes(fake_api: FakeAnthropic):
    message = run(create(fake_api, statements_request(tool=STATEMENTS_ONLY_TOOL)))
    items = message.content[0].input["statements"]
    assert items and all(set(item) == {"statement", "extra_field"} for item in items)
    StatementsOnly.model_validate(message.content[0].input)


def test_source_without_a_long_sentence_becomes_one_statement(fake_api: FakeAnthropic):
    message = run(create(fake_api, statements_request(source="Give aspirin.")))
    parsed = StatementsWithClozes.model_validate(message.content[0].input)
    assert [(s.statement, s.cloze_primary) for s in parsed.statements] == [("Give aspirin.", "aspirin")]


def test_at_most_twelve_statements():
    long_source = " ".join(f"Statement number {i} about hypertension." for i in range(20))
    with FakeAnthropic() as fake:
        message = run(create(fake, statements_request(source=long_source)))
    assert len(message.content[0].input["statements"]) == 12


def test_record_clozes_maps_each_numbered_line(fake_api: FakeAnthropic):
    message = run(create(fake_api, clozes_request()))
    [block] = message.content
    assert block.name == CLOZES_TOOL and message.stop_reason == "tool_use"
    mapping = ClozeMapping.model_validate(block.input)
    assert [(c.index, c.cloze_primary, c.cloze_secondary) for c in mapping.clozes] == [
        (1, "myocardial", []),
        (2, "blockers", []),
    ]


def test_longest_word_rules():
    assert longest_word("Aspirin reduces mortality in acute myocardial infarction.") == "myocardial"  # tie: first
    assert longest_word("Give 81 mg of it.") == "Give"
    assert longest_word("An IV is OK.") == "An"  # no word of 4+ letters: the first word
    assert count_tokens("abcde") == 2


def test_responder_overrides_the_tool_input(fake_api: FakeAnthropic):
    fake_api.set_responder(lambda body, tool: {"clozes": [{"index": 1, "cloze_primary": "x", "cloze_secondary": []}]})
    message = run(create(fake_api, clozes_request()))
    assert message.content[0].input == {"clozes": [{"index": 1, "cloze_primary": "x", "cloze_secondary": []}]}


def test_other_tools_and_text_only_requests(fake_api: FakeAnthropic):
    other_tool = {
        "name": "record_tags",
        "input_schema": {
            "type": "object",
            "properties": {
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "n": {"type": "integer"},
            },
            "required": ["tags", "n"],
        },
    }
    message = run(create(fake_api, statements_request(tool=other_tool)))
    assert message.content[0].name == "record_tags" and message.content[0].input == {"tags": ["xxxx", "xxxx"], "n": 1}
    plain = statements_request()
    for key in ("tools", "tool_choice"):
        plain.pop(key)
    text = run(create(fake_api, plain))
    assert text.stop_reason == "end_turn" and text.content[0].type == "text" and text.content[0].text
    assert fake_api.stats.by_tool == {"record_tags": 1}


def test_top_level_cache_control_and_one_hour_ttl(fake_api: FakeAnthropic):
    auto = statements_request(system="Plain system prompt.", cache_control={"type": "ephemeral"})
    first, second = run(create(fake_api, auto)), run(create(fake_api, auto))
    assert first.usage.cache_creation_input_tokens > 0 and first.usage.input_tokens == 0  # all of it is the prefix
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    hour = [SYSTEM[0], {**SYSTEM[1], "text": "Other rules.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    message = run(create(fake_api, statements_request(system=hour)))
    assert message.usage.cache_creation.ephemeral_1h_input_tokens == message.usage.cache_creation_input_tokens > 0


# -- usage, caching, count_tokens -------------------------------------------------------------------------------------


def test_usage_and_cache_read_on_the_second_identical_prefix(fake_api: FakeAnthropic):
    async def scenario():
        async with client(fake_api) as c:
            first = await c.messages.create(**statements_request())
            second = await c.messages.create(**statements_request())
            other_source = await c.messages.create(**statements_request(source="Metformin is first-line therapy."))
            counted = await c.messages.count_tokens(
                model=MODEL,
                system=SYSTEM,
                tools=[STATEMENTS_WITH_CLOZES_TOOL],
                messages=statements_request()["messages"],
            )
            return first, second, other_source, counted

    first, second, other_source, counted = run(scenario())
    prefix = first.usage.cache_creation_input_tokens
    assert prefix > 0 and first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == prefix
    assert second.usage.cache_read_input_tokens == prefix and second.usage.cache_creation_input_tokens == 0
    assert other_source.usage.cache_read_input_tokens == prefix  # same tools + system, new question
    assert second.usage.input_tokens == first.usage.input_tokens > 0
    assert counted.input_tokens == first.usage.input_tokens + prefix
    assert first.usage.output_tokens == count_tokens(first.content[0].input)
    stats = fake_api.stats
    assert stats.cache_prefixes == 1
    assert stats.cache_read_input_tokens == 2 * prefix and stats.cache_creation_input_tokens == prefix
    assert stats.by_path == {"/v1/messages": 3, "/v1/messages/count_tokens": 1}


def test_a_changed_system_prompt_writes_a_new_cache_entry(fake_api: FakeAnthropic):
    changed = [SYSTEM[0], {**SYSTEM[1], "text": SYSTEM[1]["text"] + " Be terse."}]
    run(create(fake_api, statements_request()))
    message = run(create(fake_api, statements_request(system=changed)))
    assert message.usage.cache_read_input_tokens == 0 and message.usage.cache_creation_input_tokens > 0
    assert fake_api.stats.cache_prefixes == 2


def test_max_tokens_too_small_truncates(fake_api: FakeAnthropic):
    message = run(create(fake_api, statements_request(max_tokens=10)))
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 10
    assert [b.type for b in message.content] == ["text"] and len(message.content[0].text) <= 40


# -- rate limits ------------------------------------------------------------------------------------------------------


def test_rate_limit_headers_present_and_remaining_decreasing(fake_api_factory):
    fake = fake_api_factory(rpm=100, itpm=100_000, otpm=50_000)

    async def scenario():
        async with client(fake) as c:
            raws = [await c.messages.with_raw_response.create(**statements_request()) for _ in range(2)]
            return [(raw.headers, await raw.parse()) for raw in raws]

    (h1, m1), (h2, m2) = run(scenario())
    for name in ("requests", "input-tokens", "output-tokens", "tokens"):
        for part in ("limit", "remaining", "reset"):
            assert f"anthropic-ratelimit-{name}-{part}" in h1
        datetime.fromisoformat(h1[f"anthropic-ratelimit-{name}-reset"].replace("Z", "+00:00"))
    assert h1["anthropic-ratelimit-requests-limit"] == "100"
    assert h1["anthropic-ratelimit-tokens-limit"] == "150000"
    assert int(h2["anthropic-ratelimit-requests-remaining"]) < int(h1["anthropic-ratelimit-requests-remaining"]) < 100
    # Token counts remaining are rounded to the nearest thousand, as the API sends them; the output is charged as
    # generated once the answer ends (its max_tokens reservation given back).
    charged = m1.usage.input_tokens + m1.usage.cache_creation_input_tokens
    assert int(h1["anthropic-ratelimit-input-tokens-remaining"]) == round(100_000 - charged, -3)
    assert int(h1["anthropic-ratelimit-output-tokens-remaining"]) == round(50_000 - m1.usage.output_tokens, -3)
    assert int(h2["anthropic-ratelimit-output-tokens-remaining"]) % 1000 == 0
    assert h1["request-id"] != h2["request-id"]


def test_rpm_limit_refuses_the_fourth_quick_request(fake_api_factory):
    fake = fake_api_factory(rpm=3)

    async def scenario():
        async with client(fake) as c:
            for _ in range(3):
                await c.messages.create(**statements_request())
            with pytest.raises(anthropic.RateLimitError) as caught:
                await c.messages.create(**statements_request())
            return caught.value

    err = run(scenario())
    assert err.body["error"]["type"] == "rate_limit_error"
    assert 15 <= int(err.response.headers["retry-after"]) <= 20  # one request refills in 60/3 s
    assert 15_000 < float(err.response.headers["retry-after-ms"]) <= 20_000
    assert err.request_id == err.response.headers["request-id"]
    assert fake.stats.refused_by_limit == 1 and fake.stats.by_status == {200: 3, 429: 1}


def test_rpm_limit_with_sdk_retries_eventually_succeeds(fake_api_factory):
    fake = fake_api_factory(rpm=3, period=0.6)  # 3 per 0.6 s: a refused request waits ~0.2 s

    async def scenario():
        async with client(fake, max_retries=3) as c:
            return [await c.messages.create(**statements_request()) for _ in range(5)]

    started = time.monotonic()
    messages = run(scenario())
    assert all(m.stop_reason == "tool_use" for m in messages)
    stats = fake.stats
    assert stats.refused_by_limit >= 1 and stats.by_status[200] == 5
    assert stats.retried_requests == stats.refused_by_limit
    assert time.monotonic() - started < 5


def test_itpm_limit_counts_uncached_input_and_cache_creation_not_cache_reads(fake_api_factory):
    cost = FakeAnthropic().input_token_count(statements_request())
    fake = fake_api_factory(itpm=cost + cost // 2)
    first = run(create(fake, statements_request()))  # writes the cache: charged input + cache creation = cost
    assert first.usage.input_tokens + first.usage.cache_creation_input_tokens == cost
    second = run(create(fake, statements_request()))  # the cached prefix is read, not charged
    assert second.usage.cache_read_input_tokens > second.usage.input_tokens
    with pytest.raises(anthropic.RateLimitError) as caught:  # a new prefix needs `cost` tokens again
        run(create(fake, statements_request(system="A different, uncached system prompt.")))
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert fake.stats.refused_by_limit == 1 and fake.stats.by_status == {200: 2, 429: 1}


def test_otpm_reserves_max_tokens_at_admission_and_settles_to_the_output(fake_api_factory):
    fake = fake_api_factory(otpm=3000, latency=0.5, ledger=True)  # room for one max_tokens=2048 request at a time

    async def scenario():
        async with client(fake) as c:
            both = await asyncio.gather(
                *(c.messages.create(**statements_request()) for _ in range(2)), return_exceptions=True
            )
            third = await c.messages.with_raw_response.create(**statements_request())
            return both, third.headers, await third.parse()

    both, headers, third = run(scenario())
    answered = [r for r in both if not isinstance(r, Exception)]
    refused = [r for r in both if isinstance(r, anthropic.RateLimitError)]
    assert len(answered) == 1 and len(refused) == 1  # the first one's reservation left too little for the second
    message = refused[0].body["error"]["message"]
    assert "rate limit of 3,000 output tokens per minute" in message and "maximum tokens requested" in message
    assert int(refused[0].response.headers["retry-after"]) >= 1
    # The answer gave back the unused part of its 2048: the third request got in at once.
    used = answered[0].usage.output_tokens + third.usage.output_tokens
    assert used < 2048
    assert int(headers["anthropic-ratelimit-output-tokens-remaining"]) == round(3000 - used, -3)
    statuses = [entry[2] for entry in fake.ledger()]
    assert sorted(statuses) == [200, 200, 429]
    assert sum(entry[4] for entry in fake.ledger()) == used
    assert fake.stats.refused_by_limit == 1


def test_otpm_below_a_request_s_max_tokens_refuses_until_refilled(fake_api_factory):
    fake = fake_api_factory(otpm=600)  # refills 10 tokens per second
    first = run(create(fake, statements_request(max_tokens=300)))
    with pytest.raises(anthropic.RateLimitError) as caught:
        run(create(fake, statements_request(max_tokens=600 - first.usage.output_tokens + 100)))
    wait_ms = float(caught.value.response.headers["retry-after-ms"])
    assert 9_000 < wait_ms <= 10_000  # the 100 tokens missing, at 10 per second
    assert fake.stats.refused_by_limit == 1


# -- faults -----------------------------------------------------------------------------------------------------------


def test_scripted_429_529_500_are_retried_by_the_sdk(fake_api_factory):
    fake = fake_api_factory(error_retry_after_ms=10)
    fake.script_faults(["rate_limit", "overloaded", "server_error"])
    message = run(create(fake, statements_request(), max_retries=3))
    StatementsWithClozes.model_validate(message.content[0].input)
    stats = fake.stats
    assert stats.by_status == {429: 1, 529: 1, 500: 1, 200: 1}
    assert stats.faults == {"rate_limit": 1, "overloaded": 1, "server_error": 1}
    assert stats.retried_requests == 3 and stats.refused_by_limit == 0
    assert [r.retry_count for r in stats.requests] == [0, 1, 2, 3]
    assert fake.requests[0].fault == "rate_limit" and fake.pending_faults == []


def test_scripted_errors_without_retries_raise_the_sdk_errors(fake_api: FakeAnthropic):
    fake_api.script_faults(["rate_limit", "overloaded", "server_error"])
    expected = [anthropic.RateLimitError, anthropic.OverloadedError, anthropic.InternalServerError]
    for error_class in expected:
        with pytest.raises(error_class) as caught:
            run(create(fake_api, statements_request()))
        assert caught.value.request_id and caught.value.response.headers["anthropic-ratelimit-requests-limit"]
    assert [r.headers["x-stainless-retry-count"] for r in fake_api.requests] == ["0", "0", "0"]


def test_malformed_truncated_and_refusal_are_200s(fake_api: FakeAnthropic):
    fake_api.script_faults(["malformed", "truncated", "refusal", "ok"])

    async def scenario():
        async with client(fake_api) as c:
            return [await c.messages.create(**statements_request()) for _ in range(4)]

    malformed, truncated, refusal, normal = run(scenario())
    assert malformed.stop_reason == "tool_use" and malformed.content[0].input == {"statements": [{"statement": 7}]}
    with pytest.raises(ValidationError):
        StatementsWithClozes.model_validate(malformed.content[0].input)
    assert truncated.stop_reason == "max_tokens" and truncated.content[0].type == "text"
    assert truncated.usage.output_tokens == 2048 and truncated.content[0].text.startswith('{"statements"')
    assert refusal.stop_reason == "refusal" and refusal.content == []
    assert normal.stop_reason == "tool_use"
    assert fake_api.stats.by_status == {200: 4}


def test_slow_fault_exceeds_a_short_client_timeout(fake_api_factory):
    fake = fake_api_factory(slow_seconds=1.5)
    fake.script_faults(["slow"])
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        run(create(fake, statements_request(), max_retries=0, timeout=0.5))
    assert time.monotonic() - started < 1.4


def test_disconnect_fault_is_retried_as_a_connection_error(fake_api: FakeAnthropic):
    fake_api.script_faults(["disconnect"])
    message = run(create(fake_api, statements_request(), max_retries=1))
    assert message.stop_reason == "tool_use"
    assert fake_api.stats.by_status == {None: 1, 200: 1}


def test_random_faults_are_seeded_and_use_the_enabled_kinds(fake_api_factory):
    kinds = ["malformed", "truncated", "refusal"]
    runs = []
    for _ in range(2):
        fake = fake_api_factory(fault_rate=0.5, fault_kinds=kinds, seed=7)
        for _ in range(20):
            assert raw_post(fake, "/v1/messages", statements_request(), {"x-api-key": API_KEY})[0] == 200
        runs.append([r.fault for r in fake.requests])
    assert runs[0] == runs[1]
    assert None in runs[0] and set(runs[0]) - {None} <= set(kinds) and len(set(runs[0])) > 2
    always = fake_api_factory(fault_rate=1.0, fault_kinds=["server_error"])
    assert raw_post(always, "/v1/messages", statements_request(), {"x-api-key": API_KEY})[0] == 500
    with pytest.raises(ValueError):
        FakeAnthropic(fault_kinds=["boom"])


# -- concurrency, auth, routing, CLI ----------------------------------------------------------------------------------


def test_fifty_concurrent_calls_with_a_semaphore_of_twenty(fake_api_factory):
    fake = fake_api_factory(latency=0.05)

    async def scenario():
        semaphore = asyncio.Semaphore(20)
        async with client(fake) as c:

            async def one(i: int):
                async with semaphore:
                    return await c.messages.create(**statements_request(source=f"Question {i} has a long sentence."))

            return await asyncio.gather(*(one(i) for i in range(50)))

    messages = run(scenario())
    assert len(messages) == 50 and all(m.stop_reason == "tool_use" for m in messages)
    stats = fake.stats
    assert stats.by_status == {200: 50} and 1 < stats.max_in_flight <= 20 and stats.in_flight == 0


def test_authorization_bearer_header_is_received_and_not_printed(fake_api: FakeAnthropic):
    run(create(fake_api, statements_request()))
    record = fake_api.last_request
    assert record.headers["authorization"] == f"Bearer {API_KEY}" and record.api_key == API_KEY
    assert record.headers["anthropic-version"]
    assert record.body["tool_choice"] == {"type": "tool", "name": STATEMENTS_TOOL}
    assert API_KEY not in repr(record) and API_KEY not in repr(fake_api.stats)


def test_x_api_key_accepted_missing_key_401_unknown_path_404(fake_api: FakeAnthropic):
    status, headers, body = raw_post(fake_api, "/v1/messages", statements_request(), {"x-api-key": API_KEY})
    assert status == 200 and body["type"] == "message" and headers["anthropic-ratelimit-requests-remaining"]
    status, _, body = raw_post(fake_api, "/v1/messages", statements_request())
    assert status == 401 and body["error"]["type"] == "authentication_error"
    status, headers, body = raw_post(fake_api, "/v1/complete", {}, {"x-api-key": API_KEY})
    assert (status, body["type"], body["error"]["type"]) == (404, "error", "not_found_error") and headers["request-id"]
    status, _, body = raw_post(fake_api, "/v1/messages", b"{not json", {"x-api-key": API_KEY})
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert fake_api.stats.by_status == {200: 1, 401: 1, 404: 1, 400: 1}
    fake_api.reset_stats()
    assert fake_api.stats.total_requests == 0 and fake_api.requests == []


def test_cli_serves_until_interrupted():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    defaults = parser.parse_args([])
    assert (defaults.port, defaults.latency, defaults.rpm, defaults.fault_rate) == (DEFAULT_CLI_PORT, 0.0, None, 0.0)
    code = (
        "import argparse; from mksap_devtools.fake_api import add_arguments, run_from_args;"
        "p = argparse.ArgumentParser(); add_arguments(p); raise SystemExit(run_from_args(p.parse_args()))"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", "--rpm", "50"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        line = proc.stdout.readline()
        url = line.split("ANTHROPIC_BASE_URL=")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(
            url + "/v1/messages/count_tokens",
            data=json.dumps(statements_request()).encode(),
            headers={"authorization": f"Bearer {API_KEY}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read())["input_tokens"] > 0
            assert response.headers["anthropic-ratelimit-requests-limit"] == "50"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0  # a loaded machine can take seconds to stop the server
        assert "served 1 requests" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
