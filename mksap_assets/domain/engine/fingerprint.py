"""The change fingerprint of one question's output: what went in and which code and prompt made it."""

from __future__ import annotations

import hashlib

from mksap_assets.domain.inputs.tables import TABLE_PARSER_VERSION
from mksap_assets.domain.text import NORMALISER_VERSION

# Bump when the pipeline's own wiring changes what it writes (export layout, stage order).
PIPELINE_VERSION = "1"


def fingerprint(
    *, input_sha256: str, extractor: str, model: str | None, prompt_version: str, validator_version: str,
    endpoint: str | None = None,
) -> str:
    """`endpoint` is set only for an API other than Anthropic's own (llm/providers/anthropic/endpoint.py), so that
    answers from a fake or a proxy never count as Claude's, while every other fingerprint stays what it was."""
    parts = [
        f"input={input_sha256}",
        f"extractor={extractor}",
        f"model={model or '-'}",
        f"prompt={prompt_version}",
        f"validator={validator_version}",
        f"normaliser={NORMALISER_VERSION}",
        f"tables={TABLE_PARSER_VERSION}",
        f"pipeline={PIPELINE_VERSION}",
        *([f"endpoint={endpoint}"] if endpoint else []),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
