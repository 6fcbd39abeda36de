"""A short account of what is in the output dir: questions, statements, the share that passed, what is missing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mksap_assets.domain.export import export_path
from mksap_assets.domain.report import export_paths, question_row
from mksap_assets.domain.store import read_json


@dataclass
class ExportSummary:
    output_dir: Path
    questions: int = 0
    statements: int = 0
    statements_passed: int = 0
    extractors: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        return self.statements_passed / self.statements if self.statements else 0.0

    def render(self) -> str:
        lines = [
            f"questions exported: {self.questions}",
            f"statements:         {self.statements}",
            f"statements passed:  {self.statements_passed}/{self.statements} ({self.pass_rate:.1%})",
            f"extractor:          {', '.join(sorted(self.extractors)) or '-'}",
            f"output folder:      {self.output_dir}",
        ]
        if self.missing:
            shown = ", ".join(self.missing[:10]) + (" …" if len(self.missing) > 10 else "")
            lines.append(f"not exported:       {len(self.missing)} ({shown})")
        return "\n".join(lines)


def summarise_exports(output_dir: Path, question_ids: Iterable[str] | None = None) -> ExportSummary:
    summary = ExportSummary(output_dir)
    if question_ids is None:
        paths = export_paths(output_dir)
    else:
        paths = [export_path(output_dir, qid) for qid in question_ids]
    for path in paths:
        if not path.is_file():
            summary.missing.append(path.stem)
            continue
        row = question_row(read_json(path), path)
        summary.questions += 1
        summary.statements += row["statements"]
        summary.statements_passed += row["statements_passed"]
        summary.extractors.add(row["extractor"])
    return summary
