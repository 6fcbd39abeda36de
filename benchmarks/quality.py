"""Statement quality on the real corpus, three ways through the project's own pipeline (`make quality`).

(a) model_responses: the Claude code path (LLMExtractor -> validation -> export) against the fake Messages API
    replaying ../shared/model_responses (answers an LLM wrote offline to this project's extraction requests: not
    Claude API output);
(b) reference: the corpus files that carry the original system's outputs, converted into recordings
    (`recording_from_reference`) and replayed the same way;
(c) offline: the offline extractor, no API.

Each set runs through `PipelineResource.run_questions`, the call the Dagster asset makes in `make run` (engine process
and validation workers included), with a dummy API key, the response cache off and temporary output and store
folders. Which statements reach the deck is decided by the deck's own policy (`anki.notes_from_document`). Writes
benchmarks/quality.md (counts, codes and positions only: never statement text, the corpus is copyrighted) and prints
the summary lines.

`--also DIR` replays another folder of recordings (for example a model-written rerun of some questions, to measure
on statements the validators were not tuned on) as a set of its own.

`--capture-requests DIR` writes each extraction request of the model_responses set (system prompt, tool, user
message: the current prompts) to DIR/<question_id>/<part>.json, so that a model can answer them offline; answers in
the recording format are replayed with `--also`.

The validation's repair turn sends the statements the gate blocks back to the model. A replay has no answer for those
requests unless given one: `--capture-repairs DIR` writes each repair request of the model_responses set (system
prompt, tool, user message) to DIR/<question_id>.json, so that a model (or a person) can answer it offline, and
`--repairs DIR` merges such answers ({question_id, repairs: [{statement, repair}]}, see fake_api.load_recording) into
the model_responses recordings. Keep every such folder outside the repository: they derive from the corpus.

Heavy imports happen inside functions, as in bench_extraction.py: the engine process is spawned and re-imports this
script.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from quality_cards import CardFigures

    from mksap_assets.domain.inputs.bank import RawQuestion

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
MODEL_RESPONSES = SHARED / "model_responses"
REPORT = Path(__file__).with_name("quality.md")
DUMMY_API_KEY = "sk-quality-not-a-real-key"


# -- the original system's outputs as recordings ----------------------------------------------------------------------


def _secondary_cloze_limit() -> int:
    from mksap_assets.domain.extraction.schemas import STATEMENTS_WITH_CLOZES_TOOL

    items = STATEMENTS_WITH_CLOZES_TOOL["input_schema"]["properties"]["statements"]["items"]
    return items["properties"]["cloze_secondary"]["maxItems"]


def _recorded_item(original: dict[str, Any], secondary_limit: int) -> dict[str, Any]:
    # extra_field null: the original filled it with outside knowledge on purpose, which the source-only rule forbids.
    candidates = original.get("cloze_candidates") or [""]  # none: an empty primary, rejected as a model's would be
    return {
        "statement": original["statement"],
        "extra_field": None,
        "cloze_primary": candidates[0],
        "cloze_secondary": candidates[1 : 1 + secondary_limit],
    }


def recording_from_reference(document: dict[str, Any], raw: RawQuestion) -> dict[str, Any]:
    """A corpus document's original outputs (`true_statements`, `table_statements`) as a replay recording of its
    question (`raw`, the loaded RawQuestion). Table statements are grouped by `table_source` under that table's
    caption; an educational table the original made no statement from is recorded with none."""
    limit = _secondary_cloze_limit()
    true = document.get("true_statements") or {}
    by_source: dict[str, list[dict[str, Any]]] = {table.source: [] for table in raw.educational_tables}
    for original in (document.get("table_statements") or {}).get("statements") or []:
        source = original.get("table_source")
        if source not in by_source:
            raise ValueError(f"{raw.question_id}: table_source {source!r} is not an educational table of the question")
        by_source[source].append(_recorded_item(original, limit))
    key_points = [_recorded_item(item, limit) for item in true.get("from_key_points") or []]
    return {
        "question_id": raw.question_id,
        "educational_objective": raw.educational_objective,
        "critique": {"statements": [_recorded_item(item, limit) for item in true.get("from_critique") or []]},
        "key_points": {"statements": key_points} if raw.key_points else None,
        "tables": [
            {"caption": table.caption, "statements": by_source[table.source]} for table in raw.educational_tables
        ],
    }


@dataclass
class ReferenceRecordings:
    question_ids: list[str] = field(default_factory=list)
    statements: int = 0
    # Statements with a kept cloze that is not an exact substring (the fixer corrects capitals; the rest is gated).
    cloze_not_in_statement: int = 0


def write_reference_recordings(target: Path) -> ReferenceRecordings:
    """Recordings of the corpus questions that carry the original outputs."""
    from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question

    target.mkdir(parents=True, exist_ok=True)
    written = ReferenceRecordings()
    for question_file in discover_questions(CORPUS):
        document = orjson.loads(question_file.path.read_bytes())
        if "true_statements" not in document and "table_statements" not in document:
            continue
        recording = recording_from_reference(document, load_raw_question(question_file))
        (target / f"{question_file.question_id}.json").write_bytes(orjson.dumps(recording))
        written.question_ids.append(question_file.question_id)
        parts = [recording["critique"], recording["key_points"] or {"statements": []}, *recording["tables"]]
        for item in (item for part in parts for item in part["statements"]):
            written.statements += 1
            clozes = [item["cloze_primary"], *item["cloze_secondary"]]
            written.cloze_not_in_statement += any(cloze not in item["statement"] for cloze in clozes)
    return written


# -- running a set and reading its exports ----------------------------------------------------------------------------


@dataclass
class ErrorRow:
    question_id: str
    section: str
    index: int
    codes: str
    fields: str
    in_deck: bool


def _card_figures() -> CardFigures:
    from quality_cards import CardFigures

    return CardFigures()


@dataclass
class SetResult:
    name: str
    questions: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # question id -> failed stage and error kind
    statements: int = 0
    in_deck: int = 0
    with_error: int = 0
    with_statement_error: int = 0
    repaired: int = 0  # replaced by the validation's repair turn (repaired_from)
    issues: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (severity, code, field)
    error_rows: list[ErrorRow] = field(default_factory=list)
    requests: int | None = None  # None: no API (offline)
    requests_by_tool: dict[str, int] = field(default_factory=dict)
    replayed: int = 0
    replay_misses: int = 0
    repair_requests_captured: int = 0
    extraction_requests_captured: int = 0
    seconds: float = 0.0
    cards: CardFigures = field(default_factory=_card_figures)  # card checks of the statements in the deck
    deck_notes: list[Any] = field(default_factory=list)  # anki.ClozeNote of every question, before dedup


def _failure_kind(error: str) -> str:
    """The error up to its first quote: what it quotes may be statement text."""
    return re.split(r"['\"]", error, maxsplit=1)[0].rstrip(" ,:")[:160]


def run_set(
    name: str, question_ids: list[str], work: Path, *, provider: str, replay_dir: Path | None,
    capture_repairs: Path | None = None, capture_requests: Path | None = None, data_dir: Path = CORPUS,
) -> SetResult:
    from quality_cards import add_deck_cards

    from mksap_assets.domain.config import LLMConfig
    from mksap_assets.domain.engine.pipeline import STAGES
    from mksap_assets.domain.exports.anki import SECTIONS, notes_from_document
    from mksap_assets.domain.exports.document import ExportDocument, export_path
    from mksap_assets.resources import PipelineResource
    from mksap_assets.settings import Settings
    from mksap_devtools.fake_api import FakeAnthropic

    settings = Settings(
        data_dir=data_dir,
        output_dir=work / name / "output",
        store_dir=work / name / "store",
        dagster_home=work / name / "dagster_home",
        llm=LLMConfig(provider=provider, cache_dir=work / name / "llm-cache", cache_enabled=False),
    )
    result = SetResult(name, questions=len(question_ids))
    fake = FakeAnthropic(replay_dir=replay_dir).start() if replay_dir is not None else None
    if fake is not None:  # read by the SDK in the run's engine process, which is spawned with this environment
        os.environ.update({"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": DUMMY_API_KEY})
    started = time.perf_counter()
    try:
        outcomes = list(PipelineResource.from_settings(settings).run_questions(question_ids, STAGES))
    finally:
        if fake is not None:
            fake.stop()
    result.seconds = time.perf_counter() - started
    if fake is not None and capture_repairs is not None:
        result.repair_requests_captured = write_repair_requests(fake, capture_repairs / name)
    if fake is not None and capture_requests is not None:
        result.extraction_requests_captured = write_extraction_requests(fake, capture_requests)
    if fake is not None:
        stats = fake.stats
        result.requests, result.requests_by_tool = stats.total_requests, stats.by_tool
        result.replayed, result.replay_misses = stats.replayed, stats.replay_misses
    result.failed = {o.question_id: f"{o.failed_stage}: {_failure_kind(o.error or '')}" for o in outcomes if not o.ok}

    for question_id in sorted(o.question_id for o in outcomes if o.ok):
        document = orjson.loads(export_path(settings.output_dir, question_id).read_bytes())
        notes, _, _ = notes_from_document(ExportDocument.model_validate(document))
        in_deck = {(note.section, note.index) for note in notes}
        result.in_deck += len(notes)
        add_deck_cards(result.cards, document, in_deck)
        result.deck_notes.extend(notes)
        for issue in (document.get("validation") or {}).get("issues") or []:
            result.issues[(issue["severity"], issue["code"], "(question)")] += 1
        for (part, key), section, _ in SECTIONS:
            for index, item in enumerate((document.get(part) or {}).get(key) or []):
                result.statements += 1
                result.repaired += bool(item.get("repaired_from"))
                issues = item.get("issues") or []
                result.issues.update((i["severity"], i["code"], i["field"]) for i in issues)
                errors = [i for i in issues if i["severity"] == "error"]
                if not errors:
                    continue
                result.with_error += 1
                result.with_statement_error += any(i["field"] == "statement" for i in errors)
                result.error_rows.append(ErrorRow(
                    question_id, section, index,
                    codes=", ".join(sorted({i["code"] for i in errors})),
                    fields=", ".join(sorted({i["field"] for i in errors})),
                    in_deck=(section, index) in in_deck,
                ))
    return result


# -- the repair turn's requests and recorded answers -------------------------------------------------------------------


def _requests_forcing(fake: Any, tool: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(question id, user text, what a model would be given: system blocks, tool, user message) of each request the
    fake received that forces `tool`, for the questions its replay knows."""
    for request in fake.requests:
        body = request.body or {}
        if (body.get("tool_choice") or {}).get("name") != tool:
            continue
        user_text = body["messages"][0]["content"]
        question_id = fake.replay.question_of(user_text)
        if question_id is not None:
            yield question_id, user_text, {"system": [block["text"] for block in body["system"]],
                                           "tool": body["tools"][0], "user": user_text}


