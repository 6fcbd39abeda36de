"""What running the questions `mksap plan` lists would cost with the pinned provider and model, in sync and in batch
mode: from the mean usage per question of earlier exports by the same extractor that made real API calls, else
from a documented default per request. Plain data in, lines out; the CLI only prints them. The same estimate is
what a launch is checked against (budget.py)."""

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
# Batch mode halves the price but its results usually come within the hour (24 h at most), where a sync run of a few
# questions ends in seconds: below this saving the wait is not worth it, so `mksap plan` recommends sync.
BATCH_WORTH_WAITING_USD = 1.0


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
            *self.mode_advice(),
        ]

    def mode_advice(self) -> list[str]:
        """Batch or sync: batch once its saving is worth waiting up to an hour for (none without a price)."""
        if price_for(self.model) is None or not self.questions:
            return []
        saving = self.usd(batch=False) - self.usd(batch=True)
        if saving >= BATCH_WORTH_WAITING_USD:
            return [f"  batch mode recommended (MKSAP_LLM_MODE=batch): it saves ${dollars(saving)}; "
                    "a batch usually ends within the hour"]
        from_questions = math.ceil(BATCH_WORTH_WAITING_USD / (saving / self.questions)) if saving > 0 else None
        size = f" (about {from_questions:,} such questions)" if from_questions else ""
        return [f"  sync mode recommended: batch mode would save only ${dollars(saving)}; it is recommended from a "
                f"${dollars(BATCH_WORTH_WAITING_USD)} saving{size}, worth waiting up to an hour for"]


def dollars(usd: float) -> str:
    """Cents, except below a dollar, where a few questions' cost would round to 0.00."""
    return f"{usd:,.2f}" if usd >= 1 else f"{usd:.4f}"


NO_API_COST = "cost estimate: none (the offline extractor makes no API requests)"


def estimate_cost(questions: int, *, extractor: str, model: str | None, exports: Iterable[ExportFile],
                  endpoint: str | None = None) -> CostEstimate | None:
    """The estimate for running `questions` questions with `extractor` and `model` at `endpoint`, measured from
    `exports` or else the default; None for the offline extractor (no model), whose `exports` are never read."""
    if model is None:
        return None
    usages = measured_usages(exports, extractor, endpoint)
    return CostEstimate(questions, model, per_question(usages), measured_from=len(usages))


def cost_plan_lines(estimate: CostEstimate | None) -> list[str]:
    return [NO_API_COST] if estimate is None else estimate.lines()
