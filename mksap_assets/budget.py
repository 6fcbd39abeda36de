"""The budget check at the launch decision of the sensor and `mksap run`: the cost estimate of the questions about
to run (domain/llm/cost_plan.py) against MKSAP_BUDGET_USD (domain/llm/budget.py says what the budget means)."""

from __future__ import annotations

from mksap_assets.domain.exports.document import iter_exports
from mksap_assets.domain.llm.budget import over_budget
from mksap_assets.domain.llm.cost_plan import CostEstimate, estimate_cost
from mksap_assets.resources import PipelineResource


def cost_estimate(pipeline: PipelineResource, questions: int) -> CostEstimate | None:
    """What running `questions` questions with `pipeline` (pinned to the instance) would cost, measured from its
    exports; None for the offline extractor, which reads none."""
    identity = pipeline.extractor_identity()
    exports = iter_exports(pipeline.resolved().output_dir)  # lazy: the offline extractor reads none
    return estimate_cost(questions, extractor=identity.extractor, model=identity.model, exports=exports,
                         endpoint=identity.endpoint)


def launch_refusal(pipeline: PipelineResource, questions: int, budget: float | None) -> str | None:
    """Why launching `questions` questions would exceed `budget`, at the prices of the launch mode; None when it may
    go. Without a budget, or with nothing to run (a roll-up run), no export is read."""
    if budget is None or not questions:
        return None
    return over_budget(cost_estimate(pipeline, questions), budget, batch=pipeline.resolved().llm.mode == "batch")
