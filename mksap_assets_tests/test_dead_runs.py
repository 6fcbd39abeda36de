"""Runs whose process is gone are failed and their pool slots freed; every run records which process runs it."""

import socket
import threading

import dagster as dg
from dagster._core.test_utils import create_run_for_test

from mksap_assets.assets.questions import LLM_POOL, ROLLUP_KEYS
from mksap_assets.dead_runs import (
    RUN_HOST_TAG,
    RUN_PROCESS_STARTED_TAG,
    fail_dead_runs,
    process_gone,
    process_tags,
)
from mksap_assets.definitions import build_definitions
from mksap_assets.settings import Settings
from mksap_assets_tests.helpers import dead_process_tags, open_instance


def _started_run(instance, tags):
    return create_run_for_test(instance, job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED, tags=tags)


def test_a_run_launched_by_dagster_records_its_process_and_frees_a_dead_run_s_slot_before_it_waits(
    settings: Settings, monkeypatch
):
    """Dagster claims the pool slot before the step's body runs; the resource's set-up comes before that claim. On
    the project's instance configuration: an ephemeral instance does not enforce pools."""
    with open_instance(settings.dagster_home, monkeypatch) as instance:
        assert instance.event_log_storage.supports_global_concurrency_limits
        instance.event_log_storage.set_concurrency_slots(LLM_POOL, 1)
        dead = _started_run(instance, dead_process_tags())
        assert instance.event_log_storage.claim_concurrency_slot(LLM_POOL, dead.run_id, "question_assets").is_claimed
        job = build_definitions(settings).resolve_implicit_global_asset_job_def()
        results = []
        # A thread, so that a run blocked on the slot fails the test instead of hanging it (it would spin on).
        run = threading.Thread(target=lambda: results.append(job.execute_in_process(
            instance=instance, asset_selection=ROLLUP_KEYS, raise_on_error=False)), daemon=True)
        run.start()
        run.join(timeout=180)  # generous: a loaded machine; a run that waits for the slot never ends
        assert results, "the run waited for the slot of the dead run"
        assert instance.get_run_by_id(results[0].run_id).tags.items() >= process_tags().items()
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE


def test_a_reused_pid_is_not_the_run_s_process():
    tags = process_tags()
    assert not process_gone(tags)
    assert process_gone({**tags, RUN_PROCESS_STARTED_TAG: f"{float(tags[RUN_PROCESS_STARTED_TAG]) - 100:.2f}"})
    assert process_gone(dead_process_tags())


def test_runs_of_another_host_or_without_a_process_are_left_alone():
    with dg.DagsterInstance.ephemeral() as instance:
        elsewhere = _started_run(instance, {**dead_process_tags(), RUN_HOST_TAG: f"not-{socket.gethostname()}"})
        untagged = _started_run(instance, {})
        assert fail_dead_runs(instance) == []
        for run in (elsewhere, untagged):
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
