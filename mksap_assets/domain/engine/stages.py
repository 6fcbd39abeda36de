"""The question stages, in the order a question goes through them: the one table the pipeline runs (pipeline.py) and
the Dagster shell declares as partitioned assets with their dependencies (assets/questions.py)."""

from __future__ import annotations

from dataclasses import dataclass

RAW = "raw_question"
EXTRACTED = "extracted_statements"
VALIDATED = "validated_statements"
EXPORTED = "exported_question"


@dataclass(frozen=True)
class Stage:
    name: str  # the asset key, the artifact store's folder and the name in run metadata
    upstream: tuple[str, ...]  # the stages it is declared to depend on, as the asset graph shows them
    description: str  # what it records, shown on the asset


QUESTION_STAGES: tuple[Stage, ...] = (
    Stage(
        RAW,
        (),
        "The question file parsed, validated and normalised (glued sentences repaired, tables parsed).",
    ),
    Stage(
        EXTRACTED,
        (RAW,),
        "Statements extracted from the critique, key points and educational tables, with cloze candidates.",
    ),
    Stage(
        VALIDATED,
        (EXTRACTED, RAW),
        "The statements with the issues the validators found, each marked passed or blocked (the repair turn's "
        "corrections in place), and the share that passed.",
    ),
    Stage(
        EXPORTED,
        (VALIDATED,),
        "The exported JSON: the input question plus its statements, validation and provenance.",
    ),
)
STAGES: tuple[str, ...] = tuple(stage.name for stage in QUESTION_STAGES)
