"""The exported document: the input question's fields, its statements with their issues, validation and
provenance. Written to <output dir>/<system>/<question id>.json; the input file is never touched.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mksap_assets.domain.engine.fingerprint import PIPELINE_VERSION, fingerprint
from mksap_assets.domain.inputs.bank import RawQuestion
from mksap_assets.domain.statements import Extraction, LLMUsage, ValidatedStatements


def export_path(output_dir: Path, question_id: str) -> Path:
    return output_dir / question_id[:2] / f"{question_id}.json"


EXPORT_MISSING = "export missing"
EXPORT_UNREADABLE = "export unreadable"
# An export is written with two-space indentation and a final newline (store.write_json_atomic), so it ends with the
# only unindented closing brace; a nested one is always indented.
_EXPORT_END = b"\n}\n"


def export_problem(path: Path) -> str | None:
    """Why an export that the instance records cannot be used, or None. Cheap enough for every question on every
    sensor tick (a stat and a 3-byte read, no parse): it notices a deleted, emptied or truncated file, not bytes
    changed in the middle of one."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < len(_EXPORT_END):
                return EXPORT_UNREADABLE
            handle.seek(size - len(_EXPORT_END))
            return None if handle.read() == _EXPORT_END else EXPORT_UNREADABLE
    except FileNotFoundError:
        return EXPORT_MISSING
    except OSError:
        return EXPORT_UNREADABLE


def output_fingerprint(raw: RawQuestion, extraction: Extraction, validated: ValidatedStatements) -> str:
    return fingerprint(
        input_sha256=raw.input_sha256,
        extractor=extraction.extractor,
        model=extraction.model,
        prompt_version=extraction.prompt_version,
        validator_version=validated.validation.validator_version,
        endpoint=extraction.endpoint,
    )


def build_export(
    raw: RawQuestion,
    extraction: Extraction,
    validated: ValidatedStatements,
    *,
    nlp_pipeline: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    document = raw.question.model_dump(mode="json", exclude_unset=True)
    document["true_statements"] = {
        "from_critique": [s.model_dump(mode="json") for s in validated.from_critique],
        "from_key_points": [s.model_dump(mode="json") for s in validated.from_key_points],
    }
    document["table_statements"] = {
        "statements": [s.model_dump(mode="json") for s in validated.table_statements],
        "tables_processed": validated.tables_processed,
        "tables_skipped": validated.tables_skipped,
    }
    summary = validated.validation
    repair_usage = summary.repair.usage if summary.repair else LLMUsage()
    document["validation"] = {
        "statements": summary.statements,
        "statements_passed": summary.statements_passed,
        "pass_rate": summary.pass_rate,
        "errors": summary.errors,
        "warnings": summary.warnings,
        "infos": summary.infos,
        "statements_with_errors": summary.statements_with_errors,
        "fixes": summary.fixes,
        "error_codes": summary.error_codes,
        "issues": [i.model_dump(mode="json") for i in summary.question_issues],
        "repair": summary.repair.model_dump(mode="json") if summary.repair else None,
    }
    document["provenance"] = {
        "extractor": extraction.extractor,
        "model": extraction.model,
        # null: Anthropic's own API, or no API at all (offline). Otherwise the costs below were never billed.
        "endpoint": extraction.endpoint,
        "prompt_version": extraction.prompt_version,
        "validator_version": summary.validator_version,
        "pipeline_version": PIPELINE_VERSION,
        "nlp_pipeline": nlp_pipeline,
        "input_sha256": raw.input_sha256,
        "fingerprint": output_fingerprint(raw, extraction, validated),
        "source_path": raw.source_path,
        # The question's whole LLM cost: extraction plus the repair turn (broken down under validation.repair).
        "llm_usage": (extraction.usage + repair_usage).model_dump(mode="json"),
        "statements_extracted_at": extraction.extracted_at,
        "exported_at": (now or datetime.now(UTC)).isoformat(),
    }
    return document
