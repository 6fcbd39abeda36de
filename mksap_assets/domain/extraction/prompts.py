"""Prompt files (beside this module) and their versions.

A prompt's version is the hash of its text, so editing a prompt changes the fingerprint of every question it
touches. The system prompt plus one task prompt form a byte-stable prefix (a provider may cache it: Anthropic's
puts its cache breakpoint there); only the user message (the question's source text) varies.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path
from typing import Any

import orjson

from mksap_assets.domain.extraction.schemas import (
    CLOZES_TOOL_DEF,
    REPAIRS_TOOL_DEF,
    STATEMENTS_ONLY_TOOL,
    STATEMENTS_WITH_CLOZES_TOOL,
)

PROMPT_DIR = Path(__file__).with_name("prompts")
TASKS = ("critique", "key_points", "table", "cloze")  # extraction; the repair turn is versioned on its own
_CLOSING_TAG_RE = re.compile(
    r"</\s*(?:source|statements|educational_objective|question_context|key_points)", re.IGNORECASE
)


@functools.cache
def prompt_text(name: str) -> str:
    return (PROMPT_DIR / f"{name}.md").read_text(encoding="utf-8")


def _version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@functools.cache
def prompt_versions() -> dict[str, str]:
    """Version of each prompt file and of the tool schemas (their text is part of the prompt too)."""
    versions = {name: _version(prompt_text(name)) for name in ("system", *TASKS)}
    tools = [STATEMENTS_WITH_CLOZES_TOOL, STATEMENTS_ONLY_TOOL, CLOZES_TOOL_DEF]
    versions["tools"] = _version(orjson.dumps(tools, option=orjson.OPT_SORT_KEYS).decode())
    return versions


@functools.cache
def combined_prompt_version() -> str:
    """What extraction asks: part of every extraction request's cache key and of each question's fingerprint."""
    return _version(orjson.dumps(prompt_versions(), option=orjson.OPT_SORT_KEYS).decode())


@functools.cache
def repair_prompt_version() -> str:
    """What the repair turn asks (system rules, repair task, its tool). Kept apart from the extraction version, so
    that editing the repair prompt re-validates questions without invalidating their cached extraction answers."""
    parts = {"system": prompt_text("system"), "repair": prompt_text("repair"), "tool": REPAIRS_TOOL_DEF}
    return _version(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS).decode())


def instructions(task: str) -> tuple[str, str]:
    """The system text of every call of a task: the rules, then the task's instructions (a provider may cache them
    as a prefix)."""
    return prompt_text("system"), prompt_text(task)


def _defuse(text: str) -> str:
    """Source text cannot close our tags early; otherwise it is passed verbatim ("<30 mL/min" stays as is)."""
    return _CLOSING_TAG_RE.sub(lambda m: m.group(0).replace("</", "< /"), text)


def source_message(
    objective: str, source: str, *, label: str, context: str | None = None, key_points: str | None = None
) -> str:
    """The dynamic part of a request: the objective, then (for the critique) the question as context that is not a
    source and the key points carried by their own request, then the source."""
    parts = [f"<educational_objective>{_defuse(objective)}</educational_objective>"]
    if context:
        parts.append(f"<question_context>\n{_defuse(context)}\n</question_context>")
    if key_points:
        parts.append(f"<key_points>\n{_defuse(key_points)}\n</key_points>")
    parts.append(f'<source kind="{label}">\n{_defuse(source)}\n</source>')
    return "\n".join(parts)


def statements_message(statements: list[str]) -> str:
    lines = "\n".join(f"{index}. {_defuse(text)}" for index, text in enumerate(statements, start=1))
    return f"<statements>\n{lines}\n</statements>"


def repair_message(objective: str, sources: list[tuple[str, str]], statements: list[dict[str, Any]]) -> str:
    """The repair turn's request: the sources the statements came from (kind, text) and the statements, as JSON
    objects with their index, source kind, fields and issues."""
    parts = [f"<educational_objective>{_defuse(objective)}</educational_objective>"]
    parts += [f'<source kind="{kind}">\n{_defuse(text)}\n</source>' for kind, text in sources]
    lines = "\n".join(_defuse(orjson.dumps(item).decode()) for item in statements)
    parts.append(f"<statements>\n{lines}\n</statements>")
    return "\n".join(parts)
