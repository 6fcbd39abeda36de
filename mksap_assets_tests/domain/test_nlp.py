"""The NLP pipeline: offline rule pipeline by default, en_core_sci_sm when installed, our rule components, the
document cache, and the persisted per-question analysis."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question
from mksap_assets.domain.nlp import parsing
from mksap_assets.domain.nlp.analysis import NlpAnalysis, analyse_question, rule_section
from mksap_assets.domain.nlp.rules import find_cues, find_quantities
from mksap_assets.settings import Settings
from mksap_assets_tests.conftest import SAMPLE_DIR


@pytest.fixture
def fresh_nlp(monkeypatch):
    """A clean pipeline before and after the test (the pipeline and its cache are per process)."""
    parsing.use_model("")
    parsing.reset()
    yield
    parsing.use_model("")
    parsing.reset()


def _tiny_sci_pipeline(target: Path) -> Path:
    """A tiny spaCy pipeline named like scispaCy's model, saved to disk: blank English + an entity ruler."""
    import spacy

    tiny = spacy.blank("en")
    ruler = tiny.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "ENTITY", "pattern": "apixaban"}])
    tiny.meta.update({"name": "core_sci_sm", "version": "0.5.4"})
    tiny.to_disk(target)
    return target


def _install_fake_package(root: Path) -> None:
    """Lay out en_core_sci_sm like `spacy package` does (package folder with load(), meta.json, the pipeline in
    <lang>_<name>-<version>/) plus its .dist-info, so importlib.metadata (spacy.util.is_package) finds it."""
    package = root / parsing.SCI_MODEL
    package.mkdir(parents=True)
    _tiny_sci_pipeline(package / f"{parsing.SCI_MODEL}-0.5.4")
    (package / "meta.json").write_text((package / f"{parsing.SCI_MODEL}-0.5.4" / "meta.json").read_text())
    (package / "__init__.py").write_text(
        "from spacy.util import load_model_from_init_py\n"
        "__version__ = '0.5.4'\n\n"
        "def load(**overrides):\n"
        "    return load_model_from_init_py(__file__, **overrides)\n"
    )
    dist_info = root / f"{parsing.SCI_MODEL}-0.5.4.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {parsing.SCI_MODEL}\nVersion: 0.5.4\n")
    (dist_info / "RECORD").write_text("")


def test_default_pipeline_is_built_offline_from_rule_components(fresh_nlp):
    pipeline = parsing.get_nlp()
    assert parsing.pipeline_name() == parsing.RULES_PIPELINE
    assert pipeline.pipe_names == ["mksap_sentences", "abbreviation_detector", "mksap_negation", "mksap_quantities"]
    assert type(pipeline.tokenizer).__name__ == "Tokenizer" and pipeline.meta["name"] != "core_sci_sm"


def test_en_core_sci_sm_branch_is_taken_when_the_package_is_installed(fresh_nlp, tmp_path, monkeypatch):
    _install_fake_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    try:
        import spacy.util

        assert spacy.util.is_package(parsing.SCI_MODEL)  # the real check the loader uses
        assert parsing.pipeline_name() == parsing.SCI_MODEL
        pipeline = parsing.get_nlp()
        assert pipeline.meta["name"] == "core_sci_sm"
        assert pipeline.pipe_names[0] == "mksap_sentences"
        assert {"entity_ruler", "abbreviation_detector", "mksap_negation", "mksap_quantities"} <= set(
            pipeline.pipe_names
        )
        [doc] = parsing.parse(["Apixaban is not recommended. Give 2.5 mg of apixaban."])
        assert [e.text for e in doc.ents] == ["apixaban"]  # the installed pipeline's own component ran
        assert len(list(doc.sents)) == 2 and doc._.mksap_cues and doc._.mksap_quantities
    finally:
        sys.modules.pop(parsing.SCI_MODEL, None)


def test_a_pipeline_folder_can_be_named_in_the_config(fresh_nlp, tmp_path, monkeypatch):
    monkeypatch.setenv("MKSAP_NLP_MODEL", str(_tiny_sci_pipeline(tmp_path / "model")))
    parsing.use_model(Settings.from_env().nlp_model)  # what a run's pipeline does (engine/spec.py)
    assert parsing.pipeline_name() == "en_core_sci_sm"
    assert "entity_ruler" in parsing.get_nlp().pipe_names
    parsing.use_model("rules")
    assert parsing.pipeline_name() == parsing.RULES_PIPELINE