def write_repair_requests(fake: Any, target: Path) -> int:
    """Each record_repairs request the fake received, as DIR/<question_id>.json."""
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    for question_id, _, request_text in _requests_forcing(fake, "record_repairs"):
        (target / f"{question_id}.json").write_text(json.dumps(request_text, indent=1), encoding="utf-8")
        written += 1
    return written


def write_extraction_requests(fake: Any, target: Path) -> int:
    """Each record_statements request the fake received, as DIR/<question_id>/<part>.json (critique, key_points,
    table-1, table-2, …): what a model answering the current prompts would be given."""
    from mksap_devtools.fake_api import task_of

    written = 0
    tables: Counter[str] = Counter()
    for question_id, user_text, request_text in _requests_forcing(fake, "record_statements"):
        part = task_of(user_text) or "unknown"
        if part == "table":
            tables[question_id] += 1
            part = f"table-{tables[question_id]}"
        folder = target / question_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{part}.json").write_text(json.dumps(request_text, indent=1), encoding="utf-8")
        written += 1
    return written


def recordings_with_repairs(recordings: Path, repairs: Path, target: Path) -> tuple[Path, int]:
    """A copy of the recordings with the recorded repairs of each question merged in; (folder, questions merged)."""
    target.mkdir(parents=True, exist_ok=True)
    merged = 0
    for path in sorted(recordings.glob("*.json")):
        document = orjson.loads(path.read_bytes())
        answer = repairs / path.name
        if answer.is_file():
            document["repairs"] = orjson.loads(answer.read_bytes())["repairs"]
            merged += 1
        (target / path.name).write_bytes(orjson.dumps(document))
    return target, merged


