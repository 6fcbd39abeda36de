"""What the next incremental run must do, and why: compare each question's expected fingerprint with what its last
export recorded. Plain data in, plain data out; the sensor and `mksap plan` share it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mksap_assets.domain.engine.fingerprint import fingerprint
from mksap_assets.domain.errors import InputError
from mksap_assets.domain.exports.document import export_path, export_problem
from mksap_assets.domain.inputs.bank import QuestionFile, input_sha256
from mksap_assets.domain.llm.providers.anthropic.endpoint import endpoint_name

# A question whose run failed is retried automatically this many times for the same inputs; after that it waits
# for its input, prompt or model to change, or for a manual "failed only" backfill.
MAX_AUTOMATIC_RETRIES = 2

NEW = "new"
INPUT_CHANGED = "input changed"
PROMPT_CHANGED = "prompt changed"
CODE_CHANGED = "code changed"
FAILED = "failed last time"


def extractor_changed(recorded: str | None, expected: str) -> str:
    return f"extractor changed: {recorded} → {expected}"


def model_changed(recorded: str | None, expected: str | None) -> str:
    return f"model changed: {recorded} → {expected}"


def endpoint_changed(recorded: str | None, expected: str | None) -> str:
    return f"endpoint changed: {endpoint_name(recorded)} → {endpoint_name(expected)}"


@dataclass(frozen=True)
class ExtractorIdentity:
    extractor: str
    model: str | None
    prompt_version: str
    validator_version: str
    endpoint: str | None = None  # an API other than Anthropic's own (llm/providers/anthropic/endpoint.py)


@dataclass(frozen=True)
class Recorded:
    """What the latest export of a question says about how it was made (its materialization metadata)."""

    fingerprint: str | None = None
    input_sha256: str | None = None
    extractor: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    endpoint: str | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, object]) -> Recorded:
        def text(name: str) -> str | None:
            value = metadata.get(name)
            return None if value in (None, "-") else str(value)

        return cls(text("fingerprint"), text("input_sha256"), text("extractor"), text("model"), text("prompt_version"),
                   text("endpoint"))


@dataclass
class Plan:
    to_run: dict[str, str] = field(default_factory=dict)  # question id -> reason, in partition order
    up_to_date: list[str] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)  # failed too often for unchanged inputs: id -> attempts
    new_keys: list[str] = field(default_factory=list)  # to register as partitions (sorted)
    removed_keys: list[str] = field(default_factory=list)  # partitions whose question file is gone
    expected: dict[str, str] = field(default_factory=dict)  # question id -> expected fingerprint, partition order
    failed: set[str] = field(default_factory=set)  # among the stale questions, those whose last run failed

    def lines(self, verbose: bool = False) -> list[str]:
        out = [f"{key}\t{reason}" for key, reason in self.to_run.items()]
        out += [f"{key}\tremoved (question file deleted)" for key in self.removed_keys]
        out += [f"{key}\tfailed {count} times with these inputs; not retried" for key, count in self.waiting.items()]
        if verbose:
            out += [f"{key}\tup to date" for key in self.up_to_date]
        out.append(
            f"{len(self.to_run)} to run, {len(self.removed_keys)} to remove, {len(self.waiting)} waiting, "
            f"{len(self.up_to_date)} up to date"
        )
        return out


def expected_fingerprint(question_file: QuestionFile, identity: ExtractorIdentity) -> tuple[str, str]:
    """(input hash, fingerprint) the question would get if it ran now. Unreadable inputs (and FIFOs, devices, links
    out of the bank, oversized files, which are never read) get a unique marker so that they are tried (and fail with
    a clear reason) rather than silently skipped."""
    try:
        digest = input_sha256(question_file)
    except InputError as error:
        digest = f"unreadable:{error}"
    except OSError as error:  # listing the tables folder
        digest = f"unreadable:{error.strerror or error}"
    return digest, fingerprint(
        input_sha256=digest,
        extractor=identity.extractor,
        model=identity.model,
        prompt_version=identity.prompt_version,
        validator_version=identity.validator_version,
        endpoint=identity.endpoint,
    )


def _reason(recorded: Recorded | None, digest: str, identity: ExtractorIdentity, failed: bool,
            output_problem: str | None) -> str:
    if failed:
        return FAILED
    if output_problem:
        return output_problem
    if recorded is None or recorded.fingerprint is None:
        return NEW
    if recorded.input_sha256 != digest:
        return INPUT_CHANGED
    # The extractor before the prompt: another extractor also has another prompt version, and the reason should
    # name the cause.
    if recorded.extractor != identity.extractor:
        return extractor_changed(recorded.extractor, identity.extractor)
    if recorded.model != identity.model:
        return model_changed(recorded.model, identity.model)
    if recorded.endpoint != identity.endpoint:
        return endpoint_changed(recorded.endpoint, identity.endpoint)
    if recorded.prompt_version != identity.prompt_version:
        return PROMPT_CHANGED
    return CODE_CHANGED


def plan_changes(
    *,
    questions: Iterable[QuestionFile],
    partition_keys: Iterable[str],
    fingerprints: Mapping[str, str],
    recorded_among: Callable[[list[str]], Mapping[str, Recorded]],
    failed_among: Callable[[list[str]], set[str]],
    attempts: Mapping[str, tuple[str, int]],
    identity: ExtractorIdentity,
    output_dir: Path,
) -> Plan:
    """`fingerprints` are the fingerprints the latest exports recorded (cheap to read for every question);
    `recorded_among(keys)` returns the full record of some exports and `failed_among(keys)` which of some
    partitions failed last time. Both are asked only about the questions that are not up to date, so a tick with
    nothing to do reads nothing else. `attempts` maps a question id to (fingerprint tried, consecutive failed
    attempts) from earlier ticks. A question whose recorded export is missing from `output_dir` or truncated is stale
    ("export missing", "export unreadable"; export.export_problem, a stat and a 3-byte read per question)."""
    plan = Plan()
    files = {q.question_id: q for q in questions}
    existing = list(partition_keys)
    known = set(existing)
    plan.new_keys = sorted(key for key in files if key not in known)
    plan.removed_keys = [key for key in existing if key not in files]
    stale: dict[str, str] = {}  # question id -> input hash
    output_problems: dict[str, str] = {}  # recorded as up to date, but its export file is gone or truncated
    for key in [k for k in existing if k in files] + plan.new_keys:
        digest, expected = expected_fingerprint(files[key], identity)
        plan.expected[key] = expected
        problem = export_problem(export_path(output_dir, key)) if fingerprints.get(key) == expected else None
        if fingerprints.get(key) == expected and not problem:
            plan.up_to_date.append(key)
        else:
            stale[key] = digest
            if problem:
                output_problems[key] = problem
    registered = [key for key in stale if key in known]
    recorded = recorded_among(registered) if registered else {}
    for key in [k for k in registered if recorded.get(k) and recorded[k].fingerprint == plan.expected[k]
                and k not in output_problems]:
        if problem := export_problem(export_path(output_dir, key)):
            output_problems[key] = problem
        else:
            plan.up_to_date.append(key)  # an export from before fingerprints were also its data version
            del stale[key]
    plan.failed = failed_among([key for key in stale if key in known]) if stale else set()
    # Launched with this very fingerprint by an earlier tick (whose runs have ended) and still stale: it failed, even
    # where Dagster did not mark it (a run over a covering range does not fail for one question).
    plan.failed |= {key for key in stale if attempts.get(key, ("", 0))[0] == plan.expected[key]}
    for key, digest in stale.items():
        tried, count = attempts.get(key, ("", 0))
        if key in plan.failed and tried == plan.expected[key] and count > MAX_AUTOMATIC_RETRIES:
            plan.waiting[key] = count
            continue
        plan.to_run[key] = _reason(recorded.get(key), digest, identity, key in plan.failed, output_problems.get(key))
    return plan


def next_attempts(previous: Mapping[str, tuple[str, int]], plan: Plan) -> dict[str, tuple[str, int]]:
    """Count consecutive automatic attempts per (question, fingerprint); forget questions that are done."""
    attempts: dict[str, tuple[str, int]] = {}
    for key, expected in plan.expected.items():
        if key in plan.up_to_date:
            continue
        tried, count = previous.get(key, ("", 0))
        if key in plan.waiting:
            attempts[key] = (tried, count)
        elif key in plan.to_run:
            attempts[key] = (expected, count + 1 if tried == expected and key in plan.failed else 1)
    return attempts


def retire_outputs(output_dir: Path, store_dir: Path, question_id: str, stages: Iterable[str]) -> list[Path]:
    """Move a deleted question's export and stored assets aside (never silently kept as current)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    candidates = [(export_path(output_dir, question_id), output_dir / "_removed" / stamp / question_id[:2])]
    candidates += [(store_dir / stage / f"{question_id}.json", store_dir / "_removed" / stamp / stage) for stage in stages]
    for source, target_dir in candidates:
        if source.is_file():
            target_dir.mkdir(parents=True, exist_ok=True)
            moved.append(Path(shutil.move(str(source), target_dir / source.name)))
    return moved
