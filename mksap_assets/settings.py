"""Where things live, resolved once from the environment.

Relative values of the MKSAP_* variables are taken relative to the current directory, as a shell user expects;
the defaults are anchored at the project root so that `make run`, `dagster dev` and the tests agree wherever they
are started from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value not in ("0", "false", "no", "off")


def _optional_number(name: str) -> float | None:
    """The variable as a number, None when unset; a value that is not a number is an error naming the variable."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {value!r}") from None


def _number(name: str, default: float) -> float:
    value = _optional_number(name)
    return default if value is None else value


DEFAULT_MODEL = "claude-haiku-5-5"
# Provider, model and cloze mode are pinned in the Dagster instance (`mksap settings`): these variables only give
# the values an instance pins first, and `mksap run` / `mksap plan` warn when they ask for something else.
PINNED_ENV = {"provider": "MKSAP_LLM_PROVIDER", "model": "MKSAP_LLM_MODEL", "cloze_mode": "MKSAP_CLOZE_MODE"}


def pinned_choices_from_env() -> dict[str, str]:
    """The pinned settings this process's environment asks for: field name -> value, only those set."""
    values = {name: os.environ.get(variable, "").strip() for name, variable in PINNED_ENV.items()}
    return {name: value.lower() if name == "provider" else value for name, value in values.items() if value}


def has_api_key() -> bool:
    """Whether this process has an API key (only the SDK reads its value)."""
    return bool(os.environ.get("ANTHROPIC_API_KEY"))


@dataclass(frozen=True)
class LLMSettings:
    """How to call Claude. The API key is not here: the SDK reads ANTHROPIC_API_KEY itself, so it never enters
    Dagster config, metadata or logs. Provider, model and cloze mode are the values a Dagster instance pins
    first (domain/extraction/settings.py); once pinned, the pin decides."""

    provider: str = ""  # "anthropic" | "offline" | "" (= anthropic when ANTHROPIC_API_KEY is set)
    model: str = DEFAULT_MODEL
    concurrency: int = 32
    cloze_mode: str = "folded"
    cache_dir: Path = PROJECT_ROOT / "data" / "cache" / "llm"
    cache_enabled: bool = True
    cache_ttl: float | None = None
    cache_max_entries: int | None = None
    # Starting limits (requests, input and output tokens per minute); the limiter corrects them from the headers.
    rpm: float | None = 1000
    itpm: float | None = 2_000_000
    otpm: float | None = 400_000
    timeout: float = 120.0  # per read (the SDK's httpx timeout)
    max_retries: int = 4
    # One HTTP attempt, connect and every read, at most; the SDK retries an attempt cut off here. Generous: a
    # 16,000-token answer (the largest budget, client.py) from a slow model takes minutes.
    request_deadline: float = 600.0
    # A retry-after (or a pause the limiter derives from one) is cut to this.
    max_pause: float = 60.0
    # One question, all its stages and its calls' retries and waits, at most.
    question_budget: float = 1800.0

    @classmethod
    def from_env(cls) -> LLMSettings:
        defaults = cls()
        max_entries = _optional_number("MKSAP_LLM_CACHE_MAXSIZE")
        chosen = pinned_choices_from_env()
        return cls(
            provider=chosen.get("provider", defaults.provider),
            model=chosen.get("model", defaults.model),
            concurrency=int(_number("MKSAP_LLM_CONCURRENCY", defaults.concurrency)),
            cloze_mode=chosen.get("cloze_mode", defaults.cloze_mode),
            cache_dir=_path_from_env("MKSAP_LLM_CACHE_DIR", defaults.cache_dir),
            cache_enabled=_flag("MKSAP_LLM_CACHE_ENABLED", True),
            cache_ttl=_optional_number("MKSAP_LLM_CACHE_TTL"),
            cache_max_entries=int(max_entries) if max_entries else None,
            rpm=_optional_number("MKSAP_LLM_RPM") or defaults.rpm,
            itpm=_optional_number("MKSAP_LLM_ITPM") or defaults.itpm,
            otpm=_optional_number("MKSAP_LLM_OTPM") or defaults.otpm,
            timeout=_number("MKSAP_LLM_TIMEOUT", defaults.timeout),
            max_retries=int(_number("MKSAP_LLM_MAX_RETRIES", defaults.max_retries)),
            request_deadline=_number("MKSAP_LLM_REQUEST_DEADLINE", defaults.request_deadline),
            max_pause=_number("MKSAP_LLM_MAX_PAUSE", defaults.max_pause),
            question_budget=_number("MKSAP_QUESTION_BUDGET", defaults.question_budget),
        )


def default_validation_workers() -> int:
    """Validation's worker processes: one core is left to the run's own process (event loop, HTTP, Dagster)."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def default_engine_process() -> bool:
    """Questions run in an engine process beside the run's (which then only records Dagster's events) when there is
    a core to spare for it."""
    return (os.cpu_count() or 1) >= 2


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    output_dir: Path
    store_dir: Path
    dagster_home: Path
    llm: LLMSettings = field(default_factory=LLMSettings)
    # 0 validates in the run's own thread (what the tests use: no process start per test).
    validation_workers: int = field(default_factory=default_validation_workers)
    # False runs the questions' event loop in a thread of the run's process (tests: no process start per run).
    engine_process: bool = field(default_factory=default_engine_process)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            data_dir=_path_from_env("MKSAP_DATA_DIR", PROJECT_ROOT / "data" / "questions"),
            output_dir=_path_from_env("MKSAP_OUTPUT_DIR", PROJECT_ROOT / "data" / "output"),
            store_dir=_path_from_env("MKSAP_STORE_DIR", PROJECT_ROOT / "data" / "store"),
            dagster_home=_path_from_env("DAGSTER_HOME", PROJECT_ROOT / ".dagster_home"),
            llm=LLMSettings.from_env(),
            validation_workers=int(os.environ.get("MKSAP_VALIDATION_WORKERS") or default_validation_workers()),
            engine_process=_flag("MKSAP_ENGINE_PROCESS", default_engine_process()),
        )
