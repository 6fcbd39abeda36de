"""A fake Anthropic Messages API on loopback, for tests and for local runs without a key (`mksap fake-api`).

The real `anthropic` SDK talks to it over HTTP (`base_url=fake.url`), so retries, timeouts, headers and response
validation are exercised for real. Standard library only, so the CLI starts fast.

What it serves (non-streaming only):

- ``POST /v1/messages``: a deterministic answer built from the request. When a tool is forced (or any tool is
  offered) the answer is one ``tool_use`` block: ``record_statements`` splits the ``<source>…</source>`` text into
  sentences, ``record_clozes`` picks a cloze for each numbered line of ``<statements>…</statements>``,
  ``record_repairs`` corrects each listed statement by rules (citations dropped, the case's patient made general);
  any other tool gets a minimal input generated from its ``input_schema``. Without tools the answer is one text block.
  In replay mode (``replay_dir``, ``set_replay``, ``mksap fake-api --replay DIR``) a ``record_statements`` request
  whose question and part are recorded gets the recorded statements instead, and a ``record_repairs`` request the
  recorded repairs of the statements it lists (see `Replay`); every other request is counted in
  ``stats.replay_misses`` and keeps the answer above, except a repair request, which gets no corrections (the rules
  must not pass for a model's).
- ``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``.
- the Message Batches endpoints (``POST /v1/messages/batches``, ``GET /v1/messages/batches[/{id}[/results]]``,
  ``POST /v1/messages/batches/{id}/cancel``): each request answered as a sync one, after ``batch_delay`` seconds,
  results as JSONL in a seeded shuffled order, with injected errored and expired requests (see `FakeBatches`).
- anything else: a 404 JSON error.

Tokens are ``ceil(chars / 4)`` of compact JSON. Prompt caching follows ``cache_control`` breakpoints on tools, system
blocks and message blocks (hash of the prefix, per model, 5 min TTL refreshed on use, ``ttl: "1h"`` honoured).
Rate limits (rpm / itpm / otpm) are continuously refilling token buckets over ``period`` seconds (60 by default; tests
shrink it), charged as Anthropic documents: ITPM counts uncached input and cache writes, not cache reads; OTPM is
estimated from ``max_tokens`` when a request is admitted and corrected to the actual output when it ends. They are
reported in ``anthropic-ratelimit-*`` headers on every response (token counts remaining rounded to the nearest
thousand, as the API does); a request over a limit gets a 429 ``rate_limit_error`` with ``retry-after``. Faults are
injected from a script (``script_faults``) or at random (``fault_rate``, seeded RNG). Everything is recorded in memory
for assertions; nothing is written to disk (but the ledger of what each Messages request was charged, which
``mksap fake-api --ledger FILE`` writes on exit for benchmarks), and the ``repr`` of a recorded request hides the API
key.
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import functools
import hashlib
import json
import logging
import marshal
import math
import random
import re
import signal
import socket
import threading
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_CLI_PORT = 8765
STATEMENTS_TOOL = "record_statements"
CLOZES_TOOL = "record_clozes"
REPAIRS_TOOL = "record_repairs"

MAX_STATEMENTS = 12
MIN_WORDS = 4
CACHE_TTL_5M = 300.0
CACHE_TTL_1H = 3600.0
# What the rate-limit headers report for a limit that is switched off (None).
UNLIMITED = 1_000_000_000
_RATE_LIMIT_HEADERS = {
    name: tuple(f"anthropic-ratelimit-{name}-{part}" for part in ("limit", "remaining", "reset"))
    for name in ("requests", "input-tokens", "output-tokens")
}

# Faults a random draw chooses from by default (the brief's six), and every kind `script_faults` accepts.
RANDOM_FAULT_KINDS = ("rate_limit", "overloaded", "server_error", "slow", "malformed", "truncated")
ERROR_FAULTS = {
    # kind: (status, error type, message)
    "rate_limit": (429, "rate_limit_error", "Injected fault: rate limited."),
    "rate_limit_hour": (429, "rate_limit_error", "Injected fault: rate limited, retry after an hour."),
    "overloaded": (529, "overloaded_error", "Injected fault: Overloaded"),
    "server_error": (500, "api_error", "Injected fault: Internal server error"),
    "invalid_request": (400, "invalid_request_error", "Injected fault: invalid request"),
    "auth_error": (401, "authentication_error", "Injected fault: invalid x-api-key"),
}
# "trickle": the answer sent one byte per TRICKLE_SECONDS (each read is quick, the whole answer takes minutes).
CONTENT_FAULTS = ("slow", "trickle", "malformed", "truncated", "refusal")
# A 200 whose body is not a Messages answer, as a misconfigured proxy or gateway sends: (content type, body).
NOT_A_MESSAGE_FAULTS = {
    "html_200": ("text/html; charset=utf-8", b"<html><body><h1>Service unavailable</h1></body></html>"),
    "error_200": ("application/json", b'{"type": "error", "error": {"type": "api_error", "message": "Injected"}}'),
}
OTHER_FAULTS = ("disconnect", "ok")  # close the socket without answering; explicitly no fault (a script placeholder)
FAULT_KINDS = (*ERROR_FAULTS, *CONTENT_FAULTS, *NOT_A_MESSAGE_FAULTS, *OTHER_FAULTS)
FAULT_RATE_LIMIT_RETRY_MS = 50
TRICKLE_SECONDS = 0.2

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

_WORD = re.compile(r"[^\W\d_]+")
# A citation like "(Option C)" or "(Options A and B)"; `_drop_option_citations` also removes the whitespace before it.
_OPTION_CITATION = re.compile(r"\(\s*Options?\s+[A-Z](?:\s*(?:,|and|or|-|–)\s*[A-Z])*\s*\)")
# In text whose whitespace is already collapsed to single spaces (`_clean`):
_SENTENCE_END = re.compile(r"[.?!] ")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" ([.,;:?!])")
_NUMBERED_LINE = re.compile(r"^\s*(\d+)[.)]\s+(.*\S)\s*$")
_TAG = re.compile(r"</?[A-Za-z_][\w-]*>")
_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


# ---------------------------------------------------------------------------------------------------------------------
# Deterministic content


def count_tokens(value: Any) -> int:
    """ceil(chars / 4) of the compact JSON text of `value` (a str counts as its own text)."""
    text = value if isinstance(value, str) else _json(value)
    return math.ceil(len(text) / 4)


# Encoders built once: `json.dumps` with non-default options builds a new encoder on every call.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
_response_json = json.JSONEncoder(ensure_ascii=False).encode


# Requests repeat the same tools and system blocks, so a prompt unit's tokens and JSON are looked up by its marshal
# bytes: much cheaper to make than the sorted JSON, and equal only for equal values.
@functools.lru_cache(maxsize=64)
def _unit_tokens_and_json(marshalled: bytes) -> tuple[int, bytes]:
    unit = marshal.loads(marshalled)
    text = _json(unit)
    return count_tokens(unit if isinstance(unit, str) else text), text.encode()


def longest_word(text: str) -> str:
    """The longest alphabetic word of at least 4 letters (first on ties); else the first word; else the text."""
    words = _WORD.findall(text)
    if not words:
        return text.strip() or text
    best = max(words, key=len)  # the first of the longest
    return best if len(best) >= 4 else words[0]


def _drop_option_citations(text: str) -> str:
    """`re.sub(r"\\s*" + citation, "", text)`, but the search starts at "(" rather than at every whitespace."""
    parts, last = [], 0
    for match in _OPTION_CITATION.finditer(text):
        start = match.start()
        while start > last and text[start - 1].isspace():  # str.isspace is the same test as the regex \s
            start -= 1
        parts.append(text[last:start])
        last = match.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _clean(text: str) -> str:
    text = _drop_option_citations(_TAG.sub(" ", text))
    text = " ".join(text.split())  # whitespace runs to one space, stripped
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)


def _sentences(cleaned: str) -> list[str]:
    """`cleaned` split after each ".", "?" or "!" that a space follows (the space dropped)."""
    out, last = [], 0
    for match in _SENTENCE_END.finditer(cleaned):
        out.append(cleaned[last : match.start() + 1])
        last = match.end()
    out.append(cleaned[last:])
    return out


def _as_statement(sentence: str) -> str:
    return sentence.rstrip(" .?!") + "."


def statements_from_source(source: str) -> list[str]:
    """Sentences of ≥ 4 words (at most 12), citations dropped, each ending with '.'; else the whole source."""
    cleaned = _clean(source)
    out = [
        _as_statement(sentence)
        for sentence in _sentences(cleaned)
        if len(sentence.split()) >= MIN_WORDS and sentence.rstrip(" .?!")
    ]
    if out:
        return out[:MAX_STATEMENTS]
    return [_as_statement(cleaned) if cleaned.rstrip(" .?!") else "Empty source."]


def numbered_lines(text: str) -> list[tuple[int, str]]:
    return [(int(m.group(1)), m.group(2)) for line in text.splitlines() if (m := _NUMBERED_LINE.match(line))]


def _between(text: str, tag: str) -> str | None:
    """The text between the first <tag ...> and the first </tag> after it."""
    opening = re.search(rf"<{tag}(?:\s[^>]*)?>", text)
    if opening is None:
        return None
    end = text.find(f"</{tag}>", opening.end())
    return text[opening.end() : end] if end >= 0 else None


def _user_text(message: Any) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def last_user_text(messages: list[Any]) -> str:
    """The latest user text that carries the task's data (<source> or <statements>); a repair turn that follows it
    (a tool_result or a plain instruction) gets the same deterministic answer as the original request."""
    texts = [_user_text(m) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    for text in reversed(texts):
        if "<source" in text or "<statements>" in text:
            return text
    return texts[-1] if texts else ""


def _item_properties(tool_def: dict[str, Any], array_key: str) -> dict[str, Any]:
    schema = tool_def.get("input_schema") or {}
    items = ((schema.get("properties") or {}).get(array_key) or {}).get("items") or {}
    return items.get("properties") or {}


def statements_input(user_text: str, tool_def: dict[str, Any]) -> dict[str, Any]:
    source = _between(user_text, "source")
    statements = statements_from_source(source if source is not None else user_text)
    with_clozes = "cloze_primary" in _item_properties(tool_def, "statements")
    items = []
    for statement in statements:
        item: dict[str, Any] = {"statement": statement, "extra_field": None}
        if with_clozes:
            item["cloze_primary"] = longest_word(statement)
            item["cloze_secondary"] = []
        items.append(item)
    return {"statements": items}


def clozes_input(user_text: str) -> dict[str, Any]:
    block = _between(user_text, "statements")
    lines = numbered_lines(block if block is not None else user_text)
    return {"clozes": [{"index": n, "cloze_primary": longest_word(text), "cloze_secondary": []} for n, text in lines]}


_CASE_SUBJECT = re.compile(r"\b(?:this|the) patient\b", re.IGNORECASE)


def repairs_input(user_text: str) -> dict[str, Any]:
    """The repair turn answered by the fake's rules: each listed statement (one JSON object per line inside
    <statements>) with citations dropped and the case's patient made general, its longest word the cloze."""
    block = _between(user_text, "statements") or ""
    repairs = []
    for line in block.splitlines():
        try:
            item = json.loads(line)
            statement = _as_statement(_CASE_SUBJECT.sub("a patient", _clean(str(item["statement"]))))
            statement = statement[:1].upper() + statement[1:]
            repairs.append({"index": int(item["index"]), "statement": statement, "extra_field": item.get("extra_field"),
                            "cloze_primary": longest_word(statement), "cloze_secondary": []})
        except (ValueError, KeyError, TypeError):
            continue  # not a statement line
    return {"repairs": repairs}


