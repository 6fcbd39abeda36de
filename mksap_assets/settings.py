"""The environment, read in one place: every MKSAP_* variable (and DAGSTER_HOME) becomes a field of the typed config
(but MKSAP_POSTGRES_URL, which Dagster reads itself: see Settings).

Relative paths in MKSAP_* variables are taken relative to the current directory, as a shell user expects; the
defaults are anchored at the project root so that `make run`, `dagster dev` and the tests agree wherever they are
started from. A value that does not fit its field fails with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError

from mksap_assets.domain.config import PipelineConfig
from mksap_assets.domain.extraction.registry import credential

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Variable -> field path in Settings. The only table of variable names (the README's configuration table lists them).
ENV_FIELDS: dict[str, tuple[str, ...]] = {
    "MKSAP_DATA_DIR": ("data_dir",),
    "MKSAP_OUTPUT_DIR": ("output_dir",),
    "MKSAP_STORE_DIR": ("store_dir",),
    "DAGSTER_HOME": ("dagster_home",),
    "MKSAP_LLM_PROVIDER": ("llm", "provider"),
    "MKSAP_LLM_MODEL": ("llm", "model"),
    "MKSAP_CLOZE_MODE": ("llm", "cloze_mode"),
    "MKSAP_LLM_MODE": ("llm", "mode"),
    "MKSAP_LLM_CONCURRENCY": ("llm", "concurrency"),
    "MKSAP_LLM_RPM": ("llm", "rpm"),
    "MKSAP_LLM_ITPM": ("llm", "itpm"),
    "MKSAP_LLM_OTPM": ("llm", "otpm"),
    "MKSAP_LLM_TIMEOUT": ("llm", "timeout"),
    "MKSAP_LLM_MAX_RETRIES": ("llm", "max_retries"),
    "MKSAP_LLM_REQUEST_DEADLINE": ("llm", "request_deadline"),
    "MKSAP_LLM_MAX_PAUSE": ("llm", "max_pause"),
    "MKSAP_LLM_CACHE_DIR": ("llm", "cache_dir"),
    "MKSAP_LLM_CACHE_ENABLED": ("llm", "cache_enabled"),
    "MKSAP_LLM_CACHE_TTL": ("llm", "cache_ttl"),
    "MKSAP_LLM_CACHE_MAXSIZE": ("llm", "cache_max_entries"),
    "MKSAP_LLM_CACHE_URL": ("llm", "cache_url"),
    "MKSAP_LLM_LIMITER_URL": ("llm", "limiter_url"),
    "MKSAP_QUESTION_BUDGET": ("question_budget",),
    "MKSAP_BUDGET_USD": ("budget_usd",),
    "MKSAP_VALIDATION_WORKERS": ("validation_workers",),
    "MKSAP_ENGINE_PROCESS": ("engine_process",),
    "MKSAP_NLP_MODEL": ("nlp_model",),
    "MKSAP_SENSOR_INTERVAL": ("sensor_interval",),
    "MKSAP_STORAGE": ("storage",),
    "MKSAP_PARTITIONS_PER_RUN": ("partitions_per_run",),
}
PATH_VARIABLES = {"MKSAP_DATA_DIR", "MKSAP_OUTPUT_DIR", "MKSAP_STORE_DIR", "DAGSTER_HOME", "MKSAP_LLM_CACHE_DIR"}
# Provider, model and cloze mode are pinned in the Dagster instance (`mksap settings`): these variables only give
# the values an instance pins first, and `mksap run` / `mksap plan` warn when they ask for something else.
PINNED_ENV = {"provider": "MKSAP_LLM_PROVIDER", "model": "MKSAP_LLM_MODEL", "cloze_mode": "MKSAP_CLOZE_MODE"}


class ConfigError(ValueError):
    """A configuration value that does not fit: the message names the variable (or run-config field)."""


StorageProfile = Literal["sqlite", "postgres", "cluster"]


class Settings(PipelineConfig):
    """The pipeline's config plus what only the Dagster shell needs. (MKSAP_POSTGRES_URL is not here: Dagster reads
    it itself when it loads a postgres instance, `env:` in its dagster.yaml; storage/postgres.py reads the same.)"""

    dagster_home: Path
    sensor_interval: int = Field(60, ge=1, le=86400, description="seconds between the question sensor's ticks")
    storage: StorageProfile = Field("sqlite", description="the instance profile `mksap init` installs")
    # Checked by the sensor and `mksap run` before they launch work (budget.py); None: no budget.
    budget_usd: float | None = Field(None, ge=0, allow_inf_nan=False,
                                     description="the most the estimate of the work about to be launched may cost")
    partitions_per_run: int | None = Field(
        None, ge=1, description="questions per run of a backfill or a sensor tick (unset: one run per contiguous "
        "range, of at most 500 questions)"
    )

    @classmethod
    def from_env(cls) -> Settings:
        return resolve_settings()

    def pipeline_config(self) -> PipelineConfig:
        return PipelineConfig.model_validate({name: getattr(self, name) for name in PipelineConfig.model_fields})


def _defaults() -> dict[str, Any]:
    return {
        "data_dir": PROJECT_ROOT / "data" / "questions",
        "output_dir": PROJECT_ROOT / "data" / "output",
        "store_dir": PROJECT_ROOT / "data" / "store",
        "dagster_home": PROJECT_ROOT / ".dagster_home",
        "llm": {"cache_dir": PROJECT_ROOT / "data" / "cache" / "llm"},
    }


def _set_path(values: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for name in path[:-1]:
        values = values.setdefault(name, {})
    values[path[-1]] = value


def nested_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` applied, nested dicts merged field by field ({"llm": {"concurrency": 3}} keeps the
    other llm fields)."""
    merged = dict(base)
    for name, value in overrides.items():
        merged[name] = nested_merge(merged.get(name) or {}, value) if isinstance(value, Mapping) else value
    return merged


