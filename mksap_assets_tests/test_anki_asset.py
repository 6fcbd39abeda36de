"""The anki_deck asset, built by the question step when it is selected: materialized over export documents in a
temporary output dir, with its config and its wiring onto the partitioned exported_question asset."""

from pathlib import Path

import dagster as dg
import pytest

from mksap_assets.assets.anki import ANKI_DECK, AnkiDeckConfig
from mksap_assets.assets.questions import QuestionRunConfig, question_assets
from mksap_assets.domain.exports.anki import deck_id_for
from mksap_assets.resources import PipelineResource
from mksap_assets.settings import Settings
from mksap_assets_tests.domain.test_anki import document, item, open_apkg, write_docs


@pytest.fixture
def resource(settings: Settings) -> PipelineResource:
    write_docs(
        settings.output_dir,
        document("cvmcq26001", critique=[
            item("Apixaban is reduced to 2.5 mg twice daily in older adults.", ["2.5 mg", "older adults"],
                 blocked_by=[]),
            item("Warfarin needs INR monitoring in every patient.", ["INR"], [("too_long", "warning")], blocked_by=[]),
            item("Edoxaban is given at 90 mg daily to every patient.", ["90 mg"], [("number_not_in_source", "error")],
                 blocked_by=["number_not_in_source"]),
        ], key_points=[item("Aspirin is not an alternative to anticoagulation.", ["Aspirin"], blocked_by=[])]),
        document("npmcq26001", critique=[item("Hyperkalemia needs calcium gluconate first.", ["calcium gluconate"],
                                              blocked_by=[])]),
    )
    return PipelineResource.from_settings(settings)


def _materialize(resource: PipelineResource, config: AnkiDeckConfig | None = None) -> dg.ExecuteInProcessResult:
    """The deck alone: the question step with only anki_deck selected (no partition)."""
    run_config = dg.RunConfig({"question_assets": QuestionRunConfig(deck=config)}) if config else None
    return dg.materialize([question_assets], selection=[ANKI_DECK], resources={"pipeline": resource},
                          run_config=run_config, raise_on_error=False)


def test_materializes_the_deck_with_counts_and_paths(resource: PipelineResource, tmp_path: Path):
    result = _materialize(resource)
    assert result.success
    [materialization] = result.asset_materializations_for_node("question_assets")
    metadata = materialization.metadata
    path = resource.resolved().output_dir / "anki" / "mksap.apkg"
    assert metadata["path"].value == str(path) and path.is_file()
    assert metadata["txt_path"].value == str(path.with_suffix(".txt")) and path.with_suffix(".txt").is_file()
    preview = path.parent / "preview" / "index.html"
    assert metadata["preview_path"].value == str(preview) and preview.is_file()
    assert (preview.parent / "cv.html").is_file() and (preview.parent / "np.html").is_file()
    # The erroring statement stays out; the warning is advice; the question's other statements go on.
    assert (metadata["notes"].value, metadata["cards"].value, metadata["skipped"].value) == (4, 5, 1)
    assert "| cv | Cardiovascular Medicine | 1 | 3 | 4 | 1 |" in metadata["per_system"].value
    assert "| np | Nephrology | 1 | 1 | 1 | 0 |" in metadata["per_system"].value
    assert "| blocked | 1 |" in metadata["skipped_by_reason"].value
    assert "| number_not_in_source | 1 |" in metadata["skipped_by_issue"].value
    assert "| cvmcq26001 | critique | 2 | blocked | number_not_in_source |" in metadata["skipped_statements"].value
    assert "too_long" not in metadata["skipped_statements"].value
    assert metadata["strict"].value is False and "include_warnings" not in metadata
    deck = open_apkg(path, tmp_path)
    assert len(deck["notes"]) == 4 and deck_id_for("np") in deck["decks"]


def _deck_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == ANKI_DECK]
    return event.materialization.metadata


