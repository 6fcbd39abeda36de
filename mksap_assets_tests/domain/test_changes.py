"""Change planning: why each question would run, and bounded retries of failures."""

from mksap_assets.domain.engine.changes import (
    CODE_CHANGED,
    FAILED,
    INPUT_CHANGED,
    MAX_AUTOMATIC_RETRIES,
    NEW,
    PROMPT_CHANGED,
    ExtractorIdentity,
    Recorded,
    expected_fingerprint,
    next_attempts,
    plan_changes,
)
from mksap_assets.domain.engine.store import write_json_atomic
from mksap_assets.domain.exports.document import (
    EXPORT_MISSING,
    EXPORT_UNREADABLE,
    export_path,
)
from mksap_assets.domain.inputs.bank import discover_questions
from mksap_assets_tests.conftest import SAMPLE_DIR

IDENTITY = ExtractorIdentity("anthropic", "claude-haiku-5-5", "p1", "3")


def _recorded(question_file, identity=IDENTITY, **overrides) -> Recorded:
    digest, fingerprint = expected_fingerprint(question_file, identity)
    fields = dict(fingerprint=fingerprint, input_sha256=digest, extractor=identity.extractor, model=identity.model,
                  prompt_version=identity.prompt_version, endpoint=identity.endpoint)
    return Recorded(**{**fields, **overrides})


def _plan(output_dir, recorded, failed=frozenset(), attempts=None, identity=IDENTITY, keys=None, write_exports=True):
    """The plan with an export in `output_dir` for each recorded question (written unless present or told not to)."""
    files = discover_questions(SAMPLE_DIR)
    for key in recorded:
        if write_exports and not export_path(output_dir, key).exists():
            write_json_atomic(export_path(output_dir, key), {"question_id": key})
    asked = []

    def failed_among(candidates):
        asked.append(list(candidates))
        return set(failed) & set(candidates)

    def recorded_among(candidates):
        asked.append(list(candidates))
        return {key: recorded[key] for key in candidates if key in recorded}

    fingerprints = {key: record.fingerprint for key, record in recorded.items() if record.fingerprint}
    plan = plan_changes(questions=files, partition_keys=keys if keys is not None else [f.question_id for f in files],
                        fingerprints=fingerprints, recorded_among=recorded_among, failed_among=failed_among,
                        attempts=attempts or {}, identity=identity, output_dir=output_dir)
    return plan, asked


def test_reasons_follow_what_changed(tmp_path):
    files = discover_questions(SAMPLE_DIR)
    a, b, c, d, e, f = files[:6]
    recorded = {f.question_id: _recorded(f) for f in files}
    recorded[a.question_id] = _recorded(a, input_sha256="old", fingerprint="old")
    recorded[b.question_id] = _recorded(b, identity=ExtractorIdentity("anthropic", "claude-haiku-5-5", "p0", "3"))
    recorded[c.question_id] = _recorded(c, identity=ExtractorIdentity("anthropic", "claude-sonnet-5-5", "p1", "3"))
    del recorded[d.question_id]
    # An offline export has another prompt version too: the reason names the extractor, the cause.
    recorded[e.question_id] = _recorded(e, identity=ExtractorIdentity("offline", None, "rules-1", "3"))
    recorded[f.question_id] = _recorded(f, identity=ExtractorIdentity("anthropic", "claude-haiku-5-5", "p1", "2"))
    plan, asked = _plan(tmp_path, recorded)
    assert plan.to_run == {a.question_id: INPUT_CHANGED, b.question_id: PROMPT_CHANGED,
                           c.question_id: "model changed: claude-sonnet-5-5 → claude-haiku-5-5",
                           e.question_id: "extractor changed: offline → anthropic", f.question_id: CODE_CHANGED,
                           d.question_id: NEW}
    assert len(plan.up_to_date) == len(files) - 6
    stale = [a.question_id, b.question_id, c.question_id, d.question_id, e.question_id, f.question_id]
    assert asked == [stale, stale]  # full records and statuses are looked up for the stale ones only


def test_answers_from_another_endpoint_are_not_claudes(tmp_path):
    files = discover_questions(SAMPLE_DIR)
    fake = ExtractorIdentity("anthropic", "claude-haiku-5-5", "p1", "3", "http://127.0.0.1:8765")
    # Anthropic's own API adds nothing to the fingerprint: exports made before endpoints were recorded stay current.
    assert expected_fingerprint(files[0], IDENTITY) != expected_fingerprint(files[0], fake)
    assert Recorded.from_metadata({"endpoint": "-"}).endpoint is None
    recorded = {f.question_id: _recorded(f, identity=fake) for f in files}
    plan, _ = _plan(tmp_path, recorded)
    assert set(plan.to_run.values()) == {"endpoint changed: http://127.0.0.1:8765 → https://api.anthropic.com"}
    plan, _ = _plan(tmp_path, recorded, identity=fake)
    assert not plan.to_run and len(plan.up_to_date) == len(files)


def test_nothing_stale_asks_for_no_status(tmp_path):
    files = discover_questions(SAMPLE_DIR)
    plan, asked = _plan(tmp_path, {f.question_id: _recorded(f) for f in files})
    assert not plan.to_run and asked == []


def test_a_failing_question_is_retried_then_waits(tmp_path):
    files = discover_questions(SAMPLE_DIR)
    key = files[0].question_id
    recorded = {f.question_id: _recorded(f) for f in files[1:]}
    attempts = {}
    runs = 0
    for _ in range(MAX_AUTOMATIC_RETRIES + 3):
        plan, _ = _plan(tmp_path, recorded, failed={key}, attempts=attempts)
        if key in plan.to_run:
            runs += 1
            assert plan.to_run[key] == FAILED
        attempts = next_attempts(attempts, plan)
    assert runs == MAX_AUTOMATIC_RETRIES + 1 and key in plan.waiting


def test_new_and_removed_files(tmp_path):
    files = discover_questions(SAMPLE_DIR)
    keys = [f.question_id for f in files[1:]] + ["zzmcq26999"]
    plan, _ = _plan(tmp_path, {}, keys=keys)
    assert plan.new_keys == [files[0].question_id] and plan.removed_keys == ["zzmcq26999"]


def test_a_deleted_or_truncated_export_is_stale(tmp_path):
    files = discover_questions(SAMPLE_DIR)
    recorded = {f.question_id: _recorded(f) for f in files}
    deleted, truncated, emptied = (f.question_id for f in files[:3])
    _plan(tmp_path, recorded)  # writes every export
    export_path(tmp_path, deleted).unlink()
    path = export_path(tmp_path, truncated)
    path.write_bytes(path.read_bytes()[:-3])
    export_path(tmp_path, emptied).write_bytes(b"")
    plan, _ = _plan(tmp_path, recorded, write_exports=False)
    assert plan.to_run == {deleted: EXPORT_MISSING, truncated: EXPORT_UNREADABLE, emptied: EXPORT_UNREADABLE}
    assert len(plan.up_to_date) == len(files) - 3
