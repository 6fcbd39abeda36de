"""A short account of what is in the output dir: questions, statements, pass rate, what is missing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mksap_assets.domain.export import export_path
from mksap_assets.domain.store import read_json


@dataclass
class ExportSummary:
    output_dir: Path
    questions: int = 0
    statements: int = 0
    passed: int = 0
    extractors: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.questions if self.questions else 0.0

    def render(self) -> str:
        lines = [
            f"questions exported: {self.questions}",
            f"statements:         {self.statements}",
            f"validation passed:  {self.passed}/{self.questions} ({self.pass_rate:.1%})",
            f"extractor:          {', '.join(sorted(self.extractors)) or '-'}",
            f"output folder:      {self.output_dir}",
        ]
        if self.missing:
            shown = ", ".join(self.missing[:10]) + (" …" if len(self.missing) > 10 else "")
            lines.append(f"not exported:       {len(self.missing)} ({shown})")
        return "\n".join(lines)


def _statement_count(document: dict) -> int:
    true_statements = document.get("true_statements", {})
    return (
        len(true_statements.get("from_critique", []))
        + len(true_statements.get("from_key_points", []))
        + len(document.get("table_statements", {}).get("statements", []))
    )


def summarise_exports(output_dir: Path, question_ids: Iterable[str] | None = None) -> ExportSummary:
    summary = ExportSummary(output_dir)
    if question_ids is None:
        paths = sorted(output_dir.glob("[a-z][a-z]/*.json")) if output_dir.is_dir() else []
    else:
        paths = [export_path(output_dir, qid) for qid in question_ids]
    for path in paths:
        if not path.is_file():
            summary.missing.append(path.stem)
            continue
        document = read_json(path)
        summary.questions += 1
        summary.statements += _statement_count(document)
        summary.passed += bool(document.get("validation", {}).get("passed"))
        summary.extractors.add(document.get("provenance", {}).get("extractor", "?"))
    return summary
