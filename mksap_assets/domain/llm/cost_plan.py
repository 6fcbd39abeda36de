"""What running the questions `mksap plan` lists would cost with the pinned provider and model, in sync and in batch
mode: from the mean usage per question of earlier exports by the same extractor that made real API calls, else
from a documented default per request; and which mode suits the run. Plain data in, lines out; the CLI only prints
them. The same estimate is what a launch is checked against (budget.py)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields

from mksap_assets.domain.exports.document import ExportFile
from mksap_assets.domain.llm.pricing import cost_usd, price_for
from mksap_assets.domain.statements import LLMUsage

# The default when no earlier question was measured: ../shared/LLM_AND_PEERS.md's workload line, "2,200 q × 4 calls
# × (3k in / 1k out)" (a critique, key points and tables per question), with no prompt caching assumed.
DEFAULT_REQUESTS_PER_QUESTION = 4
DEFAULT_INPUT_TOKENS_PER_REQUEST = 3_000
DEFAULT_OUTPUT_TOKENS_PER_REQUEST = 1_000


@dataclass(frozen=True)
class Workload:
    """API requests and tokens: the mean of one question, or a total."""

    requests: float
    input_tokens: float
    output_tokens: float
    cache_write_tokens: float
    cache_read_tokens: float

    def times(self, count: int) -> Workload:
        """`count` of this, in whole requests and tokens."""
        return Workload(*(round(getattr(self, kind.name) * count) for kind in fields(Workload)))


DEFAULT_PER_QUESTION = Workload(
    requests=DEFAULT_REQUESTS_PER_QUESTION,
    input_tokens=DEFAULT_REQUESTS_PER_QUESTION * DEFAULT_INPUT_TOKENS_PER_REQUEST,
    output_tokens=DEFAULT_REQUESTS_PER_QUESTION * DEFAULT_OUTPUT_TOKENS_PER_REQUEST,
    cache_write_tokens=0,
    cache_read_tokens=0,
)


def measured_usages(exports: Iterable[ExportFile], extractor: str, endpoint: str | None = None) -> list[LLMUsage]:
    """The usage of each readable export made by `extractor` at `endpoint` (None: Anthropic's own API; a run against
    the fake API measures the fake) with at least one request that reached the API (an export answered wholly from
    the response cache measured nothing)."""
    return [
        export.document.provenance.llm_usage
        for export in exports
        if export.document is not None
        and export.document.provenance.extractor == extractor
        and export.document.provenance.endpoint == endpoint
        and export.document.provenance.llm_usage.calls > 0
    ]


def per_question(usages: list[LLMUsage]) -> Workload:
    """The mean of `usages`, or the default estimate when there are none."""
    if not usages:
        return DEFAULT_PER_QUESTION
    total = sum(usages, LLMUsage())
    count = len(usages)
    return Workload(total.calls / count, total.input_tokens / count, total.output_tokens / count,
                    total.cache_creation_input_tokens / count, total.cache_read_input_tokens / count)


@dataclass(frozen=True)
class CostEstimate:
    questions: int
    model: str
    per_question: Workload
    measured_from: int = 0  # the earlier questions per_question is the mean of; 0: the default estimate

    @property
    def total(self) -> Workload:
        return self.per_question.times(self.questions)

    def usd(self, *, batch: bool) -> float:
        total = self.total
        return cost_usd(self.model, input_tokens=total.input_tokens, output_tokens=total.output_tokens,
                        cache_write=total.cache_write_tokens, cache_read=total.cache_read_tokens, batch=batch)

    def lines(self) -> list[str]:
        basis = f"from {self.measured_from} earlier questions" if self.measured_from else "default estimate"
        if price_for(self.model) is None:
            usd = f"USD unknown: no price for {self.model} in prices.json"
        else:
            usd = f"USD {dollars(self.usd(batch=False))} sync, {dollars(self.usd(batch=True))} batch"
        total = self.total
        return [
            f"cost estimate for the {self.questions:,} to run ({self.model}, {basis}): {total.requests:,} requests",
            f"  tokens: {total.input_tokens:,} input, {total.output_tokens:,} output, "
            f"{total.cache_write_tokens:,} cache write, {total.cache_read_tokens:,} cache read",
            f"  {usd}",
        ]


def dollars(usd: float) -> str:
    """Cents, except below a dollar, where a few questions' cost would round to 0.00."""
    return f"{usd:,.2f}" if usd >= 1 else f"{usd:.4f}"


NO_API_COST = "cost estimate: none (the offline extractor makes no API requests)"
# Batch mode halves the cost but its answers come when the batch ends (usually within the hour, at most 24 h), where a
# sync run of the whole bank takes minutes (benchmarks/results.md): worth the wait from this saving on.
BATCH_WORTH_USD = 1.0


def mode_advice(estimate: CostEstimate, mode: str) -> str | None:
    """Which mode suits this run: batch from a saving of BATCH_WORTH_USD, given as a number of questions (from the
    measured cost per question); None when the price is unknown."""
    if price_for(estimate.model) is None or estimate.questions == 0:
        return None
    saving = estimate.usd(batch=False) - estimate.usd(batch=True)
    per_question = saving / estimate.questions
    threshold = f"from {math.ceil(BATCH_WORTH_USD / per_question):,} questions" if per_question > 0 else "never"
    worth = saving >= BATCH_WORTH_USD
    if worth and mode != "batch":
        return (f"  batch mode recommended: it would save USD {dollars(saving)} (it saves USD "
                f"{BATCH_WORTH_USD:.2f} {threshold}); set MKSAP_LLM_MODE=batch (docs/BATCHES.md)")
    if not worth and mode == "batch":
        return (f"  MKSAP_LLM_MODE=batch saves only USD {dollars(saving)} here (USD {BATCH_WORTH_USD:.2f} "
                f"{threshold}); a sync run would not wait for a batch")
    return None


def estimate_cost(questions: int, *, extractor: str, model: str | None, exports: Iterable[ExportFile],
                  endpoint: str | None = None) -> CostEstimate | None:
    """The estimate for running `questions` questions with `extractor` and `model` at `endpoint`, measured from
    `exports` or else the default; None for the offline extractor (no model), whose `exports` are never read."""
    if model is None:
        return None
    usages = measured_usages(exports, extractor, endpoint)
    return CostEstimate(questions, model, per_question(usages), measured_from=len(usages))


def cost_plan_lines(estimate: CostEstimate | None, mode: str = "sync") -> list[str]:
    """The estimate's lines, with advice on the LLM `mode` (sync or batch) when the other would suit better."""
    if estimate is None:
        return [NO_API_COST]
    advice = mode_advice(estimate, mode)
    return estimate.lines() + ([advice] if advice else [])