# -- the report -------------------------------------------------------------------------------------------------------


def _share(part: int, whole: int) -> str:
    return f"{part} ({part / whole:.1%})" if whole else f"{part} (-)"


def summary_line(result: SetResult) -> str:
    replay = (
        f"; API requests {result.requests}, replayed {result.replayed}, replay misses {result.replay_misses}"
        if result.requests is not None else "; no API"
    )
    return (
        f"{result.name}: {result.questions} questions, {len(result.failed)} failed; {result.statements} statements, "
        f"{_share(result.in_deck, result.statements)} reach the deck, {result.with_error} with an error "
        f"({result.with_statement_error} in the statement text), {result.repaired} repaired{replay}; "
        f"{result.seconds:.1f} s"
    )


def _code_version() -> str:
    """The commit, "-dirty" when the working tree had uncommitted changes."""
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return f"commit {described.stdout.strip()}" if described.returncode == 0 else "an unknown commit"


def report(results: list[SetResult], reference: ReferenceRecordings, started: datetime, repairs_merged: int) -> str:
    repairs_note = (
        f"The repair requests were answered with recorded repairs for {repairs_merged} "
        "questions (`--repairs`): corrections a model wrote **offline** to the pipeline's own repair requests "
        "(captured with `--capture-repairs`), not Claude API output."
        if repairs_merged else
        "No repairs were recorded (`--repairs` not given): the repair turn's requests get no corrections, so "
        "*repaired* is 0 and a blocked statement stays out."
    )
    lines = [
        "# Statement quality on the development corpus",
        "",
        f"Run: `make quality` (= `python benchmarks/quality.py`), {started:%Y-%m-%d %H:%M} UTC, on {_code_version()}. "
        "Each set goes through `PipelineResource.run_questions`, the call `make run` makes (extraction, validation, "
        "export), with temporary output and store folders and the response cache off; which statements reach the "
        "deck is decided by `mksap_assets/domain/exports/anki.py` (`notes_from_document`, default options).",
        "",
        "- **model_responses**: the Claude code path against the fake Messages API replaying "
        "`../shared/model_responses`. Those are answers an LLM wrote **offline** to this project's extraction "
        "requests: model-written, **not Claude API output**.",
        "- **reference**: the corpus files that carry the original system's outputs, converted to recordings and "
        "replayed the same way. extra_field is set to null (the original broke the source-only rule on purpose); "
        "cloze_candidates become cloze_primary = the first and cloze_secondary = the next ones, cut to the tool "
        f"schema's {_secondary_cloze_limit()}; table statements are grouped by table_source under that table's "
        "caption, and an educational table the original made no statement from is recorded with none. "
        f"{reference.cloze_not_in_statement} of the {reference.statements} recorded statements keep a cloze that is "
        "not an exact substring of the statement: validation's fixer corrects those that differ only in capitals or "
        "comparator words, the rest are `cloze_not_in_statement` errors.",
        "- **offline**: the offline extractor (no API).",
        *(f"- **{r.name}**: a folder of recordings given with `--also` (answers to the current prompts, written "
          "offline by a language model: model-written, **not Claude API output**), replayed the same way."
          for r in results[3:]),
        "",
        "A recording holds one answer per request: when the extractor re-asks after an invalid answer, the replay "
        "sends the same answer again, so such a question fails where a model could have corrected itself. Replay "
        "misses are requests with no recording: a statements request gets the fake's default rules, a repair request "
        "gets no corrections. " + repairs_note + " No statement text is shown here: the corpus is copyrighted.",
        "",
        "## Summary",
        "",
        "| set | questions | failed | statements | reach the deck | with an error | error in the statement text "
        "| repaired | API requests | replayed | replay misses |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        api = " | ".join(
            (str(r.requests), str(r.replayed), str(r.replay_misses)) if r.requests is not None else ("-", "-", "-")
        )
        lines.append(
            f"| {r.name} | {r.questions} | {len(r.failed)} | {r.statements} | {_share(r.in_deck, r.statements)} "
            f"| {_share(r.with_error, r.statements)} | {_share(r.with_statement_error, r.statements)} "
            f"| {r.repaired} | {api} |"
        )
    for r in results:
        lines += ["", f"## {r.name}", ""]
        if r.requests is not None:
            by_tool = ", ".join(f"{tool} {n}" for tool, n in sorted(r.requests_by_tool.items()))
            lines += [f"API requests by tool: {by_tool}.", ""]
        if r.failed:
            lines += ["Questions that failed:", ""]
            lines += [f"- {question_id}: {reason}" for question_id, reason in sorted(r.failed.items())]
            lines.append("")
        lines += ["Errors and warnings by code and field:", "", "| severity | code | field | count |",
                  "|---|---|---|---|"]
        shown = sorted((k, n) for k, n in r.issues.items() if k[0] in ("error", "warning"))
        lines += [f"| {severity} | {code} | {where} | {n} |" for (severity, code, where), n in shown] or [
            "| - | - | - | 0 |"
        ]
        lines += ["", f"Every statement with an error ({len(r.error_rows)}):", "",
                  "| question | section | index | error codes | fields | in the deck |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {row.question_id} | {row.section} | {row.index} | {row.codes} | {row.fields} | "
            f"{'yes' if row.in_deck else 'no'} |"
            for row in r.error_rows
        ] or ["| - | - | - | - | - | - |"]
    # sibling scripts: benchmarks/ is sys.path[0]
    from quality_cards import card_checks_section
    from quality_dedup import duplicates_section

    lines += ["", *card_checks_section([(r.name, r.cards) for r in results])]
    lines += duplicates_section([(r.name, r.deck_notes) for r in results])
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repairs", type=Path, help="recorded repairs (DIR/<set>/<question_id>.json) to merge in")
    parser.add_argument("--capture-repairs", type=Path, help="write the replayed sets' repair requests here")
    parser.add_argument("--capture-requests", type=Path,
                        help="write the model_responses set's extraction requests (the current prompts) here, as "
                        "DIR/<question_id>/<part>.json, for a model to answer offline")
    parser.add_argument("--also", type=Path, action="append", default=[],
                        help="another folder of recordings (same format) to replay as a set of its own, e.g. a "
                        "model-written rerun kept outside the repository; repeatable")
    args = parser.parse_args()
    for needed in (CORPUS, MODEL_RESPONSES):
        if not needed.is_dir():
            print(f"{needed} is missing: make quality needs ../shared", file=sys.stderr)
            return 1
    from mksap_assets.domain.inputs.bank import discover_questions

    started = datetime.now(UTC)
    corpus_ids = [q.question_id for q in discover_questions(CORPUS)]
    with tempfile.TemporaryDirectory(prefix="mksap-quality-") as folder:
        work = Path(folder)
        recorded_reference = work / "reference-recordings"
        reference = write_reference_recordings(recorded_reference)
        model_responses, repairs_merged = MODEL_RESPONSES, 0
        if args.repairs is not None:
            model_responses, repairs_merged = recordings_with_repairs(
                MODEL_RESPONSES, args.repairs / "model_responses", work / "with-repairs")
            recorded_reference, merged = recordings_with_repairs(
                recorded_reference, args.repairs / "reference", work / "reference-repairs")
            repairs_merged += merged
        results = [
            run_set("model_responses", corpus_ids, work, provider="anthropic", replay_dir=model_responses,
                    capture_repairs=args.capture_repairs, capture_requests=args.capture_requests),
            run_set("reference", reference.question_ids, work, provider="anthropic", replay_dir=recorded_reference,
                    capture_repairs=args.capture_repairs),
            run_set("offline", corpus_ids, work, provider="offline", replay_dir=None),
        ]
        for folder in args.also:
            recorded = sorted(path.stem for path in folder.glob("*.json"))
            replay, merged = folder, 0
            if args.repairs is not None:
                replay, merged = recordings_with_repairs(
                    folder, args.repairs / folder.name, work / f"{folder.name}-repairs")
            repairs_merged += merged
            results.append(run_set(folder.name, recorded, work, provider="anthropic", replay_dir=replay,
                                   capture_repairs=args.capture_repairs))
    REPORT.write_text(report(results, reference, started, repairs_merged), encoding="utf-8")
    for result in results:
        print(summary_line(result))
    if args.capture_repairs is not None:
        captured = sum(result.repair_requests_captured for result in results)
        print(f"repair requests written to {args.capture_repairs}/<set>/: {captured}")
    if args.capture_requests is not None:
        captured = sum(result.extraction_requests_captured for result in results)
        print(f"extraction requests written to {args.capture_requests}/<question_id>/: {captured}")
    print(f"report: {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