def test_document_cache_serves_repeated_texts_and_counts_hits(fresh_nlp):
    texts = ["Aspirin is not recommended.", "Warfarin is an option."]
    first = parsing.parse(texts)
    again = parsing.parse([*texts, texts[0]])
    assert again[0] is first[0] and again[2] is first[0]
    stats = parsing.cache_stats()
    assert stats["misses"] == 2 and stats["hits"] == 3 and stats["hit_rate"] == 0.6


def test_cache_is_bounded(fresh_nlp, monkeypatch):
    monkeypatch.setattr(parsing.DOC_CACHE, "maxsize", 2)
    parsing.parse(["one text.", "two text.", "three text."])
    assert parsing.cache_stats()["size"] == 2


def test_negation_cues_are_scoped_to_their_sentence(fresh_nlp):
    [doc] = parsing.parse(["There is no fever. Pneumonia is present."])
    [cue] = doc._.mksap_cues
    assert cue.text == "no" and cue.sentence == 0 and cue.kind == "negation"
    assert doc.text[cue.end:cue.scope_end].strip() == "fever"  # stops at the end of its sentence


def test_cue_kinds_and_clause_scope():
    cues = find_cues("Tolvaptan is contraindicated in liver disease; it should not be used, but fluids may be "
                     "considered.")
    assert [(c.text, c.kind) for c in cues] == [
        ("contraindicated", "prohibition"), ("should not", "prohibition"), ("may be considered", "hedge")
    ]
    first = cues[0]
    assert "fluids" not in "Tolvaptan is contraindicated in liver disease; it"[first.end:first.scope_end]


def test_n_t_is_a_cue_of_its_own_except_inside_a_word_cue():
    text = "Steroids don't help and won't be given; you shouldn't wait, isn't it clear? Don'ts aside."
    assert [(c.text, c.kind, c.start) for c in find_cues(text)] == [
        ("n't", "negation", text.index("n't")), ("won't", "negation", text.index("won't")),
        ("shouldn't", "prohibition", text.index("shouldn't")), ("n't", "negation", text.index("isn't") + 2),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("below 7 g/dL (70 g/L)", [("7", "g/dl", "<"), ("70", "g/l", "<")]),
        ("serum creatinine 1.5 mg/dL (133 μmol/L) or higher", [("1.5", "mg/dl", "≥"), ("133", "μmol/l", "≥")]),
        ("eGFR <30 mL/min/1.73 m2", [("30", "ml/min/1.73m2", "<")]),
        ("185/110 mm Hg", [("185", "mmhg", None), ("110", "mmhg", None)]),
        ("150,000/μL", [("150000", "/μl", None)]),
        ("at least 12 to 16 hours", [("12", "h", "≥"), ("16", "h", "≥")]),
        ("age 80 years or older", [("80", "y", "≥")]),
        ("SGLT2, IL-4, H2O and CYP3A4", []),
        ("less than 30", [("30", None, "<")]),
        ("two of three criteria", [("2", None, None), ("3", None, None)]),
        ("10mg daily", [("10", "mg", None)]),
        # "X or higher/greater/more/above/less/lower/fewer/below" are comparators, for digits and word numbers
        ("an index of 1.0 or higher", [("1", None, "≥")]),
        ("2 or more agents", [("2", None, "≥")]),
        ("65 years or older", [("65", "y", "≥")]),
        ("3 or fewer lesions, 4 or below, 5 or lower, 6 or above", [("3", None, "≤"), ("4", None, "≤"),
                                                                    ("5", None, "≤"), ("6", None, "≥")]),
        ("two or more agents", [("2", None, "≥")]),
        ("at least three doses", [("3", None, "≥")]),
        # "over" is a preposition after a word of preference and before a hyphenated number-unit compound
        ("a spot ratio is preferred over 24-hour urine collection", [("24", "h", None)]),
        ("monitoring over 48-hour periods", [("48", "h", None)]),
        ("fever over 3 days", [("3", "d", ">")]),
        # ... and before a range: a period, not a bound
        ("the level rises over 5 to 8 days", [("5", "d", None), ("8", "d", None)]),
        ("swelling resolves over 2-4 weeks", [("2", "wk", None), ("4", "wk", None)]),
        # chemical formulas and exponents written with Unicode sub/superscripts read as plain digits
        ("PEEP of 8 cm H₂O", [("8", "cmh2o", None)]),
        ("PEEP of 8 cm H2 O", [("8", "cmh2o", None)]),
        ("PEEP of 8 cm H2O", [("8", "cmh2o", None)]),
        ("platelets < 20 × 10⁹/L", [("20", "×10^9/l", "<")]),
        ("platelets < 20 × 10^9/L", [("20", "×10^9/l", "<")]),
    ],
)
def test_numbers_with_units_and_comparators(text, expected):
    assert [(q.value, q.unit, q.comparator) for q in find_quantities(text)] == expected


