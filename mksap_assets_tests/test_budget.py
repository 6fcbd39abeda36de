"""MKSAP_BUDGET_USD stops `mksap run` and the sensor before they launch work whose estimate exceeds it, never the
offline extractor; what each run paid accumulates in the report and in `mksap plan` (against the fake API, whose
costs are metered like Anthropic's)."""

import dagster as dg
import orjson
import pytest

from mksap_assets.cli import cmd_plan, cmd_run, main
from mksap_assets.domain.config import DEFAULT_MODEL
from mksap_assets.domain.extraction.settings import ExtractionSettings
from mksap_assets.domain.llm.cost_plan import (
    DEFAULT_PER_QUESTION,
    CostEstimate,
    dollars,
)
from mksap_assets.pinned_settings import write_pin
from mksap_assets.settings import ConfigError, Settings, budget_from_env
from mksap_assets_tests.helpers import edit_question, question_json, sample_ids
from mksap_assets_tests.test_pinned_settings import env, on_disk  # noqa: F401 (fixtures)
from mksap_assets_tests.test_sensor import Harness
from mksap_devtools.fake_api import FakeAnthropic

API_KEY = "sk-ant-test-budget-0123456789"
EXTRACTED = dg.AssetKey("extracted_statements")
VALIDATED = dg.AssetKey("validated_statements")


@pytest.fixture
def claude(settings: Settings, on_disk, env, fake_api: FakeAnthropic) -> Settings:  # noqa: F811
    """Claude pinned in the on-disk instance, its calls answered by the fake API; no export yet."""
    env.setenv("ANTHROPIC_API_KEY", API_KEY)
    env.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    env.delenv("MKSAP_BUDGET_USD", raising=False)
    env.delenv("MKSAP_LLM_MODE", raising=False)
    write_pin(on_disk, ExtractionSettings("anthropic", DEFAULT_MODEL, "folded"))
    return settings


def _first_estimate(settings: Settings) -> float:
    """No export yet: the default estimate of every sample question, at sync prices."""
    return CostEstimate(len(sample_ids(settings.data_dir)), DEFAULT_MODEL, DEFAULT_PER_QUESTION).usd(batch=False)


def test_a_budget_below_the_estimate_stops_mksap_run_before_anything_is_launched(
    claude: Settings, on_disk, fake_api: FakeAnthropic, capsys  # noqa: F811
):
    estimate = _first_estimate(claude)
    budget = estimate / 2
    assert cmd_run(claude.replace(budget_usd=budget), []) == 1
    error = capsys.readouterr().err
    questions = len(sample_ids(claude.data_dir))
    assert f"the estimated cost of the {questions} questions to run, ${dollars(estimate)} at sync prices" in error
    assert f"exceeds MKSAP_BUDGET_USD={dollars(budget)}: nothing launched" in error
    assert "mksap run --partition" in error and f"MKSAP_LLM_MODE=batch: ${dollars(estimate / 2)}" in error
    assert on_disk.get_runs() == [] and fake_api.stats.total_requests == 0
    assert not list(claude.output_dir.glob("[a-z][a-z]/*.json"))


def test_a_budget_above_the_estimate_lets_mksap_run_go_and_then_counts_only_what_would_reach_the_api(
    claude: Settings, on_disk, fake_api: FakeAnthropic, capsys  # noqa: F811
):
    assert cmd_run(claude.replace(budget_usd=_first_estimate(claude) * 2), []) == 0
    assert fake_api.stats.total_requests > 0 and len(on_disk.get_runs()) == 1
    # Everything is up to date now: a rerun is answered by the response cache, so even a zero budget allows it.
    fake_api.reset_stats()
    assert cmd_run(claude.replace(budget_usd=0.0), []) == 0
    assert fake_api.stats.total_requests == 0 and len(on_disk.get_runs()) == 2
    # With the cache off, the same rerun would reach the API for every question: refused.
    capsys.readouterr()
    no_cache = claude.replace(budget_usd=0.0, llm=claude.llm.replace(cache_enabled=False))
    assert cmd_run(no_cache, []) == 1
    assert "nothing launched" in capsys.readouterr().err and len(on_disk.get_runs()) == 2


