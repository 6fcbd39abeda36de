"""MKSAP_BUDGET_USD against the estimate of the questions about to run: the refusal says how much and what to do."""

import pytest

from mksap_assets.domain.llm.budget import (
    budget_line,
    over_budget,
    questions_to_pay_for,
)
from mksap_assets.domain.llm.cost_plan import CostEstimate, per_question

MODEL = "claude-haiku-4-5"
ESTIMATE = CostEstimate(100, MODEL, per_question([]))  # the default estimate: $3.20 sync, $1.60 batch


def test_the_estimate_is_what_the_default_says():
    assert (ESTIMATE.usd(batch=False), ESTIMATE.usd(batch=True)) == pytest.approx((3.2, 1.6))


def test_a_budget_below_the_estimate_refuses_with_the_amounts_and_the_ways_to_go_ahead():
    assert over_budget(ESTIMATE, 2.5, batch=False) == (
        "the estimated cost of the 100 questions to run, $3.20 at sync prices (claude-haiku-4-5), exceeds "
        "MKSAP_BUDGET_USD=2.50: nothing launched. To go ahead: raise the budget (MKSAP_BUDGET_USD=3.20 or more); or "
        "run a subset of the questions (mksap run --partition ID, repeatable); or use batch mode at half price "
        "(MKSAP_LLM_MODE=batch: $1.60).")


def test_batch_mode_is_checked_at_batch_prices():
    assert over_budget(ESTIMATE, 2.5, batch=True) is None
    refusal = over_budget(ESTIMATE, 1.0, batch=True)
    assert "$1.60 at batch prices" in refusal and "MKSAP_LLM_MODE" not in refusal


@pytest.mark.parametrize("budget", [None, 3.2, 50.0])
def test_no_budget_or_one_at_or_above_the_estimate_lets_it_go(budget):
    assert over_budget(ESTIMATE, budget, batch=False) is None


def test_the_offline_extractor_and_an_empty_launch_are_never_refused():
    assert over_budget(None, 0.0, batch=False) is None
    assert over_budget(CostEstimate(0, MODEL, per_question([])), 0.0, batch=False) is None


def test_a_model_without_a_price_cannot_be_checked_so_it_is_refused():
    refusal = over_budget(CostEstimate(3, "claude-unpriced-9", per_question([])), 100.0, batch=False)
    assert refusal.startswith("no price for claude-unpriced-9 in prices.json") and "nothing launched" in refusal


def test_the_plan_says_what_the_budget_would_do():
    assert budget_line(ESTIMATE, None, batch=False) is None
    assert budget_line(ESTIMATE, 5.0, batch=False) == "budget: MKSAP_BUDGET_USD=5.00 allows this launch"
    assert budget_line(ESTIMATE, 2.5, batch=False).startswith(
        "budget: the sensor and `mksap run` would refuse this launch: the estimated cost of the 100 questions")


def test_up_to_date_questions_are_answered_by_the_response_cache_unless_it_is_off():
    wanted = ["a", "b", "c"]
    assert questions_to_pay_for(wanted, {"b"}, cache_enabled=True) == ["a", "c"]
    assert questions_to_pay_for(wanted, {"b"}, cache_enabled=False) == wanted
