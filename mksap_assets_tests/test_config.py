"""One typed config: defined once (domain/config.py), read from the environment in one place (settings.py), held by
the Dagster resource as a generated twin, resolved when a run starts."""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import get_args

import dagster as dg
import pytest
from pydantic import BaseModel, ValidationError

from mksap_assets.domain.config import LLMConfig, PipelineConfig
from mksap_assets.resources import PipelineOverrides, PipelineResource
from mksap_assets.settings import (
    ENV_FIELDS,
    PROJECT_ROOT,
    ConfigError,
    Settings,
    resolve_settings,
)


def _leaf_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths = set()
    for name, info in model.model_fields.items():
        nested = [t for t in (info.annotation, *get_args(info.annotation)) if isinstance(t, type)
                  and issubclass(t, BaseModel)]  # the twin's fields are optional: `LLMConfigOverrides | None`
        if nested:
            paths |= _leaf_paths(nested[0], (*prefix, name))
        else:
            paths.add((*prefix, name))
    return paths


def test_every_setting_has_exactly_one_variable_and_every_variable_a_setting():
    assert set(ENV_FIELDS.values()) == _leaf_paths(Settings)
    assert len(set(ENV_FIELDS.values())) == len(ENV_FIELDS)


def test_the_resource_config_is_generated_from_the_domain_model():
    assert _leaf_paths(PipelineOverrides) == _leaf_paths(PipelineConfig)
    assert issubclass(PipelineOverrides, dg.Config)


def test_defaults_are_the_projects_and_the_environment_overrides_them(monkeypatch, tmp_path):
    for variable in ENV_FIELDS:
        monkeypatch.delenv(variable, raising=False)
    default = resolve_settings()
    assert default.data_dir == PROJECT_ROOT / "data" / "questions"
    assert default.llm.cache_dir == PROJECT_ROOT / "data" / "cache" / "llm"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MKSAP_DATA_DIR", "bank")  # relative to the current directory, as a shell user expects
    monkeypatch.setenv("MKSAP_LLM_RPM", "50")
    monkeypatch.setenv("MKSAP_LLM_CACHE_ENABLED", "off")
    monkeypatch.setenv("MKSAP_LLM_PROVIDER", "Offline")
    chosen = resolve_settings()
    assert chosen.data_dir == tmp_path / "bank"
    assert (chosen.llm.rpm, chosen.llm.cache_enabled, chosen.llm.provider) == (50.0, False, "offline")


def test_unknown_fields_and_out_of_range_numbers_are_refused():
    with pytest.raises(ValidationError, match="extra"):
        LLMConfig(cache_dir=PROJECT_ROOT, concurency=3)
    for field, value in [("concurrency", 0), ("rpm", -1.0), ("max_retries", 99), ("timeout", 0.0)]:
        with pytest.raises(ValidationError):
            LLMConfig(cache_dir=PROJECT_ROOT, **{field: value})


def test_a_shared_cache_url_is_a_redis_url_without_its_password(monkeypatch):
    monkeypatch.setenv("MKSAP_LLM_CACHE_URL", "redis://cache.internal:6379/3")
    assert resolve_settings().llm.cache_url == "redis://cache.internal:6379/3"
    for url, reason in [("postgresql://db/mksap", "Redis URL"), ("redis://:s3cret@cache:6379/0", "MKSAP_LLM_CACHE_PASSWORD"),
                        ("redis://cache:sixty/0", "Port")]:
        monkeypatch.setenv("MKSAP_LLM_CACHE_URL", url)
        with pytest.raises(ConfigError, match="MKSAP_LLM_CACHE_URL") as raised:
            resolve_settings()
        assert reason in str(raised.value) and "s3cret" not in str(raised.value)


def test_two_bad_variables_are_both_named(monkeypatch):
    monkeypatch.setenv("MKSAP_VALIDATION_WORKERS", "-1")
    monkeypatch.setenv("MKSAP_CLOZE_MODE", "sideways")
    with pytest.raises(ConfigError) as raised:
        resolve_settings()
    assert "MKSAP_VALIDATION_WORKERS:" in str(raised.value) and "MKSAP_CLOZE_MODE:" in str(raised.value)


def test_run_config_overrides_the_environment_for_one_run(settings, monkeypatch):
    monkeypatch.setenv("MKSAP_LLM_CONCURRENCY", "5")
    from_env = PipelineResource()  # what the code location holds: nothing fixed
    assert from_env.resolved().llm.concurrency == 5
    assert from_env.overridden({"llm": {"concurrency": 7}}).resolved().llm.concurrency == 7
    fixed = PipelineResource.from_settings(settings)  # the CLI and tests: the environment decides nothing
    assert fixed.resolved().llm.concurrency == settings.llm.concurrency
    assert fixed.resolved() == settings.pipeline_config()


def test_the_engine_process_receives_the_config_itself(settings):
    spec = PipelineResource.from_settings(settings.replace(llm=settings.llm.replace(provider="offline"))).spec()
    assert type(spec) is PipelineConfig and pickle.loads(pickle.dumps(spec)) == spec


def test_the_code_location_loads_whatever_the_environment_says():
    """The environment is read when a run or tick starts, not when Dagster imports the definitions: a bad value
    fails that run, naming the variable, and the UI still loads."""
    script = ("import mksap_assets.definitions as d; r = d.defs.resources['pipeline'];\n"
              "try:\n    r.spec()\nexcept Exception as e:\n    print(type(e).__name__, e)")
    env = {"MKSAP_LLM_CONCURRENCY": "lots", "PATH": "/usr/bin:/bin", "HOME": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Failure" in done.stdout and "MKSAP_LLM_CONCURRENCY" in done.stdout
