"""One spaCy pipeline per process, built lazily, with no model download; parsed documents cached by text.

If scispaCy's `en_core_sci_sm` is installed it is used (or the pipeline named by MKSAP_NLP_MODEL: a package name
or a folder saved with `nlp.to_disk`); otherwise the pipeline is built from rule components that ship inside PyPI
packages: a blank English pipeline with scispaCy's combined rule tokenizer and abbreviation detector. Either way
our sentence splitter comes first (``mksap_sentences``: scispaCy's pysbd boundaries, set in one array write), and
two more rule components of ours follow:

- ``mksap_negation``: negation / prohibition / hedge / obligation cues, each scoped to the rest of its clause and
  never past the end of its sentence (the original's 50-character window crossed sentences);
- ``mksap_quantities``: numbers with their units and comparators ("< 30 mL/min/1.73 m2", "80 years or older").

`parse(texts)` batches the texts it has not seen through `nlp.pipe` and serves the others from an LRU cache keyed
by text; `cache_stats()` reports the hit rate.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mksap_assets.domain.nlp.rules import find_cues, find_quantities

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

SCI_MODEL = "en_core_sci_sm"
RULES_PIPELINE = "blank_en+scispacy_rules"
# The pipeline this process uses (PipelineConfig.nlp_model, which MKSAP_NLP_MODEL sets): a package name or
# pipeline folder; "rules" forces the rule pipeline; "" = scispaCy's model when installed.
_model_choice = ""
# Parsed documents kept for reuse (extraction's parse of a source is reused by validation; a rerun reuses them too).
# Enough for every text of the questions in flight; a spaCy Doc of a critique weighs tens of kB, so 4,096 of them
# held 0.5 GB at full scale (benchmarks/results.md).
CACHE_SIZE = 512


# ---------------------------------------------------------------------------------------------------------
# Which pipeline
# ---------------------------------------------------------------------------------------------------------


def _is_package(name: str) -> bool:
    """What `spacy.util.is_package` answers, without importing spaCy (processes that only label provenance, like
    a run's main process once validation has its own workers, never load it)."""
    try:
        importlib.metadata.distribution(name)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return True


def _configured_model() -> str | None:
    """The model to load instead of the rule pipeline, or None."""
    configured = _model_choice.strip()
    if configured.lower() in ("rules", "blank", "none"):
        return None
    if configured:
        if Path(configured).expanduser().is_dir() or _is_package(configured):
            return str(Path(configured).expanduser()) if Path(configured).expanduser().is_dir() else configured
        return None
    return SCI_MODEL if _is_package(SCI_MODEL) else None


def _model_label(model: str) -> str:
    meta_path = Path(model) / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        return f"{meta.get('lang', 'xx')}_{meta.get('name', 'pipeline')}"
    return model


def use_model(choice: str) -> None:
    """Use this pipeline from now on in this process (a change drops what was built with the previous one)."""
    global _model_choice
    if choice != _model_choice:
        _model_choice = choice
        reset()


@functools.cache
def pipeline_name() -> str:
    """Which pipeline runs (or would run), for provenance; does not build it."""
    model = _configured_model()
    return _model_label(model) if model else RULES_PIPELINE


# ---------------------------------------------------------------------------------------------------------
# Our rule components
# ---------------------------------------------------------------------------------------------------------

_REGISTER_LOCK = threading.Lock()
_registered = False


def _register_components() -> None:
    global _registered
    with _REGISTER_LOCK:
        if _registered:
            return
        from spacy.attrs import SENT_START
        from spacy.language import Language
        from spacy.tokens import Doc

        for name in ("mksap_cues", "mksap_quantities"):
            if not Doc.has_extension(name):
                Doc.set_extension(name, default=None)

        @Language.component("mksap_sentences")
        def mksap_sentences(doc: Doc) -> Doc:
            doc.from_array([SENT_START], sentence_starts(doc).reshape(-1, 1))
            return doc

        @Language.component("mksap_negation")
        def mksap_negation(doc: Doc) -> Doc:
            cues = []
            for index, sentence in enumerate(_sentences(doc)):
                offset = sentence.start_char
                for cue in find_cues(sentence.text):
                    cues.append(
                        SentenceCue(
                            cue.text, cue.kind, index, offset + cue.start, offset + cue.end, offset + cue.scope_end
                        )
                    )
            doc._.mksap_cues = cues
            return doc

        @Language.component("mksap_quantities")
        def mksap_quantities(doc: Doc) -> Doc:
            facts = []
            for index, sentence in enumerate(_sentences(doc)):
                offset = sentence.start_char
                for q in find_quantities(sentence.text):
                    facts.append((index, offset, q))
            doc._.mksap_quantities = facts
            return doc

        _registered = True


def sentence_starts(doc: Doc):
    """scispaCy's `pysbd_sentencizer` boundaries, as a SENT_START column (1 starts a sentence, -1 does not).

    The same rules as scispaCy's component: pysbd's sentences (from `sentence_segmenter`, which finds the same ones
    faster), except that a sentence never starts right after a known abbreviation or after the text's leading
    newlines, and a run of two or more newlines starts one. Written once as an array because setting
    `token.is_sent_start` token by token re-checks the document's annotations on every token.
    """
    import numpy
    from scispacy.consts import ABBREVIATIONS

    from .sentence_segmenter import sentence_spans

    starts = set()
    for sentence in sentence_spans(doc.text):
        trailing_spaces = len(sentence.sent) - len(sentence.sent.rstrip(" "))
        span = doc.char_span(sentence.start, sentence.end - trailing_spaces)
        if span is not None:
            starts.add(span[0].idx)
    column = numpy.full(len(doc), -1, dtype="int64")
    previous = None
    for token in doc:
        if token.idx in starts:
            after_abbreviation = previous is not None and previous.text in ABBREVIATIONS
            after_leading_newlines = previous is not None and previous.i == 0 and set(previous.text) <= {"\n"}
            column[token.i] = -1 if after_abbreviation or after_leading_newlines else 1
        elif previous is not None and previous.i != 0 and previous.text.count("\n") >= 2:
            column[token.i] = 1
        previous = token
    return column.astype("uint64")


def _sentences(doc: Doc):
    try:
        return list(doc.sents)
    except ValueError:  # no sentence boundaries set: the whole text is one sentence
        return [doc[:]]


@dataclass(frozen=True)
class SentenceCue:
    text: str
    kind: str
    sentence: int
    start: int
    end: int
    scope_end: int


# ---------------------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------------------


@functools.cache
def get_nlp() -> Language:
    import spacy

    # scispaCy's abbreviation detector warns on every document that its (unused) global matcher has no patterns;
    # added after spaCy's import, which installs its own warning filters in front.
    warnings.filterwarnings("ignore", message=r"\[W036\]", category=UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from scispacy.abbreviation import AbbreviationDetector  # noqa: F401  (registers the factory)
        from scispacy.custom_tokenizer import combined_rule_tokenizer

        _register_components()
        model = _configured_model()
        if model:
            nlp = spacy.load(model, disable=["parser"])
            nlp.add_pipe("mksap_sentences", first=True)
        else:
            nlp = spacy.blank("en")
            nlp.tokenizer = combined_rule_tokenizer(nlp)
            nlp.add_pipe("mksap_sentences")
        nlp.add_pipe("abbreviation_detector")
        nlp.add_pipe("mksap_negation")
        nlp.add_pipe("mksap_quantities")
    return nlp


# ---------------------------------------------------------------------------------------------------------
# Document cache
# ---------------------------------------------------------------------------------------------------------


class DocCache:
    """LRU cache of parsed documents keyed by their text, with hit and miss counters."""

    def __init__(self, maxsize: int = CACHE_SIZE):
        self.maxsize = maxsize
        self._docs: OrderedDict[str, Doc] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def parse(self, texts: Sequence[str]) -> list[Doc]:
        found: dict[str, Doc] = {}
        missing: list[str] = []
        with self._lock:
            for text in texts:
                if text in found:
                    self.hits += 1
                    continue
                doc = self._docs.get(text)
                if doc is not None:
                    self._docs.move_to_end(text)
                    found[text] = doc
                    self.hits += 1
                elif text in missing:
                    self.hits += 1
                else:
                    missing.append(text)
                    self.misses += 1
        if missing:
            parsed = list(get_nlp().pipe(missing))
            with self._lock:
                for text, doc in zip(missing, parsed, strict=True):
                    found[text] = doc
                    self._docs[text] = doc
                    self._docs.move_to_end(text)
                while len(self._docs) > self.maxsize:
                    self._docs.popitem(last=False)
        return [found[text] for text in texts]

    def stats(self) -> dict[str, float]:
        total = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "size": len(self._docs),
            "hit_rate": round(self.hits / total, 4) if total else 0.0,
        }

    def clear(self, *, counters: bool = True) -> None:
        with self._lock:
            self._docs.clear()
            if counters:
                self.hits = self.misses = 0


DOC_CACHE = DocCache()


def parse(texts: Sequence[str]) -> list[Doc]:
    """Parse texts with nlp.pipe (one batch for the ones not cached), in order."""
    return DOC_CACHE.parse(list(texts))


def cache_stats() -> dict[str, float]:
    return DOC_CACHE.stats()


def split_sentences(texts: Sequence[str]) -> list[list[str]]:
    """Sentences of each text, stripped, empty ones dropped."""
    return [[s.text.strip() for s in _sentences(doc) if s.text.strip()] for doc in parse(texts)]


def reset() -> None:
    """Forget the built pipeline, the pipeline name and the cache (tests switch models with this)."""
    get_nlp.cache_clear()
    pipeline_name.cache_clear()
    DOC_CACHE.clear()
