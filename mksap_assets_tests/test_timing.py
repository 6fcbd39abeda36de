"""duration_ms is a stage's work: flat across a run whose queues grow, while wait_ms takes the queueing (issue 13).

100 questions go through the real pipeline (the Claude extractor against a fake Messages API with a fixed latency,
one validation worker), started faster than the API's request slots can serve them: the queue for the slots grows
through the run, so each question waits longer than the one before (in a long real run, the validation worker's
queue grows the same way). Before wait_ms, that wait was in duration_ms. The questions start one by one, not all
at once, so that the first tenth is not measured in a start-up burst of the event loop: the time a question waits
for the loop itself is not measured apart (waits.py).
"""

import asyncio
import shutil
import statistics
import tempfile
from pathlib import Path

import pytest

from mksap_assets.domain.engine.pipeline import (
    EXTRACTED,
    STAGES,
    QuestionOutcome,
    StageResult,
)
from mksap_assets.domain.engine.spec import build_pipeline
from mksap_assets.sample_bank import replicate_samples
from mksap_assets_tests.domain.test_runner import offline_spec

LATENCY = 0.4  # seconds per API call: large beside the event loop's own delays, so extraction's work is steady
REQUEST_SLOTS = 16  # about 12 questions a second (3 to 4 calls each)
START_INTERVAL = 0.04  # 25 questions a second
QUESTIONS = 100
KINDS = 10  # copy i is sample i % 10, so the first and the last tenth are copies of the same ten questions


@pytest.fixture
def in_memory_dir(tmp_path: Path):
    """A folder in memory (tmpfs) where there is one: on disk, the CPU time of each write's flush (work, waits.py)
    swings with everything else the machine writes."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="mksap-timing-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _run(spec, warm_up: list[str], question_ids: list[str]) -> list[QuestionOutcome]:
    pipeline = build_pipeline(spec)  # on the loop that uses its API client
    try:
        # First calls pay one-off costs (the SDK's first request, the worker's first validation) that are not what
        # this test compares.
        await asyncio.gather(*(pipeline.run(question_id) for question_id in warm_up))

        async def start_later(delay: float, question_id: str) -> QuestionOutcome:
            await asyncio.sleep(delay)
            return await pipeline.run(question_id)

        return await asyncio.gather(*(start_later(i * START_INTERVAL, q) for i, q in enumerate(question_ids)))
    finally:
        await pipeline.aclose()


def _result(outcome: QuestionOutcome, stage: str) -> StageResult:
    return next(result for result in outcome.results if result.stage == stage)


NOISE_MS = 5.0


@pytest.mark.slow
def test_duration_stays_flat_while_the_wait_grows_with_the_queue(in_memory_dir, fake_api_factory, monkeypatch):
    fake = fake_api_factory(latency=LATENCY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-fake")
    ids = replicate_samples(in_memory_dir / "bank", KINDS + QUESTIONS, kinds=KINDS)
    offline = offline_spec(in_memory_dir, validation_workers=1)
    spec = offline.replace(
        data_dir=in_memory_dir / "bank",
        llm=offline.llm.replace(provider="anthropic", model="claude-haiku-5-5", concurrency=REQUEST_SLOTS),
    )
    outcomes = asyncio.run(_run(spec, ids[:KINDS], ids[KINDS:]))
    assert all(outcome.ok for outcome in outcomes), [o.error for o in outcomes if not o.ok][:3]

    tenth = QUESTIONS // 10
    first, last = outcomes[:tenth], outcomes[-tenth:]  # in start order

    def mean(part: list[QuestionOutcome], stage: str, measure: str) -> float:
        return statistics.mean(getattr(_result(outcome, stage), measure) for outcome in part)

    report = ["mean of the first tenth -> mean of the last tenth"] + [
        f"{stage}: duration_ms {mean(first, stage, 'duration_ms'):.1f} -> {mean(last, stage, 'duration_ms'):.1f}, "
        f"wait_ms {mean(first, stage, 'wait_ms'):.1f} -> {mean(last, stage, 'wait_ms'):.1f}"
        for stage in STAGES
    ]
    print("\n".join(report))
    for stage in STAGES:
        assert all(_result(o, stage).duration_ms >= 0 and _result(o, stage).wait_ms >= 0 for o in outcomes)
        work_first, work_last = mean(first, stage, "duration_ms"), mean(last, stage, "duration_ms")
        # Within 2x of each other, give or take NOISE_MS: a stage of a millisecond or two (the export) varies with
        # warm caches and a loaded machine by more than 2x without growing with the queue (1.6 -> 0.8 ms seen in CI).
        assert max(work_first, work_last) <= 2 * min(work_first, work_last) + NOISE_MS, report
    # The queue grew, and the old duration_ms (the wall time, wait included) would have climbed with it.
    wait_first, wait_last = mean(first, EXTRACTED, "wait_ms"), mean(last, EXTRACTED, "wait_ms")
    assert wait_last > 2 * wait_first, report
    assert wait_last + mean(last, EXTRACTED, "duration_ms") > 2 * (wait_first + mean(first, EXTRACTED, "duration_ms"))
