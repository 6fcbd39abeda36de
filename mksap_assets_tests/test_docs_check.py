"""The docs check (docs_check.py): how it reads commands out of Markdown, fills them in and runs them, and that every
command of README.md and docs/UI.md is run or listed, so that a doc edit adding a command nobody runs fails here, in
`make test`, before CI's `make docs-check` runs them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from mksap_assets_tests.docs_check import (
    NOT_RUN,
    VENV,
    DocError,
    Sandbox,
    doc_commands,
    docs_plan,
    plan,
    run_steps,
)

FENCE = "```"


def _doc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "DOC.md"
    path.write_text(text.replace("'''", FENCE), encoding="utf-8")
    return path


def _texts(path: Path) -> list[tuple[int, str, bool]]:
    return [(c.line, c.text, c.block is not None) for c in doc_commands(path)]


def test_every_command_of_the_docs_is_run_or_listed():
    steps, errors = docs_plan()
    assert errors == []
    actions = {(step.command.text, step.action) for step in steps}
    assert {("make run", "run"), ("make dev", "serve"), ("make test", "not run")} <= actions
    assert any(text.startswith("curl ") and action == "run" for text, action in actions)


def test_fenced_commands_join_continuations_and_drop_comments(tmp_path: Path):
    path = _doc(tmp_path, """# Title

'''bash
# a comment line
make run   # an annotation
.venv/bin/dagster asset materialize --select 'a#b' \\
    --partition X  # the annotation of a continued command
echo "one # two" 'three # four' five\\ #six
'''

'''console
$ mksap summary
questions exported: 16
'''

'''
make run is output here, not a command
'''
""")
    assert _texts(path) == [
        (5, "make run", True),
        (6, ".venv/bin/dagster asset materialize --select 'a#b' --partition X", True),
        (8, """echo "one # two" 'three # four' five\\ #six""", True),  # quoted or escaped: not comments
        (12, "mksap summary", True),
    ]


def test_inline_code_counts_when_it_starts_with_a_program(tmp_path: Path):
    path = _doc(tmp_path, "Run `make quality`, or `mksap\nplan` over two lines.\n\n"
                          "`dagster-webserver`, `foo bar` and `data/output` are not commands.\n")
    assert _texts(path) == [(1, "make quality", False), (1, "mksap plan", False)]


def test_an_indented_code_block_is_refused(tmp_path: Path):
    path = _doc(tmp_path, "Text.\n\n    make run\n")
    with pytest.raises(DocError, match="indented code block"):
        doc_commands(path)


def test_the_plan_refuses_unknown_prose_commands_and_stale_entries(tmp_path: Path):
    path = _doc(tmp_path, """'''bash
.venv/bin/mksap run [--partition ID]…
'''

`mksap run` names the command above; `make frobnicate` names nothing.
""")
    steps, errors = plan(doc_commands(path))
    assert [(step.command.text, step.action) for step in steps] == [
        (".venv/bin/mksap run [--partition ID]…", "run"),
        ("mksap run", "named"),
    ]
    assert "DOC.md:5: `make frobnicate` is neither run nor listed in NOT_RUN" in errors
    assert "NOT_RUN lists `make bench`, which the docs no longer have" in errors
    assert len(errors) == 1 + len(NOT_RUN)


def test_an_export_that_is_not_run_skips_the_rest_of_its_block(tmp_path: Path):
    path = _doc(tmp_path, """'''bash
export ANTHROPIC_API_KEY=sk-ant-...
make run
'''

'''bash
make run
'''
""")
    steps, _ = plan(doc_commands(path))
    assert [(step.command.line, step.action) for step in steps] == [(2, "not run"), (3, "not run"), (7, "run")]
    assert steps[1].note == "follows `export ANTHROPIC_API_KEY=sk-ant-...`, which is not run"


def test_placeholders_get_sandbox_values(tmp_path: Path):
    sandbox = Sandbox(tmp_path / "sandbox")
    first = sandbox.question_ids[0]
    assert sandbox.fill(".venv/bin/mksap run [--partition ID]…") == f"{VENV}/bin/mksap run --partition {first}"
    assert sandbox.fill(".venv/bin/mksap check-inputs [DIR]") == f"{VENV}/bin/mksap check-inputs {sandbox.data_dir}"
    assert sandbox.fill("mksap fake-api --replay DIR") == f"mksap fake-api --replay {sandbox.recordings}"
    assert sandbox.fill("make dev") == f"make VENV={VENV} INSTALLED= dev"
    curl = """curl -s http://127.0.0.1:3000/graphql -d '{"query":"{ a(b: [{path: [\\"c\\"]}]) }"}'"""
    assert sandbox.fill(curl) == curl  # JSON brackets are not optional parts; no server serves port 3000 yet
    sandbox.ports[3000] = 4321
    assert sandbox.fill(curl) == curl.replace(":3000/", ":4321/")


def test_commands_run_in_order_in_the_sandbox_until_the_first_failure(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-planted")
    path = _doc(tmp_path, """'''bash
export BANK=/path/to/mksap_data
test "$BANK" = "$MKSAP_DATA_DIR"     # the placeholder is the sandbox's copy of the bank
test -z "${ANTHROPIC_API_KEY:-}" && test -f "$MKSAP_DATA_DIR/cv/cvmcq26001/cvmcq26001.json"
test "$BANK" = "$MKSAP_DATA_DIR"
false
echo never
'''
""")
    steps, _ = plan(doc_commands(path))
    outcomes = list(run_steps(steps, tmp_path / "sandbox"))
    assert [(o.step.command.line, o.status) for o in outcomes] == [(2, "set"), (3, "ran"), (4, "ran"), (5, "skipped"),
                                                                 (6, "failed")]
    assert "already run from DOC.md:3" in outcomes[3].detail
    assert "exit 1" in outcomes[4].detail


def test_a_server_serves_its_block_or_the_later_commands_of_its_doc_that_use_its_port(tmp_path: Path):
    path = _doc(tmp_path, """'''bash
make dev
.venv/bin/mksap fake-api --port 8765
'''

'''bash
curl -s http://127.0.0.1:3000/graphql
'''
""")
    steps, _ = plan(doc_commands(path))
    assert [(step.action, step.serves_through) for step in steps] == [
        ("serve", ("DOC.md", None)),  # to the end of the doc: the curl uses its port
        ("serve", ("DOC.md", 0)),  # to the end of its block
        ("run", None),
    ]


def test_the_readme_is_short_and_maps_the_code_near_the_top():
    """A README for users: under 12 KB, the "where to change what" map before the UI and the shell, and every path
    the map names exists."""
    import re

    from mksap_assets.settings import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text()
    assert len(readme.encode()) < 12_000
    headings = re.findall(r"^## (.+)$", readme, flags=re.M)
    assert headings.index("Where to change what") < headings.index("The Dagster UI")
    map_section = readme.split("## Where to change what")[1].split("\n## ")[0]
    package = PROJECT_ROOT / "mksap_assets"
    for path in re.findall(r"`([\w/]+(?:\.py|/))`", map_section):  # a path of the package, or a name in it
        found = (PROJECT_ROOT / path).exists() or (package / path).exists() or list(package.rglob(path.rstrip("/")))
        assert found, path
