"""Recordings (the replay format of mksap_devtools.fake_api.load_recording) from answers written offline to captured
extraction requests.

    python benchmarks/recordings_from_answers.py REQUESTS ANSWERS OUT

REQUESTS is what `quality.py --capture-requests` wrote (REQUESTS/<question_id>/<part>.json: system, tool, user).
ANSWERS holds one tool input per answered request, ANSWERS/<question_id>/<part>.json ({"statements": [...]}, as the
model would call record_statements). OUT/<question_id>.json gets the question's recording: its objective and table
captions taken from the requests, so the replay finds each answer by what the request carries. Replay OUT with
`quality.py --also OUT`. Every folder stays outside the repository: requests and answers derive from the corpus.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

_OBJECTIVE_RE = re.compile(r"<educational_objective>(.*?)</educational_objective>", re.S)
_SOURCE_RE = re.compile(r"<source kind=\"[^\"]*\">\n(.*?)\n</source>", re.S)


def recording(question_id: str, requests: Path, answers: Path) -> dict[str, Any]:
    """One question's recording; raises ValueError naming the file when a request has no answer."""
    document: dict[str, Any] = {"question_id": question_id, "key_points": None, "tables": []}
    for request_path in sorted(requests.glob("*.json")):
        part = request_path.stem
        answer_path = answers / request_path.name
        if not answer_path.is_file():
            raise ValueError(f"{answer_path}: no answer to {request_path}")
        user = json.loads(request_path.read_text(encoding="utf-8"))["user"]
        statements = json.loads(answer_path.read_text(encoding="utf-8"))["statements"]
        document["educational_objective"] = _OBJECTIVE_RE.search(user).group(1)
        if part.startswith("table-"):
            caption = _SOURCE_RE.search(user).group(1).split("\n", 1)[0]
            document["tables"].append({"caption": caption, "statements": statements})
        else:
            document[part] = {"statements": statements}
    document.setdefault("critique", {"statements": []})
    return document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requests", type=Path)
    parser.add_argument("answers", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    for answers in sorted(path for path in args.answers.iterdir() if path.is_dir()):
        try:
            document = recording(answers.name, args.requests / answers.name, answers)
        except (ValueError, KeyError, AttributeError) as exc:
            print(f"{answers.name}: skipped: {exc}", file=sys.stderr)
            continue
        (args.out / f"{answers.name}.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
        written += 1
    print(f"{written} recordings written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
