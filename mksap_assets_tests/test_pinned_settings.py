"""Provider, model and cloze mode are pinned in the Dagster instance: a process's environment selects nothing.

The incident these guard against: `make dev`'s daemon had no API key, and one tick after a Claude-backed `make run`
its sensor re-extracted every question offline over the paid exports.
"""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import orjson
import pytest

from mksap_assets.cli import (
    cmd_init,
    cmd_plan,
    cmd_run,
    cmd_settings,
    main,
)
from mksap_assets.definitions import build_definitions
from mksap_assets.domain.config import DEFAULT_MODEL
from mksap_assets.domain.exports.document import export_path
from mksap_assets.domain.extraction.settings import ExtractionSettings
from mksap_assets.domain.llm.cost_plan import (
    DEFAULT_PER_QUESTION,
    NO_API_COST,
    CostEstimate,
    dollars,
)
from mksap_assets.partitions import range_tags
from mksap_assets.pinned_settings import read_pin, write_pin
from mksap_assets.resources import PipelineResource
from mksap_assets.settings import Settings, resolve_settings
from mksap_assets.storage.event_batches import EVENT_BATCH_SIZE, EVENT_BATCH_SIZE_VAR
from mksap_assets.storage.postgres import DEFAULT_POSTGRES_URL, POSTGRES_URL_VAR
from mksap_assets.storage.profiles import install
from mksap_assets_tests.helpers import sample_ids
from mksap_assets_tests.test_sensor import Harness
from mksap_devtools.fake_api import FakeAnthropic

API_KEY = "sk-ant-test-pinned-0123456789"
OTHER_MODEL = "claude-sonnet-5-5"
PINNED_ENV_VARIABLES = ("MKSAP_LLM_PROVIDER", "MKSAP_LLM_MODEL", "MKSAP_CLOZE_MODE")
NO_KEY = "pinned provider anthropic needs ANTHROPIC_API_KEY, which the process running this {} does not have"


@pytest.fixture
def env(monkeypatch, settings: Settings) -> pytest.MonkeyPatch:
    """No pinned-setting variable or API key from the developer's shell; what the CLI sets in this process's
    environment (`_instance`) is restored after the test."""
    for name in (*PINNED_ENV_VARIABLES, "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))
    monkeypatch.setenv(EVENT_BATCH_SIZE_VAR, str(EVENT_BATCH_SIZE))
    monkeypatch.setenv(POSTGRES_URL_VAR, DEFAULT_POSTGRES_URL)
    return monkeypatch


@pytest.fixture
def on_disk(settings: Settings, env) -> Iterator[dg.DagsterInstance]:
    """The project's SQLite instance in settings.dagster_home, as `make run` and `make dev` share it."""
    install(settings.dagster_home, "sqlite")
    with dg.DagsterInstance.get() as instance:
        yield instance


@pytest.fixture
def anthropic_export(settings: Settings, on_disk, env, fake_api: FakeAnthropic, tmp_path, capsys) -> dict[str, bytes]:
    """`make run` from a shell with an API key and no MKSAP_LLM_* variable: anthropic is pinned, every question is
    exported by Claude (the fake API). Returns the exports' bytes."""
    env.setenv("ANTHROPIC_API_KEY", API_KEY)
    env.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    settings = settings.replace(llm=settings.llm.replace(cache_dir=tmp_path / "llm-cache"))
    assert cmd_run(settings, []) == 0
    capsys.readouterr()
    assert read_pin(on_disk) == ExtractionSettings("anthropic", DEFAULT_MODEL, "folded")
    exports = _exports(settings)
    assert len(exports) == len(sample_ids(settings.data_dir))
    assert {orjson.loads(data)["provenance"]["extractor"] for data in exports.values()} == {"anthropic"}
    return exports


def _exports(settings: Settings) -> dict[str, bytes]:
    return {key: export_path(settings.output_dir, key).read_bytes() for key in sample_ids(settings.data_dir)}


def _step_failures(result) -> list[str]:
    return [event.step_failure_data.error.message for event in result.all_events if event.is_step_failure]


def test_the_pin_is_stored_in_the_instance_and_read_by_every_process_on_it(on_disk, settings: Settings):
    pinned = ExtractionSettings("anthropic", OTHER_MODEL, "separate")
    write_pin(on_disk, pinned)
    with dg.DagsterInstance.get() as another_process:  # what the daemon, a run worker or `mksap` opens
        assert read_pin(another_process) == pinned
    with dg.DagsterInstance.ephemeral() as elsewhere:
        assert read_pin(elsewhere) is None


def test_the_first_use_pins_the_resources_values_then_the_pin_decides(settings: Settings, env):
    with dg.DagsterInstance.ephemeral() as instance:
        first = PipelineResource.from_settings(settings.replace(llm=settings.llm.replace(model=OTHER_MODEL)))
        assert first.pinned_to(instance).extraction_settings() == ExtractionSettings("offline", OTHER_MODEL, "folded")
        env.setenv("ANTHROPIC_API_KEY", API_KEY)
        asks_otherwise = PipelineResource.from_settings(
            settings.replace(llm=settings.llm.replace(provider="anthropic", cloze_mode="separate"))
        )
        assert asks_otherwise.pinned_to(instance).extraction_settings() == ExtractionSettings(
            "offline", OTHER_MODEL, "folded"
        )
    with dg.DagsterInstance.ephemeral() as instance:  # no provider asked for: the API key decides the first pin
        assert PipelineResource.from_settings(settings).pinned_to(instance).provider() == "anthropic"


def test_a_daemon_without_the_key_never_overwrites_the_anthropic_exports(
    settings: Settings, on_disk, anthropic_export, fake_api: FakeAnthropic, env
):
    env.delenv("ANTHROPIC_API_KEY")  # the daemon of `make dev`, started without it
    fake_api.reset_stats()
    daemon = Harness(settings, on_disk)
    skipped = daemon.tick()
    assert isinstance(skipped, dg.SkipReason)
    assert skipped.skip_message.startswith(NO_KEY.format("sensor"))
    # A run launched anyway (the UI, a shell) fails before calling anything, with the same reason.
    keys = sample_ids(settings.data_dir)
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=on_disk, tags=range_tags(keys[0], keys[-1]), raise_on_error=False)
    assert not result.success
    [failure] = _step_failures(result)
    assert NO_KEY.format("run") in failure
    assert fake_api.stats.total_requests == 0
    assert _exports(settings) == anthropic_export


