"""Docs that run: every shell command of README.md and docs/UI.md, executed in a sandbox in doc order.

`make docs-check` (`python -m mksap_assets_tests.docs_check`); `.ci/run` calls it after `make test`. It is a make
target of its own rather than a test in `make test`: its commands start `make run`, `dagster dev` and several runs,
each with processes of its own, which would compete with the suite's `pytest -n auto` workers on a 2-core machine,
and run `make` inside `make test`. The cheap half, that every command of the docs is run or listed here, is also a
test in `make test` (test_docs_check.py), so a doc edit that adds a command fails there first.

What counts as a command
- each line of a fenced ```bash, ```sh or ```shell block, and each `$ ` line of a ```console block: a line that
  ends in a backslash goes on in the next; `#` outside quotes starts a comment, a whole line or an annotation after
  the command;
- inline code in the prose whose first word is a program (make, mksap, dagster, curl, python, ...) and that has
  more words. Prose names commands rather than giving them to type, so these are not run: each must name a fenced
  command (its words appear in that order in one) or be listed in NOT_RUN;
- indented code blocks are not read; the docs have none, and one that appears fails the check.

How they run
- One sandbox for all: a temporary DAGSTER_HOME, MKSAP_OUTPUT_DIR, MKSAP_STORE_DIR and MKSAP_LLM_CACHE_DIR,
  MKSAP_DATA_DIR a copy of data/questions; no MKSAP_*, DAGSTER_* or ANTHROPIC_* variable of the caller (without a key
  the offline extractor runs; nothing leaves the machine). The working directory is the project, so make targets
  resolve; `mksap init` (in make run and make dev) rewrites the project's git-ignored `.env`, as it does for users.
- In doc order, README.md then docs/UI.md, since later commands need earlier ones (make run before mksap summary).
- Filled in: `.venv/bin/` is the venv this runs in; make gets `VENV=` that venv and `INSTALLED=` (it is installed:
  make docs-check depends on it); optional `[...]` parts are included; placeholders (`Sandbox.placeholders`) get
  sample values.
- `export NAME=value` sets NAME for the commands after it, as in a shell.
- Servers (SERVERS) start in the background on a free port (the machine may be shared) and must answer before the
  next command; a URL with their documented port goes to them. They serve, as in another terminal, to the end of
  their document when a later command of it uses that port (docs/UI.md's curl), else to the end of their block. Then
  their process groups get SIGINT (Ctrl-C), then SIGKILL, and nothing may outlive them.
- A command that was already run with the same text and environment is not run again.
- Every command must exit 0; CHECKS asserts its effect where that is cheap.
- NOT_RUN says what is not run and why; an `export` listed there also skips the rest of its block, which uses it.
- The first failure stops the check: the commands after it depend on it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from mksap_assets.domain.config import DEFAULT_MODEL
from mksap_assets.domain.exports.document import export_path
from mksap_assets.settings import PROJECT_ROOT
from mksap_assets_tests.helpers import question_json, sample_ids
from mksap_assets_tests.services import (
    READY_TIMEOUT,
    GraphQL,
    ServiceError,
    check_alive,
    free_port,
    local_http,
    stop,
    tail,
)

DOCS = ("README.md", "docs/UI.md")
SHELL_LANGUAGES = {"bash", "sh", "shell"}
PROGRAMS = {"make", "mksap", "dagster", "dagster-webserver", "dagster-daemon", "dg", "curl", "python", "python3"}
VENV = Path(sys.prefix)
COMMAND_TIMEOUT = 600.0  # a hang guard (a server the checker does not know as one), not a speed limit

NOT_RUN = {
    # fenced blocks
    "make test": "the test suite: CI runs it itself, right before this check (.ci/run)",
    "make docs-check": "this check",
    "export ANTHROPIC_API_KEY=sk-ant-...": "needs a real Anthropic API key (Claude's path runs against the fake API "
    "in test_claude_extraction.py and test_robustness.py)",
    ".venv/bin/mksap settings --provider anthropic --model claude-sonnet-5-5 --cloze-mode separate": "pins anthropic, "
    "so every later command would need a real API key; test_pinned_settings.py changes the pin (the synopsis line "
    "with --provider P runs here, with the values already pinned)",
    # named in the prose
    "mksap init": "the first step of make run and make dev (Makefile), run with them",
    "mksap init --storage sqlite|postgres|cluster": "a synopsis; test_storage_profiles.py runs init with each profile, "
    "against a real PostgreSQL server",
    "dagster dev": "what make dev runs (Makefile), run with it",
    "make dev PORT=3001": "make dev on another port: this check runs make dev with PORT= a free port",
    "dagster-daemon run -w workspace.yaml": "make dev already runs a daemon on the sandbox's instance and a second "
    "would compete with it; test_webserver.py starts it this way, beside dagster-webserver",
    "make quality": "minutes over the copyrighted corpus (../shared), not part of a clone",
    "make bench": "benchmarks of about 15 minutes",
    "make bench-incremental": "a benchmark of about 10 minutes",
    "make bench-deck": "replays the copyrighted corpus (../shared) and a rerun kept outside the repository",
}


# --------------------------------------------------------------------------------------------- reading the docs


@dataclass(frozen=True)
class Command:
    doc: str  # relative to the project
    line: int
    text: str
    block: int | None  # its fenced block's index in the doc; None: inline code in the prose

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


@dataclass(frozen=True)
class Block:
    language: str
    first_line: int  # of its content
    lines: list[str]


class DocError(ValueError):
    """The docs hold something the checker cannot read as intended."""


FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w-]*)")
INLINE_CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def fenced_blocks(text: str) -> list[Block]:
    blocks, fence, language, start, lines = [], None, "", 0, []
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None and match:
            fence, language, start, lines = match.group(1), match.group(2).lower(), number + 1, []
        elif fence is not None and len(line.strip()) >= len(fence) and set(line.strip()) == {fence[0]}:
            blocks.append(Block(language, start, lines))
            fence = None
        elif fence is not None:
            lines.append(line)
    return blocks


def strip_comment(line: str) -> str:
    """The line without a `#` comment: one that starts a word outside quotes (bash's rule)."""
    quote, escaped, word_start = None, False, True
    for index, char in enumerate(line):
        at_word_start, word_start = word_start, False
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and at_word_start:
            return line[:index].rstrip()
        else:
            word_start = char.isspace()
    return line.rstrip()


def _block_commands(doc: str, index: int, block: Block) -> list[Command]:
    commands, pending, pending_line = [], "", 0
    for number, line in enumerate(block.lines, block.first_line):
        if block.language == "console" and not pending:
            if not line.startswith("$ "):
                continue  # output
            line = line[2:]
        if not pending:
            pending_line = number
        continued = line.rstrip().endswith("\\")
        pending += strip_comment(line.rstrip()[:-1] if continued else line) + (" " if continued else "")
        if not continued:
            if pending.strip():
                commands.append(Command(doc, pending_line, " ".join(pending.split()), index))
            pending = ""
    return commands


def _prose(text: str) -> str:
    """The doc with its fenced blocks blanked (line numbers kept); raises DocError on an indented code block."""
    lines = text.splitlines()
    fenced = set()
    for block in fenced_blocks(text):
        fenced.update(range(block.first_line - 1, block.first_line + len(block.lines) + 1))
    prose = ["" if number in fenced else line for number, line in enumerate(lines, 1)]
    for number in range(1, len(prose)):
        if prose[number].startswith("    ") and prose[number].strip() and not prose[number - 1].strip():
            raise DocError(f"line {number + 1}: an indented code block; put commands in a fenced bash block")
    return "\n".join(prose)


def is_command(text: str) -> bool:
    words = text.split()
    return len(words) > 1 and words[0].removeprefix(".venv/bin/") in PROGRAMS


def doc_commands(path: Path) -> list[Command]:
    """The commands of one doc, in line order."""
    doc = str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else path.name
    text = path.read_text(encoding="utf-8")
    shell = [(i, b) for i, b in enumerate(fenced_blocks(text)) if b.language in SHELL_LANGUAGES | {"console"}]
    commands = [command for index, block in shell for command in _block_commands(doc, index, block)]
    try:
        prose = _prose(text)
    except DocError as exc:
        raise DocError(f"{doc}: {exc}") from None
    for match in INLINE_CODE.finditer(prose):
        span = " ".join(match.group(1).split())
        if "\n\n" not in match.group(1) and is_command(span):
            commands.append(Command(doc, prose.count("\n", 0, match.start()) + 1, span, None))
    return sorted(commands, key=lambda command: command.line)


def documented_output(doc: str, after: str) -> list[str]:
    """The lines of the first fenced block after the line of `doc` that contains `after` (output the doc shows)."""
    text = (PROJECT_ROOT / doc).read_text(encoding="utf-8")
    lines = text.splitlines()
    marker = next((n for n, line in enumerate(lines, 1) if after in line), None)
    block = next((b for b in fenced_blocks(text) if marker is not None and b.first_line > marker), None)
    if block is None:
        raise DocError(f"{doc}: no output block after {after!r}")
    return block.lines


# --------------------------------------------------------------------------------------------- the plan


def _words(text: str) -> list[str]:
    return [word.removeprefix(".venv/bin/") for word in text.replace("[", " ").replace("]", " ").split()]


def _names(inline: str, fenced: str) -> bool:
    """Whether the words of `inline` appear, in this order, in `fenced`, starting with the same program."""
    words, remaining = _words(inline), iter(_words(fenced))
    return _words(fenced)[:1] == words[:1] and all(word in remaining for word in words)


Position = tuple[str, int | None]  # (doc, block); block None: in the prose, or, for a server, to the end of the doc


@dataclass(frozen=True)
class Step:
    command: Command
    action: str  # "run", "serve", "export", "not run", "named"
    note: str = ""  # why it is not run, or where the command it names is
    serves_through: Position | None = None  # "serve": the last (doc, block) whose commands it serves


def plan(commands: list[Command]) -> tuple[list[Step], list[str]]:
    """What to do with each command, and the errors: commands neither run nor listed, NOT_RUN entries the docs no
    longer have."""
    fenced = [c for c in commands if c.block is not None]
    steps, errors, skipped_by = [], [], {}
    for index, command in enumerate(commands):
        block = (command.doc, command.block)
        if command.text in NOT_RUN:
            steps.append(Step(command, "not run", NOT_RUN[command.text]))
            if command.block is not None and command.text.startswith("export "):
                skipped_by[block] = command
        elif command.block is None:
            named = next((f for f in fenced if _names(command.text, f.text)), None)
            if named is None:
                errors.append(f"{command.where}: `{command.text}` is neither run nor listed in NOT_RUN")
            else:
                steps.append(Step(command, "named", f"names the command of {named.where}"))
        elif block in skipped_by:
            steps.append(Step(command, "not run", f"follows `{skipped_by[block].text}`, which is not run"))
        elif command.text.startswith("export "):
            steps.append(Step(command, "export"))
        elif (server := server_for(command.text)) is None:
            steps.append(Step(command, "run"))
        else:
            port = re.compile(rf":{server.documented_port}\b")
            used_later = any(c.doc == command.doc and port.search(c.text) for c in commands[index + 1 :])
            steps.append(Step(command, "serve", serves_through=(command.doc, None if used_later else command.block)))
    present = {command.text for command in commands}
    errors += [f"NOT_RUN lists `{text}`, which the docs no longer have" for text in NOT_RUN if text not in present]
    return steps, errors


def docs_plan(docs: tuple[str, ...] = DOCS) -> tuple[list[Step], list[str]]:
    commands = []
    for doc in docs:
        commands += doc_commands(PROJECT_ROOT / doc)
    return plan(commands)


# --------------------------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class Server:
    """A command that serves until it is stopped."""

    documented_port: int
    on_port: Callable[[str, int], str]  # the command, serving on another port
    wait_ready: Callable[[int, dict, Path, str], None]  # (port, procs, logs, name); raises ServiceError


def _dagster_ready(port: int, procs: dict, logs: Path, name: str) -> None:
    GraphQL(port).wait_ready(procs, logs, name)


def _answers_http(port: int, procs: dict, logs: Path, name: str) -> None:
    http = local_http()
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        check_alive(procs, logs)
        try:
            http.get(f"http://127.0.0.1:{port}/", timeout=5)  # any answer, a 404 too
            return
        except requests.RequestException:
            time.sleep(0.2)
    log = tail(logs / f"{name}.log")
    raise ServiceError(f"{name}: nothing answers on port {port} after {READY_TIMEOUT:.0f} s:\n{log}")


SERVERS = {
    "make dev": Server(3000, lambda command, port: f"{command} PORT={port}", _dagster_ready),
    "mksap fake-api": Server(
        8765, lambda command, port: f"{re.sub(r' --port [0-9]+', '', command)} --port {port}", _answers_http
    ),
}


def server_for(text: str) -> Server | None:
    words = _words(text)
    return next((server for prefix, server in SERVERS.items() if words[: len(prefix.split())] == prefix.split()), None)


# --------------------------------------------------------------------------------------------- the sandbox


@dataclass
class Outcome:
    step: Step
    status: str  # "ran", "serving", "stopped", "set", "skipped", "failed"
    seconds: float = 0.0
    detail: str = ""


class Sandbox:
    """The folders and environment the commands share, and the servers they started."""

    def __init__(self, root: Path):
        self.data_dir = root / "questions"
        shutil.copytree(PROJECT_ROOT / "data" / "questions", self.data_dir)
        self.output_dir = root / "output"
        self.question_ids = sample_ids(self.data_dir)
        self.recordings = root / "recordings"
        self._write_recording(self.question_ids[0])
        self.logs = root / "logs"
        self.logs.mkdir()
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("MKSAP_", "ANTHROPIC_", "DAGSTER_"))}
        self.env = inherited | {
            "DAGSTER_HOME": str(root / "dagster_home"),
            "MKSAP_DATA_DIR": str(self.data_dir),
            "MKSAP_OUTPUT_DIR": str(self.output_dir),
            "MKSAP_STORE_DIR": str(root / "store"),
            "MKSAP_LLM_CACHE_DIR": str(root / "llm_cache"),
            # the project's code, also where it is not the venv's editable install (a git worktree)
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        self.servers: dict[str, tuple[subprocess.Popen, Step]] = {}  # by log name
        self.ports: dict[int, int] = {}  # documented -> actual
        self.survivors: list = []
        self.done: dict[tuple, str] = {}  # (command, environment) -> where it ran

    def _write_recording(self, question_id: str) -> None:
        """A recording for `mksap fake-api --replay DIR` (format: fake_api.load_recording): no statements."""
        raw = json.loads(question_json(self.data_dir, question_id).read_text(encoding="utf-8"))
        self.recordings.mkdir()
        recording = {"question_id": question_id, "educational_objective": raw["educational_objective"],
                     "critique": {"statements": []}, "key_points": None, "tables": []}
        (self.recordings / f"{question_id}.json").write_text(json.dumps(recording), encoding="utf-8")

    def placeholders(self) -> list[tuple[str, str | Callable[[re.Match], str]]]:
        """(pattern, value) in order: the placeholders the docs use."""
        return [
            # an optional part of a synopsis, `[--verbose]`, `[DIR]`, `[--partition ID]…`: included
            (r"(?<!\S)\[(-[^\]]*|[A-Z]+)\]…?", lambda match: match.group(1)),
            (r"(?<![\w/.])\.venv/bin/", f"{VENV}/bin/"),
            (r"--replay DIR\b", f"--replay {self.recordings}"),
            (r"\bDIR\b", str(self.data_dir)),
            (r"\bID\b", self.question_ids[0]),
            (r"/path/to/mksap_data\b", str(self.data_dir)),
            # `mksap settings`'s synopsis: the values the sandbox's instance has pinned (no key: offline)
            (r"--provider P\b", "--provider offline"),
            (r"--model M\b", f"--model {DEFAULT_MODEL}"),
            (r"--cloze-mode C\b", "--cloze-mode folded"),
        ]

    def fill(self, text: str) -> str:
        """The command as the sandbox runs it."""
        for pattern, value in self.placeholders():
            text = re.sub(pattern, value if callable(value) else lambda _match: value, text)
        for documented, actual in self.ports.items():
            text = re.sub(rf"\b(127\.0\.0\.1|localhost):{documented}\b", rf"\g<1>:{actual}", text)
        if text.startswith("make "):
            text = f"make VENV={VENV} INSTALLED= {text.removeprefix('make ')}"
        return text

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_servers()
        if self.survivors:
            raise ServiceError(f"processes left running after SIGKILL: {self.survivors}")

    @property
    def procs(self) -> dict[str, subprocess.Popen]:
        return {name: proc for name, (proc, _) in self.servers.items()}

    def stop_servers(self, position: Position | None = None) -> list[Outcome]:
        """Stops the servers that serve no command at `position` (None: all of them)."""
        def serves(step: Step) -> bool:
            doc, block = step.serves_through
            return position is not None and position[0] == doc and block in (None, position[1])

        done = [name for name, (_, step) in self.servers.items() if not serves(step)]
        started = time.monotonic()
        if done:
            self.survivors += stop([self.servers[name][0] for name in done])
        steps = [self.servers.pop(name)[1] for name in done]
        for step in steps:
            self.ports.pop(server_for(step.command.text).documented_port, None)
        return [Outcome(step, "stopped", time.monotonic() - started) for step in steps]

    # ----------------------------------------------------------------------------------------- one step

    def execute(self, step: Step) -> Outcome:
        command = step.command
        if step.action in ("not run", "named"):
            return Outcome(step, "skipped", detail=step.note)
        if step.action == "export":
            name, _, value = shlex.split(command.text)[1].partition("=")
            self.env[name] = self.fill(value)
            return Outcome(step, "set", detail=f"{name}={self.env[name]}")
        text = self.fill(command.text)
        serve = step.action == "serve"
        key = (text, tuple(sorted(self.env.items())))
        if not serve:  # a server, once stopped, is started again
            if key in self.done:
                detail = f"already run from {self.done[key]}: same command, same environment"
                return Outcome(step, "skipped", detail=detail)
            self.done[key] = command.where
        started, since = time.monotonic(), time.time()
        try:
            output = self._serve(step, text) if serve else self._run(text)
            check = next((check for prefix, check in CHECKS if _words(command.text)[: len(prefix)] == prefix), None)
            if check is not None:
                check(self, command, output, since)
        except Exception as exc:  # whatever went wrong, it is this command's failure: report it and stop
            return Outcome(step, "failed", time.monotonic() - started, f"{type(exc).__name__}: {exc}")
        return Outcome(step, "serving" if serve else "ran", time.monotonic() - started)

    def _run(self, text: str) -> str:
        result = subprocess.run(["bash", "-c", text], cwd=PROJECT_ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"exit {result.returncode}:\n{output[-4000:]}"
        return result.stdout

    def _serve(self, step: Step, text: str) -> str:
        """Starts the server and waits until it answers; returns "" (its output goes on, into its log)."""
        server = server_for(step.command.text)
        port = free_port()
        name = f"{step.command.doc.replace('/', '_')}-{step.command.line}"
        with open(self.logs / f"{name}.log", "wb") as log:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                ["bash", "-c", server.on_port(text, port)], cwd=PROJECT_ROOT, env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.servers[name] = (proc, step)
        server.wait_ready(port, self.procs, self.logs, name)
        self.ports[server.documented_port] = port
        return ""


# --------------------------------------------------------------------------------------------- effects


def _partitions(sandbox: Sandbox, text: str) -> list[str]:
    """The questions a command names (--partition, --partition-range A...B in partition = id order), else all."""
    ids = sandbox.question_ids
    named = re.findall(r"--partition[= ](\S+)", text)
    ranges = re.findall(r"--partition-range[= ](\S+)\.\.\.(\S+)", text)
    named += [key for first, last in ranges for key in ids[ids.index(first) : ids.index(last) + 1]]
    return named or ids


def _exports_written(sandbox: Sandbox, command: Command, output: str, since: float) -> None:
    for question_id in _partitions(sandbox, sandbox.fill(command.text)):
        path = export_path(sandbox.output_dir, question_id)
        assert path.is_file() and path.stat().st_mtime >= since, f"{path} was not written by the command"


def _run_summary(sandbox: Sandbox) -> list[str]:
    """README's `make run` output, with its example paths made the sandbox's."""
    lines = documented_output("README.md", "`make run` ends like this")
    return [line.replace("/path/to/mksap_assets/data/output", str(sandbox.output_dir)) for line in lines]


def _make_run(sandbox: Sandbox, command: Command, output: str, since: float) -> None:
    printed = [line.rstrip() for line in output.splitlines()]
    missing = [line for line in _run_summary(sandbox) if line.rstrip() not in printed]
    assert not missing, f"README's output lines not printed: {missing}\noutput:\n{output[-3000:]}"
    _exports_written(sandbox, command, output, since)


def _mksap_run(sandbox: Sandbox, command: Command, output: str, since: float) -> None:
    assert "succeeded" in output and "FAILED" not in output, output[-3000:]
    _exports_written(sandbox, command, output, since)


def _summary(sandbox: Sandbox, command: Command, output: str, since: float) -> None:
    """It starts with the summary lines of README's `make run` output (lines may follow, e.g. about the deck)."""
    documented = _run_summary(sandbox)
    summary = documented[: next(i for i, line in enumerate(documented) if line.startswith("output folder:")) + 1]
    printed = output.strip().splitlines()
    assert printed[: len(summary)] == summary, f"expected README's summary {summary} first, got:\n{output}"


def _last_line_is(expected: Callable[[Sandbox], str]) -> Callable[[Sandbox, Command, str, float], None]:
    def check(sandbox: Sandbox, command: Command, output: str, since: float) -> None:
        lines = output.strip().splitlines()
        assert lines and lines[-1] == expected(sandbox), f"expected {expected(sandbox)!r} last, got:\n{output[-3000:]}"

    return check


def _sync(sandbox: Sandbox, command: Command, output: str, since: float) -> None:
    data_dir = Path(sandbox.env["MKSAP_DATA_DIR"]).resolve()
    expected = f"{len(sandbox.question_ids)} questions in {data_dir}; 0 partitions added"  # make run added them
    assert output.strip() == expected, f"expected {expected!r}, got:\n{output}"


def _fake_api(sandbox: Sandbox, command: Command, output: str, since: float) -> None:
    """It answers as the Messages API does (with --replay DIR it only starts when DIR holds valid recordings)."""
    port = sandbox.ports[server_for(command.text).documented_port]
    answer = local_http().post(f"http://127.0.0.1:{port}/v1/messages/count_tokens", headers={"x-api-key": "none"},
                               json={"model": "m", "messages": [{"role": "user", "content": "Hello"}]}, timeout=10)
    assert answer.ok and answer.json()["input_tokens"] > 0, (answer.status_code, answer.text)


def _graphql_answer(sandbox: Sandbox, command: Command, output: str, since: float) -> None:
    """A GraphQL answer without errors, each of whose results is not an error type (e.g. LaunchBackfillSuccess)."""
    body = json.loads(output)
    assert not body.get("errors"), body
    for name, result in body["data"].items():
        assert not str((result or {}).get("__typename", "")).endswith("Error"), (name, result)


CHECKS: list[tuple[list[str], Callable[[Sandbox, Command, str, float], None]]] = [
    (["make", "run"], _make_run),
    (["dagster", "asset", "materialize"], _exports_written),
    (["mksap", "run"], _mksap_run),
    (["mksap", "summary"], _summary),
    (["mksap", "check-inputs"], _last_line_is(lambda sandbox: f"{len(sandbox.question_ids)} ok, 0 bad")),
    (["mksap", "sync"], _sync),
    # everything was exported by the commands before it, from unchanged inputs
    (["mksap", "plan"], _last_line_is(lambda sandbox: f"0 to run, 0 to remove, 0 waiting, "
                                                       f"{len(sandbox.question_ids)} up to date")),
    (["mksap", "fake-api"], _fake_api),
    (["curl"], _graphql_answer),
]


# --------------------------------------------------------------------------------------------- main


def run_steps(steps: list[Step], root: Path) -> Iterator[Outcome]:
    """Each step's outcome, in order, until the first failure; each server is stopped after its last command."""
    with Sandbox(root) as sandbox:  # stops what still serves
        for step in steps:
            yield from sandbox.stop_servers((step.command.doc, step.command.block))
            outcome = sandbox.execute(step)
            yield outcome
            if outcome.status == "failed":
                return
        yield from sandbox.stop_servers()


def main() -> int:
    started = time.monotonic()
    try:
        steps, errors = docs_plan()
    except DocError as exc:
        steps, errors = [], [str(exc)]
    if errors:
        print("\n".join(["docs check: the docs have commands this check does not know:", *errors]))
        return 1
    failed = False
    with tempfile.TemporaryDirectory(prefix="docs_check_") as root:
        try:
            for outcome in run_steps(steps, Path(root)):
                command = outcome.step.command
                seconds = f"{outcome.seconds:5.1f} s" if outcome.seconds else ""
                note = f"  ({outcome.detail})" if outcome.detail and outcome.status != "failed" else ""
                print(f"{command.where:16} {outcome.status:8} {seconds:7}  {command.text[:90]}{note}", flush=True)
                if outcome.status == "failed":
                    print(outcome.detail)
                    failed = True
        except ServiceError as exc:  # raised when the servers are stopped
            print(f"docs check: {exc}")
            failed = True
    print(f"docs check: {'FAILED' if failed else 'passed'} in {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
