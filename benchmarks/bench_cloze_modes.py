"""Cost of the two cloze modes on the bundled questions, against the fake Messages API (`python
benchmarks/bench_cloze_modes.py`): calls and tokens per question with clozes chosen inside the extraction calls
("folded") or in one more call over all of a question's statements ("separate"). The fake counts tokens as
characters / 4 and answers deterministically, so this compares the request structure, not Claude's output; the
quality of the two modes needs a real API key. Appends to benchmarks/results.md.
"""

import asyncio
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extraction import ROOT, machine  # noqa: E402
from results_file import append_results  # noqa: E402

from mksap_assets.domain.config import LLMConfig
from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question  # noqa: E402
from mksap_assets.resources import PipelineResource  # noqa: E402
from mksap_assets.settings import Settings  # noqa: E402
from mksap_devtools.fake_api import FakeAnthropic  # noqa: E402


def measure(mode: str, raws) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=ROOT / "data" / "questions", output_dir=Path(tmp), store_dir=Path(tmp),
            dagster_home=Path(tmp), llm=LLMConfig(provider="anthropic", cloze_mode=mode, cache_dir=Path(tmp) / "c"),
        )

        async def run():
            extractor = PipelineResource.from_settings(settings).build_extractor()
            try:
                return [await extractor.extract(raw) for raw in raws]
            finally:
                await extractor.aclose()

        extractions = asyncio.run(run())
    totals = {"calls": 0, "input": 0, "cache_read": 0, "cache_write": 0, "output": 0, "cost": 0.0, "statements": 0}
    for e in extractions:
        totals["calls"] += e.usage.calls
        totals["input"] += e.usage.input_tokens
        totals["cache_read"] += e.usage.cache_read_input_tokens
        totals["cache_write"] += e.usage.cache_creation_input_tokens
        totals["output"] += e.usage.output_tokens
        totals["cost"] += e.usage.cost_usd
        totals["statements"] += e.statement_count
    return totals


def main() -> None:
    raws = [load_raw_question(f) for f in discover_questions(ROOT / "data" / "questions")]
    rows = []
    with FakeAnthropic() as fake:
        os.environ.update({"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-bench-not-a-real-key"})
        for mode in ("folded", "separate"):
            fake.clear_cache()
            t = measure(mode, raws)
            n = len(raws)
            rows.append(
                f"| {mode} | {t['calls'] / n:.2f} | {t['input'] / n:.0f} | {t['cache_read'] / n:.0f} | "
                f"{t['cache_write'] / n:.0f} | {t['output'] / n:.0f} | {t['cost'] / n * 1000:.3f} | {t['statements']} |"
            )
    lines = [
        f"\n## Cloze modes: cost per question on the fake API ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        f"`python benchmarks/bench_cloze_modes.py`, the {len(raws)} bundled questions, model claude-haiku-5-5 prices. "
        f"Machine: {machine()}. Tokens as the fake counts them (characters / 4); quality not measured (needs the "
        "real API).",
        "",
        "| mode | calls | input tokens | cache read | cache write | output tokens | cost (m$) | statements |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    append_results(lines)


if __name__ == "__main__":
    main()
