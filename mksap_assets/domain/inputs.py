"""Finding question files in a bank and turning one into a normalised `RawQuestion`.

Layout (the real bank's): <data dir>/<system>/<question_id>/<question_id>.json, optional tables/*.html beside it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import orjson
from pydantic import BaseModel, ValidationError

from mksap_assets.domain.errors import InputError
from mksap_assets.domain.question import QUESTION_ID_RE, Question
from mksap_assets.domain.tables import ParsedTable, TableParseError, load_table
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
            if question_dir.is_dir() and candidate.is_file():
                found.append(QuestionFile(question_dir.name, system_dir.name, candidate))
    return sorted(found, key=lambda q: (q.question_id, str(q.path)))


def question_file_for(data_dir: Path, question_id: str) -> QuestionFile:
    """Where a question id lives: its system is the id's first two letters."""
    system = question_id[:2]
    return QuestionFile(question_id, system, data_dir / system / question_id / f"{question_id}.json")


def is_safe_question_id(question_id: str) -> bool:
    return bool(QUESTION_ID_RE.match(question_id))


def input_sha256(question_file: QuestionFile, json_bytes: bytes | None = None) -> str:
    """Hash of every input byte of a question: the JSON file and each table file (name and content)."""
    digest = hashlib.sha256(question_file.path.read_bytes() if json_bytes is None else json_bytes)
    for table_path in question_file.table_paths():
        digest.update(b"\0" + table_path.name.encode() + b"\0")
        digest.update(table_path.read_bytes())
    return digest.hexdigest()


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


def _field_of(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(root)"
    return field, first["msg"]


def read_question_bytes(question_file: QuestionFile) -> bytes:
    try:
        return question_file.path.read_bytes()
    except OSError as exc:
        raise InputError(question_file.path, "file", f"cannot read: {exc.strerror or exc}") from exc


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
        field, message = _field_of(exc)
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
    raw_bytes = read_question_bytes(question_file)
    question = parse_question(question_file, raw_bytes)
    table_paths = question_file.table_paths()
    present = {p.name for p in table_paths}
    for index, listed in enumerate(question.media.tables):
        if listed.rsplit("/", 1)[-1] not in present:
            raise InputError(question_file.path, f"media.tables.{index}", f"listed table '{listed}' does not exist")
    tables = []
    for table_path in table_paths:
        try:
            tables.append(load_table(table_path))
        except TableParseError as exc:
            raise InputError(table_path, exc.field, str(exc)) from exc
    return RawQuestion(
        question=question,
        source_path=question_file.relative_path,
        input_sha256=input_sha256(question_file, raw_bytes),
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
