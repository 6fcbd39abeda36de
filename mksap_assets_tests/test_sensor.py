"""The sensor requests exactly the partitions whose inputs, prompt, model or code changed, and nothing after; a
scattered set in one run over a covering range; and the roll-ups when exports are newer than the deck."""

import shutil
from collections.abc import Iterator

import dagster as dg
import orjson
import pytest

from mksap_assets.definitions import build_definitions
from mksap_assets.domain.engine.pipeline import STAGES
from mksap_assets.domain.exports.document import export_path
from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.partitions import question_partitions
from mksap_assets.resources import PipelineResource
from mksap_assets.sensors import latest_storage_id, question_sensor, rollups_stale
from mksap_assets.settings import Settings
from mksap_assets_tests.helpers import edit_question, question_json, sample_ids

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


class Harness:
    """Ticks the sensor the way the daemon would: apply partition requests, execute the requested runs."""

    def __init__(self, settings: Settings, instance: dg.DagsterInstance):
        self.settings = settings
        self.instance = instance
        self.cursor = None
        self.results: list[dg.ExecuteInProcessResult] = []

    def tick(self):
        context = dg.build_sensor_context(
            instance=self.instance,
            definitions=build_definitions(self.settings),
            sensor_name="question_sensor",
            cursor=self.cursor,
            resources={"pipeline": PipelineResource.from_settings(self.settings)},
        )
        result = question_sensor(context)
        self.cursor = context.cursor
        return result

    def apply(self, result) -> list[str]:
        """Apply the tick's partition changes and run its run requests; return the requested keys."""
        if isinstance(result, dg.SkipReason):
            return []
        for request in result.dynamic_partitions_requests:
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            else:
                for key in request.partition_keys:
                    self.instance.delete_dynamic_partition(request.partitions_def_name, key)
        ordered = list(self.instance.get_dynamic_partitions("question"))
        requested = []
        job = build_definitions(self.settings).resolve_implicit_global_asset_job_def()
        for run in result.run_requests:
            self.results.append(job.execute_in_process(
                instance=self.instance, tags=run.tags, asset_selection=run.asset_selection,
                run_config=run.run_config, raise_on_error=False,
            ))
            if RANGE_START not in run.tags:
                continue  # the roll-ups alone
            listed = run.run_config.get("ops", {}).get("question_assets", {}).get("config", {}).get("questions")
            first, last = run.tags[RANGE_START], run.tags[RANGE_END]
            requested += listed or ordered[ordered.index(first) : ordered.index(last) + 1]
        return requested


@pytest.fixture(params=["ephemeral", "postgres"])
def instance(request) -> Iterator[dg.DagsterInstance]:
    """Every test on an in-memory instance and on the postgres profile's (a database of its own on the test server;
    skipped, with the reason, when no server can be reached)."""
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_instance")
        return
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


@pytest.fixture
def harness(settings: Settings, instance: dg.DagsterInstance):
    harness = Harness(settings, instance)
    assert harness.apply(harness.tick()) == sample_ids(settings.data_dir)  # first tick: everything is new
    assert isinstance(harness.tick(), dg.SkipReason)
    return harness


def test_first_tick_adds_sorted_partitions_and_one_run(settings: Settings, instance: dg.DagsterInstance):
    result = Harness(settings, instance).tick()
    [add] = result.dynamic_partitions_requests
    assert list(add.partition_keys) == sample_ids(settings.data_dir)
    [run] = result.run_requests
    assert (run.tags[RANGE_START], run.tags[RANGE_END]) == (add.partition_keys[0], add.partition_keys[-1])
    assert run.run_key is None  # a run_key would block the retry of a failed run forever


def test_an_edited_critique_reruns_that_question_only(harness: Harness):
    key = sample_ids(harness.settings.data_dir)[5]
    path = question_json(harness.settings.data_dir, key)
    document = orjson.loads(path.read_bytes())
    edit_question(harness.settings.data_dir, key, critique=document["critique"] + " An added closing sentence.")
    assert harness.apply(harness.tick()) == [key]
    assert isinstance(harness.tick(), dg.SkipReason)


def test_a_changed_prompt_version_reruns_everything(harness: Harness, monkeypatch):
    monkeypatch.setattr(OfflineExtractor, "prompt_version", "changed-rules")
    assert harness.apply(harness.tick()) == sample_ids(harness.settings.data_dir)
    assert isinstance(harness.tick(), dg.SkipReason)


