"""The stage table (stages.py): the pipeline runs it, the Dagster shell declares it (test_definitions.py)."""

from mksap_assets.domain.engine.pipeline import STAGE_RUNNERS
from mksap_assets.domain.engine.stages import QUESTION_STAGES, STAGES


def test_every_stage_has_its_runner_and_nothing_else_does():
    assert list(STAGE_RUNNERS) == list(STAGES)


def test_a_stage_depends_only_on_stages_that_run_before_it():
    for index, stage in enumerate(QUESTION_STAGES):
        assert set(stage.upstream) <= set(STAGES[:index]), stage.name
    assert len(set(STAGES)) == len(STAGES)
