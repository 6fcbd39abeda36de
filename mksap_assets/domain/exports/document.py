"""The exported document: the input question's fields, its statements with their issues, validation and
provenance. Written to <output dir>/<system>/<question id>.json; the input file is never touched.

Written as a plain dict (build_export: the input's fields in the input's order) and read back, by the deck, the
report and the summary, as one typed model (ExportDocument) found by one rule (iter_exports).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypedDict

from mksap_assets.domain.engine.fingerprint import PIPELINE_VERSION, fingerprint
from mksap_assets.domain.engine.store import UnreadableFileError, read_json
from mksap_assets.domain.errors import failed_field
from mksap_assets.domain.exports.identity import (
    SECTION_LABELS,
    Candidate,
    assign_ids,
    statement_guid,
)
from mksap_assets.domain.inputs.bank import RawQuestion
from mksap_assets.domain.statements import (
    Extraction,
    LLMUsage,
    Section,
    ValidatedStatements,
)
from mksap_assets.domain.validation.card_gate import blocking_codes


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
    previous: ExportDocument | None = None,
) -> dict[str, Any]:
    """The export document; `previous`, the question's last export, gives the statements their ids (identity.py)."""
    stamp = (now or datetime.now(UTC)).isoformat()
    ids, retired = statement_ids(validated, previous, stamp)

    def items(section: Section) -> list[dict[str, Any]]:
        return [{"id": ids[(section, index)], **item.model_dump(mode="json")}
                for index, item in enumerate(getattr(validated, section))]

    document = raw.question.model_dump(mode="json", exclude_unset=True)
    document["true_statements"] = {"from_critique": items("from_critique"), "from_key_points": items("from_key_points")}
    document["table_statements"] = {
        "statements": items("table_statements"),
        "tables_processed": validated.tables_processed,
        "tables_skipped": validated.tables_skipped,
    }
    document["retired_statements"] = retired
    summary = validated.validation
    repair_usage = summary.repair.usage if summary.repair else LLMUsage()
    document["validation"] = {
        **summary.counts(),
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
        "exported_at": stamp,
    }
    return document


def statement_ids(
    validated: ValidatedStatements, previous: ExportDocument | None, stamp: str
) -> tuple[dict[tuple[Section, int], str], list[dict[str, Any]]]:
    """Each statement's id, by (section, index), and the retired statements: those of the previous export matched by
    no new statement, added to the ones it had retired already (each keeps the time it was first retired)."""
    question_id = validated.question_id
    new = [(section, index, Candidate(SECTION_LABELS[section], item.statement, _answer(item.cloze_candidates)))
           for section, index, item in validated.checked()]
    known: list[tuple[Candidate, dict[str, Any]]] = []
    if previous is not None:
        for section, items in previous.sections():
            label = SECTION_LABELS[section]
            for item in items:
                candidate = Candidate(label, item.statement, _answer(item.cloze_candidates),
                                      item.id or statement_guid(question_id, label, item.statement))
                known.append((candidate, {"id": candidate.id, "section": label, "statement": item.statement,
                                          "cloze_candidates": item.cloze_candidates, "retired_at": stamp}))
        for retired in previous.retired_statements:
            known.append((Candidate(retired.section or "", retired.statement, _answer(retired.cloze_candidates),
                                    retired.id), retired.model_dump(mode="json")))
    assignment = assign_ids(question_id, [c for _, _, c in new], [c for c, _ in known])
    ids = {(section, index): id_ for (section, index, _), id_ in zip(new, assignment.ids, strict=True)}
    return ids, [known[j][1] for j in assignment.unmatched]


def _answer(candidates: list[str]) -> str:
    return candidates[0] if candidates else ""


# --------------------------------------------------------------------------------------------------------------------
# Reading: the typed document and which files are exports

# Typed where a reader uses a field, with a default where older exports lack it (blocked_by, endpoint, llm_usage);
# every other field (the input question's, validation's counts, provenance's versions) is ignored, not validated
# nor kept (keeping them costs a third more), so exports of older versions still read. What reading costs:
# benchmarks/bench_export_reading.py.
_READ = ConfigDict(extra="ignore")


class ExportedIssue(TypedDict, total=False):
    """A stored issue, as far as the gate reads it. A TypedDict, not a model: issues validated as nested models
    took longer than all the rest of a document."""

    code: str
    severity: str | None


