"""MKSAP_BUDGET_USD: the most the work about to be launched may cost, by its estimate (cost_plan.py).

The budget is per launch, not a total to date: the sensor and `mksap run` compare it with the estimate of exactly the
questions they are about to run, at batch prices when the work goes out as message batches, and refuse the launch
when the estimate is over it. What was spent so far is reported beside it (spend.py) but does not draw it down: an
estimate is checked before anything is paid, and a total to date could only refuse work after the money was spent.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

from mksap_assets.domain.llm.cost_plan import CostEstimate, dollars
from mksap_assets.domain.llm.pricing import price_for

BUDGET_VARIABLE = "MKSAP_BUDGET_USD"


def questions_to_pay_for(wanted: Sequence[str], up_to_date: Collection[str], *, cache_enabled: bool) -> list[str]:
    """Of the questions a run would work on, those that would reach the API: an up-to-date question's requests are
    the ones its last run sent, answered from the response cache unless it is disabled."""
    if not cache_enabled:
        return list(wanted)
    done = set(up_to_date)
    return [key for key in wanted if key not in done]


def over_budget(estimate: CostEstimate | None, budget: float | None, *, batch: bool) -> str | None:
    """Why launching the estimated work would exceed `budget`, with what to do about it; None when it may go (no
    budget, the offline extractor, or an estimate within it)."""
    if budget is None or estimate is None or not estimate.questions:
        return None
    limit = f"{BUDGET_VARIABLE}={dollars(budget)}"
    if price_for(estimate.model) is None:
        return (f"no price for {estimate.model} in prices.json, so the {estimate.questions:,} questions to run "
                f"cannot be checked against {limit}: nothing launched. Add its price, or unset {BUDGET_VARIABLE}.")
    usd = estimate.usd(batch=batch)
    if usd <= budget:
        return None
    enough = math.ceil(usd * 100) / 100
    remedies = [f"raise the budget ({BUDGET_VARIABLE}={enough:.2f} or more)",
                "run a subset of the questions (mksap run --partition ID, repeatable)"]
    if not batch:
        remedies.append(f"use batch mode at half price (MKSAP_LLM_MODE=batch: ${dollars(estimate.usd(batch=True))})")
    return (f"the estimated cost of the {estimate.questions:,} questions to run, ${dollars(usd)} at "
            f"{'batch' if batch else 'sync'} prices ({estimate.model}), exceeds {limit}: nothing launched. "
            f"To go ahead: {'; or '.join(remedies)}.")


def budget_line(estimate: CostEstimate | None, budget: float | None, *, batch: bool) -> str | None:
    """`mksap plan`'s verdict on the budget: what the sensor and `mksap run` would do (None: no budget set)."""
    if budget is None:
        return None
    refusal = over_budget(estimate, budget, batch=batch)
    if refusal:
        return f"budget: the sensor and `mksap run` would refuse this launch: {refusal}"
    return f"budget: {BUDGET_VARIABLE}={dollars(budget)} allows this launch"
