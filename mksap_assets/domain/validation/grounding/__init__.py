"""Grounding: is every fact of a statement (and of its extra_field) supported by the source it came from?

Sources: the critique for `from_critique`, the key points for `from_key_points`, the table's text (caption
included) for a table statement. Both sides are compared after the same normalisation: option citations removed,
"this/the patient" read as "a patient", comparator phrases read as symbols ("less than 30" = "< 30"), case, dashes
and contractions ("doesn't" = "does not") unified; so a statement copied from its source is supported by
construction.

What is checked, each against the source sentence(s) the statement aligns with first and then the whole source:

- numbers, exactly, with their units ("2.5 mg" is not "2.5 g") and comparators ("< 30" is not "> 30");
- negation and modality: a word-level diff against the aligned sentence finds local edits that add or drop a
  negation ("is not recommended" -> "is recommended", "contraindicated" -> "indicated"), flip a polar word
  (increase/decrease, hyper-/hypo-, above/below) or strengthen a modal ("may be considered" -> "should"); every
  negation cue of the statement must be a negation of the source about the same word; a word the aligned
  sentence negates must not be stated without negation (paraphrases: warnings where the sentence states both
  cases);
- named drugs, diseases, tests and abbreviations: each must occur in the source (plural and derivational variants
  allowed, hyper-/hypo- never); an abbreviation is also supported by its long form and vice versa; a word that
  replaces a named term of the aligned sentence must occur somewhere in the source;
- invented words: a word of the statement that is neither in the source nor an English word (english_words.py, an
  English word list), a lexicon term, an abbreviation or a word built from medical roots ("blorvex") is an error,
  `unknown_word_substituted` when a local edit shows the word of the aligned sentence it replaces (statement and
  extra_field), `unknown_word` elsewhere in the statement.

Wording that is not a named term is matched fuzzily (coverage for alignment, rapidfuzz for phrases) and only
reported as information.

Where each concern lives:

| concern | module |
|---|---|
| the entry point `ground_text` (composes the checks; an extra_field sentence by sentence), `clear_caches` | ground.py |
| a section prepared once per question (`Source`, `QuestionSources`), word and phrase support, alignment | source.py |
| normalised tokens of both sides (`tokenize`, `STOP_WORDS`, `is_content`) | tokens.py |
| word lists (negation, hedge, obligation, polar) and word support (variants, families) | words.py |
| what a negation cue is about (`cue_anchors`: head, neighbours, subject) | cues.py |
| numbers, units and comparators | numbers.py |
| local edits against the aligned sentence: negation, polarity, modality, substituted words | edits.py |
| negation cues of the statement, negations of the source it drops | negation.py |
| named drugs, diseases, tests and abbreviations | terms.py |
| invented words | invented.py |
| wording that is not a named term (information; an error when most of it is absent) | wording.py |
| the issue every check reports (category "grounding") | issues.py |
"""

from mksap_assets.domain.validation.grounding.ground import clear_caches, ground_text
from mksap_assets.domain.validation.grounding.source import (
    QuestionSources,
    Source,
    source_from_section,
)
from mksap_assets.domain.validation.grounding.tokens import STOP_WORDS, tokenize

__all__ = ["STOP_WORDS", "QuestionSources", "Source", "clear_caches", "ground_text", "source_from_section", "tokenize"]
