"""A deck that survives re-extraction (`make bench-deck`): how many of a rerun's same-fact statements keep their note.

1. The corpus through the Claude code path against the fake Messages API replaying `../shared/model_responses` (the
   first extraction), exported.
2. The same questions again, into the same output folder (so each export finds the first as its previous one), with
   a rerun recording: the first run's statements reworded as a rerun would (clauses reordered, synonyms,
   abbreviations expanded or contracted), some dropped, some added, some split, the order shuffled. Each rerun
   statement says which first-run statement states the same fact (`same_as`: part, table caption, index, split), or
   null. That set is model-written offline from the first (DEVELOPERS.md: never API output) and kept outside the
   repository, since it derives from the corpus: `--rerun DIR` (default ../shared/../reworded_mr).

Reported, for the statement ids the exports carry (the note GUIDs) and for the text-hash GUIDs used before ids:
same-fact statements whose note kept its GUID (a split counts once, kept when either half kept it; first-run
statements with the same normalised text count as one fact), different-fact
statements that took another statement's GUID (false merges), first-run statements retired (and whether every one
the rerun dropped is listed in `retired_statements`), new GUIDs. Then the same for a sweep of match thresholds,
recomputed with `identity.assign_ids` from the exported statements, on each half of the questions. Appends to
benchmarks/results.md; counts only, no statement text.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quality import CORPUS, MODEL_RESPONSES, ROOT, run_set
from results_file import append_results

DEFAULT_RERUN = ROOT.parent / "reworded_mr"
SECTIONS = {"critique": "from_critique", "key_points": "from_key_points"}
SWEEP = (40.0, 50.0, 55.0, 60.0, 65.0, 70.0, 80.0)

Key = tuple[str, str, int]  # (export section, position in the export's section)


@dataclass
class Figures:
    same_fact: int = 0
    kept: int = 0
    false_merges: int = 0
    dropped: int = 0  # first-run statements no rerun statement restates
    dropped_retired: int = 0
    new_ids: int = 0
    statements: int = 0

    def add(self, other: Figures) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Question:
    question_id: str
    # key -> (id, text guid, statement, c1 answer)
    first: dict[Key, tuple[str, str, str, str]] = field(default_factory=dict)
    second: dict[Key, tuple[str, str, str, str]] = field(default_factory=dict)
    same_as: dict[Key, tuple[Key | None, bool]] = field(default_factory=dict)  # rerun key -> (first key, split)
    retired: set[str] = field(default_factory=set)


def _export_keys(document: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    items = {}
    for part, location in SECTIONS.items():
        for index, item in enumerate((document.get("true_statements") or {}).get(location) or []):
            items[(location, "", index)] = item
    positions: dict[str, int] = defaultdict(int)
    for item in (document.get("table_statements") or {}).get("statements") or []:
        source = item.get("table_source") or ""
        items[("table_statements", source, positions[source])] = item
        positions[source] += 1
    return items


def _recorded_key(same_as: dict[str, Any], captions: dict[str, str]) -> Key:
    part = same_as["part"]
    if part == "table":
        return ("table_statements", captions[" ".join(same_as["caption"].split()).casefold()], int(same_as["index"]))
    return (SECTIONS[part], "", int(same_as["index"]))


def read_question(question_id: str, first_dir: Path, second_dir: Path, rerun: Path) -> Question:
    from mksap_assets.domain.exports.document import export_path
    from mksap_assets.domain.exports.identity import SECTION_LABELS, statement_guid
    from mksap_assets.domain.inputs.bank import load_raw_question, question_file_for

    raw = load_raw_question(question_file_for(CORPUS, question_id))
    captions = {" ".join(t.caption.split()).casefold(): t.source for t in raw.educational_tables}
    question = Question(question_id)
    for target, folder in ((question.first, first_dir), (question.second, second_dir)):
        document = json.loads(export_path(folder, question_id).read_text(encoding="utf-8"))
        for key, item in _export_keys(document).items():
            text_guid = statement_guid(question_id, SECTION_LABELS[key[0]], item["statement"])
            answer = (item.get("cloze_candidates") or [""])[0]
            target[key] = (item["id"], text_guid, item["statement"], answer)
        if folder == second_dir:
            question.retired = {r["id"] for r in document.get("retired_statements") or []}
    recording = json.loads((rerun / f"{question_id}.json").read_text(encoding="utf-8"))
    parts = [("critique", "", recording["critique"]["statements"])]
    if recording.get("key_points"):
        parts.append(("key_points", "", recording["key_points"]["statements"]))
    parts += [("table", table["caption"], table["statements"]) for table in recording["tables"]]
    for part, caption, statements in parts:
        for index, statement in enumerate(statements):
            key = _recorded_key({"part": part, "caption": caption, "index": index}, captions)
            same_as = statement.get("same_as")
            question.same_as[key] = (_recorded_key(same_as, captions) if same_as else None,
                                     bool(same_as and same_as.get("split")))
    return question


def figures(question: Question, ids: dict[Key, str], use_text_guid: bool = False) -> Figures:
    """The benchmark's counts for one question, given the rerun's ids (by key). First-run statements with the same
    normalised text are one fact (a model sometimes writes one statement twice: in the critique and the key points)."""
    from mksap_assets.domain.exports.identity import normalise_statement

    result = Figures(statements=len(question.second))
    first_ids = {key: (value[1] if use_text_guid else value[0]) for key, value in question.first.items()}
    texts = {key: normalise_statement(value[2]) for key, value in question.first.items()}
    fact = {key: min(k for k in question.first if texts[k] == texts[key]) for key in question.first}
    owner = {id_: fact[key] for key, id_ in first_ids.items()}
    restated: dict[Key, bool] = {}  # first-run fact -> kept by some rerun statement stating it
    for key, id_ in ids.items():
        target, _ = question.same_as.get(key, (None, False))
        target = fact[target] if target is not None else None
        taken = owner.get(id_)
        if taken is None:
            result.new_ids += 1
        elif taken != target:
            result.false_merges += 1
        if target is not None:
            restated[target] = restated.get(target, False) or taken == target
    result.same_fact = len(restated)
    result.kept = sum(restated.values())
    dropped = [key for key in question.first if fact[key] not in restated]
    result.dropped = len(dropped)
    result.dropped_retired = sum(first_ids[key] in question.retired for key in dropped) if not use_text_guid else 0
    return result


def recomputed_ids(question: Question, threshold: float) -> dict[Key, str]:
    """The rerun's ids as identity.assign_ids gives them at `threshold` (first-run statements as the previous)."""
    from mksap_assets.domain.exports.identity import (
        SECTION_LABELS,
        Candidate,
        assign_ids,
    )

    def candidate(key: Key, value: tuple[str, str, str, str], with_id: bool) -> Candidate:
        return Candidate(SECTION_LABELS[key[0]], value[2], value[3], value[0] if with_id else "")

    new_keys = list(question.second)
    previous = [candidate(key, value, True) for key, value in question.first.items()]
    assignment = assign_ids(question.question_id, [candidate(k, question.second[k], False) for k in new_keys],
                            previous, threshold=threshold)
    return dict(zip(new_keys, assignment.ids, strict=True))


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.1%})" if whole else f"{part}/0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rerun", type=Path, default=DEFAULT_RERUN,
                        help="the reworded rerun recordings (with same_as), kept outside the repository")
    args = parser.parse_args()
    for needed in (CORPUS, MODEL_RESPONSES, args.rerun):
        if not needed.is_dir():
            print(f"{needed} is missing: make bench-deck needs ../shared and the rerun recordings", file=sys.stderr)
            return 1
    question_ids = sorted(path.stem for path in args.rerun.glob("*.json"))
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="mksap-bench-deck-") as folder:
        work = Path(folder)
        first = run_set("first", question_ids, work, provider="anthropic", replay_dir=MODEL_RESPONSES)
        shutil.copytree(work / "first" / "output", work / "second" / "output")
        second = run_set("second", question_ids, work, provider="anthropic", replay_dir=args.rerun)
        failed = sorted({*first.failed, *second.failed})
        questions = [read_question(q, work / "first" / "output", work / "second" / "output", args.rerun)
                     for q in question_ids if q not in failed]
    ids_total, text_total = Figures(), Figures()
    for question in questions:
        ids_total.add(figures(question, {key: value[0] for key, value in question.second.items()}))
        text_total.add(figures(question, {key: value[1] for key, value in question.second.items()}, True))
    halves = (questions[: len(questions) // 2], questions[len(questions) // 2 :])
    lines = [
        "",
        f"## Deck identity across a re-extraction (`make bench-deck`, {started:%Y-%m-%d %H:%M} UTC)",
        "",
        f"{len(questions)} corpus questions ({len(failed)} failed: {', '.join(failed) or 'none'}): the Claude path "
        "replaying `../shared/model_responses`, then again into the same output folder replaying a reworded rerun "
        f"(model-written offline, `{args.rerun.name}`, not API output) whose statements name the first-run statement "
        "they restate. Export-level ids = the notes' GUIDs.",
        "",
        "| GUIDs | rerun statements | same-fact kept | false merges | first-run dropped | listed retired | new |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, total in (("statement ids", ids_total), ("text hash (before)", text_total)):
        retired = _share(total.dropped_retired, total.dropped) if name == "statement ids" else "-"
        lines.append(f"| {name} | {total.statements} | {_share(total.kept, total.same_fact)} | {total.false_merges} "
                     f"| {total.dropped} | {retired} | {total.new_ids} |")
    lines += ["", "Threshold sweep (ids recomputed with `identity.assign_ids` from the exported statements), per half "
              "of the questions (sorted by id):", "",
              "| threshold | half 1 kept | half 1 false merges | half 2 kept | half 2 false merges |",
              "|---|---|---|---|---|"]
    for threshold in SWEEP:
        cells = []
        for half in halves:
            total = Figures()
            for question in half:
                total.add(figures(question, recomputed_ids(question, threshold)))
            cells += [_share(total.kept, total.same_fact), str(total.false_merges)]
        lines.append(f"| {threshold:g} | " + " | ".join(cells) + " |")
    append_results(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
