"""The input question as the bank stores it, validated with pydantic.

Unknown top-level fields are kept (extra="allow") so that an export never drops something the bank added.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from mksap_assets.domain.text import render_inline_markup

# ASCII digits only (`\d` would take "２５０９５"), and the whole string: pydantic's engine reads `$` as the end of the
# text, Python's `re` as "before a final newline", hence `\Z` for the latter.
_QUESTION_ID_BODY = "[a-z]{2}[a-z]{3}[0-9]{5}"
QUESTION_ID_PATTERN = f"^{_QUESTION_ID_BODY}$"
QUESTION_ID_RE = re.compile(rf"\A{_QUESTION_ID_BODY}\Z")

SYSTEM_NAMES: dict[str, str] = {
    "cc": "Critical Care Medicine",
    "cs": "Common Symptoms",
    "cv": "Cardiovascular Medicine",
    "dm": "Dermatology",
    "en": "Endocrinology and Metabolism",
    "fc": "Foundations of Clinical Practice",
    "gi": "Gastroenterology",
    "hm": "Hematology",
    "hp": "Hepatology",
    "id": "Infectious Disease",
    "in": "Interdisciplinary Medicine",
    "np": "Nephrology",
    "nr": "Neurology",
    "on": "Oncology",
    "pm": "Pulmonary Medicine",
    "rm": "Rheumatology",
}

# Real critiques are at most ~3,400 characters; anything far larger is a broken or hostile file, not a question.
MAX_TEXT_CHARS = 20_000
BoundedText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
OptionLetter = Annotated[str, StringConstraints(pattern=r"^[A-Z]$")]


class _Lenient(BaseModel):
    """Nested objects: known fields typed, anything else kept."""

    model_config = ConfigDict(extra="allow")


class Option(_Lenient):
    letter: OptionLetter
    text: str
    peer_percentage: int | float = 0


class UserPerformance(_Lenient):
    user_answer: str | None = None
    correct_answer: OptionLetter
    result: Any = None
    time_taken: Any = None


class Media(_Lenient):
    tables: list[str] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)
    svgs: list[str] = Field(default_factory=list)
    videos: list[str] = Field(default_factory=list)


class TableMetadata(_Lenient):
    table_id: str
    file: str
    title: str | None = None
    short_title: str | None = None
    footnotes: list[str] = Field(default_factory=list)


class MediaMetadata(_Lenient):
    figures: list[dict[str, Any]] = Field(default_factory=list)
    tables: list[TableMetadata] = Field(default_factory=list)
    videos: list[Any] = Field(default_factory=list)
    svgs: list[Any] = Field(default_factory=list)


class Question(BaseModel):
    """One question file. Fields the pipeline reads are required; bookkeeping fields may be absent."""

    model_config = ConfigDict(extra="allow")

    # Declared in the bank's own key order, so a dump (exclude_unset) reproduces the input's layout.
    question_id: Annotated[str, StringConstraints(pattern=QUESTION_ID_PATTERN)]
    category: str
    category_name: str
    educational_objective: BoundedText
    metadata: dict[str, Any] = Field(default_factory=dict)
    question_text: str
    question_stem: str
    options: list[Option] = Field(min_length=2)
    user_performance: UserPerformance | None = None
    critique: BoundedText
    critique_links: list[dict[str, Any]] = Field(default_factory=list)
    key_points: list[BoundedText]
    references: str
    related_content: dict[str, Any] = Field(default_factory=dict)
    media: Media
    media_metadata: MediaMetadata | None = None
    extracted_at: str | None = None

    @field_validator("options")
    @classmethod
    def _letters_unique(cls, options: list[Option]) -> list[Option]:
        letters = [option.letter for option in options]
        duplicates = sorted({letter for letter in letters if letters.count(letter) > 1})
        if duplicates:
            raise ValueError(f"duplicate option letters: {', '.join(duplicates)}")
        return options

    @field_validator("critique", "educational_objective", "question_text", "question_stem")
    @classmethod
    def _plain_text(cls, text: str) -> str:
        """The bank's text is plain apart from inline formatting ("<i>Plasmodium vivax</i>", "10<sup>9</sup>"),
        which normalisation renders. Any other markup ("<script>", "<p>") means the file is not what it claims to
        be: ``render_inline_markup`` raises on it (a ``ValueError``). The input itself is kept as written."""
        render_inline_markup(text)
        return text

    @field_validator("key_points")
    @classmethod
    def _plain_key_points(cls, points: list[str]) -> list[str]:
        for point in points:
            cls._plain_text(point)
        return points

    @property
    def system(self) -> str:
        return self.question_id[:2]

    @property
    def question_type(self) -> str:
        return self.question_id[2:5]