def environment_values(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The set (non-empty) variables as a nested dict of Settings fields."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for variable, path in ENV_FIELDS.items():
        value = environ.get(variable, "").strip()
        if value:
            _set_path(values, path, Path(value).expanduser().resolve() if variable in PATH_VARIABLES else value)
    if "provider" in values.get("llm", {}):
        values["llm"]["provider"] = values["llm"]["provider"].lower()
    return values


def _source_of(location: tuple[Any, ...], from_env: dict[str, Any]) -> str:
    path = tuple(str(part) for part in location)
    variable = next((name for name, field in ENV_FIELDS.items() if field == path), None)
    node: Any = from_env
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    if variable and node is not None:
        return variable
    return "run config " + ".".join(path)


def _shown(value: Any) -> str:
    """A refused value as the error message shows it: a URL's password hidden (MKSAP_LLM_CACHE_URL and
    MKSAP_LLM_LIMITER_URL refuse one)."""
    try:
        password = urlsplit(value).password if isinstance(value, str) else None
    except ValueError:
        password = None
    return repr(value.replace(f":{password}@", ":***@") if password else value)


def resolve_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults, then the environment, then explicit overrides (a run's resource config), validated as one model."""
    from_env = environment_values(environ)
    try:
        return Settings.model_validate(nested_merge(nested_merge(_defaults(), from_env), overrides or {}))
    except ValidationError as exc:
        problems = [f"{_source_of(e['loc'], from_env)}: {e['msg']} (got {_shown(e['input'])})" for e in exc.errors()]
        raise ConfigError("; ".join(problems)) from None


def setting_from_env(variable: str) -> Any:
    """One variable's setting, resolved from that variable alone and validated: read when the code location loads,
    where a bad value of another variable must not stop it loading."""
    value: Any = resolve_settings({variable: os.environ.get(variable, "")})
    for name in ENV_FIELDS[variable]:
        value = getattr(value, name)
    return value


def sensor_interval_from_env() -> int:
    return setting_from_env("MKSAP_SENSOR_INTERVAL")


def partitions_per_run_from_env() -> int | None:
    return setting_from_env("MKSAP_PARTITIONS_PER_RUN")


def budget_from_env() -> float | None:
    """MKSAP_BUDGET_USD alone, validated, for the sensor's tick (the CLI reads it with the other settings)."""
    return setting_from_env("MKSAP_BUDGET_USD")


def pinned_choices_from_env() -> dict[str, str]:
    """The pinned settings this process's environment asks for: field name -> value, only those set."""
    llm = environment_values().get("llm", {})
    return {name: llm[name] for name in PINNED_ENV if name in llm}


def has_variable(name: str) -> bool:
    """Whether this process has a credential such as ANTHROPIC_API_KEY set (only the provider's SDK reads its
    value)."""
    return bool(os.environ.get(name))


def has_api_key() -> bool:
    """Whether this process could extract with Claude: what an instance pins first (extraction/settings.py)."""
    return has_variable(credential("anthropic") or "")

