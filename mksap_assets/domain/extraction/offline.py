"""The offline extractor: deterministic, rule-based, no API key needed.

It is a real, labelled fallback (outputs say "extractor": "offline"), not a test double: sentences of the
critique and key points become statements after the option citations are dropped and "this patient" is
generalised; each educational table row becomes one statement with the caption as its extra_field.
It never writes an extra_field for prose, because it cannot tell explanation from fact.
"""

from __future__ import annotations

import hashlib
import re

from mksap_assets.domain.extraction.offline_cloze import pick_cloze_candidates
from mksap_assets.domain.inputs.bank import RawQuestion
from mksap_assets.domain.inputs.tables import ParsedTable
from mksap_assets.domain.nlp import parsing
from mksap_assets.domain.statements import Extraction, Statement, TableStatement
from mksap_assets.domain.text import (
    normalise_comparators,
    normalise_whitespace,
    strip_option_citations,
)

OFFLINE_EXTRACTOR_VERSION = "1"
# Offline "prompt" = these rules; the version lets the fingerprint change when they do.
OFFLINE_RULES_VERSION = hashlib.sha256(f"offline-rules-{OFFLINE_EXTRACTOR_VERSION}".encode()).hexdigest()[:12]

MIN_WORDS = 5
MAX_TABLE_ROWS = 10

_PATIENT_RE = re.compile(r"\b(?:in\s+)?(this|the)\s+patient('s)?\b", re.IGNORECASE)
# Third-person pronouns or a pointer at the case mean the sentence narrates the case ("so she qualifies",
# "neither applies here"), not a general fact; a leading pronoun leaves the card without its subject.
_CASE_NARRATIVE_RE = re.compile(
    r"\b(?:she|he|her|his|him|hers)\b|\b(?:described here|in this case|this case)\b"
    r"|^(?:It|This|These|Those|They|That|Neither|None|Both|Either)\b",
    re.IGNORECASE,
)
_STARTS_WITH_CONNECTIVE_RE = re.compile(r"^(?:However|Additionally|Also|Furthermore|Moreover|Therefore|Thus),\s+")


def generalise_patient(sentence: str) -> str:
    """'this patient' / 'the patient' -> 'a patient' (keeping 'in' and the possessive)."""

    def replace(match: re.Match[str]) -> str:
        prefix = "in " if match.group(0).lower().startswith("in ") else ""
        article = "A" if match.group(1)[0].isupper() and not prefix else "a"
        return f"{prefix}{article} patient{match.group(2) or ''}"

    return _PATIENT_RE.sub(replace, sentence)


def sentence_to_statement(sentence: str) -> str:
    text = normalise_whitespace(strip_option_citations(sentence))
    text = generalise_patient(text)
    text = _STARTS_WITH_CONNECTIVE_RE.sub("", text)
    text = normalise_comparators(text)
    return text[:1].upper() + text[1:] if text else text


def _prose_statements(sentences: list[str]) -> list[Statement]:
    statements = []
    for sentence in sentences:
        text = sentence_to_statement(sentence)
        if len(text.split()) < MIN_WORDS or _CASE_NARRATIVE_RE.search(text):
            continue
        statements.append(Statement(statement=text, extra_field=None, cloze_candidates=pick_cloze_candidates(text)))
    return statements


def table_row_statements(table: ParsedTable) -> list[TableStatement]:
    """One statement per body row: '<row subject>: <header> <value>; …', caption as extra_field."""
    grid = table.grid()
    header_count = len(table.header_rows)
    headers = grid[header_count - 1] if header_count else []
    statements = []
    for row in grid[header_count:][:MAX_TABLE_ROWS]:
        if not row or not row[0].strip():
            continue
        subject = row[0].strip()
        parts = []
        for column, value in enumerate(row[1:], start=1):
            if not value.strip():
                continue
            label = headers[column].strip() if column < len(headers) else ""
            parts.append(f"{label}: {value.strip()}" if label else value.strip())
        if not parts:
            continue
        text = normalise_comparators(f"{subject} ({'; '.join(parts)})")
        statements.append(
            TableStatement(
                statement=text,
                extra_field=table.caption or None,
                cloze_candidates=[subject] if subject in text else [],
                table_source=table.source,
            )
        )
    return statements


class OfflineExtractor:
    name = "offline"
    model: str | None = None
    prompt_version = OFFLINE_RULES_VERSION

    async def aclose(self) -> None:
        return None

    async def extract(self, raw: RawQuestion) -> Extraction:
        critique_sentences, *key_point_sentences = parsing.split_sentences([raw.critique, *raw.key_points])
        table_statements = [s for table in raw.educational_tables for s in table_row_statements(table)]
        return Extraction(
            question_id=raw.question_id,
            extractor=self.name,
            model=self.model,
            prompt_version=self.prompt_version,
            from_critique=_prose_statements(critique_sentences),
            from_key_points=_prose_statements([s for sentences in key_point_sentences for s in sentences]),
            table_statements=table_statements,
            tables_processed=len({s.table_source for s in table_statements}),
            tables_skipped=raw.lab_tables_skipped,
        )
