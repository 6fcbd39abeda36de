"""A short account of what is in the output dir: questions, statements, the share that passed, what is missing,
which API the statements came from and what it cost (marked not billed for an endpoint other than Anthropic's),
and, for the whole output dir, the Anki deck and whether it is current."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mksap_assets.domain.exports.deck_files import DeckStatus, deck_status
from mksap_assets.domain.exports.document import export_path, export_paths, read_export
from mksap_assets.domain.exports.report import question_row
from mksap_assets.domain.llm.providers.anthropic.endpoint import api_label


@dataclass
class ExportSummary:
    output_dir: Path
    questions: int = 0
    statements: int = 0
    statements_passed: int = 0
    extractors: set[str] = field(default_factory=set)  # "anthropic", "anthropic at http://127.0.0.1:8765", …
    cost_by_endpoint: Counter[str | None] = field(default_factory=Counter)  # None: Anthropic's own API
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # the error (naming the file) of each unreadable export
    deck: DeckStatus | None = None  # only when every export was summarised: the deck is built from all of them

    @property
    def pass_rate(self) -> float:
        return self.statements_passed / self.statements if self.statements else 0.0

    def render(self) -> str:
        lines = [
            f"questions exported: {self.questions}",
            f"statements:         {self.statements}",
            f"statements passed:  {self.statements_passed}/{self.statements} ({self.pass_rate:.1%})",
            f"extractor:          {', '.join(sorted(self.extractors)) or '-'}",
        ]
        for endpoint, cost in sorted(self.cost_by_endpoint.items(), key=lambda item: item[0] or ""):
            lines.append(f"LLM cost:           ${cost:.4f}, {api_label(endpoint)}")
        lines.append(f"output folder:      {self.output_dir}")
        if self.missing:
            shown = ", ".join(self.missing[:10]) + (" …" if len(self.missing) > 10 else "")
            lines.append(f"not exported:       {len(self.missing)} ({shown})")
        lines += [f"unreadable export:  {problem}" for problem in self.unreadable]
        if self.deck is not None:
            lines.extend(self.deck.lines())
        return "\n".join(lines)


def summarise_exports(output_dir: Path, question_ids: Iterable[str] | None = None) -> ExportSummary:
    """The exports of the given questions, or of every question (then with the deck's status)."""
    summary = ExportSummary(output_dir)
    if question_ids is None:
        paths = export_paths(output_dir)
    else:
        paths = [export_path(output_dir, qid) for qid in question_ids]
    stamps: dict[str, str] = {}
    for path in paths:
        if not path.is_file():
            summary.missing.append(path.stem)
            continue
        export = read_export(path)
        if export.document is None:  # a broken export is reported, not fatal
            summary.unreadable.append(export.error)
            continue
        document = export.document
        row = question_row(document, path)
        summary.questions += 1
        summary.statements += row["statements"]
        summary.statements_passed += row["statements_passed"]
        endpoint = row["endpoint"] or None
        summary.extractors.add(row["extractor"] + (f" at {endpoint}" if endpoint else ""))
        if row["model"]:  # an LLM extractor (offline has no model, and no cost)
            summary.cost_by_endpoint[endpoint] += row["cost_usd"]
        stamps[document.question_id] = document.stamp
    if question_ids is None:
        summary.deck = deck_status(output_dir, stamps)
    return summary
