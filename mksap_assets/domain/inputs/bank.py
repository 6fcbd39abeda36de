"""Finding question files in a bank and turning one into a normalised `RawQuestion`.

Layout (the real bank's): <data dir>/<system>/<question_id>/<question_id>.json, optional tables/*.html beside it.

Every input is read only when it is a regular file inside the bank, no larger than its cap: a FIFO would block the
reader (and with it `mksap plan` and the sensor's tick), a device such as /dev/zero never ends, and a symlink that
leads out of the bank would put a file from elsewhere in the exports. A symlink that stays inside the bank is
followed (a bank may share a file between questions that way).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import orjson
from pydantic import BaseModel, ValidationError

from mksap_assets.domain.errors import InputError, failed_field
from mksap_assets.domain.inputs.question import QUESTION_ID_RE, Question
from mksap_assets.domain.inputs.tables import (
    ParsedTable,
    TableParseError,
    parse_table_bytes,
)
from mksap_assets.domain.text import (
    normalise_exponents,
    normalise_whitespace,
    render_inline_markup,
    repair_glued_sentences,
    split_glued_list_items,
)


@dataclass(frozen=True)
class QuestionFile:
    question_id: str
    system: str
    path: Path

    @property
    def relative_path(self) -> str:
        """Path inside the data dir, the same on every machine."""
        return f"{self.system}/{self.question_id}/{self.path.name}"

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def bank(self) -> Path:
        """The data dir this question file was found in."""
        return self.path.parents[2]

    def table_paths(self) -> list[Path]:
        tables_dir = self.folder / "tables"
        return sorted(tables_dir.glob("*.html")) if tables_dir.is_dir() else []


def discover_questions(data_dir: Path) -> list[QuestionFile]:
    """Every <system>/<D>/<D>.json under data_dir, sorted by question id. Hidden folders are skipped."""
    found: list[QuestionFile] = []
    if not data_dir.is_dir():
        return found
    for system_dir in data_dir.iterdir():
        if not system_dir.is_dir() or system_dir.name.startswith("."):
            continue
        for question_dir in system_dir.iterdir():
            candidate = question_dir / f"{question_dir.name}.json"
            # Anything but a folder under that name is a candidate (a FIFO too): reading it reports what it is.
            if question_dir.is_dir() and os.path.lexists(candidate) and not candidate.is_dir():
                found.append(QuestionFile(question_dir.name, system_dir.name, candidate))
    return sorted(found, key=lambda q: (q.question_id, str(q.path)))


def question_file_for(data_dir: Path, question_id: str) -> QuestionFile:
    """Where a question id lives: its system is the id's first two letters."""
    system = question_id[:2]
    return QuestionFile(question_id, system, data_dir / system / question_id / f"{question_id}.json")


def is_safe_question_id(question_id: str) -> bool:
    return bool(QUESTION_ID_RE.match(question_id))


# Real question files are ~20 KB and tables ~4 KB. The question cap leaves room for one oversized field to be reported
# by name (question.MAX_TEXT_CHARS); a table's parsed grid has its own cap (tables.MAX_TABLE_CELLS).
MAX_QUESTION_BYTES = 16 * 1024 * 1024
MAX_TABLE_BYTES = 1024 * 1024

_FILE_KINDS = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device",
               stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}


def _check_regular(path: Path, mode: int, size: int, max_bytes: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _FILE_KINDS.items() if test(mode)), "not a regular file")
        raise InputError(path, "file", f"{kind}, not a regular file")
    if size > max_bytes:
        raise InputError(path, "file", f"{size} bytes, more than the {max_bytes} allowed")