def test_an_environment_asking_for_another_extractor_or_model_replaces_nothing(
    settings: Settings, on_disk, anthropic_export, env, capsys
):
    env.setenv("MKSAP_LLM_PROVIDER", "offline")
    env.setenv("MKSAP_LLM_MODEL", OTHER_MODEL)
    daemon = Harness(settings.replace(llm=resolve_settings().llm), on_disk)
    skipped = daemon.tick()
    assert isinstance(skipped, dg.SkipReason) and skipped.skip_message.startswith("nothing changed")
    assert _exports(settings) == anthropic_export
    # Only a change of the pin makes them stale, and the plan names it.
    spent = sum(orjson.loads(data)["provenance"]["llm_usage"]["cost_usd"] for data in anthropic_export.values())
    assert cmd_settings(settings, {"provider": "offline"}) == 0
    keys = sample_ids(settings.data_dir)
    assert f"{len(keys)} questions made stale by this change" in capsys.readouterr().out
    assert cmd_plan(settings, verbose=False) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"{key}\textractor changed: anthropic → offline" for key in keys] + [
        f"{len(keys)} to run, 0 to remove, 0 waiting, 0 up to date", NO_API_COST,
        f"spent so far: ${dollars(spent)} over 1 run (of which ${dollars(spent)} not billed: answered by an "
        "endpoint other than Anthropic's API)",  # the fake API's answers, metered and paid by nobody
    ]


def test_changing_the_pinned_model_makes_exactly_the_affected_questions_stale(
    settings: Settings, on_disk, anthropic_export, env, capsys
):
    keys = sample_ids(settings.data_dir)
    assert cmd_settings(settings, {"model": OTHER_MODEL}) == 0
    assert f"{len(keys)} questions made stale by this change" in capsys.readouterr().out
    # Two questions rerun with the new model, then the model is set back: those two only are stale.
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(instance=on_disk, tags=range_tags(keys[0], keys[1]), raise_on_error=False).success
    assert orjson.loads(export_path(settings.output_dir, keys[0]).read_bytes())["provenance"]["model"] == OTHER_MODEL
    assert cmd_settings(settings, {"model": DEFAULT_MODEL}) == 0
    assert "2 questions made stale by this change" in capsys.readouterr().out
    assert cmd_plan(settings, verbose=False) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[:3] == [
        f"{keys[0]}\tmodel changed: {OTHER_MODEL} → {DEFAULT_MODEL}",
        f"{keys[1]}\tmodel changed: {OTHER_MODEL} → {DEFAULT_MODEL}",
        f"2 to run, 0 to remove, 0 waiting, {len(keys) - 2} up to date",
    ]
    # every export was made by the fake API's answers
    assert lines[3].startswith(
        f"cost estimate for the 2 to run ({DEFAULT_MODEL}, from {len(keys)} earlier questions): ")