def test_avoiding_the_need_for_something_is_not_a_prohibition():
    assert not [c for c in find_cues("Early mobilisation may help avoid the need for a feeding tube.") if c.negative]
    assert [c.kind for c in find_cues("Avoid opioids in sleep apnea.")] == ["prohibition"]
    assert [c.kind for c in find_cues("Opioids should be avoided in sleep apnea.")] == ["obligation", "prohibition"]


def test_split_sentences_still_splits_and_strips(fresh_nlp):
    assert parsing.split_sentences(["First one. Second one."]) == [["First one.", "Second one."]]


def test_analysis_of_a_question_is_compact_and_complete(fresh_nlp):
    question_file = next(f for f in discover_questions(SAMPLE_DIR) if f.question_id == "cccor26001")
    raw = load_raw_question(question_file)
    analysis = analyse_question(raw)
    assert analysis.pipeline == parsing.RULES_PIPELINE
    names = [s.section for s in analysis.sections]
    assert names[0] == "critique" and names[1:1 + len(raw.key_points)] == [
        f"key_points[{i}]" for i in range(len(raw.key_points))
    ]
    critique = analysis.section("critique")
    assert len(critique.sentences) >= 5
    assert all(raw.critique[s:e].strip() for s, e in critique.sentences)
    assert {(a.short, a.long.lower()) for a in critique.abbreviations} >= {
        ("ARDS", "acute respiratory distress syndrome")
    }
    assert any(raw.critique[slice(*c.span)] == "should not" for c in critique.negation_cues)
    fact = next(f for f in critique.numeric_facts if f.value == "420")
    assert fact.unit == "ml" and raw.critique[slice(*fact.span)] == "420"
    # it round-trips through JSON (it is stored in the validated asset)
    assert NlpAnalysis.model_validate(json.loads(analysis.model_dump_json())) == analysis


def test_analysis_reuses_the_documents_extraction_parsed(fresh_nlp):
    raw = load_raw_question(next(iter(discover_questions(SAMPLE_DIR))))
    parsing.split_sentences([raw.critique, *raw.key_points])  # what the extractor does
    before = parsing.cache_stats()
    analyse_question(raw)
    after = parsing.cache_stats()
    assert after["misses"] == before["misses"] and after["hits"] == before["hits"] + 1 + len(raw.key_points)


def test_rule_section_without_spacy_splits_prose_and_tables():
    prose = rule_section("critique", "No fever. Give 2 mg now.")
    assert len(prose.sentences) == 2 and prose.negation_cues[0].sentence == 0
    assert prose.numeric_facts[0].sentence == 1
    table = rule_section("table:t.html", "Caption\nA | B\n---\nx | < 5 mg")
    assert len(table.sentences) == 3 and table.numeric_facts[0].comparator == "<"


def _texts(folder: Path) -> list[str]:
    texts = []
    for question in discover_questions(folder):
        raw = load_raw_question(question)
        texts += [raw.critique, raw.educational_objective, *raw.key_points]
        texts += [raw.question.question_text, raw.question.question_stem, *(t.to_text() for t in raw.tables)]
    return texts


@pytest.mark.parametrize("source", ["samples", "corpus"])
def test_sentence_boundaries_are_exactly_scispacys(fresh_nlp, source, request):
    import spacy
    from scispacy.custom_sentence_segmenter import pysbd_sentencizer  # noqa: F401  (registers scispaCy's)

    folder = SAMPLE_DIR if source == "samples" else request.getfixturevalue("corpus_dir")
    texts = _texts(folder) + ["\n\nLeading newlines. Then e.g. an abbreviation.\n\nA new paragraph", "", "No stop"]
    ours = parsing.get_nlp()
    scispacys = spacy.blank("en")
    scispacys.tokenizer = ours.tokenizer
    scispacys.add_pipe("pysbd_sentencizer")
    for text in texts:
        expected = [token.is_sent_start for token in scispacys(text)]
        assert [token.is_sent_start for token in ours(text)] == expected, text[:80]