def read_input_bytes(path: Path, real_bank: str, max_bytes: int) -> bytes:
    """The bytes of one input file: a regular file inside the bank (`real_bank`: its real path, resolved once by the
    caller) of at most `max_bytes`, else an InputError. Checked with stat before it is opened (opening a FIFO
    blocks), and again on the open file (O_NONBLOCK: a file swapped for a FIFO in between cannot block either).
    os.path on strings, not pathlib: the sensor hashes every input of the bank on each tick."""
    try:
        resolved = os.path.realpath(path, strict=True)  # a symlink loop raises OSError (ELOOP)
        if not resolved.startswith(real_bank + os.sep):
            raise InputError(path, "file", f"a link to {resolved}, outside the bank")
        info = os.stat(resolved)
        _check_regular(path, info.st_mode, info.st_size, max_bytes)
        with open(os.open(resolved, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
            info = os.fstat(handle.fileno())
            _check_regular(path, info.st_mode, info.st_size, max_bytes)
            content = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(path, "file", f"cannot read: {exc.strerror or exc}") from exc
    if len(content) > max_bytes:  # grew since the stat
        raise InputError(path, "file", f"more than the {max_bytes} bytes allowed")
    return content


@dataclass(frozen=True)
class QuestionInputs:
    """Every input byte of one question: its JSON file and its table files."""

    json: bytes
    tables: list[tuple[Path, bytes]]

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256(self.json)
        for table_path, content in self.tables:
            digest.update(b"\0" + table_path.name.encode() + b"\0")
            digest.update(content)
        return digest.hexdigest()


def read_question_inputs(question_file: QuestionFile) -> QuestionInputs:
    """Raises InputError naming the file for any input that is not a regular file in the bank within its cap."""
    real_bank = os.path.realpath(question_file.bank)
    return QuestionInputs(
        read_input_bytes(question_file.path, real_bank, MAX_QUESTION_BYTES),
        [(path, read_input_bytes(path, real_bank, MAX_TABLE_BYTES)) for path in question_file.table_paths()],
    )


def input_sha256(question_file: QuestionFile) -> str:
    """Hash of every input byte of a question: the JSON file and each table file (name and content)."""
    return read_question_inputs(question_file).sha256


class RawQuestion(BaseModel):
    """The raw_question asset: the validated input plus the normalised text the pipeline reads."""

    question: Question
    source_path: str
    input_sha256: str
    critique: str
    key_points: list[str]
    educational_objective: str
    tables: list[ParsedTable]

    @property
    def question_id(self) -> str:
        return self.question.question_id

    @property
    def lab_tables_skipped(self) -> int:
        return sum(1 for table in self.tables if table.kind == "lab_values")

    @property
    def educational_tables(self) -> list[ParsedTable]:
        return [table for table in self.tables if table.kind == "educational"]

    def question_context(self) -> str:
        """The question the critique explains, as the model sees it beside the critique (never as a source): the
        vignette, the stem, and the options with the correct one marked."""
        question = self.question
        correct = question.user_performance.correct_answer if question.user_performance else None
        options = " ".join(
            f"({option.letter}) {_clean(option.text)}{' (correct)' if option.letter == correct else ''}"
            for option in question.options
        )
        return "\n".join(text for text in (_clean(question.question_text), _clean(question.question_stem),
                                            f"Options: {options}") if text)


def parse_question(question_file: QuestionFile, raw_bytes: bytes) -> Question:
    """Validate the JSON only. Raises InputError naming the file and the field."""
    path = question_file.path
    try:
        document = orjson.loads(raw_bytes)
    except orjson.JSONDecodeError as exc:
        raise InputError(path, "json", f"malformed JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InputError(path, "(root)", f"expected a JSON object, got {type(document).__name__}")
    try:
        question = Question.model_validate(document)
    except ValidationError as exc:
        field, message = failed_field(exc)
        raise InputError(path, field, message) from exc
    if question.question_id != question_file.question_id:
        raise InputError(
            path,
            "question_id",
            f"'{question.question_id}' does not match its file name '{question_file.question_id}'",
        )
    if question.category != question_file.system:
        raise InputError(
            path, "category", f"'{question.category}' does not match its system folder '{question_file.system}'"
        )
    return question


def load_raw_question(question_file: QuestionFile) -> RawQuestion:
    """Parse, validate and normalise one question and its tables; every failure is an InputError."""
    if not is_safe_question_id(question_file.question_id):
        raise InputError(
            question_file.path, "question_id", f"'{question_file.question_id}' is not a valid question id"
        )
    if question_file.question_id[:2] != question_file.system:
        raise InputError(
            question_file.path,
            "question_id",
            f"'{question_file.question_id}' belongs to system '{question_file.question_id[:2]}', "
            f"not to the folder '{question_file.system}'",
        )
    inputs = read_question_inputs(question_file)
    question = parse_question(question_file, inputs.json)
    present = {path.name for path, _ in inputs.tables}
    for index, listed in enumerate(question.media.tables):
        if listed.rsplit("/", 1)[-1] not in present:
            raise InputError(question_file.path, f"media.tables.{index}", f"listed table '{listed}' does not exist")
    tables = []
    for table_path, content in inputs.tables:
        try:
            tables.append(parse_table_bytes(content, table_path.name))
        except TableParseError as exc:
            raise InputError(table_path, exc.field, str(exc)) from exc
    return RawQuestion(
        question=question,
        source_path=question_file.relative_path,
        input_sha256=inputs.sha256,
        critique=_clean(question.critique),
        key_points=[_clean(point) for point in question.key_points],
        educational_objective=_clean(question.educational_objective),
        tables=tables,
    )


def _clean(text: str) -> str:
    """The text the pipeline reads: inline markup rendered, whitespace collapsed, glued list items and sentences
    separated, powers of ten written "10^9"."""
    text = normalise_whitespace(render_inline_markup(text))
    return normalise_exponents(repair_glued_sentences(split_glued_list_items(text)))
