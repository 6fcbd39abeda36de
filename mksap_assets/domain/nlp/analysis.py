"""The compact NLP analysis of a question's sources, persisted in the validated asset so that validators and later
stages do not parse again: per source section, its sentence boundaries, abbreviations with their long forms,
negation / modality cues (scoped to their sentence) and numeric facts (value, unit, comparator).

Sections: "critique", "key_points[i]" (one per key point) and "table:<file>" (one per educational table, its
`to_text()` rendering, one sentence per line; tables are analysed with the rules only, not parsed by spaCy).
Spans are character offsets into the section's text as stored in the raw_question asset.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from mksap_assets.domain.nlp import parsing
from mksap_assets.domain.nlp.rules import find_cues, find_quantities

if TYPE_CHECKING:
    from mksap_assets.domain.inputs.bank import RawQuestion


class Abbreviation(BaseModel):
    short: str
    long: str


class CueFact(BaseModel):
    cue: str
    kind: str  # negation | prohibition | hedge | obligation
    sentence: int
    span: tuple[int, int]
    scope: tuple[int, int]  # the clause the cue governs (never past its sentence)


class NumericFact(BaseModel):
    text: str
    value: str  # canonical decimal
    unit: str | None
    comparator: str | None  # <, ≤, >, ≥
    sentence: int
    span: tuple[int, int]  # the number itself


class SectionAnalysis(BaseModel):
    section: str
    sentences: list[tuple[int, int]]
    abbreviations: list[Abbreviation] = Field(default_factory=list)
    negation_cues: list[CueFact] = Field(default_factory=list)
    numeric_facts: list[NumericFact] = Field(default_factory=list)


class NlpAnalysis(BaseModel):
    pipeline: str
    sections: list[SectionAnalysis]

    def section(self, name: str) -> SectionAnalysis | None:
        return next((s for s in self.sections if s.section == name), None)


def section_texts(raw: RawQuestion) -> dict[str, str]:
    """Every source section's text by section name."""
    texts = {"critique": raw.critique}
    texts.update({f"key_points[{i}]": point for i, point in enumerate(raw.key_points)})
    texts.update({f"table:{table.source}": table.to_text() for table in raw.educational_tables})
    return texts


def analyse_question(raw: RawQuestion) -> NlpAnalysis:
    """Parse the critique and key points in one batch (served from the document cache when extraction already
    parsed them) and analyse the educational tables with the rules."""
    prose = [raw.critique, *raw.key_points]
    docs = parsing.parse(prose)
    names = ["critique", *(f"key_points[{i}]" for i in range(len(raw.key_points)))]
    sections = [_from_doc(name, doc) for name, doc in zip(names, docs, strict=True)]
    sections += [_from_lines(f"table:{t.source}", t.to_text()) for t in raw.educational_tables]
    return NlpAnalysis(pipeline=parsing.pipeline_name(), sections=sections)


def _from_doc(name: str, doc) -> SectionAnalysis:
    sentences = [(s.start_char, s.end_char) for s in parsing._sentences(doc)]
    seen: set[tuple[str, str]] = set()
    abbreviations = []
    for span in getattr(doc._, "abbreviations", None) or []:
        pair = (span.text, span._.long_form.text)
        if pair not in seen:
            seen.add(pair)
            abbreviations.append(Abbreviation(short=pair[0], long=pair[1]))
    cues = [
        CueFact(cue=c.text, kind=c.kind, sentence=c.sentence, span=(c.start, c.end), scope=(c.end, c.scope_end))
        for c in (doc._.mksap_cues or [])
    ]
    facts = [
        NumericFact(
            text=q.text, value=q.value, unit=q.unit, comparator=q.comparator, sentence=index,
            span=(offset + q.start, offset + q.end),
        )
        for index, offset, q in (doc._.mksap_quantities or [])
    ]
    return SectionAnalysis(section=name, sentences=sentences, abbreviations=abbreviations, negation_cues=cues,
                           numeric_facts=facts)


def _from_lines(name: str, text: str) -> SectionAnalysis:
    sentences: list[tuple[int, int]] = []
    cues: list[CueFact] = []
    facts: list[NumericFact] = []
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        if line.strip() and line.strip() != "---":
            index = len(sentences)
            sentences.append((start, end))
            for c in find_cues(line):
                cues.append(CueFact(cue=c.text, kind=c.kind, sentence=index, span=(start + c.start, start + c.end),
                                    scope=(start + c.end, start + c.scope_end)))
            for q in find_quantities(line):
                facts.append(NumericFact(text=q.text, value=q.value, unit=q.unit, comparator=q.comparator,
                                         sentence=index, span=(start + q.start, start + q.end)))
        start = end + 1
    return SectionAnalysis(section=name, sentences=sentences, negation_cues=cues, numeric_facts=facts)


_RULE_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"“])")


def rule_section(name: str, text: str) -> SectionAnalysis:
    """Analysis without spaCy (tables: one sentence per line; prose: split after . ! ? before a capital)."""
    if name.startswith("table:"):
        return _from_lines(name, text)
    lines = []
    start = 0
    for match in _RULE_SENTENCE_RE.finditer(text):
        lines.append((start, match.start()))
        start = match.end()
    lines.append((start, len(text)))
    masked = list(text)
    for s, e in lines:  # one sentence per "line" for _from_lines
        if e < len(masked):
            masked[e] = "\n"
    analysis = _from_lines(name, "".join(masked))
    return analysis
