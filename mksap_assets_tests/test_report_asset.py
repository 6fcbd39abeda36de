"""The pipeline_report asset: the four question assets materialized for the samples in an ephemeral instance,
then the report; its files, its metadata totals against the exports, its timings from the instance, its wiring."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import orjson
import pandas as pd
import pytest

from mksap_assets.assets.questions import QUESTION_ASSET_KEYS, question_assets
from mksap_assets.assets.report import PIPELINE_REPORT, latest_durations, latest_workers
from mksap_assets.dead_runs import process_tags, worker_name
from mksap_assets.domain.config import LLMConfig
from mksap_assets.domain.engine.pipeline import STAGES
from mksap_assets.domain.exports.report import REPORT_FILES
from mksap_assets.partitions import range_tags
from mksap_assets.resources import PipelineResource
from mksap_assets.settings import Settings
from mksap_assets_tests.conftest import SAMPLE_DIR
from mksap_assets_tests.helpers import sample_ids


class Materialized:
    def __init__(self, settings: Settings, instance: dg.DagsterInstance, keys: list[str]):
        self.settings, self.instance, self.keys = settings, instance, keys
        self.defs = dg.Definitions(
            assets=[question_assets],
            resources={"pipeline": PipelineResource.from_settings(settings)},
            executor=dg.in_process_executor,
        )
        self.job = self.defs.resolve_implicit_global_asset_job_def()

    def questions(self, keys: list[str], selection: list[dg.AssetKey] = QUESTION_ASSET_KEYS):
        return self.job.execute_in_process(
            instance=self.instance, tags=range_tags(keys[0], keys[-1]), asset_selection=selection
        )

    def report(self) -> dg.ExecuteInProcessResult:
        return self.job.execute_in_process(instance=self.instance, asset_selection=[PIPELINE_REPORT])


@pytest.fixture(scope="module")
def materialized(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("report_asset")
    shutil.copytree(SAMPLE_DIR, root / "questions")
    settings = Settings(
        data_dir=root / "questions",
        output_dir=root / "output",
        store_dir=root / "store",
        dagster_home=root / "dagster_home",
        llm=LLMConfig(provider="offline", cache_dir=root / "cache"),
    )
    keys = sample_ids(settings.data_dir)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("question", keys)
        state = Materialized(settings, instance, keys)
        assert state.questions(keys).success
        yield state


def _exports(output_dir: Path) -> list[dict]:
    return [orjson.loads(p.read_bytes()) for p in sorted(output_dir.glob("[a-z][a-z]/*.json"))]


def test_writes_the_report_with_totals_that_agree_with_the_exports(materialized: Materialized):
    result = materialized.report()
    assert result.success
    [materialization] = result.asset_materializations_for_node("question_assets")
    metadata = {name: value.value for name, value in materialization.metadata.items()}
    folder = materialized.settings.output_dir / "report"
    assert metadata["path"] == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(REPORT_FILES)

    documents = _exports(materialized.settings.output_dir)
    statements = sum(
        len(d["true_statements"]["from_critique"]) + len(d["true_statements"]["from_key_points"])
        + len(d["table_statements"]["statements"])
        for d in documents
    )
    passed = sum(
        not item["blocked_by"]
        for d in documents
        for item in [*d["true_statements"]["from_critique"], *d["true_statements"]["from_key_points"],
                     *d["table_statements"]["statements"]]
    )
    assert passed == sum(d["validation"]["statements_passed"] for d in documents)
    assert metadata["questions"] == len(documents) == len(materialized.keys)
    assert metadata["statements"] == statements and metadata["statements_passed"] == passed
    assert "passed" not in metadata
    assert metadata["pass_rate"] == pytest.approx(passed / statements)  # a share of statements
    assert metadata["cost_usd"] == pytest.approx(sum(d["provenance"]["llm_usage"]["cost_usd"] for d in documents))
    assert metadata["llm_calls"] == 0 and "cache_hit_rate" not in metadata  # offline: no lookups, no rate
    assert metadata["report"] == (folder / "summary.md").read_text()
    assert f"| statements | {statements:,} |" in metadata["report"]
    assert f"| statements passed | {passed:,}/{statements:,} ({passed / statements:.1%}) |" in metadata["report"]

    questions = pd.read_csv(folder / "questions.csv")
    assert sorted(questions["question_id"]) == materialized.keys
    assert questions["statements"].sum() == statements and questions["statements_passed"].sum() == passed
    by_system = pd.read_csv(folder / "by_system.csv")
    assert by_system["questions"].sum() == len(documents) and len(by_system) == len({d["category"] for d in documents})

    timings = pd.read_csv(folder / "timings.csv").set_index("asset")
    assert list(timings.index) == list(STAGES)
    assert set(timings["partitions"]) == {len(materialized.keys)}
    assert ((timings["p50_ms"] <= timings["p95_ms"]) & (timings["p95_ms"] <= timings["max_ms"])).all()
    assert "## Timing per asset" in metadata["report"] and "| exported_question | 16 |" in metadata["report"]
    # Every run here was this test's process: one worker, which exported every question.
    assert metadata["workers"] == 1 and f"| {worker_name(process_tags())} | 16 |" in metadata["report"]


def test_the_worker_of_each_question_is_the_process_of_the_run_that_made_its_latest_export(
    materialized: Materialized,
):
    key = materialized.keys[0]
    run_id = materialized.questions([key], [dg.AssetKey("exported_question")]).run_id
    elsewhere = {"mksap/host": "worker-b", "mksap/pid": "42"}  # as if a worker on another machine had run it
    materialized.instance.add_run_tags(run_id, elsewhere)
    workers = latest_workers(materialized.instance).set_index("question_id")["worker"]
    assert sorted(workers.index) == materialized.keys
    assert workers[key] == "worker-b:42"
    assert set(workers.drop(key)) == {worker_name(process_tags())}


def test_timings_come_from_the_latest_materialization_of_each_partition(materialized: Materialized):
    key = materialized.keys[0]
    result = materialized.questions([key], [dg.AssetKey("exported_question")])
    [event] = result.get_asset_materialization_events()
    latest = event.materialization.metadata["duration_ms"].value
    timings = latest_durations(materialized.instance, QUESTION_ASSET_KEYS)
    assert list(timings.columns) == ["asset", "question_id", "duration_ms"]
    assert timings.groupby("asset").size().to_dict() == {stage: len(materialized.keys) for stage in STAGES}
    exported = timings[timings["asset"] == "exported_question"].set_index("question_id")["duration_ms"]
    assert exported[key] == pytest.approx(latest)


def test_depends_on_every_partition_of_the_four_question_assets(materialized: Materialized):
    graph = materialized.defs.resolve_asset_graph()
    node = graph.get(PIPELINE_REPORT)
    assert node.parent_keys == set(QUESTION_ASSET_KEYS) and node.partitions_def is None
    assert node.group_name == "mksap"
    for parent in QUESTION_ASSET_KEYS:
        assert isinstance(graph.get_partition_mapping(PIPELINE_REPORT, parent), dg.AllPartitionMapping)
