"""One spaCy pipeline per process, built lazily, with no model download.

If scispaCy's `en_core_sci_sm` is installed it is used; otherwise the pipeline is built from rule components that
ship inside PyPI packages: a blank English pipeline with scispaCy's combined rule tokenizer, pysbd sentencizer and
abbreviation detector.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

SCI_MODEL = "en_core_sci_sm"
RULES_PIPELINE = "blank_en+scispacy_rules"


@functools.cache
def get_nlp() -> Language:
    import spacy
    import spacy.util

    # scispaCy's abbreviation detector warns on every document that its (unused) global matcher has no patterns;
    # added after spaCy's import, which installs its own warning filters in front.
    warnings.filterwarnings("ignore", message=r"\[W036\]", category=UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from scispacy.abbreviation import AbbreviationDetector  # noqa: F401  (registers the factory)
        from scispacy.custom_sentence_segmenter import pysbd_sentencizer  # noqa: F401
        from scispacy.custom_tokenizer import combined_rule_tokenizer

        if spacy.util.is_package(SCI_MODEL):
            nlp = spacy.load(SCI_MODEL, disable=["parser"])
            nlp.add_pipe("pysbd_sentencizer", first=True)
        else:
            nlp = spacy.blank("en")
            nlp.tokenizer = combined_rule_tokenizer(nlp)
            nlp.add_pipe("pysbd_sentencizer")
        nlp.add_pipe("abbreviation_detector")
    return nlp


@functools.cache
def pipeline_name() -> str:
    """Which pipeline runs (or would run), for provenance; does not build it."""
    import spacy.util

    return SCI_MODEL if spacy.util.is_package(SCI_MODEL) else RULES_PIPELINE


def parse(texts: Sequence[str]) -> list[Doc]:
    """Batch-parse texts with nlp.pipe."""
    return list(get_nlp().pipe(texts))


def split_sentences(texts: Sequence[str]) -> list[list[str]]:
    """Sentences of each text, stripped, empty ones dropped."""
    return [[s.text.strip() for s in doc.sents if s.text.strip()] for doc in parse(texts)]
