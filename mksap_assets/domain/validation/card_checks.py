"""Card checks: what a learner sees on the Anki card made from a statement and its cloze candidates.

Pure functions, no pipeline state, for the quality report (`benchmarks/quality_cards.py`), the offline extractor and
deduplication to share:

- `words`: the statement's length in words, as a reader counts them;
- `c1_giveaways`: what outside the c1 blank reveals its answer on card 1 (an abbreviation or long form of it, a unit
  conversion of the blanked value, the answer itself repeated, a gloss in parentheses after the blank, examples of it
  or an appositive describing it);
- `case_narration`: cues that the statement retells the question's case instead of stating a general fact;
- `trivial_cloze`: why a cloze candidate is no answer worth blanking (a function word, a fragment, a row number);
  `cloze_fault` adds what only its place on the card shows (a part of a term, a participle tail);
- `sentence_focus`, `topic_blank`, `predicate_phrase`, `negated_assertion`: given and new, what a sentence takes as
  given (its subject, its condition) and what it asserts (the phrase after "is characterized by", "should undergo" …),
  and whether its main clause rules something out, for the offline extractor to blank what the sentence asserts;
- `card_metrics`: all of the above for one statement, the figures `make quality` aggregates.

The first placed candidate is c1 and the others c2 (`validation.cloze.place_candidates`, the anki renderer's rule):
card 1 blanks c1 and shows every c2 as plain text, so a c2 can give c1 away.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mksap_assets.domain.cloze_placement import whole_word
from mksap_assets.domain.nlp.lexicon import (
    DISEASE_HEADS,
    find_terms,
    is_abbreviation,
    long_forms,
    singular,
    word_kind,
)
from mksap_assets.domain.nlp.rules import Quantity, find_quantities
from mksap_assets.domain.validation.cloze import place_candidates

# -- words -------------------------------------------------------------------------------------------------------------

# A word is a run of letters or digits, joined by inner hyphens, apostrophes, dots, commas or slashes: "18-gauge",
# "patient's", "5.6", "150,000" and "mg/dL" are one word each; "<", "%" and "(" are none.
_WORD_RE = re.compile(r"[^\W_]+(?:[-'’./,:][^\W_]+)*")


def words(statement: str) -> int:
    """The number of words in the statement, as a reader counts them (numbers and units included, punctuation not)."""
    return len(_WORD_RE.findall(statement))


# -- c1 give-aways -----------------------------------------------------------------------------------------------------

GIVEAWAY_ABBREVIATION = "abbreviation"  # c1 blanks a long form whose abbreviation stays visible
GIVEAWAY_LONG_FORM = "long_form"  # c1 blanks an abbreviation whose long form stays visible
GIVEAWAY_CONVERSION = "conversion"  # c1 blanks a value whose conversion to other units stays visible
GIVEAWAY_REPEATED = "repeated"  # the c1 answer itself occurs outside its blank
GIVEAWAY_GLOSS = "gloss"  # a gloss in parentheses right after the blank: "{{Verruca vulgaris}} (common warts)"
# a word of the c1 answer visible outside its blank: a table row naming its own subject ("{{Adults with cystic
# fibrosis}} (Screening: … in cystic fibrosis …)"), "{{Lead poisoning}} follows exposure to lead paint"
GIVEAWAY_SHARED_WORD = "shared_word"
# named instances of the c1 answer beside it: "caused by {{bacterial infection}}, most commonly Pseudomonas", "Similar to
# other forms of {{dermatophytosis}}, tinea cruris …", or an appositive that describes it: "{{terbinafine}}, a fungicidal
# squalene epoxidase inhibitor,"
GIVEAWAY_EXAMPLE = "example"


@dataclass(frozen=True)
class Giveaway:
    """One way card 1 reveals its c1 answer: the kind (GIVEAWAY_*) and the visible text that does it."""

    kind: str
    visible: str


@dataclass(frozen=True)
class AbbreviationDefinition:
    """An abbreviation defined in the text ("long form (ABBR)" or "ABBR (long form)"): both spans as (start, end)."""

    abbreviation: tuple[int, int]
    long_form: tuple[int, int]


_PARENTHESES_RE = re.compile(r"\(([^()]{1,120})\)")
_TOKEN_RE = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")


def _abbreviation_token(token: str) -> bool:
    """An abbreviation as written in a definition: the lexicon's rule, or 2 to 10 characters with 2 or more capitals
    ("PSC", "HbA1c", "NSAIDs")."""
    return is_abbreviation(token) or (
        2 <= len(token) <= 10 and sum(c.isupper() for c in token) >= 2 and token[0].isalpha() and " " not in token
    )


def _long_form_start(text: str, end: int, abbreviation: str) -> int | None:
    """Where the long form of the abbreviation starts, for a long form ending at `end`; None when the words before
    do not spell it. Schwartz and Hearst's rule (2003): the abbreviation's letters are matched right to left in the
    words before it, and its first letter must begin a word."""
    letters = [c.lower() for c in abbreviation if c.isalnum()]
    if not letters or not letters[0].isalpha():
        return None
    tokens = list(_TOKEN_RE.finditer(text[:end]))[-(len(letters) + 5):]
    if not tokens:
        return None
    span_start = tokens[0].start()
    region = text[span_start:end].lower()
    position = len(region) - 1
    for index in range(len(letters) - 1, -1, -1):
        letter = letters[index]
        while position >= 0:
            starts_word = position == 0 or not region[position - 1].isalnum()
            if region[position] == letter and (index > 0 or starts_word):
                break
            position -= 1
        if position < 0:
            return None
        position -= 1
    start = span_start + position + 1
    # the long form takes whole words and has more characters than the abbreviation
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    return start if end - start > len(abbreviation) + 1 else None


def abbreviation_definitions(text: str) -> list[AbbreviationDefinition]:
    """Abbreviations defined in parentheses in the text: "primary sclerosing cholangitis (PSC)" (the long form
    before) and "PSC (primary sclerosing cholangitis)" (the long form inside)."""
    found: list[AbbreviationDefinition] = []
    for match in _PARENTHESES_RE.finditer(text):
        inner = match.group(1).strip()
        inner_start = match.start(1) + match.group(1).find(inner)
        before = text[: match.start()].rstrip()
        if _abbreviation_token(inner):
            start = _long_form_start(text, len(before), inner)
            if start is not None:
                found.append(AbbreviationDefinition((inner_start, inner_start + len(inner)), (start, len(before))))
            continue
        previous = re.search(r"([^\W_]+(?:[-'’][^\W_]+)*)$", before)
        if previous and _abbreviation_token(previous.group(1)):
            short = previous.group(1)
            if _long_form_start(inner, len(inner), short) == 0:
                found.append(AbbreviationDefinition(previous.span(1), (inner_start, inner_start + len(inner))))
    return found


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _inside(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return b[0] <= a[0] and a[1] <= b[1]


def _abbreviation_giveaways(statement: str, c1: tuple[int, int]) -> list[Giveaway]:
    found: list[Giveaway] = []
    for definition in abbreviation_definitions(statement):
        short, long = definition.abbreviation, definition.long_form
        if _overlaps(long, c1) and not _overlaps(short, c1):
            found.append(Giveaway(GIVEAWAY_ABBREVIATION, statement[short[0]:short[1]]))
        elif (_inside(short, c1) and not _overlaps(long, c1)
              and not _visible_elsewhere(statement, c1, statement[short[0]:short[1]])):
            found.append(Giveaway(GIVEAWAY_LONG_FORM, statement[long[0]:long[1]]))
    if found:
        return found
    # A blank that is all of a parenthesis names what the words before it spell out, whether or not its letters
    # match them: "Potassium hydroxide ({{KOH}})" (a value there is a conversion, the conversion check's).
    answer = statement[c1[0]:c1[1]]
    if statement[c1[0] - 1:c1[0]] == "(" and statement[c1[1]:c1[1] + 1] == ")" and not any(c.isdigit() for c in answer):
        named = re.search(r"((?:[^\W_][\w-]*\s+){0,3}[^\W_][\w-]*)\s*$", statement[: c1[0] - 1])
        if named:
            return [Giveaway(GIVEAWAY_LONG_FORM, named.group(1))]
    # Abbreviations the lexicon knows, anywhere on the card: "COPD" visible, "chronic obstructive pulmonary disease"
    # blanked, or the other way round.
    answer = statement[c1[0]:c1[1]].lower()
    visible = (statement[: c1[0]] + " \u2026 " + statement[c1[1]:]).lower()
    for token in _TOKEN_RE.finditer(statement):
        if not is_abbreviation(token.group(0)):
            continue
        forms = long_forms(token.group(0))
        inside = _inside(token.span(), c1)
        if not inside and not _overlaps(token.span(), c1):
            if any(_contains_words(answer, form) for form in forms):
                found.append(Giveaway(GIVEAWAY_ABBREVIATION, token.group(0)))
        elif inside and not _visible_elsewhere(statement, c1, token.group(0)):
            shown = next((form for form in forms if _contains_words(visible, form)), None)
            if shown is not None:
                found.append(Giveaway(GIVEAWAY_LONG_FORM, shown))
    return found


def _visible_elsewhere(statement: str, c1: tuple[int, int], abbreviation: str) -> bool:
    """The abbreviation also stands outside c1: its long form then reveals nothing the card does not already show
    ("inflammatory bowel disease (IBD) ... {{resolve with IBD treatment}}")."""
    return any(not _overlaps(m.span(), c1) and whole_word(statement, *m.span())
               for m in re.finditer(re.escape(abbreviation), statement))


def _contains_words(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![^\W_]){re.escape(phrase)}(?![^\W_])", text) is not None


_OPENING = "(["
_CLOSING = {"(": ")", "[": "]"}


def _conversion_giveaways(statement: str, c1: tuple[int, int], quantities: list[Quantity]) -> list[Giveaway]:
    """A value blanked in c1 next to its conversion in brackets outside c1: "{{c1::5.6 mmol/L}} (100 mg/dL)", or
    "100 mg/dL ({{c1::5.6 mmol/L}})"."""
    blanked = [q for q in quantities if _inside((q.start, q.end), c1)]
    if not blanked:
        return []
    units = {q.unit for q in blanked}
    found: list[Giveaway] = []
    # the conversion after the blanked value
    end = max(c1[1], *(q.expr_end for q in blanked))
    rest = statement[end:]
    opening = rest.lstrip()
    if opening[:1] in _OPENING:
        open_at = end + len(rest) - len(opening)
        close_at = statement.find(_CLOSING[opening[0]], open_at)
        if close_at > 0 and close_at > c1[1] and not _overlaps((open_at, close_at), c1):
            converted = [q for q in quantities if open_at < q.start and q.end <= close_at and q.unit]
            if any(q.unit not in units for q in converted):
                found.append(Giveaway(GIVEAWAY_CONVERSION, statement[open_at:close_at + 1]))
    # the blanked value is itself the conversion, in brackets after the visible value
    start = min(c1[0], *(q.expr_start for q in blanked))
    before = statement[:start].rstrip()
    if before[-1:] in _OPENING:
        original = [q for q in quantities if q.expr_end <= len(before) - 1 and q.unit
                    and not statement[q.expr_end:len(before) - 1].strip() and not _overlaps((q.start, q.end), c1)]
        if any(q.unit not in units for q in original):
            found.append(Giveaway(GIVEAWAY_CONVERSION, original[-1].text))
    return found


# no digits (a conversion or a value) and no colon (a table row's "header: value" cells, the statement's body)
_GLOSS_RE = re.compile(r"\s*\(([^()\d:]{3,80})\)")
# examples and pointers to a figure, not names: "(e.g., X)", "(shown)", "(arrows)"
_EXAMPLE_RE = re.compile(
    r"^(?:e\.g\.|i\.e\.|(?:eg|ie|for example|see|including|shown|arrows?|arrowheads?|figure|table|video)\b)",
    re.IGNORECASE,
)
MAX_GLOSS_WORDS = 6


def _gloss_giveaways(statement: str, c1: tuple[int, int]) -> list[Giveaway]:
    """Another name or a definition of the answer in parentheses right after its blank: "{{Verruca vulgaris}} (common
    warts)", "{{antithrombotic therapy}} (antiplatelet agents and anticoagulants)". Not examples ("e.g., X": a
    category's example seldom names the category), abbreviations (the abbreviation check's) or numbers; and only
    after a term: what follows a blanked number is a remark on it, not another name for it."""
    match = _GLOSS_RE.match(statement, c1[1])
    if match is None or any(c.isdigit() for c in statement[c1[0]:c1[1]]):
        return []
    gloss = match.group(1).strip()
    if _EXAMPLE_RE.match(gloss) or _abbreviation_token(gloss) or words(gloss) > MAX_GLOSS_WORDS:
        return []
    return [Giveaway(GIVEAWAY_GLOSS, f"({gloss})")]


# After the blank (a few words may come between): examples of what it names, or an appositive describing it.
_EXAMPLES_AFTER_RE = re.compile(
    r"^(?:\s+[^\s,;.()]+){0,4}?,?\s+(?:such as|including|most commonly|most often|for example|e\.g\.,?)\s|^,\s+(?:a|an)\s+[^,;.()]{3,80},",
    re.IGNORECASE,
)
# Before the blank: the card names an instance of it elsewhere ("other forms of {{X}}", "like other {{X}}").
_OTHER_BEFORE_RE = re.compile(r"\bother\s+(?:(?:forms|types|kinds|causes|members)\s+of\s+)?$", re.IGNORECASE)


def _example_giveaways(statement: str, c1: tuple[int, int]) -> list[Giveaway]:
    after = _EXAMPLES_AFTER_RE.match(statement[c1[1]:])
    if after is not None:
        return [Giveaway(GIVEAWAY_EXAMPLE, after.group(0).strip(" ,"))]
    before = _OTHER_BEFORE_RE.search(statement[: c1[0]])
    return [Giveaway(GIVEAWAY_EXAMPLE, before.group(0).strip())] if before else []


def _repeated_giveaways(statement: str, c1: tuple[int, int]) -> list[Giveaway]:
    answer = statement[c1[0]:c1[1]].strip()
    if not answer:
        return []
    found: list[Giveaway] = []
    for match in re.finditer(re.escape(answer), statement, re.IGNORECASE):
        if not _overlaps(match.span(), c1) and whole_word(statement, *match.span()):
            found.append(Giveaway(GIVEAWAY_REPEATED, match.group(0)))
    return found


# Words an answer may share with the card without giving it away: a term's grading, side and generic head, a value's
# unit and comparator ("at least 3 days" beside "at least 4 days").
_SHARED_WORD_EXEMPT = frozenset(
    """acute chronic severe mild moderate primary secondary early late disease diseases disorder disorders syndrome
    type level levels year years month months week weeks day days hour hours minute minutes least less fewer greater
    higher lower high low pain tissue soft deep phase score scores risk test tests left right lateral medial""".split()
)


def shared_words(answer: str, visible: str) -> list[str]:
    """The words of the answer (4 letters or more, not function or generic words) that the
    visible text also has, singular and plural alike ("Lead poisoning" shares "lead" with "exposure to lead paint"),
    or of which it shows a word of the same stem ("{{Giardia lamblia}}" beside "giardiasis", "{{hematuria}}" beside
    "blood in the urine, hematuric": `same_stem`)."""
    shown = {singular(token.lower()) for token in _TOKEN_RE.findall(visible)}
    stems = [word for word in shown if len(word) >= MIN_STEM and word.isalpha() and not _exempt(word)]
    found: list[str] = []
    for token in _TOKEN_RE.findall(answer):
        lowered = token.lower()
        if lowered in found:
            continue
        if token.isupper() and len(token) >= 3 and singular(lowered) in shown:  # an abbreviation: "{COPD stage}", "COPD"
            found.append(lowered)
            continue
        if len(lowered) < 4 or not lowered.isalpha() or _exempt(lowered):
            continue
        if singular(lowered) in shown or any(same_stem(lowered, word) for word in stems):
            found.append(lowered)
    return found


def _exempt(word: str) -> bool:
    return word in FUNCTION_WORDS or word in GENERIC_WORDS or word in _SHARED_WORD_EXEMPT


MIN_STEM = 5  # letters two words must share at their start to be one stem ("giard-ia", "giard-iasis" share 6)
STEM_SHARE = 0.8  # of the shorter word: "thrombo-sis" and "thrombo-cytopenia" (7 of 10) are two words


def same_stem(a: str, b: str) -> bool:
    """Two words that begin alike for MIN_STEM letters and STEM_SHARE of the shorter one: "neutrophilic" and
    "neutrophil", "giardiasis" and "giardia", "interna" and "internal"."""
    shared = len(os.path.commonprefix([a, b]))
    return shared >= MIN_STEM and shared >= STEM_SHARE * min(len(a), len(b))


def _shared_word_giveaways(statement: str, c1: tuple[int, int]) -> list[Giveaway]:
    visible = statement[: c1[0]] + " \u2026 " + statement[c1[1]:]
    return [Giveaway(GIVEAWAY_SHARED_WORD, word) for word in shared_words(statement[c1[0]:c1[1]], visible)]


def c1_placement(statement: str, clozes: Sequence[str]) -> tuple[int, int] | None:
    """The (start, end) span card 1 blanks: where the card renderer places the first placeable candidate; None when
    no candidate can be placed."""
    placed, _ = place_candidates(statement, clozes)
    first = next((p for p in placed if p.number == 1), None)
    return (first.start, first.end) if first else None


def c1_giveaways(statement: str, clozes: Sequence[str]) -> list[Giveaway]:
    """Everything card 1 shows outside its c1 blank that reveals the c1 answer: an abbreviation of the blanked long
    form or the long form of a blanked abbreviation ("Primary {{c1::sclerosing cholangitis}} (PSC)"), a conversion
    of a blanked value to other units ("{{c1::5.6 mmol/L}} (100 mg/dL)"), the answer itself repeated, another name
    or a definition in parentheses right after the blank ("{{c1::Verruca vulgaris}} (common warts)"), examples of it or
    an appositive describing it ("{{c1::bacterial infection}}, most commonly Pseudomonas"), a word of the
    answer shown elsewhere (a table row that names its own subject). c2 blanks are
    shown on card 1, so they count as visible. Empty when nothing gives c1 away or no candidate can be placed."""
    c1 = c1_placement(statement, clozes)
    if c1 is None:
        return []
    repeated = _repeated_giveaways(statement, c1)
    return [
        *_abbreviation_giveaways(statement, c1),
        *_conversion_giveaways(statement, c1, find_quantities(statement)),
        *repeated,
        *_gloss_giveaways(statement, c1),
        *_example_giveaways(statement, c1),
        *([] if repeated else _shared_word_giveaways(statement, c1)),  # the whole answer repeated says it already
    ]


# -- given and new ---------------------------------------------------------------------------------------------------
# A sentence asserts something new (the management, the finding, the characterization, the value) about what it takes
# as given (its topic: the subject, the condition it opens on, "patients with X", "treatment of X"). A blank on the
# topic, while the assertion keeps an answer of its own, is a card several answers fit: "Severe {{asthma}} is
# characterized by frequent exacerbations" (COPD fits too). Surface rules, no parser: the first verb of the main clause
# parts topic from assertion.

# A frame the sentence opens on, up to its comma: "For patients with X, …", "If X persists, …", "Although …, …".
_FRAME_RE = re.compile(
    r"^(?:For|In|If|When|Although|Though|Because|Among|After|Before|During|Unlike|Like|Similar to|Regardless of"
    r"|Despite|Once|While|With|Without|Whereas|Until|Unless)\b[^,]*,\s+"
)
# The first verb of the main clause (an adverb before it counts: "usually results from").
_MAIN_VERB_RE = re.compile(
    r"\b(?:is|are|was|were|can|may|might|should|must|will|does|do|has|have|had|requires?|causes?|results?|leads?"
    r"|occurs?|includes?|presents?|recommends?|establish(?:es)?|indicates?|suggests?|defines?|improves?|reduces?"
    r"|helps?|distinguish(?:es)?|differentiates?|usually|often|typically|commonly|frequently|rarely)\b"
)
# A predicate that identifies its subject, so that a blank on the subject has one answer: "{{Insulin}} is the
# mainstay of …", "{{X}} is a monoclonal antibody that …", "{{X}} is defined by …".
_IDENTIFYING_RE = re.compile(
    r"^(?:\w+ly\s+)?(?:is|are)\s+(?:(?:the|a|an)\s|defined\b|diagnostic\b)", re.IGNORECASE
)
# Nouns for a role a sentence fills in for its condition: "the treatment of X is {Y}", "the cause of X is {Y}".
_ROLE_NOUN = (
    r"(?:treatment|management|therapy|diagnosis|goal|cause|causes|symptoms|signs|features|findings|sediment"
    r"|presentation|hallmark|complications?|severity|mainstay|prognosis|evaluation)"
)
# Where the given condition is named inside the sentence: "patients with {X}", "treatment of {X}", "in the setting of
# {X}", "is selected for {X}".
_CONTEXT_MARKER_RE = re.compile(
    r"\b(?:(?:patients|persons|adults|children|women|men|those)\s+(?:with|who\s+have|who\s+has)"
    rf"|{_ROLE_NOUN}\s+(?:of|for|with|in)"
    r"|in\s+the\s+(?:setting|context|treatment|management)\s+of|(?:selected|approved|indicated|recommended|choice)"
    r"\s+for(?:\s+(?:the\s+)?treatment\s+of)?)\s+(?:(?:a|an|the)\s+)?(?:[\w-]+\s+){0,3}$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SentenceFocus:
    """Where the assertion starts (the main clause's first verb; len(statement) when none is found), whether it
    identifies its subject, and where the frame the sentence opens on ends (0 when none)."""

    predicate_start: int
    identifying: bool
    frame_end: int


def sentence_focus(statement: str) -> SentenceFocus:
    frame = _FRAME_RE.match(statement)
    frame_end = frame.end() if frame else 0
    verb = _MAIN_VERB_RE.search(statement, frame_end)
    start = verb.start() if verb else len(statement)
    return SentenceFocus(start, bool(_IDENTIFYING_RE.match(statement[start:])), frame_end)


def in_context(statement: str, start: int) -> bool:
    """A blank starting at `start` names the condition the sentence takes as given: inside its opening frame, or
    right after "patients with", "treatment of", "in the setting of" …"""
    return start < sentence_focus(statement).frame_end or bool(_CONTEXT_MARKER_RE.search(statement[:start]))


def in_topic(statement: str, start: int) -> bool:
    """A blank starting at `start` is in what the sentence takes as given: its context, or its subject when the
    predicate does not identify the subject."""
    focus = sentence_focus(statement)
    return in_context(statement, start) or (start < focus.predicate_start and not focus.identifying)


# What a predicate asserts, after these verbs: the characterization, the cause, the management, the goal, the list.
_ASSERTION_CUE_RE = re.compile(
    r"\b(?:(?:is|are)\s+(?:\w+\s+)?(?:characterized|caused|defined|manifested|suggested|confirmed|diagnosed"
    r"|managed|treated)\s+(?:by|with)|results?\s+from|presents?\s+with|(?:should|must)\s+(?:\w+\s+)?(?:receive"
    r"|undergo|have|be\s+(?:treated|managed)\s+with|be\s+considered\s+for)|requires?|to\s+achieve|includes?"
    r"|recommends?(?:\s+using)?|(?:can|may)\s+(?:cause|lead\s+to|result\s+in)|(?:is|are)\s+associated\s+with"
    r"|(?:can|may)\s+be\s+(?:treated|managed)\s+with)\s+(?:(?:a|an|the)\s+)?",
    re.IGNORECASE,
)
# A phrase ends where a clause, a comparison or a circumstance begins.
_PHRASE_END_RE = re.compile(
    r"\s*[,;.:](?!\d)|\s+(?:that|which|who|whom|because|when|if|in|for|to|with|including|than|compared|despite|after|before|during"
    r"|within|without|as|by|on|at|from|along|via|versus|vs|unless|until|since|while|whereas|except)\b",
    re.IGNORECASE,
)
MAX_PHRASE_WORDS = 8


def predicate_phrase(statement: str) -> tuple[int, int] | None:
    """The (start, end) of the noun phrase a predicate asserts ("is characterized by {frequent exacerbations} that
    …", "the initial management of X is {removal of the offending agent}", "is best managed with {pain control, secretion management, and early mobility}", "a reduced FEV1/FVC ratio"
    before "coupled with …"): from the first assertion cue of the main clause to the end of its clause, or to the
    first participle after a noun; None when there is no cue or the phrase is longer than MAX_PHRASE_WORDS."""
    predicate_start = sentence_focus(statement).predicate_start
    cue = _ASSERTION_CUE_RE.search(statement, predicate_start)
    if cue is None and re.search(rf"\b{_ROLE_NOUN}\s+(?:of|for)\b", statement[:predicate_start], re.IGNORECASE):
        # "the X of Y is {Z}", a noun or an adjective; not a participle, an adverb or "similar to"
        cue = re.compile(r"(?:is|are)\s+(?:(?:a|an|the)\s+)?(?![\w-]+(?:ed|en|ly)\b|[\w-]+\s+(?:to|by)\b)").match(
            statement, predicate_start)
    if cue is None:
        return None
    start = cue.end()
    rest = statement[start:]
    clause = re.match(r"(?:[^;.]|\.(?=\d))*?(?=\s*[;.]\s*$|\s+(?:that|which|who|because|when|if|unless|except|than|compared)\b)",
                      rest)
    cut = _PHRASE_END_RE.search(rest)
    if clause and words(clause.group(0)) <= MAX_PHRASE_WORDS and not _PHRASE_END_RE.search(clause.group(0).replace(
            ",", " ")):  # cut only by commas: a list or a series of adjectives, taken whole
        end = start + len(clause.group(0))
    else:  # cut where a circumstance begins
        end = start + (cut.start() if cut else len(rest))
    # before a second coordinated phrase ("a faster X and a decrease in …"), which is a second fact
    coordinated = re.search(r"\s+(?:and|or)\s+(?:a|an|the)\s", statement[start:end])
    end = start + coordinated.start() if coordinated else end
    # a participle after a noun starts a clause of its own: "a reduced ratio {coupled} with", "ulcers {involving} the"
    tokens = [token.group(0).lower() for token in _TOKEN_RE.finditer(statement[start:end])]
    spans = [token.span() for token in _TOKEN_RE.finditer(statement[start:end])]
    for index in range(1, len(tokens)):
        word, previous = tokens[index], tokens[index - 1]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if (len(word) > 4 and not previous.endswith("ly") and previous not in FUNCTION_WORDS
                and (word.endswith("ed") or word.endswith("ing") and following in FUNCTION_WORDS)):
            end = start + spans[index - 1][1]
            break
    if not 0 < words(statement[start:end]) <= MAX_PHRASE_WORDS:
        return None
    return start, end


def topic_blank(statement: str, c1: tuple[int, int]) -> bool:
    """c1 blanks what the sentence takes as given (`in_topic`) while the assertion has an answer of its own: a named
    term or a value after the main verb, outside the context, or a `predicate_phrase`."""
    if not in_topic(statement, c1[0]):
        return False
    focus = sentence_focus(statement)
    answers = [(t.start, t.end) for t in find_terms(statement)] + [(q.start, q.end) for q in find_quantities(statement)]
    if any(s >= focus.predicate_start and not _overlaps((s, e), c1) and not in_context(statement, s)
           for s, e in answers):
        return True
    return predicate_phrase(statement) is not None


_NEGATION_WORD_RE = re.compile(
    r"\b(?:not|never|cannot|no\s+longer|neither|nor|ineffective|(?<!\bwith\s)no)\b", re.IGNORECASE
)
# a negation inside these belongs to a condition or a description, not to what the sentence asserts
_SUBORDINATE_WORD_RE = re.compile(r"\b(?:if|when|unless|because|although|while|whereas|which|that|who|whom|until)\b",
                                  re.IGNORECASE)


def negated_assertion(statement: str) -> int | None:
    """Where the negation of the sentence's main clause ends ("X is {not} recommended in Y", "Recent infection is
    {not} a risk factor for Y"): such a sentence rules something out, and almost anything fits a blank on it. None when
    the main clause is positive (a negation inside "if", "when", "which" … clauses or "with no" describes)."""
    focus = sentence_focus(statement)
    for match in _NEGATION_WORD_RE.finditer(statement, focus.frame_end):
        clause_start = max(statement.rfind(",", 0, match.start()) + 1, focus.frame_end)
        if not _SUBORDINATE_WORD_RE.search(statement[clause_start:match.start()]):
            return match.end()
    return None


# -- case narration ----------------------------------------------------------------------------------------------------

_PERSON = r"(?:patient|woman|man|girl|boy|child|infant|adolescent|neonate)"
# A conditional before "a patient has" in its sentence makes it a general rule: "If a patient has X, give Y", "When
# the score is low, a patient is unlikely to have Z".
_CONDITIONAL_BEFORE = re.compile(
    r"(?:\b(?:if|when|whenever|unless|once|until|whether|where|in which|that|who)\b[^.;]*"
    r"|\b(?:before|after)\s+(?:\w+\s+){0,2})$",
    re.IGNORECASE,
)
# A statement with an examiner describes a procedure, where "the patient's" is anyone's: "the examiner holds the
# patient's hands".
_PROCEDURE_RE = re.compile(r"\b(?:examiner|clinician|physician|examining)\b", re.IGNORECASE)

CASE_NARRATION_CUES: dict[str, re.Pattern[str]] = {
    # "this patient", "this acutely symptomatic patient", "this 45-year-old woman"
    "this_patient": re.compile(rf"\bthis\s+(?:[\w-]+\s+){{0,2}}{_PERSON}\b", re.IGNORECASE),
    "our_patient": re.compile(rf"\bour\s+{_PERSON}\b", re.IGNORECASE),
    "the_patients_own": re.compile(rf"\bthe\s+{_PERSON}(?:'s|’s)\s", re.IGNORECASE),
    # past events of the case: "the patient was", "the patient had", "the woman received"
    "the_patient_past": re.compile(
        rf"\bthe\s+{_PERSON}\s+(?:was|were|had|did|received|underwent|developed|reported|presented|returned)\b",
        re.IGNORECASE,
    ),
    "such_as_a_patient": re.compile(rf"\bsuch\s+as\s+(?:a|the|this)\s+{_PERSON}\b", re.IGNORECASE),
    # the case's facts turned into a false generalisation: "A patient has no signs of X", "Because a patient has not
    # yet received Y" (a conditional "if a patient has" is excluded in case_narration)
    "a_patient_is_has": re.compile(rf"\ba\s+{_PERSON}\s+(?:has|had|is|was)\b", re.IGNORECASE),
    "admitted": re.compile(r"\b(?:was|were|is)\s+(?:re)?admitted\b", re.IGNORECASE),
    "presented_with": re.compile(r"\bpresented\s+(?:with|to)\b", re.IGNORECASE),
    "on_examination": re.compile(r"(?:^|[.;]\s*|,\s*)on\s+(?:physical\s+)?examination\s*,", re.IGNORECASE),
    "past_treatment": re.compile(
        r"\b(?:was|were)\s+(?:started|given|prescribed|discharged|hospitalized|transferred|intubated)\b",
        re.IGNORECASE,
    ),
    "third_person": re.compile(r"\b(?:she|he|her|his|him|herself|himself)\b", re.IGNORECASE),
    "answer_option": re.compile(
        r"\b(?:options?\s+[A-F]\b|answer\s+choices?|the\s+(?:in)?correct\s+answer|(?:is|are)\s+incorrect\b)",
        re.IGNORECASE,
    ),
}


def case_narration(statement: str) -> list[str]:
    """The names of the CASE_NARRATION_CUES that fire on the statement (each once, in the table's order): signs
    that it retells the question's case ("this patient", "the patient's", past events, the answer options) rather
    than stating a general rule. "Patients with X should receive Y" is a rule and fires none."""
    hits: list[str] = []
    for name, pattern in CASE_NARRATION_CUES.items():
        for match in pattern.finditer(statement):
            if name == "a_patient_is_has" and _CONDITIONAL_BEFORE.search(statement[: match.start()]):
                continue
            if name == "the_patients_own" and _PROCEDURE_RE.search(statement):
                break
            hits.append(name)
            break
    return hits


# -- trivial clozes ----------------------------------------------------------------------------------------------------

FUNCTION_WORDS = frozenset(
    """a an the this that these those some any each every either neither no all both few many much more most
    other such and or but nor yet so if then than as because since although though while whereas unless until
    of in on at to for with by from into onto upon about above below over under between among through during
    before after against without within despite via per versus vs toward towards across beyond around
    is are was were be been being am do does did has have had having can could may might must shall should
    will would it its they them their he she his her him we our you your who whom whose which what
    not also only even just very rather""".split()
)
# Words that make no answer on their own: a span made only of them is a stock phrase ("likely diagnosis").
GENERIC_WORDS = frozenset(
    """likely most best appropriate initial next first step management treatment therapy diagnosis test
    testing evaluation finding findings patient patients option options cause causes
    one possible potential nonspecific abnormality abnormalities evidence agent agents whenever modest benefit
    factor factors role feature features condition conditions approach strategy choice measure measures change
    changes effect effects problem case cases important useful helpful additional
    disease diseases ulcer ulcers lesion lesions infection infections injury injuries wound wounds tumor tumors
    mass masses""".split()
)
# A span may open on most function words ("within 24 hours", "more than 95%", "not associated with X"), but not on one
# that joins it to what comes before: "so clotrimazole", "and renal failure", "of the kidney".
_JOINING_WORDS = frozenset(
    "and or but nor so yet than as that which who whom whose of".split()
)
_NEGATIONS = frozenset({"not", "no", "never", "without"})
_FOOTNOTE_RE = re.compile(r"\s*\([a-z]\)$")  # a table's footnote mark: "risk factors (a)"
_ROW_NUMBER_RE = re.compile(r"^(?:row\s*|#\s*)?\(?\d{1,3}[.)]?$", re.IGNORECASE)

TRIVIAL_FUNCTION_WORD = "function_word"
TRIVIAL_FRAGMENT = "fragment"
TRIVIAL_GENERIC = "generic_phrase"
TRIVIAL_ROW_NUMBER = "row_number"


def trivial_cloze(cloze: str) -> str | None:
    """Why the cloze candidate makes no answer worth blanking, or None when it may:
    TRIVIAL_FUNCTION_WORD ("the", "with"); TRIVIAL_ROW_NUMBER (a bare small integer, "3", "row 3", "2."): a table
    row index, no fact; TRIVIAL_FRAGMENT (it ends on a function word, or starts on one that joins it to the words
    before: "repeated every", "impair cardiac output despite", "so clotrimazole"); TRIVIAL_GENERIC (only generic
    words: "likely diagnosis")."""
    text = _FOOTNOTE_RE.sub("", cloze.strip()).rstrip(".,;:").strip()
    tokens = [t.lower() for t in _TOKEN_RE.findall(text)]
    if not tokens:
        return None
    if _ROW_NUMBER_RE.match(text):
        return TRIVIAL_ROW_NUMBER
    if len(tokens) == 1 and tokens[0] in FUNCTION_WORDS:
        return TRIVIAL_FUNCTION_WORD
    if tokens[-1] in FUNCTION_WORDS or tokens[0] in _JOINING_WORDS:
        return TRIVIAL_FRAGMENT
    # a negation makes a judgement the answer ("{{not appropriate}} in X"), which is a fact to learn
    if not _NEGATIONS & set(tokens) and all(t in GENERIC_WORDS or t in FUNCTION_WORDS for t in tokens):
        return TRIVIAL_GENERIC
    return None


TRIVIAL_PARTIAL_TERM = "partial_term"
TRIVIAL_PARTICIPLE = "participle_tail"

# After a blank, words that finish the term it started ("{{diabetes}} mellitus", "{{Lyme}} disease").
_TERM_TAILS = DISEASE_HEADS | {"mellitus", "insipidus"}
# Before a blank, a modifier that belongs to the term: "type 2 {{diabetes}}", "diffuse alveolar {{hemorrhage}}",
# "crystal-induced {{nephropathy}}", "gallstone {{pancreatitis}}", "plain {{radiography}}" (not before a drug, where
# "topical" or "intravenous" names the route).
_TERM_MODIFIER_RE = re.compile(
    r"(?:\btype\s+\d+[a-z]?|\b[a-z0-9]+-(?:induced|associated|related|mediated|acquired|resistant|dependent|negative"
    r"|positive)|\b[a-z][a-z-]{2,})\s+$"
)
# Words before a blank that qualify the case rather than name the term ("severe {{asthma}}", "suspected {{MM}}"), and
# verbs, whose object the blank is ("cause {{hypoxemia}}", "include {{X}}").
_NOT_MODIFIERS = frozenset(
    """severe mild moderate suspected known possible probable recurrent refractory uncontrolled untreated advanced
    normal abnormal new underlying concomitant coexisting associated several clinical total potential initial general
    metastatic
    usual typical critical additional optimal minimal similar regular particular necessary various serious previous
    numerous specific basic medical physical original annual practical essential crucial individual traditional
    conventional empirical empiric classic characteristic dramatic periodic diagnostic therapeutic prophylactic
    symptomatic asymptomatic clear dual urgent emergent immediate early late prompt routine standard certain
    faster slower higher lower greater better worse larger smaller longer shorter earlier later goal target
    cause include treat prevent confirm exclude suggest indicate mimic diagnose reduce increase require avoid use
    consider evaluate assess detect develop undergo receive start stop continue monitor screen rule perform obtain
    order give begin manage worsen improve trigger precipitate predict distinguish differentiate
    establish when where whether how what why once""".split()
)


def _modifier_start(statement: str, start: int) -> int | None:
    """Where a modifier that belongs to the term starting at `start` begins, or None: the word right before it, a
    "type 2" or a hyphenated "X-induced", unless that word is a function word, a qualifier or a verb (listed, or by
    its form: "-ed", "-ing", "-ly", a third-person "-s")."""
    match = _TERM_MODIFIER_RE.search(statement[:start].lower())
    if match is None:
        return None
    word = match.group(0).strip()
    if " " in word or "-" in word:
        return match.start()
    if (word in FUNCTION_WORDS or word in GENERIC_WORDS or word in _NOT_MODIFIERS
            or word.endswith(("ed", "ing", "ly"))
            or (word.endswith("s") and not word.endswith(("ss", "us", "is", "ous")))
            or re.search(r"\b(?:to|not|can|may|might|must|should|will|would|could|does|do|did)\s+$",
                         statement[: match.start()].lower())):
        return None
    return match.start()


def whole_term(statement: str, start: int, end: int) -> tuple[int, int]:
    """The span statement[start:end] widened to the whole term it is part of: a named term that contains it ("atrial
    {{fibrillation}}"); after it, its tail ("{{diabetes}} mellitus", "{{lupus}} pneumonitis"), a species name
    ("{{Staphylococcus}} aureus") or a Latin epithet ("{{polycythemia}} vera"); before it, its modifiers
    (`_modifier_start`: "type 2", "diffuse alveolar", "gallstone") and an eponym ("Hodgkin {{lymphoma}}"), though not
    before a drug, where "topical" or "intravenous" names the route, nor before a value ("3 days")."""
    for term in find_terms(statement):
        if term.start <= start and end <= term.end:
            start, end = term.start, term.end
    while tail := re.match(r"\s+([A-Za-z]+)\b", statement[end:]):
        word = tail.group(1)
        species = _GENUS_RE.fullmatch(statement[start:end]) and word.islower() and word not in FUNCTION_WORDS
        latin = _LATIN_EPITHET_RE.fullmatch(word) and len(statement[start:end].split()[-1]) >= 5
        if word.lower() not in _TERM_TAILS and word_kind(word) != "disease" and not species and not latin:
            break
        end += tail.end()
    tokens = _TOKEN_RE.findall(statement[start:end])
    if tokens and word_kind(tokens[-1]) != "drug" and not re.search(r"[\d<>≤≥]", statement[start:end]):
        while True:
            modifier = _modifier_start(statement, start)
            eponym = re.search(r"(?<=\s)([A-Z][a-z]+)\s+$", statement[:start])  # a capital mid-sentence
            if modifier is not None:
                start = modifier
            elif (eponym and eponym.group(1).lower() not in FUNCTION_WORDS | _NOT_EPONYMS | _NOT_MODIFIERS
                  and tokens[-1].islower()):
                start = eponym.start(1)
            else:
                break
    return start, end


# A Latin epithet after a term: "polycythemia vera", "tinea cruris", "erythema nodosum".
_LATIN_EPITHET_RE = re.compile(r"(?!(?:status|focus|area|data|plus|thus|versus|via|extra|is|was|has|this|diagnosis"
                               r"|prognosis|basis|analysis|formula|media)$)"
                               r"[a-z]{3,}(?:is|a|us|um|ae|ata)")
# A genus, the first word of a species name: "Staphylococcus", "Plasmodium", "Salmonella".
_GENUS_RE = re.compile(r"[A-Z][a-z]+(?:coccus|bacter|monas|ella|ium|bacterium|myces|ia)")
# Capitalised words before a term that are not part of its name.
_NOT_EPONYMS = frozenset("patients patient treatment therapy in with of for and or".split())


# Nouns after a blank that make the blank their modifier ("a faster {{shock}} recovery", "the {{MELD}} score"): the
# answer is the whole phrase, or the card asks for a word of it.
_HEADS_AFTER_A_MODIFIER = frozenset(
    """recovery risk score scores rate rates duration phase severity onset status response index criteria level
    levels volume volumes factor factors inhibitor inhibitors receptor receptors agonist agonists antagonist
    antagonists antibody antibodies count""".split()
)


def cloze_fault(statement: str, start: int, end: int) -> str | None:
    """Why the blank statement[start:end] makes a poor answer on its card, or None: a `trivial_cloze` reason;
    TRIVIAL_PARTIAL_TERM when it is part of a term the card shows the rest of (inside a hyphenated word:
    "{{ischemia}}-guided"; short of its `whole_term`: "{{atrial}} fibrillation", "{{diabetes}} mellitus", "type 2
    {{diabetes}}", "diffuse alveolar {{hemorrhage}}", "{{lupus}} pneumonitis"; the modifier of a noun after it:
    "{{shock}} recovery", "{{GLP-1}} RAs"); TRIVIAL_PARTICIPLE when it ends on
    a participle after a plural noun, a clause cut short ("{{capillaries manifesting}}", not "{{occlusive
    dressing}}")."""
    reason = trivial_cloze(statement[start:end])
    if reason is not None:
        return reason
    glued = re.search(r"[^\W_][-‐–]?$", statement[:start]) or re.match(r"[-‐–]?[^\W_]", statement[end:])
    head_after = re.match(r"\s+([^\W_][\w-]*)", statement[end:])
    if (glued or whole_term(statement, start, end) != (start, end)
            or (head_after and (head_after.group(1).lower() in _HEADS_AFTER_A_MODIFIER
                                or is_abbreviation(head_after.group(1))))):
        return TRIVIAL_PARTIAL_TERM
    tokens = [token.lower() for token in _TOKEN_RE.findall(statement[start:end])]
    if (len(tokens) > 1 and tokens[-1].endswith("ing") and tokens[-2].endswith("s")
            and not tokens[-2].endswith(("ss", "us", "is"))):
        return TRIVIAL_PARTICIPLE
    return None


# -- one card's figures ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardMetrics:
    """The card checks of one statement, as `make quality` aggregates them."""

    words: int
    clozes: int  # candidates the card places (c1 and c2)
    has_extra_field: bool
    case_narration: tuple[str, ...]  # cue names
    giveaways: tuple[Giveaway, ...]
    trivial_clozes: tuple[str, ...]  # reason per trivial placed candidate (`cloze_fault`)
    topic_blank: bool  # c1 blanks the sentence's topic while its assertion has an answer of its own


def card_metrics(statement: str, clozes: Sequence[str], extra_field: str | None) -> CardMetrics:
    """All card checks of one statement with its cloze candidates (first = c1) and extra_field."""
    placed, _ = place_candidates(statement, clozes)
    trivial = tuple(reason for p in placed if (reason := cloze_fault(statement, p.start, p.end)) is not None)
    c1 = next(((p.start, p.end) for p in placed), None)
    return CardMetrics(
        words=words(statement),
        clozes=len(placed),
        has_extra_field=bool(extra_field and extra_field.strip()),
        case_narration=tuple(case_narration(statement)),
        giveaways=tuple(c1_giveaways(statement, clozes)),
        trivial_clozes=trivial,
        topic_blank=c1 is not None and topic_blank(statement, c1),
    )