def example_from_schema(schema: Any, depth: int = 0) -> Any:
    """A minimal value that satisfies a plain JSON schema (required properties only, one item per array)."""
    if not isinstance(schema, dict) or depth > 12:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [o for o in schema[key] if not (isinstance(o, dict) and o.get("type") == "null")]
            return example_from_schema((options or schema[key])[0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties") or {}
        required = schema.get("required", list(props))
        return {name: example_from_schema(props.get(name, {}), depth + 1) for name in required}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [example_from_schema(schema.get("items", {}), depth + 1) for _ in range(count)]
    if kind == "string":
        return "x" * max(int(schema.get("minLength", 0)), 4)
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return False
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Replay: recorded statements answer the extraction requests they were recorded for

REPLAY_PARTS = ("critique", "key_points")  # the recorded parts besides the tables
_TASK_LABEL = re.compile(r"<source\b[^>]*\bkind\s*=\s*\"([^\"]*)\"")


def _match_key(text: str) -> str:
    """Recorded text is looked for in a request regardless of case and whitespace."""
    return " ".join(text.split()).casefold()


def task_of(user_text: str) -> str | None:
    """The request's task label ("critique", "key_points", "table"), spelling variants ("key points") folded."""
    found = _TASK_LABEL.search(user_text)
    return re.sub(r"[^a-z]+", "_", found.group(1).lower()).strip("_") if found else None


def _unique_longest(keys: Iterable[str]) -> str | None:
    """The longest key, or None when there is none or two of that length (the request cannot be attributed)."""
    ranked = sorted(keys, key=len, reverse=True)
    if not ranked or (len(ranked) > 1 and len(ranked[1]) == len(ranked[0])):
        return None
    return ranked[0]


def _recorded_statements(path: Path, where: str, value: Any) -> list[dict[str, Any]]:
    statements = value.get("statements") if isinstance(value, dict) else None
    if not isinstance(statements, list):
        raise ValueError(f"{path}: {where}.statements must be a list")
    for index, item in enumerate(statements):
        if not isinstance(item, dict) or not isinstance(item.get("statement"), str):
            raise ValueError(f"{path}: {where}.statements[{index}] must be an object with a string 'statement'")
    return statements


@dataclass(frozen=True)
class Recording:
    """One question's recorded statements: `parts` by part name ("critique", "key_points" unless null), `tables`
    by the match key of their caption."""

    question_id: str
    objective_key: str
    parts: dict[str, list[dict[str, Any]]]
    tables: dict[str, list[dict[str, Any]]]
    # The validation's repair turn: the match key of an original statement -> its recorded correction (None: the
    # model left it out). None when the recording has no "repairs".
    repairs: dict[str, dict[str, Any] | None] | None = None


def load_recording(path: Path) -> Recording:
    """`<question_id>.json`: {question_id, educational_objective, critique: {statements}, key_points: {statements}
    or null, tables: [{caption, statements}], optional repairs: [{statement, repair: {statement, extra_field,
    cloze_primary, cloze_secondary} or null}]}. Raises ValueError naming the file and the field."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON file: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path}: must be a JSON object")
    if document.get("question_id") != path.stem:
        raise ValueError(f"{path}: question_id must be the file name, {path.stem!r}")
    objective = document.get("educational_objective")
    if not isinstance(objective, str) or not objective.strip():
        raise ValueError(f"{path}: educational_objective must be a non-empty string")
    parts = {"critique": _recorded_statements(path, "critique", document.get("critique"))}
    if document.get("key_points") is not None:
        parts["key_points"] = _recorded_statements(path, "key_points", document["key_points"])
    tables_value = document.get("tables")
    if not isinstance(tables_value, list):
        raise ValueError(f"{path}: tables must be a list")
    tables = {}
    for index, table in enumerate(tables_value):
        caption = table.get("caption") if isinstance(table, dict) else None
        if not isinstance(caption, str) or not caption.strip():
            raise ValueError(f"{path}: tables[{index}].caption must be a non-empty string (tables are matched by it)")
        tables[_match_key(caption)] = _recorded_statements(path, f"tables[{index}]", table)
    repairs = None
    if document.get("repairs") is not None:
        if not isinstance(document["repairs"], list):
            raise ValueError(f"{path}: repairs must be a list")
        repairs = {}
        for index, item in enumerate(document["repairs"]):
            repair = item.get("repair") if isinstance(item, dict) else None
            if not isinstance(item, dict) or not isinstance(item.get("statement"), str) or not (
                repair is None or (isinstance(repair, dict) and isinstance(repair.get("statement"), str))
            ):
                raise ValueError(f"{path}: repairs[{index}] must be {{statement, repair: {{statement, …}} or null}}")
            repairs[_match_key(item["statement"])] = repair
    return Recording(path.stem, _match_key(objective), parts, tables, repairs)


class Replay:
    """Recorded statements, found for a request by what the pipeline's requests carry, not by prompt wording:

    - the question: the recording whose educational objective occurs in the user message (the longest such);
    - the part: the task label of the ``<source kind="...">`` tag; for "table", the recorded table whose caption
      occurs in the user message (the longest such; a table's text starts with its caption).

    No match, an objective or caption two recordings share, or a part the recording lacks: no answer (None).
    """

    def __init__(self, recordings: Iterable[Recording]) -> None:
        by_objective: dict[str, list[Recording]] = {}
        for recording in recordings:
            by_objective.setdefault(recording.objective_key, []).append(recording)
        self.questions = sum(len(found) for found in by_objective.values())
        # None: an objective recorded for two questions cannot tell them apart, so its requests are not replayed.
        self._by_objective = {key: found[0] if len(found) == 1 else None for key, found in by_objective.items()}

    @classmethod
    def from_directory(cls, directory: str | Path) -> Replay:
        paths = sorted(Path(directory).glob("*.json"))
        if not paths:
            raise ValueError(f"{directory}: no recorded <question_id>.json files")
        return cls(load_recording(path) for path in paths)

    def _recording_for(self, user_text: str) -> Recording | None:
        text = _match_key(user_text)
        objective = _unique_longest(key for key in self._by_objective if key in text)
        return self._by_objective.get(objective) if objective is not None else None

    def question_of(self, user_text: str) -> str | None:
        """The recorded question a request is about, or None."""
        recording = self._recording_for(user_text)
        return recording.question_id if recording is not None else None

    def recorded_statements(self, user_text: str) -> list[dict[str, Any]] | None:
        recording = self._recording_for(user_text)
        if recording is None:
            return None
        text = _match_key(user_text)
        task = task_of(user_text)
        if task == "table":
            caption = _unique_longest(key for key in recording.tables if key in text)
            return recording.tables[caption] if caption is not None else None
        return recording.parts.get(task) if task in REPLAY_PARTS else None

    def recorded_repairs(self, user_text: str) -> dict[str, Any] | None:
        """`record_repairs` input: the recorded correction of each statement the request lists (one JSON object per
        line inside <statements>, found by its text), under the index the request gave it; None when the question
        has no recorded repairs."""
        recording = self._recording_for(user_text)
        if recording is None or recording.repairs is None:
            return None
        repairs = []
        for line in (_between(user_text, "statements") or "").splitlines():
            try:
                listed = json.loads(line)
                repair = recording.repairs.get(_match_key(str(listed["statement"])))
                index = int(listed["index"])
            except (ValueError, KeyError, TypeError):
                continue  # not a statement line
            if repair is not None:
                repairs.append({"index": index, **repair})
        return {"repairs": repairs}

    def tool_input(self, user_text: str, tool_name: str | None, tool_def: dict[str, Any]) -> dict[str, Any] | None:
        """The recorded statements as `record_statements` input (each item cut to the tool's fields), the recorded
        repairs as `record_repairs` input, or None."""
        if tool_name == REPAIRS_TOOL:
            return self.recorded_repairs(user_text)
        if tool_name != STATEMENTS_TOOL:
            return None
        statements = self.recorded_statements(user_text)
        if statements is None:
            return None
        fields = _item_properties(tool_def, "statements")
        return {"statements": [{k: v for k, v in item.items() if k in fields} for item in statements]}


def malformed_input(tool_name: str) -> dict[str, Any]:
    if tool_name == STATEMENTS_TOOL:
        return {"statements": [{"statement": 7}]}
    if tool_name == CLOZES_TOOL:
        return {"clozes": [{"index": "one", "cloze_primary": 3}]}
    return {"unexpected": True}


# ---------------------------------------------------------------------------------------------------------------------
# Rate limits


class _Bucket:
    """A token bucket of `limit` per `period` seconds, refilled continuously, starting full."""

    def __init__(self, limit: int, period: float, now: float) -> None:
        self.limit = limit
        self.rate = limit / period
        self.level = float(limit)
        self.stamp = now

    def refill(self, now: float) -> None:
        self.level = min(float(self.limit), self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until the level reaches `amount` (a request larger than the bucket needs a full bucket)."""
        amount = min(amount, float(self.limit))
        return max(0.0, (amount - self.level) / self.rate)

    def until_full(self) -> float:
        return max(0.0, (self.limit - self.level) / self.rate)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _rfc3339(seconds_from_now: float) -> str:
    return _utc_second(time.time_ns() // 1_000_000_000 + math.ceil(seconds_from_now))


@functools.lru_cache(maxsize=64)  # every response formats the same few seconds
def _utc_second(epoch_seconds: int) -> str:
    return (_EPOCH + timedelta(seconds=epoch_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=4)
def _http_date(epoch_seconds: int) -> str:
    return email.utils.formatdate(epoch_seconds, usegmt=True)


# ---------------------------------------------------------------------------------------------------------------------
# Records and stats

_SECRET_HEADERS = ("authorization", "x-api-key")


@dataclass
class RecordedRequest:
    """One HTTP request the fake answered (or dropped). `headers` are lower-cased and kept in memory only."""

    seq: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int | None = None  # None: connection dropped without an answer
    tool: str | None = None
    fault: str | None = None
    retry_count: int = 0
    stop_reason: str | None = None
    usage: dict[str, Any] | None = None
    started: float = 0.0  # time.monotonic()
    duration: float = 0.0
    _finished: bool = field(default=False, compare=False)

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        return self.headers.get("x-api-key")

    def __repr__(self) -> str:  # never print the key (pytest failure reports, logs)
        shown = {k: ("<redacted>" if k in _SECRET_HEADERS else v) for k, v in self.headers.items()}
        return (
            f"RecordedRequest(seq={self.seq}, {self.method} {self.path}, status={self.status}, tool={self.tool!r}, "
            f"fault={self.fault!r}, retry_count={self.retry_count}, stop_reason={self.stop_reason!r}, "
            f"usage={self.usage!r}, headers={shown!r})"
        )


@dataclass(frozen=True)
class FakeApiStats:
    """A snapshot of the counters since start (or the last `reset_stats()`)."""

    total_requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)  # None key: dropped connections
    by_path: dict[str, int] = field(default_factory=dict)
    by_tool: dict[str, int] = field(default_factory=dict)  # /v1/messages requests by forced/offered tool
    refused_by_limit: int = 0  # 429s from the simulated rpm/itpm/otpm/max_in_flight limits (not injected faults)
    faults: dict[str, int] = field(default_factory=dict)  # injected faults by kind
    retried_requests: int = 0  # requests that carried x-stainless-retry-count > 0
    max_in_flight: int = 0
    in_flight: int = 0
    input_tokens: int = 0  # usage totals of 200 answers
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_prefixes: int = 0  # distinct cache prefixes written
    # Replay mode, sync and batch requests alike: answered with recorded statements, or by the default rules (no
    # recording, or not record_statements).
    replayed: int = 0
    replay_misses: int = 0
    batches: int = 0  # message batches created
    batch_requests: int = 0  # requests submitted in them (not in by_tool nor in the usage totals above)
    batch_results: dict[str, int] = field(default_factory=dict)  # results of ended batches by type ("succeeded", ...)
    batch_usage: dict[str, int] = field(default_factory=dict)  # usage totals of the succeeded batch requests
    requests: tuple[RecordedRequest, ...] = ()  # the last `history` records, oldest first

    @property
    def ok(self) -> int:
        return self.by_status.get(200, 0)


# ---------------------------------------------------------------------------------------------------------------------
# The server


class _ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class _Plan:
    """What the locked admission step decided for one /v1/messages request."""

    fault: str | None
    input_tokens: int
    cache_read: int
    cache_creation: int
    creation_ttl_1h: bool
    delay: float
    admitted: float = 0.0  # time.monotonic() of admission


Responder = Callable[[dict[str, Any], str | None], "dict[str, Any] | None"]


class FakeAnthropic:
    """The fake API server. `start()` serves from a background thread; use as a context manager or call `stop()`."""

    def __init__(
        self,
        latency: float = 0.0,
        jitter: float = 0.0,
        rpm: int | None = None,
        itpm: int | None = None,
        otpm: int | None = None,
        fault_rate: float = 0.0,
        fault_kinds: Iterable[str] | None = None,
        slow_seconds: float = 30.0,
        seed: int = 0,
        *,
        port: int = 0,
        period: float = 60.0,
        max_in_flight: int | None = None,
        min_cache_tokens: int = 0,
        error_retry_after_ms: float | None = None,
        history: int = 500,
        replay_dir: str | Path | None = None,
        batch_delay: float = 0.0,
        ledger: bool = False,
    ) -> None:
        """
        latency, jitter: each answered request sleeps latency + uniform(0, jitter) seconds.
        rpm, itpm, otpm: limits per `period` seconds (None = unlimited). itpm counts input + cache-creation tokens;
            otpm reserves max_tokens at admission and gives back what the answer did not use.
        fault_rate, fault_kinds, slow_seconds, seed: random faults (see `FAULT_KINDS`); the RNG is seeded.
        port: 0 picks a free port. period: the limit window (tests use ~1 s to keep retries short).
        max_in_flight: 429 when more requests than this are being served at once (None = no cap).
        min_cache_tokens: a cache breakpoint whose prefix is shorter than this is ignored (the API's model minimum).
        error_retry_after_ms: when set, injected 500/529 faults carry retry-after-ms (keeps SDK retries fast).
        history: how many request records to keep.
        replay_dir: answer extraction requests with the recordings in this folder (see `set_replay`).
        batch_delay: seconds a message batch stays in progress (see `FakeBatches`).
        ledger: keep what each Messages request was charged (see `ledger()`).
        """
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be in [0, 1], not {fault_rate}")
        kinds = tuple(fault_kinds) if fault_kinds is not None else RANDOM_FAULT_KINDS
        unknown = sorted(set(kinds) - set(FAULT_KINDS) | ({"ok"} & set(kinds)))
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; choose from {[k for k in FAULT_KINDS if k != 'ok']}")
        if fault_rate > 0 and not kinds:
            raise ValueError("fault_rate > 0 needs at least one fault kind")
        if period <= 0:
            raise ValueError("period must be > 0")
        self.latency = latency
        self.jitter = jitter
        self.fault_rate = fault_rate
        self.fault_kinds = kinds
        self.slow_seconds = slow_seconds
        self.seed = seed
        self.period = period
        self.max_in_flight = max_in_flight
        self.min_cache_tokens = min_cache_tokens
        self.error_retry_after_ms = error_retry_after_ms
        self._requested_port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._fault_rng = random.Random(seed)
        self._jitter_rng = random.Random(seed + 1)
        self._script: deque[str] = deque()
        self._responder: Responder | None = None
        self._replay: Replay | None = None
        self._cache: dict[str, float] = {}  # prefix hash -> monotonic expiry
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._seq = 0
        self._history = history
        self._ledger: list[tuple[float, float, int, int, int]] | None = [] if ledger else None
        self.set_limits(rpm=rpm, itpm=itpm, otpm=otpm)
        self.set_replay(replay_dir)
        self.reset_stats()
        self.batches = FakeBatches(self, batch_delay, seed)

    # -- lifecycle ----------------------------------------------------------------------------------------------------

    def start(self) -> FakeAnthropic:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((HOST, self._requested_port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-anthropic-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes sleeping handlers (latency, slow faults)
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # end idle keep-alive connections so their threads exit
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def replay(self) -> Replay | None:
        """The recordings being replayed, if any."""
        return self._replay

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake API is not running; call start() first")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    # -- control ------------------------------------------------------------------------------------------------------

    def script_faults(self, kinds: Iterable[str]) -> None:
        """Queue faults for the next /v1/messages requests, in order, before random faults apply ("ok" = none).

        A request refused by a simulated limit does not use up a scripted fault; the retry that gets in does."""
        kinds = list(kinds)
        unknown = sorted(set(kinds) - set(FAULT_KINDS))
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; choose from {list(FAULT_KINDS)}")
        with self._lock:
            self._script.extend(kinds)

    def clear_faults(self) -> None:
        with self._lock:
            self._script.clear()

    @property
    def pending_faults(self) -> list[str]:
        with self._lock:
            return list(self._script)

    def set_responder(self, responder: Responder | None) -> None:
        """Override answers: `responder(request_body, tool_name)` returns the tool input to send (a dict; for a
        request without tools, {"text": ...}), or None for the default answer."""
        self._responder = responder

    def set_replay(self, directory: str | Path | None) -> None:
        """Replay the `<question_id>.json` recordings of `directory` (None: stop replaying); raises ValueError when
        it holds none or a malformed one. A responder's answer still comes first."""
        self._replay = Replay.from_directory(directory) if directory is not None else None

    def set_limits(self, rpm: int | None = None, itpm: int | None = None, otpm: int | None = None) -> None:
        """Replace the limits (buckets start full)."""
        now = time.monotonic()
        with self._lock:
            self.rpm, self.itpm, self.otpm = rpm, itpm, otpm
            self._buckets = {
                name: _Bucket(limit, self.period, now) if limit is not None else None
                for name, limit in (("requests", rpm), ("input-tokens", itpm), ("output-tokens", otpm))
            }

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def reset_stats(self) -> None:
        with self._lock:
            self._total = 0
            self._by_status: Counter[int | None] = Counter()
            self._by_path: Counter[str] = Counter()
            self._by_tool: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._refused = 0
            self._retried = 0
            self._in_flight = getattr(self, "_in_flight", 0)
            self._max_in_flight = self._in_flight
            self._usage: Counter[str] = Counter()
            self._prefixes: set[str] = set()
            self._replay_counts: Counter[str] = Counter()
            self._batch_counts: Counter[str] = Counter()
            self._batch_usage: Counter[str] = Counter()
            self._records: deque[RecordedRequest] = deque(maxlen=self._history)

    @property
    def stats(self) -> FakeApiStats:
        with self._lock:
            return FakeApiStats(
                total_requests=self._total,
                by_status=dict(self._by_status),
                by_path=dict(self._by_path),
                by_tool=dict(self._by_tool),
                refused_by_limit=self._refused,
                faults=dict(self._faults),
                retried_requests=self._retried,
                max_in_flight=self._max_in_flight,
                in_flight=self._in_flight,
                input_tokens=self._usage["input_tokens"],
                output_tokens=self._usage["output_tokens"],
                cache_creation_input_tokens=self._usage["cache_creation_input_tokens"],
                cache_read_input_tokens=self._usage["cache_read_input_tokens"],
                cache_prefixes=len(self._prefixes),
                replayed=self._replay_counts["replayed"],
                replay_misses=self._replay_counts["missed"],
                batches=self._batch_counts["batches"],
                batch_requests=self._batch_counts["requests"],
                batch_results={kind: self._batch_counts[kind] for kind in BATCH_RESULT_TYPES},
                batch_usage={key: self._batch_usage[key] for key in _USAGE_KEYS},
                requests=tuple(self._records),
            )

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self._records[-1] if self._records else None

    # -- bookkeeping used by the handler ------------------------------------------------------------------------------

    def _begin(self, method: str, path: str, headers: dict[str, str], body: Any) -> RecordedRequest:
        with self._lock:
            self._seq += 1
            self._total += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            self._by_path[path] += 1
            try:
                retry_count = int(headers.get("x-stainless-retry-count", "0"))
            except ValueError:
                retry_count = 0
            if retry_count > 0:
                self._retried += 1
            return RecordedRequest(
                seq=self._seq,
                method=method,
                path=path,
                headers=headers,
                body=body,
                retry_count=retry_count,
                started=time.monotonic(),
            )

    def _finish(self, record: RecordedRequest) -> None:
        with self._lock:
            if record._finished:
                return
            record._finished = True
            record.duration = time.monotonic() - record.started
            self._in_flight -= 1
            self._by_status[record.status] += 1
            if record.status == 200 and record.usage:
                for key in _USAGE_KEYS:
                    self._usage[key] += int(record.usage.get(key) or 0)
            self._records.append(record)
        log.debug(
            "%s %s -> %s tool=%s fault=%s retry=%s",
            record.method,
            record.path,
            record.status,
            record.tool,
            record.fault,
            record.retry_count,
        )

    def rate_limit_headers(self) -> dict[str, str]:
        now = time.monotonic()
        headers: dict[str, str] = {}
        with self._lock:
            parts = {}
            for name, bucket in self._buckets.items():
                if bucket is None:
                    limit, remaining, reset = UNLIMITED, UNLIMITED, 0.0
                else:
                    bucket.refill(now)
                    remaining = max(0, math.floor(bucket.level))
                    if name != "requests":  # the API rounds token counts to the nearest thousand
                        remaining = round(remaining, -3)
                    limit, reset = bucket.limit, bucket.until_full()
                parts[name] = (limit, remaining, reset)
                limit_header, remaining_header, reset_header = _RATE_LIMIT_HEADERS[name]
                headers[limit_header] = str(limit)
                headers[remaining_header] = str(remaining)
                headers[reset_header] = _rfc3339(reset)
        tin, tout = parts["input-tokens"], parts["output-tokens"]
        headers["anthropic-ratelimit-tokens-limit"] = str(min(UNLIMITED, tin[0] + tout[0]))
        headers["anthropic-ratelimit-tokens-remaining"] = str(min(UNLIMITED, tin[1] + tout[1]))
        headers["anthropic-ratelimit-tokens-reset"] = _rfc3339(max(tin[2], tout[2]))
        return headers

    # -- the /v1/messages decision ------------------------------------------------------------------------------------

    def _cache_units(self, body: dict[str, Any]) -> list[tuple[Any, dict[str, Any] | None]]:
        """The prompt in API order (tools, system, messages) as (unit without cache_control, cache_control)."""
        units: list[tuple[Any, dict[str, Any] | None]] = []

        def add(item: Any, wrap: Callable[[Any], Any] = lambda x: x) -> None:
            if isinstance(item, dict):
                control = item.get("cache_control")
                item = {k: v for k, v in item.items() if k != "cache_control"}
            else:
                control = None
            units.append((wrap(item), control if isinstance(control, dict) else None))

        for tool_def in body.get("tools") or []:
            add(tool_def)
        system = body.get("system")
        if isinstance(system, list):
            for block in system:
                add(block)
        elif system:
            add(system)
        for message in body.get("messages") or []:
            if not isinstance(message, dict):
                add(message)
                continue
            role = message.get("role")
            content = message.get("content")
            if isinstance(content, list):
                for block in content:
                    add(block, lambda b, role=role: {"role": role, "block": b})
            else:
                add({"role": role, "content": content})
        top_level = body.get("cache_control")  # automatic caching: a marker on the last cacheable block
        if isinstance(top_level, dict) and units and units[-1][1] is None:
            units[-1] = (units[-1][0], top_level)
        return units

    def input_token_count(self, body: dict[str, Any]) -> int:
        return sum(count_tokens(unit) for unit, _ in self._cache_units(body))

    def _prompt_prefixes(self, body: dict[str, Any]) -> tuple[int, list[tuple[str, int, float]]]:
        """(input tokens, cache breakpoints as (prefix hash, prefix tokens, ttl)); needs no lock."""
        total = 0
        breakpoints: list[tuple[str, int, float]] = []
        digest = hashlib.sha256(str(body.get("model")).encode())
        for unit, control in self._cache_units(body):
            tokens, canonical = _unit_tokens_and_json(marshal.dumps(unit))
            total += tokens
            digest.update(canonical)
            digest.update(b"\x00")
            if control is not None and total >= self.min_cache_tokens:
                ttl = CACHE_TTL_1H if control.get("ttl") == "1h" else CACHE_TTL_5M
                breakpoints.append((digest.copy().hexdigest(), total, ttl))
        return total, breakpoints

    def _plan_cache(
        self, breakpoints: list[tuple[str, int, float]], now: float
    ) -> tuple[int, int, bool, list[tuple[str, float]], list[str]]:
        """(read, creation, creation_is_1h, entries to write, hits to refresh) — no mutation."""
        hit_index = -1
        for i in range(len(breakpoints) - 1, -1, -1):
            expiry = self._cache.get(breakpoints[i][0])
            if expiry is not None and expiry > now:
                hit_index = i
                break
        read = breakpoints[hit_index][1] if hit_index >= 0 else 0
        creation, is_1h = 0, False
        if breakpoints and hit_index < len(breakpoints) - 1:
            creation = breakpoints[-1][1] - read
            is_1h = breakpoints[-1][2] == CACHE_TTL_1H
        writes = [(key, ttl) for key, _, ttl in breakpoints[hit_index + 1 :]]
        hits = [breakpoints[hit_index][0]] if hit_index >= 0 else []
        return read, creation, is_1h, writes, hits

    def _admit(self, body: dict[str, Any]) -> _Plan:
        """Check limits (raise 429), pick a fault, charge rpm/itpm, commit cache entries (decisions under the lock)."""
        if self.max_in_flight is not None:
            with self._lock:
                if self._in_flight > self.max_in_flight:
                    self._refused += 1
                    raise _ApiError(
                        429,
                        f"Too many concurrent requests (limit {self.max_in_flight}).",
                        {"retry-after": "1", "retry-after-ms": "100"},
                    )
        # Serialising and hashing the prompt is the costly part; it needs no lock, so other requests are not held up.
        total, breakpoints = self._prompt_prefixes(body)
        now = time.monotonic()
        with self._lock:
            read, creation, is_1h, writes, hits = self._plan_cache(breakpoints, now)
            uncached = total - read - creation
            itpm_cost = uncached + creation
            needs = {"requests": 1.0, "input-tokens": float(itpm_cost), "output-tokens": float(body["max_tokens"])}
            wait, reasons = 0.0, []
            for name, bucket in self._buckets.items():
                if bucket is None:
                    continue
                bucket.refill(now)
                needed = bucket.wait_for(needs[name])
                if needed > 0:
                    wait = max(wait, needed)
                    reasons.append(f"{bucket.limit:,} {name.replace('-', ' ')}")
            if wait > 0:
                self._refused += 1
                if self._ledger is not None:
                    self._ledger.append((now, now, 429, 0, 0))
                wait_ms = max(1, math.ceil(wait * 1000))
                per = "minute" if self.period == 60 else f"{self.period:g} s"
                raise _ApiError(
                    429,
                    f"This request would exceed your organization's rate limit of {' and '.join(reasons)} per {per} "
                    f"(org: fake, model: {body.get('model')}). You can see the response headers for current usage. "
                    "Please reduce the prompt length or the maximum tokens requested, or try again later.",
                    {"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(wait_ms)},
                )
            fault = self._pick_fault()
            if fault in ERROR_FAULTS or fault in NOT_A_MESSAGE_FAULTS or fault == "disconnect":
                return _Plan(fault, 0, 0, 0, False, 0.0)  # an injected failure charges nothing
            for name, bucket in self._buckets.items():
                if bucket is not None:
                    bucket.level -= needs[name]  # output: the max_tokens estimate, corrected when the answer ends
            self._commit_cache(writes, hits, now)
            delay = self.latency
            if self.jitter > 0:
                delay += self._jitter_rng.uniform(0.0, self.jitter)
            return _Plan(fault, uncached, read, creation, is_1h, delay, now)

    def _commit_cache(self, writes: list[tuple[str, float]], hits: list[str], now: float) -> None:
        """Write the new cache entries and refresh the hit (called under the lock)."""
        for key, ttl in writes:
            self._cache[key] = now + ttl
            self._prefixes.add(key)
        for key in hits:  # a hit refreshes the TTL
            self._cache[key] = max(self._cache[key], now + CACHE_TTL_5M)
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if v > now}

    def _pick_fault(self) -> str | None:
        if self._script:
            kind = self._script.popleft()
        elif self.fault_rate > 0 and self._fault_rng.random() < self.fault_rate:
            kind = self._fault_rng.choice(self.fault_kinds)
        else:
            return None
        if kind == "ok":
            return None
        self._faults[kind] += 1
        return kind

    def _settle(self, plan: _Plan, max_tokens: int, output_tokens: int) -> None:
        """Correct the output reservation made at admission (max_tokens) to the tokens actually generated."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets["output-tokens"]
            if bucket is not None:
                bucket.refill(now)
                bucket.level = min(float(bucket.limit), bucket.level + max_tokens - output_tokens)
            if self._ledger is not None:
                self._ledger.append((plan.admitted, now, 200, plan.input_tokens + plan.cache_creation, output_tokens))

    def ledger(self) -> list[tuple[float, float, int, int, int]]:
        """With `ledger=True`: per Messages request answered 200 or refused by a rate limit, (admitted, ended, status,
        input tokens charged to ITPM, output tokens), times from time.monotonic(), in the order they ended."""
        with self._lock:
            return list(self._ledger or ())

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def answer_batch_request(self, params: dict[str, Any]) -> dict[str, Any]:
        """A batch request's message, built as a sync answer is (responder, replay, rules, prompt cache, usage) but
        free of rate limits and injected faults; raises `_ApiError` for a request the API would not answer."""
        tool_def, tool_name = _chosen_tool(params)
        total, breakpoints = self._prompt_prefixes(params)
        now = time.monotonic()
        with self._lock:
            read, creation, is_1h, writes, hits = self._plan_cache(breakpoints, now)
            self._commit_cache(writes, hits, now)
            self._seq += 1
            seq = self._seq
        plan = _Plan(None, total - read - creation, read, creation, is_1h, 0.0)
        message = self._build_message(params, tool_def, tool_name, plan, seq, service_tier="batch")
        with self._lock:
            for key in _USAGE_KEYS:
                self._batch_usage[key] += message["usage"][key]
        return message

    def _count_batch(self, counts: dict[str, int]) -> None:
        with self._lock:
            self._batch_counts.update(counts)

    def handle_messages(self, body: dict[str, Any], record: RecordedRequest) -> tuple[dict[str, Any] | None, str]:
        """Answer one /v1/messages body: (message JSON, fault), or (None, fault) when the fault is no message at all
        (a dropped connection, a body that is not a message)."""
        tool_def, tool_name = _chosen_tool(body)
        record.tool = tool_name
        if tool_name is not None:
            with self._lock:
                self._by_tool[tool_name] += 1
        plan = self._admit(body)
        record.fault = plan.fault
        if plan.fault in ("disconnect", *NOT_A_MESSAGE_FAULTS):
            return None, plan.fault
        if plan.fault in ERROR_FAULTS:
            status, _, message = ERROR_FAULTS[plan.fault]
            extra = {}
            if plan.fault == "rate_limit":
                extra = {"retry-after": "1", "retry-after-ms": str(FAULT_RATE_LIMIT_RETRY_MS)}
            elif plan.fault == "rate_limit_hour":
                extra = {"retry-after": "3600"}
            elif self.error_retry_after_ms is not None and status >= 500:
                extra = {
                    "retry-after": str(max(1, math.ceil(self.error_retry_after_ms / 1000))),
                    "retry-after-ms": f"{self.error_retry_after_ms:g}",
                }
            raise _ApiError(status, message, extra)

        self._sleep(plan.delay)
        if plan.fault == "slow":
            self._sleep(self.slow_seconds)

        message = self._build_message(body, tool_def, tool_name, plan, record.seq)
        self._settle(plan, int(body["max_tokens"]), message["usage"]["output_tokens"])
        record.stop_reason = message["stop_reason"]
        record.usage = message["usage"]
        return message, plan.fault or ""

    def _build_message(
        self, body: dict[str, Any], tool_def: dict[str, Any] | None, tool_name: str | None, plan: _Plan, seq: int,
        service_tier: str = "standard",
    ) -> dict[str, Any]:
        user_text = last_user_text(body.get("messages") or [])
        override = self._responder(body, tool_name) if self._responder is not None else None
        replayed = None
        if self._replay is not None and override is None and plan.fault != "malformed":
            replayed = self._replay.tool_input(user_text, tool_name, tool_def or {})
            with self._lock:
                self._replay_counts["replayed" if replayed is not None else "missed"] += 1
        if tool_name is not None:
            if plan.fault == "malformed":
                payload: Any = malformed_input(tool_name)
            elif override is not None:
                payload = override
            elif replayed is not None:
                payload = replayed
            elif tool_name == REPAIRS_TOOL and self._replay is not None:
                # A replay has no recorded repairs: the fake's rules must not pass for a model's corrections.
                payload = {"repairs": []}
            elif tool_name == STATEMENTS_TOOL:
                payload = statements_input(user_text, tool_def or {})
            elif tool_name == CLOZES_TOOL:
                payload = clozes_input(user_text)
            elif tool_name == REPAIRS_TOOL:
                payload = repairs_input(user_text)
            else:
                payload = example_from_schema((tool_def or {}).get("input_schema") or {"type": "object"}) or {}
            text = _json(payload)
        else:
            payload = override.get("text") if isinstance(override, dict) and "text" in override else None
            if plan.fault == "malformed":
                payload = "{not json"
            if payload is None:
                words = user_text.split()
                payload = f"Fake answer to {len(words)} words: " + " ".join(words[:12])
            text = str(payload)

        seq_hash = f"{seq:06d}" + hashlib.sha256(text.encode()).hexdigest()[:18]
        max_tokens = int(body.get("max_tokens") or 1)
        output_tokens = count_tokens(text)
        stop_reason = "tool_use" if tool_name is not None else "end_turn"
        if tool_name is not None:
            content: list[dict[str, Any]] = [
                {"type": "tool_use", "id": f"toolu_{seq_hash}", "name": tool_name, "input": payload}
            ]
        else:
            content = [{"type": "text", "text": text}]
        if plan.fault == "truncated" or output_tokens > max_tokens:
            keep = min(len(text) // 2 if plan.fault == "truncated" else len(text), max_tokens * 4)
            content = [{"type": "text", "text": text[: max(1, keep)]}]
            stop_reason, output_tokens = "max_tokens", max_tokens
        elif plan.fault == "refusal":
            content, stop_reason, output_tokens = [], "refusal", 0
        return {
            "id": f"msg_{seq_hash}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": plan.input_tokens,
                "output_tokens": output_tokens,
                "cache_creation_input_tokens": plan.cache_creation,
                "cache_read_input_tokens": plan.cache_read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 0 if plan.creation_ttl_1h else plan.cache_creation,
                    "ephemeral_1h_input_tokens": plan.cache_creation if plan.creation_ttl_1h else 0,
                },
                "service_tier": service_tier,
            },
        }


# ---------------------------------------------------------------------------------------------------------------------
# Message Batches

BATCH_RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")
MAX_BATCH_REQUESTS = 100_000
BATCH_EXPIRY_SECONDS = 24 * 3600
_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_BATCH_PATH = re.compile(r"^/v1/messages/batches(?:/(?P<id>[^/]+)(?:/(?P<action>cancel|results))?)?$")


@dataclass
class _BatchRequest:
    custom_id: str
    params: dict[str, Any]
    due: float  # time.time() at which its processing ends
    injected: str | None  # "errored" or "expired" when chosen to fail at submission
    result: dict[str, Any] | None = None


@dataclass
class _Batch:
    id: str
    created_at: float  # time.time()
    requests: list[_BatchRequest]  # in processing order, which is the results file's order
    cancel_initiated_at: float | None = None
    ended_at: float | None = None


def _errored(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "errored", "error": {"type": "error", "error": {"type": error_type, "message": message}}}


def _timestamp(epoch: float | None) -> str | None:
    return None if epoch is None else _utc_second(int(epoch))


class FakeBatches:
    """The Message Batches endpoints (create, retrieve, list, cancel, results) of a `FakeAnthropic`.

    A batch's requests are processed in a seeded shuffled order, evenly spread over `delay` seconds after creation
    (answered when a later call looks at the batch), each exactly as a sync request would be answered; the results file
    lists them in that order. A request chosen to fail (`set_faults`) gets an `errored` or `expired` result and is not
    billed. Cancelling answers the requests already due and cancels the rest: the batch is `canceling` in the cancel
    answer and `ended` from the next call on. Request counts are all `processing` until the batch ends, as in the API.
    """

    def __init__(self, fake: FakeAnthropic, delay: float, seed: int) -> None:
        self.delay = delay
        self._fake = fake
        self._rng = random.Random(seed + 2)
        self._lock = threading.Lock()  # one batch call at a time: batches are few and their answers quick
        self._batches: dict[str, _Batch] = {}
        self.set_faults()

    def set_faults(
        self, errored: Iterable[str] = (), expired: Iterable[str] = (), error_rate: float = 0.0,
        expire_rate: float = 0.0,
    ) -> None:
        """Requests of batches created from now on fail: those whose custom_id is listed, and a seeded random share
        of the others (errored first, then expired)."""
        if not (0.0 <= error_rate <= 1.0 and 0.0 <= expire_rate <= 1.0 and error_rate + expire_rate <= 1.0):
            raise ValueError("error_rate and expire_rate must be in [0, 1] and sum to at most 1")
        with self._lock:
            self._errored, self._expired = frozenset(errored), frozenset(expired)
            self._error_rate, self._expire_rate = error_rate, expire_rate

    def handle(self, method: str, batch_id: str | None, action: str | None, query: str, body: Any) -> Any:
        """The JSON answer of one batch call, or the results file's bytes; raises `_ApiError`."""
        with self._lock:
            if batch_id is None and method == "POST":
                return self._create(body)
            if batch_id is None and method == "GET":
                return self._list(urllib.parse.parse_qs(query))
            if batch_id is not None and (method, action) in (("GET", None), ("POST", "cancel"), ("GET", "results")):
                batch = self._batches.get(batch_id)
                if batch is None:
                    raise _ApiError(404, f"message batch {batch_id!r} not found")
                self._advance(batch, time.time())
                if action == "cancel":
                    return self._cancel(batch)
                if action == "results":
                    return self._results(batch)
                return self._view(batch)
        raise _ApiError(404, f"Not found: {method} /v1/messages/batches")

    def _create(self, body: Any) -> dict[str, Any]:
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_BATCH_REQUESTS:
            raise _ApiError(400, f"requests: a list of 1 to {MAX_BATCH_REQUESTS:,} requests is required")
        seen: set[str] = set()
        for index, item in enumerate(requests):
            where = f"requests.{index}"
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
                raise _ApiError(400, f"{where}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
            if custom_id in seen:
                raise _ApiError(400, f"{where}.custom_id: {custom_id!r} is used twice; custom_id must be unique")
            seen.add(custom_id)
            try:
                params = _validate_message_request(item.get("params"))
            except _ApiError as err:
                raise _ApiError(400, f"{where}.params: {err.message}") from None
            if params.get("stream"):
                raise _ApiError(400, f"{where}.params.stream: streaming is not supported in message batches")
        now = time.time()
        order = list(requests)
        self._rng.shuffle(order)
        batch = _Batch(
            id=f"msgbatch_fake{len(self._batches) + 1:012d}",
            created_at=now,
            requests=[
                _BatchRequest(item["custom_id"], item["params"], now + self.delay * (rank + 1) / len(order),
                              self._injected(item["custom_id"]))
                for rank, item in enumerate(order)
            ],
        )
        self._batches[batch.id] = batch
        self._fake._count_batch({"batches": 1, "requests": len(order)})
        return self._view(batch)

    def _injected(self, custom_id: str) -> str | None:
        if custom_id in self._errored:
            return "errored"
        if custom_id in self._expired:
            return "expired"
        draw = self._rng.random()
        if draw < self._error_rate:
            return "errored"
        return "expired" if draw < self._error_rate + self._expire_rate else None

    def _advance(self, batch: _Batch, now: float) -> None:
        """Answer the requests now due (all remaining ones are canceled once a cancel was initiated); end the batch
        when none is left."""
        if batch.ended_at is not None:
            return
        for request in batch.requests:
            if request.result is not None:
                continue
            if batch.cancel_initiated_at is not None:
                request.result = {"type": "canceled"}
            elif request.due <= now:
                request.result = self._result(request)
        if all(request.result is not None for request in batch.requests):
            batch.ended_at = now
            self._fake._count_batch(Counter(request.result["type"] for request in batch.requests))

    def _result(self, request: _BatchRequest) -> dict[str, Any]:
        if request.injected == "expired":
            return {"type": "expired"}
        if request.injected == "errored":
            return _errored("api_error", "Injected batch fault: Internal server error")
        try:
            return {"type": "succeeded", "message": self._fake.answer_batch_request(request.params)}
        except _ApiError as err:
            return _errored(ERROR_TYPES.get(err.status, "api_error"), err.message)

    def _cancel(self, batch: _Batch) -> dict[str, Any]:
        if batch.ended_at is None and batch.cancel_initiated_at is None:
            batch.cancel_initiated_at = time.time()
        return self._view(batch)

    def _results(self, batch: _Batch) -> bytes:
        if batch.ended_at is None:
            raise _ApiError(400, f"message batch {batch.id} has not ended; its results are not available yet")
        lines = (_response_json({"custom_id": r.custom_id, "result": r.result}) + "\n" for r in batch.requests)
        return "".join(lines).encode()

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            limit = int(query.get("limit", ["20"])[0])
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            raise _ApiError(400, "limit: an integer from 1 to 1000 is required")
        newest_first = list(reversed(self._batches.values()))
        ids = [batch.id for batch in newest_first]
        cursor = {name: query[name][0] for name in ("after_id", "before_id") if name in query}
        for name, batch_id in cursor.items():
            if batch_id not in self._batches:
                raise _ApiError(400, f"{name}: message batch {batch_id!r} not found")
        if "before_id" in cursor:
            end = ids.index(cursor["before_id"])
            page, has_more = newest_first[max(0, end - limit) : end], end > limit
        else:
            start = ids.index(cursor["after_id"]) + 1 if "after_id" in cursor else 0
            page, has_more = newest_first[start : start + limit], start + limit < len(ids)
        now = time.time()
        for batch in page:
            self._advance(batch, now)
        return {
            "data": [self._view(batch) for batch in page],
            "has_more": has_more,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }

    def _view(self, batch: _Batch) -> dict[str, Any]:
        ended = batch.ended_at is not None
        counts = Counter(request.result["type"] for request in batch.requests if ended and request.result)
        if ended:
            status = "ended"
        else:
            status = "in_progress" if batch.cancel_initiated_at is None else "canceling"
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": {"processing": 0 if ended else len(batch.requests),
                               **{kind: counts[kind] for kind in BATCH_RESULT_TYPES}},
            "created_at": _timestamp(batch.created_at),
            "expires_at": _timestamp(batch.created_at + BATCH_EXPIRY_SECONDS),
            "ended_at": _timestamp(batch.ended_at),
            "archived_at": None,
            "cancel_initiated_at": _timestamp(batch.cancel_initiated_at),
            "results_url": f"{self._fake.url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }


def _chosen_tool(body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice") or {}
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "none" or not tools:
        if kind == "tool":
            raise _ApiError(400, "tool_choice names a tool but no tools were given")
        return None, None
    if kind == "tool":
        name = choice.get("name")
        for tool_def in tools:
            if tool_def.get("name") == name:
                return tool_def, name
        raise _ApiError(400, f"tool_choice.name {name!r} is not one of the tools")
    return tools[0], tools[0].get("name")


def _validate_message_request(body: Any) -> dict[str, Any]:
    """A /v1/messages body (or a batch request's params), as far as the schema goes."""
    body = _validate(body)
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        raise _ApiError(400, "max_tokens: Field required (a positive integer)")
    return body


def _validate(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _ApiError(400, "request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _ApiError(400, "model: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _ApiError(400, "messages: at least one message is required")
    return body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # bursts of concurrent connects must not overflow the listen backlog
    fake: FakeAnthropic


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    server: _Server
    server_version = "fake-anthropic"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # no stderr noise; never logs headers
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is None:  # the Date header: it changes once a second, the stdlib formats it for every response
            return _http_date(time.time_ns() // 1_000_000_000)
        return super().date_time_string(timestamp)

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _dispatch(self) -> None:
        fake = self.server.fake
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        raw = b""
        length = int(headers.get("content-length") or 0)
        if length:
            raw = self.rfile.read(length)
        try:
            body: Any = json.loads(raw) if raw else None
            bad_json = False
        except ValueError:
            body, bad_json = raw.decode("utf-8", "replace"), True
        record = fake._begin(self.command, path, headers, body)
        try:
            try:
                batch_route = _BATCH_PATH.match(path)
                if batch_route is None and (
                    self.command != "POST" or path not in ("/v1/messages", "/v1/messages/count_tokens")
                ):
                    raise _ApiError(404, f"Not found: {self.command} {path}")
                if not _authorised(headers):
                    raise _ApiError(401, "missing API key: send Authorization: Bearer <key> or x-api-key")
                if bad_json:
                    raise _ApiError(400, "request body is not valid JSON")
                if batch_route is not None:
                    answer = fake.batches.handle(self.command, batch_route["id"], batch_route["action"], query, body)
                    if isinstance(answer, bytes):  # the results file
                        self._send_bytes(record, 200, "application/x-jsonl", answer)
                    else:
                        self._send_json(record, 200, answer)
                    return
                if path == "/v1/messages/count_tokens":
                    self._send_json(record, 200, {"input_tokens": fake.input_token_count(_validate(body))})
                    return
                message, fault = fake.handle_messages(_validate_message_request(body), record)
                if fault in NOT_A_MESSAGE_FAULTS:
                    self._send_bytes(record, 200, *NOT_A_MESSAGE_FAULTS[fault])
                elif message is None:  # the "disconnect" fault
                    self.close_connection = True
                else:
                    self._send_json(record, 200, message, trickle=fault == "trickle")
            except _ApiError as err:
                kind = ERROR_TYPES.get(err.status, "api_error")
                error = {"type": "error", "error": {"type": kind, "message": err.message}}
                self._send_json(record, err.status, error, err.headers)
        except OSError:  # the client gave up (e.g. its timeout passed) or the server is stopping
            self.close_connection = True
        finally:
            fake._finish(record)  # no-op when the answer was already counted

    def _send_json(
        self, record: RecordedRequest, status: int, payload: Any, extra: dict[str, str] | None = None,
        *, trickle: bool = False,
    ) -> None:
        if isinstance(payload, dict) and payload.get("type") == "error":
            payload["request_id"] = f"req_fake{record.seq:08d}"
        self._send_bytes(record, status, "application/json", _response_json(payload).encode(), extra, trickle=trickle)

    def _send_bytes(
        self, record: RecordedRequest, status: int, content_type: str, data: bytes,
        extra: dict[str, str] | None = None, *, trickle: bool = False,
    ) -> None:
        record.status = status
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_fake{record.seq:08d}")
        for key, value in self.server.fake.rate_limit_headers().items():
            self.send_header(key, value)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        # Count it before the client can see it, so assertions right after a response see the record.
        self.server.fake._finish(record)
        self.end_headers()
        if not trickle:
            self.wfile.write(data)
            self.wfile.flush()
            return
        for index in range(len(data)):
            if self.server.fake._stopping.wait(TRICKLE_SECONDS):
                return
            self.wfile.write(data[index:index + 1])
            self.wfile.flush()


def _authorised(headers: dict[str, str]) -> bool:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return True
    return bool(headers.get("x-api-key", "").strip())


# ---------------------------------------------------------------------------------------------------------------------
# CLI glue (`mksap fake-api`)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_CLI_PORT, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="S", help="seconds each answer takes")
    parser.add_argument("--jitter", type=float, default=0.0, metavar="S", help="extra uniform random [0, S] seconds")
    parser.add_argument("--rpm", type=int, default=None, metavar="N", help="requests per minute (default unlimited)")
    parser.add_argument("--itpm", type=int, default=None, metavar="N", help="input tokens per minute")
    parser.add_argument("--otpm", type=int, default=None, metavar="N", help="output tokens per minute")
    parser.add_argument("--fault-rate", type=float, default=0.0, metavar="F", help="share of requests given a fault")
    parser.add_argument(
        "--fault-kinds",
        type=lambda s: [k.strip() for k in s.split(",") if k.strip()],
        default=None,
        metavar="K1,K2",
        help=f"faults to draw from (default {','.join(RANDOM_FAULT_KINDS)})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault and jitter RNG")
    parser.add_argument("--slow-seconds", type=float, default=30.0, metavar="S", help="delay of the 'slow' fault")
    parser.add_argument("--log-requests", action="store_true", help="print one line per request to stderr")
    parser.add_argument(
        "--replay",
        metavar="DIR",
        default=None,
        help="answer record_statements requests with the recorded <question_id>.json files of DIR",
    )
    parser.add_argument(
        "--ledger",
        metavar="FILE",
        default=None,
        help="on exit, write what each Messages request was charged (JSON lines: admitted, ended, status, "
        "input_tokens, output_tokens; monotonic seconds)",
    )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _write_ledger(path: Path, entries: list[tuple[float, float, int, int, int]]) -> None:
    keys = ("admitted", "ended", "status", "input_tokens", "output_tokens")
    path.write_text("".join(json.dumps(dict(zip(keys, entry, strict=True))) + "\n" for entry in entries))


def run_from_args(args: argparse.Namespace) -> int:
    """Serve in the foreground until Ctrl-C (or SIGTERM)."""
    if getattr(args, "log_requests", False):
        logging.basicConfig(format="%(asctime)s %(message)s")
        log.setLevel(logging.DEBUG)
    fake = FakeAnthropic(
        latency=args.latency,
        jitter=args.jitter,
        rpm=args.rpm,
        itpm=args.itpm,
        otpm=args.otpm,
        fault_rate=args.fault_rate,
        fault_kinds=getattr(args, "fault_kinds", None),
        slow_seconds=args.slow_seconds,
        seed=args.seed,
        port=args.port,
        replay_dir=getattr(args, "replay", None),
        ledger=getattr(args, "ledger", None) is not None,
    )
    fake.start()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:  # the announcements inside: a Ctrl-C that arrives while they print still stops cleanly
        print(
            f"Fake Anthropic API on {fake.url} - point the SDK at it with ANTHROPIC_BASE_URL={fake.url} "
            "(any API key); Ctrl-C to stop",
            flush=True,
        )
        if fake.replay is not None:
            print(f"replaying {fake.replay.questions} recorded questions from {args.replay}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if getattr(args, "ledger", None) is not None:
            _write_ledger(Path(args.ledger), fake.ledger())
        stats = fake.stats
        replay = f", {stats.replayed} replayed, {stats.replay_misses} not replayed" if fake.replay is not None else ""
        print(
            f"served {stats.total_requests} requests ({stats.by_status.get(200, 0)} ok, "
            f"{stats.refused_by_limit} refused by limits{replay})",
            flush=True,
        )
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "mksap fake-api") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main(prog="python -m mksap_devtools.fake_api"))
