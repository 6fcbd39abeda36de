"""Banks of many questions for benchmarks and tests: the bundled samples replicated under new ids."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson

from mksap_assets.domain.inputs.bank import discover_questions
from mksap_assets.settings import PROJECT_ROOT

SAMPLE_DIR = PROJECT_ROOT / "data" / "questions"


def replicate_samples(target: Path, count: int, *, kinds: int | None = None) -> list[str]:
    """Replaces `target` with `count` questions in the bank's layout and returns their ids in copy order.

    Copy i is the sample i % kinds (the first `kinds` samples by id; all of them by default) under the id
    <system><type>9NNNN, with a sentence added to its critique and key points that makes its requests unique."""
    samples = discover_questions(SAMPLE_DIR)[:kinds]
    shutil.rmtree(target, ignore_errors=True)
    ids = []
    for index in range(count):
        sample = samples[index % len(samples)]
        new_id = f"{sample.question_id[:5]}{90000 + index:05d}"
        folder = target / sample.system / new_id
        folder.mkdir(parents=True)
        document = orjson.loads(sample.path.read_bytes())
        document["question_id"] = new_id
        marker = f" Benchmark copy {index} keeps this text unique."
        document["critique"] += marker
        document["key_points"] = [point + marker for point in document["key_points"]]
        (folder / f"{new_id}.json").write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        if (sample.folder / "tables").is_dir():
            shutil.copytree(sample.folder / "tables", folder / "tables")
        ids.append(new_id)
    return ids
