"""Who can extract a project's statements, by the name pinned in its settings: the LLM providers, and the offline
extractor (rule-based, no provider). One table for the names the settings accept, for building a run's extractor,
and for the identity every question's fingerprint records, so that the three cannot disagree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mksap_assets.domain.llm.provider import ProviderKind
from mksap_assets.domain.llm.providers.anthropic import Anthropic

if TYPE_CHECKING:
    from mksap_assets.domain.config import LLMConfig
    from mksap_assets.domain.engine.changes import ExtractorIdentity
    from mksap_assets.domain.extraction.base import Extractor

# Extractors and identities are imported where they are made: the settings (so every command) import this table.
LLM_PROVIDERS: dict[str, ProviderKind] = {kind.name: kind for kind in (Anthropic(),)}
OFFLINE = "offline"


def provider_names() -> tuple[str, ...]:
    """The names the settings accept (read at each use: a test may register a provider)."""
    return (*LLM_PROVIDERS, OFFLINE)


def _llm_provider(name: str) -> ProviderKind:
    try:
        return LLM_PROVIDERS[name]
    except KeyError:
        raise ValueError(f"provider must be one of {', '.join(provider_names())}, not {name!r}") from None


def build_extractor(llm: LLMConfig) -> Extractor:
    """The extractor of a run (`llm.provider` already resolved); an LLM provider's client is created here, inside
    the run, never at import time."""
    from mksap_assets.domain.extraction.llm_extractor import LLMExtractor
    from mksap_assets.domain.extraction.offline import OfflineExtractor

    if llm.provider == OFFLINE:
        return OfflineExtractor()
    return LLMExtractor(_llm_provider(llm.provider).build(llm), cloze_mode=llm.cloze_mode)  # type: ignore[arg-type]


def credential(provider: str) -> str | None:
    """The environment variable a process needs to extract with `provider`, or None."""
    return None if provider == OFFLINE else _llm_provider(provider).credential


def endpoint(provider: str) -> str | None:
    """Where the provider's calls would go now when that is not its own API (a fake, a proxy), else None; the
    offline extractor calls nothing."""
    return None if provider == OFFLINE else _llm_provider(provider).endpoint()


def extractor_identity(provider: str, *, model: str, cloze_mode: str) -> ExtractorIdentity:
    """What `build_extractor` would extract with now (name, model, what it asks, how it validates, which endpoint),
    without creating any client: what the sensor compares with each question's recorded fingerprint."""
    from mksap_assets.domain.engine.changes import ExtractorIdentity
    from mksap_assets.domain.extraction.llm_extractor import llm_prompt_version
    from mksap_assets.domain.extraction.offline import OfflineExtractor
    from mksap_assets.domain.extraction.prompts import repair_prompt_version
    from mksap_assets.domain.extraction.repair import validation_identity
    from mksap_assets.domain.validation import VALIDATOR_VERSION

    if provider == OFFLINE:
        offline = OfflineExtractor
        return ExtractorIdentity(offline.name, offline.model, offline.prompt_version, VALIDATOR_VERSION)
    kind = _llm_provider(provider)
    return ExtractorIdentity(kind.name, model, llm_prompt_version(cloze_mode),
                             validation_identity(repair_prompt_version()), endpoint(provider))