def test_a_new_question_file_runs_alone(harness: Harness):
    bank = harness.settings.data_dir
    source = question_json(bank, sample_ids(bank)[2]).parent
    new_id = source.name[:5] + "26999"
    shutil.copytree(source, source.parent / new_id)
    (source.parent / new_id / f"{source.name}.json").rename(source.parent / new_id / f"{new_id}.json")
    edit_question(bank, new_id, question_id=new_id)
    assert harness.apply(harness.tick()) == [new_id]
    assert isinstance(harness.tick(), dg.SkipReason)


def test_a_deleted_question_is_removed_and_its_output_moved_aside(harness: Harness):
    bank, output_dir = harness.settings.data_dir, harness.settings.output_dir
    key = sample_ids(bank)[0]
    shutil.rmtree(question_json(bank, key).parent)
    result = harness.tick()
    assert not result.run_requests
    [delete] = result.dynamic_partitions_requests
    assert isinstance(delete, dg.DeleteDynamicPartitionsRequest) and list(delete.partition_keys) == [key]
    assert not export_path(output_dir, key).exists()
    assert list(output_dir.glob(f"_removed/*/{key[:2]}/{key}.json"))
    harness.apply(result)
    assert isinstance(harness.tick(), dg.SkipReason)


def test_a_failing_question_is_retried_a_bounded_number_of_times(harness: Harness):
    key = sample_ids(harness.settings.data_dir)[3]
    question_json(harness.settings.data_dir, key).write_text("{broken")
    runs = 0
    for _ in range(6):
        requested = harness.apply(harness.tick())
        runs += requested == [key]
    assert runs == 3  # the first attempt and two automatic retries; then it waits for a change
    edit_question_file = question_json(harness.settings.data_dir, key)
    edit_question_file.write_text("{still broken, but different")
    assert harness.apply(harness.tick()) == [key]


@pytest.mark.parametrize("launched_by", [
    {"dagster/sensor_name": "question_sensor"},
    {"dagster/backfill": "abcdefgh"},  # a UI backfill, which may hold the very questions the tick would run
    {},  # `mksap run`, `dagster asset materialize`
])
def test_no_tick_while_any_run_is_in_flight(harness: Harness, launched_by: dict[str, str]):
    harness.instance.add_run(
        dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED, tags=launched_by)
    )
    edit_question(harness.settings.data_dir, sample_ids(harness.settings.data_dir)[0], critique="Changed text here.")
    skipped = harness.tick()
    assert isinstance(skipped, dg.SkipReason) and "in flight" in skipped.skip_message


def test_a_tick_after_sync_before_any_run(settings: Settings, instance: dg.DagsterInstance):
    """Partitions registered (`mksap sync`) but nothing materialized yet: everything is requested as new."""
    instance.add_dynamic_partitions("question", sample_ids(settings.data_dir))
    [run] = Harness(settings, instance).tick().run_requests
    assert run.tags[RANGE_START] == sample_ids(settings.data_dir)[0]


def test_unsafe_folder_names_never_become_partitions(settings: Settings, instance: dg.DagsterInstance):
    (settings.data_dir / "cv" / "CV bad").mkdir()
    (settings.data_dir / "cv" / "CV bad" / "CV bad.json").write_text("{}")
    [add] = Harness(settings, instance).tick().dynamic_partitions_requests
    assert "CV bad" not in add.partition_keys


def _statuses(instance: dg.DagsterInstance, keys: list[str]) -> dict[str, str]:
    by_key = instance.get_status_by_partition(dg.AssetKey("exported_question"), keys, question_partitions)
    return {key: status.value for key, status in by_key.items()}


def _edit(bank, key: str, sentence: str = " An added closing sentence.") -> None:
    document = orjson.loads(question_json(bank, key).read_bytes())
    edit_question(bank, key, critique=document["critique"] + sentence)


def test_a_scattered_set_runs_in_one_run_that_leaves_the_others_alone(harness: Harness):
    keys = sample_ids(harness.settings.data_dir)
    scattered = keys[1::3]  # 5 questions, no two adjacent: 5 ranges
    for key in scattered:
        _edit(harness.settings.data_dir, key)
    result = harness.tick()
    [run] = result.run_requests
    assert (run.tags[RANGE_START], run.tags[RANGE_END]) == (scattered[0], scattered[-1])
    assert run.run_config["ops"]["question_assets"]["config"]["questions"] == scattered
    assert set(run.asset_selection) == {*(dg.AssetKey(k) for k in (*STAGES, "anki_deck", "pipeline_report"))}
    before = latest_storage_id(harness.instance, dg.AssetKey("anki_deck"))
    assert harness.apply(result) == scattered
    [run_result] = harness.results[-1:]
    exported = {e.partition for e in run_result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey("exported_question")}
    assert run_result.success and exported == set(scattered)  # the others in the range were left alone
    assert set(_statuses(harness.instance, keys).values()) == {"MATERIALIZED"}
    assert latest_storage_id(harness.instance, dg.AssetKey("anki_deck")) > before
    assert isinstance(harness.tick(), dg.SkipReason)


