"""The cost estimate `mksap plan` prints: measured averages of earlier exports, else the default; batch at half."""

from pathlib import Path

import pytest

from mksap_assets.domain.exports.document import (
    ExportDocument,
    ExportedProvenance,
    ExportFile,
)
from mksap_assets.domain.llm.cost_plan import (
    DEFAULT_INPUT_TOKENS_PER_REQUEST,
    DEFAULT_OUTPUT_TOKENS_PER_REQUEST,
    DEFAULT_REQUESTS_PER_QUESTION,
    NO_API_COST,
    CostEstimate,
    cost_plan_lines,
    estimate_cost,
    per_question,
)
from mksap_assets.domain.llm.pricing import price_for
from mksap_assets.domain.statements import LLMUsage

MODEL = "claude-haiku-4-5"


def _export(key: str, extractor: str, endpoint: str | None = None, **usage: int) -> ExportFile:
    provenance = ExportedProvenance(extractor=extractor, model=MODEL, endpoint=endpoint, llm_usage=LLMUsage(**usage))
    return ExportFile(Path(f"{key}.json"), ExportDocument(question_id=key, provenance=provenance))


def _listed_usd(input_tokens: int, output_tokens: int, cache_write: int, cache_read: int) -> float:
    price = price_for(MODEL)
    return (input_tokens * price.input + output_tokens * price.output + cache_write * price.cache_write
            + cache_read * price.cache_read) / 1_000_000


def test_the_estimate_is_the_mean_of_earlier_questions_with_real_calls_by_the_same_extractor():
    exports = [
        _export("a", "anthropic", calls=3, input_tokens=9_000, output_tokens=2_000, cache_creation_input_tokens=400,
                cache_read_input_tokens=1_000),
        _export("b", "anthropic", calls=5, input_tokens=15_000, output_tokens=4_000, cache_read_input_tokens=3_000),
        _export("c", "anthropic", cache_hits=4),  # answered from the response cache: measured nothing
        _export("d", "offline"),
        ExportFile(Path("e.json"), None, "e.json: not JSON"),
        # made against another endpoint (the fake API): its tokens measure the fake, not this run
        _export("f", "anthropic", endpoint="http://127.0.0.1:8765", calls=9, input_tokens=99_000, output_tokens=9_000),
    ]
    lines = cost_plan_lines(estimate_cost(10, extractor="anthropic", model=MODEL, exports=exports))
    assert lines[:3] == [
        f"cost estimate for the 10 to run ({MODEL}, from 2 earlier questions): 40 requests",
        "  tokens: 120,000 input, 30,000 output, 2,000 cache write, 20,000 cache read",
        f"  USD {_listed_usd(120_000, 30_000, 2_000, 20_000):.4f} sync, "
        f"{_listed_usd(120_000, 30_000, 2_000, 20_000) / 2:.4f} batch",
    ]


def test_without_earlier_questions_the_default_per_request_estimate_is_used():
    questions = 7
    requests = questions * DEFAULT_REQUESTS_PER_QUESTION
    estimate = CostEstimate(questions, MODEL, per_question([]))
    total = estimate.total
    assert (total.requests, total.input_tokens, total.output_tokens) == (
        requests, requests * DEFAULT_INPUT_TOKENS_PER_REQUEST, requests * DEFAULT_OUTPUT_TOKENS_PER_REQUEST)
    assert estimate.usd(batch=False) == pytest.approx(_listed_usd(total.input_tokens, total.output_tokens, 0, 0))
    assert estimate.lines()[0] == (
        f"cost estimate for the {questions} to run ({MODEL}, default estimate): {requests} requests")


def test_batch_mode_costs_half_of_every_token_kind():
    usage = LLMUsage(calls=2, input_tokens=5_000, output_tokens=1_500, cache_creation_input_tokens=700,
                     cache_read_input_tokens=9_000)
    estimate = CostEstimate(3, MODEL, per_question([usage]))
    assert estimate.usd(batch=False) > 0
    assert estimate.usd(batch=True) == pytest.approx(estimate.usd(batch=False) / 2)


def test_the_offline_extractor_costs_nothing_and_reads_no_export():
    def unread():
        raise AssertionError("the offline estimate read an export")
        yield

    assert estimate_cost(5, extractor="offline", model=None, exports=unread()) is None
    assert cost_plan_lines(None) == [NO_API_COST]


def test_a_model_without_a_price_says_so():
    lines = cost_plan_lines(estimate_cost(1, extractor="anthropic", model="claude-unpriced-9", exports=[]))
    assert lines[-1] == "  USD unknown: no price for claude-unpriced-9 in prices.json"  # and no mode advice