class ExportedStatement(BaseModel):
    """A statement as an export stores it: statements.CheckedStatement (or CheckedTableStatement) as JSON."""

    model_config = _READ

    id: str | None = None  # the statement's stable identity across re-extractions; None in older exports
    statement: str = ""
    extra_field: str | None = None
    cloze_candidates: list[str] = Field(default_factory=list)
    table_source: str | None = None
    source_concern: str | None = None  # the model's doubt about the source's medicine (validation/evidence.py)
    issues: list[ExportedIssue] | None = None
    blocked_by: list[str] | None = None  # None: written before the per-statement gate, so its issues decide

    def blocking_codes(self) -> list[str]:
        """The codes that keep this statement off the deck (card_gate.py): the stored gate, else its issues'."""
        if self.blocked_by is not None:
            return self.blocked_by
        return blocking_codes((issue.get("code", "?"), str(issue.get("severity"))) for issue in self.issues or [])

    def warning_codes(self) -> list[str]:
        return [issue.get("code", "?") for issue in self.issues or [] if issue.get("severity") == "warning"]


class RetiredStatement(BaseModel):
    """A statement an earlier export of the question had and this one no longer carries: its note is retired."""

    model_config = _READ

    id: str
    section: str | None = None  # critique | key_point | table
    statement: str = ""
    cloze_candidates: list[str] = Field(default_factory=list)
    retired_at: str | None = None  # the export that first left it out

class ExportedTrueStatements(BaseModel):
    model_config = _READ

    from_critique: list[ExportedStatement] = Field(default_factory=list)
    from_key_points: list[ExportedStatement] = Field(default_factory=list)


class ExportedTableStatements(BaseModel):
    model_config = _READ

    statements: list[ExportedStatement] = Field(default_factory=list)


class ExportedValidation(BaseModel):
    model_config = _READ

    errors: int = 0
    warnings: int = 0


class ExportedProvenance(BaseModel):
    model_config = _READ

    extractor: str | None = None
    model: str | None = None  # None: the offline extractor (no LLM, no cost)
    endpoint: str | None = None  # None: Anthropic's own API, or none; otherwise its costs were never billed
    llm_usage: LLMUsage = Field(default_factory=LLMUsage)
    exported_at: str | None = None


class ExportDocument(BaseModel):
    """One export as read back (build_export writes it)."""

    model_config = _READ

    question_id: str
    category: str | None = None
    category_name: str | None = None
    educational_objective: str | None = None
    true_statements: ExportedTrueStatements = Field(default_factory=ExportedTrueStatements)
    table_statements: ExportedTableStatements = Field(default_factory=ExportedTableStatements)
    retired_statements: list[RetiredStatement] = Field(default_factory=list)
    validation: ExportedValidation = Field(default_factory=ExportedValidation)
    provenance: ExportedProvenance = Field(default_factory=ExportedProvenance)

    def sections(self) -> list[tuple[Section, list[ExportedStatement]]]:
        """Each section's statements, in the export's order."""
        return [("from_critique", self.true_statements.from_critique),
                ("from_key_points", self.true_statements.from_key_points),
                ("table_statements", self.table_statements.statements)]

    @property
    def stamp(self) -> str:
        """What identifies this export of the question: provenance.exported_at (every export writes a new one)."""
        return self.provenance.exported_at or ""


@dataclass(frozen=True)
class ExportFile:
    """One export file: its document, or why it cannot be read (`error` names the file)."""

    path: Path
    document: ExportDocument | None
    error: str | None = None


def read_export(path: Path) -> ExportFile:
    """An unreadable export (missing, not JSON, not an export document) is returned with its error, not raised:
    every reader reports it and goes on with the others."""
    try:
        content = read_json(path)
    except (OSError, ValueError) as exc:  # both name the file
        return ExportFile(path, None, str(exc))
    if not isinstance(content, dict):
        return ExportFile(path, None, str(UnreadableFileError(path, f"a JSON {type(content).__name__}, not an export")))
    try:
        return ExportFile(path, ExportDocument.model_validate(content))
    except ValidationError as exc:
        field, message = failed_field(exc)
        return ExportFile(path, None, str(UnreadableFileError(path, f"not an export document: {field}: {message}")))


def export_paths(output_dir: Path) -> list[Path]:
    """The export files, sorted: <output dir>/<two-letter system>/<id>.json (export_path), so the deck's anki/,
    the report's report/ and moved-aside _removed/ are never read, nor hidden and temporary files (".name")."""
    if not output_dir.is_dir():
        return []
    return sorted(p for p in output_dir.glob("[a-z][a-z]/*.json") if not p.name.startswith("."))


def iter_exports(output_dir: Path) -> Iterator[ExportFile]:
    """Every export under output_dir, read, in path order (see export_paths)."""
    for path in export_paths(output_dir):
        yield read_export(path)