def test_a_shrinking_deck_keeps_the_previous_one_and_says_so(resource: PipelineResource, tmp_path: Path):
    first = _deck_metadata(_materialize(resource))
    folder = resource.resolved().output_dir / "anki"
    assert first["manifest_path"].value == str(folder / "mksap.json")
    assert first["previous_notes"].value is None and first["previous_kept_path"].value is None
    # Every statement now blocked: the extreme case, an empty deck after a deck of 4 notes.
    write_docs(resource.resolved().output_dir, document("cvmcq26001", critique=[
        item("Apixaban is reduced to 2.5 mg twice daily.", ["2.5 mg"], [("x", "error")], blocked_by=["x"])]))
    (resource.resolved().output_dir / "np" / "npmcq26001.json").unlink()
    metadata = _deck_metadata(_materialize(resource))
    assert (metadata["notes"].value, metadata["previous_notes"].value) == (0, 4)
    assert metadata["previous_kept_path"].value == str(folder / "mksap.previous.apkg")
    assert len(open_apkg(folder / "mksap.previous.apkg", tmp_path)["notes"]) == 4


def test_config_selects_strict_mode_and_one_system(resource: PipelineResource, tmp_path: Path):
    result = _materialize(resource, AnkiDeckConfig(strict=True, system="Cardiovascular Medicine"))
    assert result.success
    metadata = result.asset_materializations_for_node("question_assets")[0].metadata
    path = resource.resolved().output_dir / "anki" / "mksap-cv.apkg"
    assert metadata["path"].value == str(path) and metadata["system"].value == "Cardiovascular Medicine"
    preview = path.parent / "preview-cv"
    assert metadata["preview_path"].value == str(preview / "index.html")
    assert sorted(p.name for p in preview.iterdir()) == ["cv.html", "index.html"]
    assert metadata["notes"].value == 2 and metadata["skipped"].value == 2 and metadata["strict"].value is True
    assert "| blocked | 1 |" in metadata["skipped_by_reason"].value
    assert "| warning | 1 |" in metadata["skipped_by_reason"].value
    assert "| too_long | 1 |" in metadata["skipped_by_issue"].value
    assert len(open_apkg(path, tmp_path)["notes"]) == 2


def test_duplicates_are_merged_by_default_and_config_turns_it_off(resource: PipelineResource):
    # the nephrology statement again, reworded, in a second cardiology question
    write_docs(resource.resolved().output_dir, document("cvmcq26002", critique=[
        item("Hyperkalemia needs calcium gluconate first of all.", ["calcium gluconate"], blocked_by=[])]))
    merged = _deck_metadata(_materialize(resource))
    assert (merged["notes"].value, merged["merged_duplicates"].value) == (4, 1)
    assert merged["merge_duplicates"].value is True
    assert "| merged_duplicate | 1 |" in merged["skipped_by_reason"].value
    unmerged = _deck_metadata(_materialize(resource, AnkiDeckConfig(merge_duplicates=False)))
    assert (unmerged["notes"].value, unmerged["merged_duplicates"].value) == (5, 0)
    assert unmerged["merge_duplicates"].value is False


def test_include_warnings_is_no_longer_a_config_field():
    assert "include_warnings" not in AnkiDeckConfig.model_fields and AnkiDeckConfig().strict is False


def test_nothing_to_export_fails_with_the_reason(settings: Settings):
    result = _materialize(PipelineResource.from_settings(settings))
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "no exported questions" in failure.step_failure_data.user_failure_data.description


def test_depends_on_every_partition_of_exported_question(resource: PipelineResource):
    defs = dg.Definitions(assets=[question_assets], resources={"pipeline": resource})
    graph = defs.resolve_asset_graph()
    node = graph.get(ANKI_DECK)
    assert node.parent_keys == {dg.AssetKey("exported_question")} and node.partitions_def is None
    assert node.group_name == "mksap"
    assert isinstance(graph.get_partition_mapping(ANKI_DECK, dg.AssetKey("exported_question")), dg.AllPartitionMapping)
