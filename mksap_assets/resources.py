"""Resources: thin configurable wrappers that build the domain objects for a run."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from mksap_assets.domain.extraction.base import Extractor
from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.domain.inputs import discover_questions, is_safe_question_id
from mksap_assets.domain.pipeline import QuestionPipeline
from mksap_assets.domain.store import ArtifactStore
from mksap_assets.settings import Settings


class PipelineResource(dg.ConfigurableResource):
    """Where the bank is, where outputs go, and how many questions are in flight at once."""

    data_dir: str
    output_dir: str
    store_dir: str
    concurrency: int = 32

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineResource:
        return cls(
            data_dir=str(settings.data_dir), output_dir=str(settings.output_dir), store_dir=str(settings.store_dir)
        )

    def question_ids(self) -> list[str]:
        """Ids of question files in the bank that can be partition keys (unsafe ids are reported by check-inputs)."""
        return [q.question_id for q in discover_questions(Path(self.data_dir)) if is_safe_question_id(q.question_id)]

    def build_extractor(self) -> Extractor:
        return OfflineExtractor()

    def build_pipeline(self) -> QuestionPipeline:
        return QuestionPipeline(
            data_dir=Path(self.data_dir),
            output_dir=Path(self.output_dir),
            store=ArtifactStore(Path(self.store_dir)),
            extractor=self.build_extractor(),
        )