def test_plan_prints_the_cost_estimate_of_what_it_would_run(settings: Settings, on_disk, capsys):
    write_pin(on_disk, ExtractionSettings("anthropic", DEFAULT_MODEL, "folded"))
    keys = sample_ids(settings.data_dir)
    assert cmd_plan(settings, verbose=False) == 0
    estimate = CostEstimate(len(keys), DEFAULT_MODEL, DEFAULT_PER_QUESTION)  # no export yet
    total = estimate.total
    assert capsys.readouterr().out.strip().splitlines()[-4:] == [
        f"cost estimate for the {len(keys)} to run ({DEFAULT_MODEL}, default estimate): {total.requests:,} requests",
        f"  tokens: {total.input_tokens:,} input, {total.output_tokens:,} output, 0 cache write, 0 cache read",
        f"  USD {estimate.usd(batch=False):.4f} sync, {estimate.usd(batch=True):.4f} batch",  # below a dollar
        "spent so far: nothing (no run has paid for an API request)",
    ]


def test_plan_warns_when_the_environment_asks_for_other_settings(settings: Settings, on_disk, env, capsys):
    write_pin(on_disk, ExtractionSettings("anthropic", DEFAULT_MODEL, "folded"))
    env.setenv("MKSAP_LLM_PROVIDER", "offline")
    env.setenv("MKSAP_CLOZE_MODE", "folded")  # the pinned value: nothing to warn about
    assert cmd_plan(settings, verbose=False) == 0
    assert capsys.readouterr().err.splitlines() == [
        "warning: MKSAP_LLM_PROVIDER=offline ignored: this instance pins provider anthropic "
        "(to change it: mksap settings --provider offline)"
    ]
    env.setenv("MKSAP_LLM_PROVIDER", "anthropic")
    assert cmd_plan(settings, verbose=False) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("variables", "pinned"),
    [
        ({"ANTHROPIC_API_KEY": API_KEY}, ExtractionSettings("anthropic", DEFAULT_MODEL, "folded")),
        ({}, ExtractionSettings("offline", DEFAULT_MODEL, "folded")),
        (
            {"ANTHROPIC_API_KEY": API_KEY, "MKSAP_LLM_PROVIDER": "offline", "MKSAP_LLM_MODEL": OTHER_MODEL,
             "MKSAP_CLOZE_MODE": "separate"},
            ExtractionSettings("offline", OTHER_MODEL, "separate"),
        ),
    ],
)
def test_init_pins_the_initial_settings_once(settings: Settings, tmp_path: Path, env, capsys, variables, pinned):
    for name, value in variables.items():
        env.setenv(name, value)
    settings = settings.replace(llm=resolve_settings().llm)
    assert cmd_init(settings, env_file=tmp_path / ".env") == 0
    assert f"Extraction:       {pinned.describe()}" in capsys.readouterr().out
    with dg.DagsterInstance.get() as instance:
        assert read_pin(instance) == pinned
    env.setenv("MKSAP_LLM_PROVIDER", "anthropic")
    env.setenv("ANTHROPIC_API_KEY", API_KEY)
    assert cmd_init(settings.replace(llm=resolve_settings().llm), env_file=tmp_path / ".env") == 0
    with dg.DagsterInstance.get() as instance:
        assert read_pin(instance) == pinned  # an initialised instance keeps its pin


def test_the_settings_command_shows_changes_and_validates(settings: Settings, on_disk, env, capsys):
    assert cmd_settings(settings, {}) == 0
    assert capsys.readouterr().out.splitlines() == [
        "provider:   offline", f"model:      {DEFAULT_MODEL}", "cloze mode: folded"
    ]
    assert cmd_settings(settings, {"provider": "anthropic", "model": OTHER_MODEL, "cloze_mode": "separate"}) == 0
    assert capsys.readouterr().out.splitlines()[:3] == [
        "provider:   anthropic", f"model:      {OTHER_MODEL}", "cloze mode: separate"
    ]
    assert read_pin(on_disk) == ExtractionSettings("anthropic", OTHER_MODEL, "separate")
    assert cmd_settings(settings, {"model": " "}) == 2
    for bad in (["--provider", "openai"], ["--cloze-mode", "inline"]):
        with pytest.raises(SystemExit) as exit_:
            main(["settings", *bad])
        assert exit_.value.code == 2
    assert read_pin(on_disk) == ExtractionSettings("anthropic", OTHER_MODEL, "separate")
