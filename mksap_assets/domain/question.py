"""The input question as the bank stores it, validated with pydantic.

Unknown top-level fields are kept (extra="allow") so that an export never drops something the bank added.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

QUESTION_ID_PATTERN = r"^[a-z]{2}[a-z]{3}\d{5}$"
QUESTION_ID_RE = re.compile(QUESTION_ID_PATTERN)

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

NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1)]
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
    educational_objective: NonEmptyText
    metadata: dict[str, Any] = Field(default_factory=dict)
    question_text: str
    question_stem: str
    options: list[Option] = Field(min_length=2)
    user_performance: UserPerformance | None = None
    critique: NonEmptyText
    critique_links: list[dict[str, Any]] = Field(default_factory=list)
    key_points: list[NonEmptyText]
    references: str
    related_content: dict[str, Any] = Field(default_factory=dict)
    media: Media
    media_metadata: MediaMetadata | None = None
    extracted_at: str | None = None

    @property
    def system(self) -> str:
        return self.question_id[:2]

    @property
    def question_type(self) -> str:
        return self.question_id[2:5]

    def table_footnotes(self, file_name: str) -> list[str]:
        """Footnotes live only in media_metadata (the HTML has no <tfoot>)."""
        if self.media_metadata is None:
            return []
        for table in self.media_metadata.tables:
            if table.file.rsplit("/", 1)[-1] == file_name:
                return list(table.footnotes)
        return []