def test_a_budget_below_the_estimate_stops_the_sensor_with_the_same_message(
    claude: Settings, on_disk, env, capsys  # noqa: F811
):
    estimate = _first_estimate(claude)
    env.setenv("MKSAP_BUDGET_USD", str(estimate / 2))
    daemon = Harness(claude, on_disk)
    skipped = daemon.tick()
    assert isinstance(skipped, dg.SkipReason)
    assert skipped.skip_message.startswith(f"the estimated cost of the {len(sample_ids(claude.data_dir))} questions")
    assert f"exceeds MKSAP_BUDGET_USD={dollars(estimate / 2)}: nothing launched" in skipped.skip_message
    # `mksap plan` says the same, beside the estimate.
    assert cmd_plan(claude.replace(budget_usd=estimate / 2), verbose=False) == 0
    assert f"budget: the sensor and `mksap run` would refuse this launch: {skipped.skip_message}" in (
        capsys.readouterr().out.splitlines())
    # In batch mode the estimate is at batch prices, which fit: the tick submits the batch instead of refusing.
    batch_tick = Harness(claude.replace(llm=claude.llm.replace(mode="batch")), on_disk).tick()
    # (not refused: it registers the partitions, and the questions wait for their batch, so no run yet)
    assert not isinstance(batch_tick, dg.SkipReason) and batch_tick.run_requests == []
    assert batch_tick.dynamic_partitions_requests
    env.setenv("MKSAP_BUDGET_USD", str(estimate))
    result = daemon.tick()
    assert not isinstance(result, dg.SkipReason) and len(result.run_requests) == 1


def test_the_offline_extractor_is_never_refused(settings: Settings, on_disk, env):  # noqa: F811
    write_pin(on_disk, ExtractionSettings("offline", DEFAULT_MODEL, "folded"))
    env.setenv("MKSAP_BUDGET_USD", "0")
    assert len(Harness(settings, on_disk).tick().run_requests) == 1
    assert cmd_run(settings.replace(budget_usd=0.0), []) == 0


@pytest.mark.parametrize("value, problem", [("lots", "valid number"), ("-1", "greater than or equal to 0"),
                                            ("nan", "finite number")])
def test_an_invalid_budget_is_a_clear_error(settings: Settings, on_disk, env, capsys, value, problem):  # noqa: F811
    env.setenv("MKSAP_BUDGET_USD", value)
    assert main(["run"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("mksap: MKSAP_BUDGET_USD: ") and problem in error and repr(value) in error
    assert on_disk.get_runs() == []
    # The sensor's tick, and any run, fail with the same reason, as for every other variable.
    with pytest.raises(dg.Failure, match=f"MKSAP_BUDGET_USD: .*{problem}"):
        Harness(settings, on_disk).tick()
    with pytest.raises(ConfigError, match=f"MKSAP_BUDGET_USD: .*{problem}"):
        budget_from_env()


def _paid_per_run(instance: dg.DagsterInstance) -> dict[str, float]:
    """What each run's materializations say it paid: the extraction and the repair turn of every question."""
    paid: dict[str, float] = {}
    for key, name in ((EXTRACTED, "cost_usd"), (VALIDATED, "repair_cost_usd")):
        for record in instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1000).records:
            paid[record.run_id] = paid.get(record.run_id, 0.0) + record.asset_materialization.metadata[name].value
    return paid


def test_the_money_spent_accumulates_across_runs_in_the_report_and_the_plan(
    claude: Settings, on_disk, capsys  # noqa: F811
):
    # The response cache off: the second run pays for every question again, as a rerun after a prompt change would.
    uncached = claude.replace(llm=claude.llm.replace(cache_enabled=False))
    assert cmd_run(uncached, []) == 0
    assert cmd_run(uncached, []) == 0
    paid = _paid_per_run(on_disk)
    assert len(paid) == 2 and all(cost > 0 for cost in paid.values())
    total = sum(paid.values())
    spend = (claude.output_dir / "report" / "spend.csv").read_text().splitlines()
    assert len(spend) == 1 + 2
    by_run = {row.split(",")[0]: float(row.split(",")[3]) for row in spend[1:]}
    assert by_run == pytest.approx(paid)
    summary = (claude.output_dir / "report" / "summary.md").read_text()
    spent = f"${dollars(total)} over 2 runs (of which ${dollars(total)} not billed"  # the fake API bills nobody
    assert f"| spent to date | {spent}" in summary
    # The report's cost is the current exports' (the second run's), the spend to date both runs'.
    latest = paid[on_disk.get_runs(limit=1)[0].run_id]
    assert f"| cost (USD) | {latest:.4f}" in summary
    # `mksap plan` says it beside the estimate of what is to run.
    key = sample_ids(claude.data_dir)[0]
    critique = orjson.loads(question_json(claude.data_dir, key).read_bytes())["critique"]
    edit_question(claude.data_dir, key, critique=critique + " An added closing sentence.")
    capsys.readouterr()
    assert cmd_plan(claude, verbose=False) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"spent so far: {spent}")
