"""The fake API's Message Batches endpoints, driven by the real `anthropic` SDK (strict response validation on)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import anthropic
import pytest

from mksap_assets_tests.test_fake_api import API_KEY, raw_post, statements_request
from mksap_devtools.fake_api import FakeAnthropic

OBJECTIVE = "Treat symptomatic hyperkalemia with intravenous calcium before lowering the potassium level."
RECORDED = [
    {"statement": "Intravenous calcium stabilises the cardiac membrane in hyperkalemia.", "extra_field": None,
     "cloze_primary": "Intravenous calcium", "cloze_secondary": []},
]


def sync_client(fake: FakeAnthropic) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key=API_KEY, _strict_response_validation=True, max_retries=0)


def batch_requests(count: int) -> list[dict[str, Any]]:
    """`count` distinct statement requests, custom_ids q000..; each source names its own number."""
    return [
        {"custom_id": f"q{n:03d}", "params": statements_request(f"Finding number {n} is a sign of early sepsis.")}
        for n in range(count)
    ]


def wait_until_ended(client: anthropic.Anthropic, batch_id: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while (batch := client.messages.batches.retrieve(batch_id)).processing_status != "ended":
        assert time.monotonic() < deadline, batch
        time.sleep(0.05)
    return batch


def statement_texts(message) -> list[str]:
    [block] = message.content
    return [item["statement"] for item in block.input["statements"]]


def test_a_batch_stays_in_progress_for_the_delay_then_ends_with_every_result(fake_api_factory):
    fake = fake_api_factory(batch_delay=1.0)
    requests = batch_requests(12)
    with sync_client(fake) as client:
        created = client.messages.batches.create(requests=requests)
        assert created.processing_status == "in_progress" and created.results_url is None
        assert created.request_counts.processing == 12 and created.request_counts.succeeded == 0
        assert (created.expires_at - created.created_at).total_seconds() == 24 * 3600
        assert client.messages.batches.retrieve(created.id).processing_status == "in_progress"
        ended = wait_until_ended(client, created.id)
        assert ended.ended_at is not None and ended.results_url.endswith(f"/v1/messages/batches/{created.id}/results")
        assert ended.request_counts.model_dump() == {
            "processing": 0, "succeeded": 12, "errored": 0, "canceled": 0, "expired": 0
        }
        results = list(client.messages.batches.results(created.id))
    custom_ids = [result.custom_id for result in results]
    assert sorted(custom_ids) == [request["custom_id"] for request in requests]
    assert custom_ids != sorted(custom_ids)  # arbitrary order: results are matched by custom_id
    for result in results:
        assert result.result.type == "succeeded"
        assert result.result.message.usage.service_tier == "batch"
        number = int(result.custom_id[1:])
        assert statement_texts(result.result.message) == [f"Finding number {number} is a sign of early sepsis."]
    stats = fake.stats
    assert (stats.batches, stats.batch_requests, stats.batch_results["succeeded"]) == (1, 12, 12)
    assert stats.by_tool == {} and stats.input_tokens == 0  # sync counters untouched
    assert stats.batch_usage["output_tokens"] == sum(r.result.message.usage.output_tokens for r in results)


def test_the_delay_is_spread_over_the_requests(fake_api_factory):
    fake = fake_api_factory(batch_delay=2.0)
    with sync_client(fake) as client:
        batch = client.messages.batches.create(requests=batch_requests(4))
        time.sleep(0.6)  # past the first request's share of the delay (0.5 s), well before the last's
        assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
        assert fake.stats.batch_usage["output_tokens"] > 0  # some requests were answered already
        with pytest.raises(anthropic.AnthropicError, match="results"):  # the SDK checks results_url first
            client.messages.batches.results(batch.id)
        with pytest.raises(anthropic.BadRequestError, match="has not ended"):
            client.get(f"/v1/messages/batches/{batch.id}/results", cast_to=object)


def test_batch_answers_equal_the_sync_answers_including_replayed_ones(fake_api_factory, tmp_path: Path):
    recording = {"question_id": "hkq001", "educational_objective": OBJECTIVE, "critique": {"statements": RECORDED},
                 "key_points": None, "tables": []}
    (tmp_path / "hkq001.json").write_text(json.dumps(recording), encoding="utf-8")
    fake = fake_api_factory(replay_dir=tmp_path)
    replayed = statements_request(messages=[{"role": "user", "content": f'{OBJECTIVE}<source kind="critique">'
                                             "Calcium first.</source>"}])
    by_rules = statements_request("Calcium gluconate acts within minutes. Insulin shifts potassium into cells.")
    with sync_client(fake) as client:
        sync_answers = [client.messages.create(**replayed), client.messages.create(**by_rules)]
        batch = client.messages.batches.create(
            requests=[{"custom_id": "replayed", "params": replayed}, {"custom_id": "rules", "params": by_rules}]
        )
        wait_until_ended(client, batch.id)
        results = {r.custom_id: r.result.message for r in client.messages.batches.results(batch.id)}
    assert statement_texts(sync_answers[0]) == [RECORDED[0]["statement"]]
    for sync_answer, batch_answer in zip(sync_answers, (results["replayed"], results["rules"]), strict=True):
        assert batch_answer.content[0].input == sync_answer.content[0].input
        assert batch_answer.stop_reason == sync_answer.stop_reason
        # the prompt was cached by the sync request: the batch request reads what the sync one wrote
        sync_usage, batch_usage = sync_answer.usage, batch_answer.usage
        assert batch_usage.output_tokens == sync_usage.output_tokens
        assert batch_usage.input_tokens + batch_usage.cache_read_input_tokens == (
            sync_usage.input_tokens + sync_usage.cache_creation_input_tokens + sync_usage.cache_read_input_tokens
        )
    assert (fake.stats.replayed, fake.stats.replay_misses) == (2, 2)


def test_injected_errors_and_expiries_by_custom_id_and_by_rate(fake_api_factory):
    fake = fake_api_factory(seed=7)
    fake.batches.set_faults(errored=["q001"], expired=["q002"])
    requests = batch_requests(5)
    requests[3]["params"] = {**requests[3]["params"], "tool_choice": {"type": "tool", "name": "no_such_tool"}}
    with sync_client(fake) as client:
        batch = client.messages.batches.create(requests=requests)
        ended = wait_until_ended(client, batch.id)
        results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
        assert ended.request_counts.model_dump() == {
            "processing": 0, "succeeded": 2, "errored": 2, "canceled": 0, "expired": 1
        }
        assert results["q001"].type == "errored" and results["q001"].error.error.type == "api_error"
        assert results["q002"].type == "expired"
        assert results["q003"].type == "errored" and results["q003"].error.error.type == "invalid_request_error"
        assert {results["q000"].type, results["q004"].type} == {"succeeded"}
        billed = fake.stats.batch_usage["output_tokens"]
        assert billed == sum(results[i].message.usage.output_tokens for i in ("q000", "q004"))  # failures unbilled

        fake.batches.set_faults(error_rate=0.25, expire_rate=0.25)
        batch = client.messages.batches.create(requests=batch_requests(200))
        counts = wait_until_ended(client, batch.id).request_counts
    assert counts.succeeded + counts.errored + counts.expired == 200 and counts.canceled == 0
    assert 25 <= counts.errored <= 75 and 25 <= counts.expired <= 75


def test_cancel_ends_the_batch_with_the_pending_requests_canceled(fake_api_factory):
    fake = fake_api_factory(batch_delay=2.0)
    with sync_client(fake) as client:
        batch = client.messages.batches.create(requests=batch_requests(10))
        time.sleep(0.5)  # two requests are due, eight are not
        canceling = client.messages.batches.cancel(batch.id)
        assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
        assert canceling.request_counts.processing == 10
        ended = client.messages.batches.retrieve(batch.id)
        results = list(client.messages.batches.results(batch.id))
        assert client.messages.batches.cancel(batch.id).processing_status == "ended"  # cancelling again changes nothing
    counts = ended.request_counts
    assert ended.processing_status == "ended" and counts.processing == 0 and counts.errored == counts.expired == 0
    assert 1 <= counts.succeeded <= 9 and counts.succeeded + counts.canceled == 10
    assert sum(r.result.type == "canceled" for r in results) == counts.canceled
    assert fake.stats.batch_results == {"succeeded": counts.succeeded, "errored": 0, "canceled": counts.canceled,
                                        "expired": 0}


def test_list_pages_newest_first(fake_api_factory):
    fake = fake_api_factory()
    with sync_client(fake) as client:
        ids = [client.messages.batches.create(requests=batch_requests(1)).id for _ in range(3)]
        first_page = client.messages.batches.list(limit=2)
        assert [b.id for b in first_page.data] == [ids[2], ids[1]] and first_page.has_more
        assert [b.id for b in client.messages.batches.list(limit=2)] == ids[::-1]  # auto-paging follows last_id
        assert [b.id for b in client.messages.batches.list(before_id=ids[0], limit=5)] == [ids[2], ids[1]]
        with pytest.raises(anthropic.NotFoundError):
            client.messages.batches.retrieve("msgbatch_unknown")


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([{"custom_id": "", "params": statements_request()}], "requests.0.custom_id"),
        ([{"custom_id": "has space", "params": statements_request()}], "requests.0.custom_id"),
        ([{"custom_id": "x" * 65, "params": statements_request()}], "requests.0.custom_id"),
        ([{"custom_id": "a", "params": statements_request()}, {"custom_id": "a", "params": statements_request()}],
         "requests.1.custom_id: 'a' is used twice"),
        ([{"custom_id": "a", "params": {"model": "m", "messages": []}}], "requests.0.params"),
        ([{"custom_id": "a", "params": statements_request(stream=True)}], "requests.0.params.stream"),
        ([], "requests: a list of 1"),
    ],
)
def test_an_invalid_batch_is_refused_with_a_400(fake_api: FakeAnthropic, requests, message):
    status, _, body = raw_post(fake_api, "/v1/messages/batches", {"requests": requests}, {"x-api-key": API_KEY})
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert message in body["error"]["message"]
    assert fake_api.stats.batches == 0


def test_a_64_character_custom_id_is_accepted(fake_api: FakeAnthropic):
    with sync_client(fake_api) as client:
        batch = client.messages.batches.create(requests=[{"custom_id": "A-z_9" * 12 + "abcd",
                                                          "params": statements_request()}])
    assert batch.request_counts.processing == 1


def test_the_async_client_runs_a_batch(fake_api_factory):
    fake = fake_api_factory(batch_delay=0.2)

    async def scenario():
        async with anthropic.AsyncAnthropic(base_url=fake.url, api_key=API_KEY, _strict_response_validation=True,
                                            max_retries=0) as client:
            batch = await client.messages.batches.create(requests=batch_requests(3))
            while (batch := await client.messages.batches.retrieve(batch.id)).processing_status != "ended":
                await asyncio.sleep(0.05)
            listed = [b.id async for b in client.messages.batches.list()]
            return batch, listed, [r.custom_id async for r in await client.messages.batches.results(batch.id)]

    batch, listed, custom_ids = asyncio.run(scenario())
    assert batch.request_counts.succeeded == 3 and listed == [batch.id]
    assert sorted(custom_ids) == ["q000", "q001", "q002"]
