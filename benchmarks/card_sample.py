"""Print a seeded random sample of the offline deck's cards for a human review (docs/QUALITY.md's rubric).

Runs the offline extractor over ../shared/corpus (benchmarks/quality.py's `run_set`; `--questions DIR`: another
question folder, such as the bundled data/questions) into a temporary folder (or, with `--replay DIR`, the Claude
path replaying the recordings in DIR, for their questions), sorts
the deck's notes by id (question id, section, index) and prints `--count` of them drawn by random.Random(seed):
the front as Anki shows it (c1 hidden as [...]), the c1 answer and the Extra. Terminal only: the corpus is
copyrighted, so card text never goes into the repository.

Run from the checkout to review (it imports that checkout's benchmarks/quality.py), e.g.
    python benchmarks/card_sample.py --seed 16 --count 40
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

CLOZE = re.compile(r"\{\{c(\d+)::(.*?)(?:::(.*?))?\}\}")


def front(text: str) -> str:
    """The card of c1 as Anki shows it: c1 hidden as [...] (or [hint]), other clozes shown."""
    return CLOZE.sub(lambda m: f"[{m.group(3) or '...'}]" if m.group(1) == "1" else m.group(2), text)


def sample(notes: list[Any], seed: int, count: int) -> list[Any]:
    ordered = sorted(notes, key=lambda note: (note.question_id, note.section, note.index))
    return random.Random(seed).sample(ordered, min(count, len(ordered)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--replay", type=Path, help="recordings to replay through the Claude path instead")
    parser.add_argument("--questions", type=Path, help="the question folder (default: ../shared/corpus)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path.cwd() / "benchmarks"))  # the reviewed checkout's quality.py, not this file's
    import orjson
    import quality

    from mksap_assets.domain.exports.anki import notes_from_document
    from mksap_assets.domain.exports.document import ExportDocument, export_path
    from mksap_assets.domain.inputs.bank import discover_questions

    if args.replay is not None:
        question_ids = sorted(path.stem for path in args.replay.glob("*.json"))
        name, provider = "replay", "anthropic"
    else:
        question_ids = [q.question_id for q in discover_questions(args.questions or quality.CORPUS)]
        name, provider = "offline", "offline"
    with tempfile.TemporaryDirectory(prefix="mksap-card-sample-") as folder:
        result = quality.run_set(name, question_ids, Path(folder), provider=provider, replay_dir=args.replay,
                                 data_dir=args.questions or quality.CORPUS)
        # read back from the exports (the pre-v2 run_set keeps no notes), as run_set renders them
        output = Path(folder) / name / "output"
        notes = [note for question_id in question_ids if question_id not in result.failed
                 for note in notes_from_document(ExportDocument.model_validate(
                     orjson.loads(export_path(output, question_id).read_bytes())))[0]]
    print(f"{len(notes)} notes in the {name} deck; seed {args.seed}, {args.count} drawn\n")
    for number, note in enumerate(sample(notes, args.seed, args.count), start=1):
        clozes = CLOZE.findall(note.text)
        answers = "; ".join(f"c{c}={a}" for c, a, _ in clozes)
        print(f"{number:2d}. {note.question_id} {note.section} {note.index}")
        print(f"    front : {front(note.text)}")
        print(f"    answer: {answers}")
        print(f"    extra : {note.extra}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