def test_a_question_failing_in_a_covering_run_is_retried_in_a_run_of_its_own(harness: Harness):
    keys = sample_ids(harness.settings.data_dir)
    scattered = keys[1::3]
    for key in scattered:
        _edit(harness.settings.data_dir, key)
    broken = scattered[2]
    question_json(harness.settings.data_dir, broken).write_text("{broken")
    assert harness.apply(harness.tick()) == scattered
    assert harness.results[-1].success  # a covering run does not fail: that would mark its whole range failed
    assert set(_statuses(harness.instance, keys).values()) == {"MATERIALIZED"}
    result = harness.tick()  # tried with these inputs and still stale: failed, retried alone
    [run] = result.run_requests
    assert (run.tags[RANGE_START], run.tags[RANGE_END]) == (broken, broken) and not run.run_config
    assert harness.apply(result) == [broken]
    assert _statuses(harness.instance, keys)[broken] == "FAILED"
    assert [k for k, v in _statuses(harness.instance, keys).items() if v != "MATERIALIZED"] == [broken]


def test_a_tick_of_several_runs_leaves_the_rollups_to_one_run_after_them(harness: Harness):
    keys = sample_ids(harness.settings.data_dir)
    for key in (*keys[:2], *keys[-2:]):  # two contiguous stretches: two runs
        _edit(harness.settings.data_dir, key)
    result = harness.tick()
    assert [(run.tags[RANGE_START], run.tags[RANGE_END]) for run in result.run_requests] == [
        (keys[0], keys[1]), (keys[-2], keys[-1])
    ]
    assert all(set(run.asset_selection) == {dg.AssetKey(k) for k in STAGES} for run in result.run_requests)
    harness.apply(result)
    assert rollups_stale(harness.instance)
    after = harness.tick()  # once they have finished: the deck and the report, once
    [rollups] = after.run_requests
    assert set(rollups.asset_selection) == {dg.AssetKey("anki_deck"), dg.AssetKey("pipeline_report")}
    harness.apply(after)
    assert harness.results[-1].success and not rollups_stale(harness.instance)
    assert isinstance(harness.tick(), dg.SkipReason)


def test_exports_newer_than_the_deck_get_the_rollups_rebuilt(harness: Harness):
    key = sample_ids(harness.settings.data_dir)[0]
    job = build_definitions(harness.settings).resolve_implicit_global_asset_job_def()
    # A run of the question assets alone (a UI backfill of them, or the shell): the deck is now older.
    job.execute_in_process(instance=harness.instance, tags={RANGE_START: key, RANGE_END: key},
                           asset_selection=[dg.AssetKey(stage) for stage in STAGES])
    assert rollups_stale(harness.instance)
    result = harness.tick()
    [run] = result.run_requests
    assert set(run.asset_selection) == {dg.AssetKey("anki_deck"), dg.AssetKey("pipeline_report")}
    assert RANGE_START not in run.tags
    harness.apply(result)
    assert harness.results[-1].success and not rollups_stale(harness.instance)
    assert isinstance(harness.tick(), dg.SkipReason)


def test_a_deleted_or_truncated_export_is_written_again(harness: Harness):
    deleted, truncated = sample_ids(harness.settings.data_dir)[2:4]
    export_path(harness.settings.output_dir, deleted).unlink()
    path = export_path(harness.settings.output_dir, truncated)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert sorted(harness.apply(harness.tick())) == [deleted, truncated]
    assert orjson.loads(path.read_bytes())["question_id"] == truncated
    assert isinstance(harness.tick(), dg.SkipReason)


def test_a_tick_fails_a_dead_run_and_frees_its_pool_slot(settings: Settings, instance: dg.DagsterInstance):
    from dagster._core.test_utils import create_run_for_test

    from mksap_assets.assets.questions import LLM_POOL
    from mksap_assets.dead_runs import process_tags
    from mksap_assets_tests.helpers import dead_process_tags

    storage = instance.event_log_storage
    storage.set_concurrency_slots(LLM_POOL, 1)
    dead, live = (create_run_for_test(instance, job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED,
                                      tags=tags) for tags in (dead_process_tags(), process_tags()))
    assert storage.claim_concurrency_slot(LLM_POOL, dead.run_id, "question_assets").is_claimed
    Harness(settings, instance).tick()
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.STARTED
    assert storage.get_concurrency_info(LLM_POOL).active_slot_count == 0
