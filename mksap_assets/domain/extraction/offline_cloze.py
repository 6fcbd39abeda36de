"""Rule-based cloze candidates for the offline extractor: one primary and at most one secondary span.

Every candidate is an exact substring of its statement and a whole, specific term: a long form together with its
abbreviation ("primary sclerosing cholangitis (PSC)", so the abbreviation cannot give the blank away), a named drug,
disease or test (the lexicon), a word with a medical suffix, a device, a condition's head noun with its modifiers,
a number with its unit or comparator (time units included), in that order of preference, then a bare abbreviation.
A term is taken whole ("type 2 diabetes mellitus", not "diabetes"); a candidate the card checks
(`validation.card_checks`) would flag, a part of a term or one whose answer the rest of the card shows, is not used,
nor is one that several answers fit (an item of a list, an example after "such as", anything in a sentence whose main
clause is negated but an exception). c1 is the new information the sentence asserts (given-new, `_focus_rank`): a
value, then a term or the noun phrase of the predicate ("is characterized by {frequent exacerbations}"); the subject
or the condition the sentence takes as given only when nothing of the assertion is left and the rest of the card
narrows it to one answer. A statement with no candidate left gets none: it makes no card.
"""

from __future__ import annotations

import re

from mksap_assets.domain.nlp.lexicon import DISEASE_HEADS, find_terms
from mksap_assets.domain.nlp.rules import find_quantities
from mksap_assets.domain.validation.card_checks import (
    FUNCTION_WORDS,
    GENERIC_WORDS,
    abbreviation_definitions,
    c1_giveaways,
    cloze_fault,
    in_context,
    in_topic,
    negated_assertion,
    predicate_phrase,
    sentence_focus,
    whole_term,
)

MAX_SECONDARY = 1

_MEDICAL_SUFFIXES = (
    "itis", "osis", "emia", "aemia", "pathy", "plasia", "trophy", "oma", "ectomy", "plasty", "scopy", "graphy",
    "gram", "algia", "uria", "penia", "cytosis", "megaly", "syndrome", "mab", "nib", "pril", "sartan", "olol",
    "statin", "mycin", "cillin", "cycline", "azole", "floxacin", "prazole", "parin", "xaban", "gatran", "tide",
    "gliflozin", "gliptin", "dipine", "thiazide", "semide", "lukast", "sone", "olone", "vir", "platin", "taxel",
    "virus", "coccus", "cocci", "bacter", "monas", "bacteria",  # organisms
    "ema",  # erythema, edema, eczema, empyema
)
# One word; `whole_term` adds the modifiers that belong to it. "diagnosis" and "prognosis" end like a disease.
_SUFFIX_WORD_RE = re.compile(
    r"\b(?!(?:diagnosis|prognosis)\b)[A-Za-z-]*(?:" + "|".join(_MEDICAL_SUFFIXES) + r")s?\b", re.IGNORECASE
)
# Devices, named by their head noun and, through `whole_term`, its modifiers ("18-gauge peripheral intravenous
# catheter", "hydrocolloid dressing").
_DEVICE_RE = re.compile(
    r"\b(?:catheters?|cannulas?|needles?|stents?|dressings?|pacemakers?|defibrillators?|tubes?|splints?|braces?)\b",
    re.IGNORECASE,
)
# Head nouns of a condition the lexicon does not name: with their modifiers (`whole_term`) they make one ("restrictive
# lung disease", "amebic liver abscess"); alone ("disease") they are generic and fail the card checks.
_CONDITION_HEAD_RE = re.compile(
    rf"\b(?:{'|'.join(sorted(DISEASE_HEADS))}|abscess(?:es)?|tears?|cysts?|warts?|fractures?|embolism|aneurysms?"
    r"|dissection|neoplasms?|nodules?|polyps?)\b",
    re.IGNORECASE,
)
_ABBREVIATION_IN_PARENTHESES_RE = re.compile(r"\s\(([A-Z][A-Za-z0-9-]{0,9}?)s?\)")
# A unit, with any "/denominator" parts it carries ("mL/kg", "mg/d", "mL/min/1.73 m2", "/μL").
_UNIT = (
    r"(?:mL/min/1\.73\s?m2|mm\s?Hg|cm\s?H2O|mmol|mEq|mcg|µg|μg|ng|pg|mg|kg|g|mL|L|U|IU|%|cm|mm|kPa|bpm|°C|°F|"
    r"seconds?|minutes?|min|hours?|h|days?|weeks?|months?|years?|/[µμ]L|/min)(?:/[A-Za-zµμ0-9]+(?:\.\d+)?)*"
)
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
_NUMERIC_RE = re.compile(
    r"(?:(?:[<>≤≥]|less than|greater than|more than|at least|at most|above|below|over|under|approximately)\s?)?"
    + _NUMBER + r"(?:(?:\s?%)?\s?(?:to|-|–)\s?" + _NUMBER + r")?\s?" + _UNIT + r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
# A threshold without a unit, a ratio or a score: "< 0.70", "≥ 2".
_THRESHOLD_RE = re.compile(r"[<>≤≥]\s?" + _NUMBER + r"(?![\d.,]*\d)")
# Words that carry no answer of their own: a blank may not be one of them, start with one or end with one.
_FUNCTION_WORDS = frozenset(
    """a an the and or but if of in on at to for with by from as is are was were be been being this that these
    those it its their there which who whom whose what when where why how not no nor can may might should would
    will shall must do does did has have had than then also such only more most less least very often usually
    into after before during because without within between however although though while whereas given below
    above over under until per via despite every each some any all both other another either neither among
    against along around across through throughout toward towards upon versus vs due since unless thus therefore
    hence even still yet already just much many few several well rather almost about like including include
    includes likely unlikely typically generally commonly frequently always never sometimes up down out off so""".split()
)
_TRIVIAL = _FUNCTION_WORDS | {
    "patient", "patients", "diagnosis", "treatment", "management", "therapy", "option", "finding", "findings",
    "test", "testing", "result", "results", "appropriate", "next", "step", "best", "first", "common", "cause",
    "failure", "success", "response", "improvement", "benefit",
}
# Heads that make a term the frame of a statement, not its answer: "{Malaria treatment} must address …".
_ROLE_HEADS = frozenset({"treatment", "management", "diagnosis", "evaluation"})
# A word may contain inner dots and slashes ("2.5", "mg/dL") but never ends in punctuation.
_WORD_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9'/.-]*[A-Za-z0-9])?")


def abbreviated_terms(statement: str) -> list[tuple[int, int]]:
    """Spans of "long form (ABBR)": the fewest words before the parentheses that spell the abbreviation (its letters
    in order, the first one starting the long form, every content word's initial among them); else the long form the
    card checks find (`abbreviation_definitions`, whose rule lets words be skipped: "Global Initiative for Chronic
    Obstructive Lung Disease (GOLD)"); else the content words right before it, which name what it abbreviates
    whether or not they spell it ("Potassium hydroxide (KOH)")."""
    defined = {d.abbreviation[1] + 1: d.long_form[0] for d in abbreviation_definitions(statement)
               if d.long_form[1] <= d.abbreviation[0]}
    spans = []
    for match in _ABBREVIATION_IN_PARENTHESES_RE.finditer(statement):
        letters = [c.lower() for c in match.group(1) if c.isalpha()]
        words = list(_WORD_RE.finditer(statement[: match.start()]))
        for size in range(1, min(len(letters) + 2, len(words)) + 1):
            window = words[-size:]
            text = statement[window[0].start():window[-1].end()].lower()
            initials = {w.group(0)[0].lower() for w in window if w.group(0).lower() not in _FUNCTION_WORDS}
            if text.startswith(letters[0]) and _in_order(letters, text) and initials <= set(letters):
                spans.append((window[0].start(), match.end()))
                break
        else:
            if match.end() in defined:
                spans.append((defined[match.end()], match.end()))
                continue
            named = re.search(r"(?:[A-Za-z][\w-]*\s+)*[A-Za-z][\w-]*$", statement[: match.start()])
            named_words = named.group(0).split() if named else []
            while named_words and named_words[0].lower() in _TRIVIAL:
                named_words.pop(0)
            if 0 < len(named_words) <= len(letters):
                spans.append((match.start() - len(" ".join(named_words)), match.end()))
    return spans


def _in_order(letters: list[str], text: str) -> bool:
    position = 0
    for letter in letters:
        position = text.find(letter, position) + 1
        if position == 0:
            return False
    return True


def _initials(candidate: str) -> str:
    return "".join(word[0] for word in re.findall(r"[A-Za-z][A-Za-z'-]*", candidate)).upper()


def _gives_itself_away(candidate: str, statement: str, start: int) -> bool:
    """The candidate's abbreviation, or a long form of it, is visible elsewhere on the card."""
    outside = statement[:start] + " " + statement[start + len(candidate):]
    named = _ABBREVIATION_IN_PARENTHESES_RE.search(candidate)
    if named and re.search(rf"\b{re.escape(named.group(1))}s?\b", outside):
        return True
    initials = _initials(candidate)
    if len(candidate.split()) >= 2 and len(initials) >= 2 and re.search(rf"\b{initials}s?\b", outside):
        return True
    return bool(candidate.isupper() and len(candidate) >= 2 and any(
        _initials(outside[s:e]) == candidate for s, e in abbreviated_terms(outside)))


def _inside_a_name(statement: str, start: int, end: int) -> bool:
    """Part of a proper name ("American {Diabetes} Association"): a capitalised blank next to a capitalised word."""
    if not statement[start:start + 1].isupper():
        return False
    before = re.search(r"([A-Z][a-z]+)\s+$", statement[:start])
    after = re.match(r"\s+[A-Z][a-z]+\b", statement[end:])
    return bool((before and before.start() > 0) or after)


def _acceptable(candidate: str, statement: str) -> bool:
    words = candidate.split()
    return (
        bool(words)
        and _occurrences(candidate, statement) == 1  # a blank must be unambiguous
        and _on_word_boundaries(candidate, statement)
        and candidate.lower() not in _TRIVIAL
        and words[0].lower() not in _FUNCTION_WORDS
        and words[-1].lower().rstrip(",;:") not in _FUNCTION_WORDS
        and words[-1].lower() not in _ROLE_HEADS
        and not re.fullmatch(r"[\d.,\s-]+", candidate)  # a bare number: a row or list number, or a unit-less value
        and candidate != statement.strip().rstrip(".")
        and len(candidate) > 2
    )


def _occurrences(candidate: str, statement: str) -> int:
    """Whole-word occurrences, ignoring case ("Sepsis" also answers "sepsis" elsewhere on the card)."""
    return len(re.findall(rf"(?<![A-Za-z0-9]){re.escape(candidate)}(?![A-Za-z0-9])", statement, re.IGNORECASE))


def _on_word_boundaries(candidate: str, statement: str) -> bool:
    """A blank must not cut a token ("5 mg" inside "2.5 mg")."""
    start = statement.find(candidate)
    before = statement[start - 1] if start > 0 else " "
    after = statement[start + len(candidate)] if start + len(candidate) < len(statement) else " "
    return not (before.isalnum() or before == ".") and not after.isalnum()


def _trim_function_words(candidate: str) -> str:
    """Drop leading and trailing function words a pattern may have swallowed ("the nephropathy" -> "nephropathy")."""
    words = candidate.strip().split(" ")
    while len(words) > 1 and words[0].lower() in _FUNCTION_WORDS:
        words = words[1:]
    while len(words) > 1 and words[-1].lower().rstrip(",;:") in _FUNCTION_WORDS:
        words = words[:-1]
    return " ".join(words).rstrip(",;:")


def pick_cloze_candidates(statement: str) -> list[str]:
    """The statement's cloze candidates, c1 first; [] when no whole specific term that only one answer fits makes a
    c1 (the statement then makes no card worth studying). c1 is the new information the sentence asserts
    (`_focus_rank`); at most MAX_SECONDARY secondary blanks, each a named term or a value that one answer fits too:
    a suffix guess or a bare abbreviation is a poor card of its own."""
    abbreviated = abbreviated_terms(statement)
    named = [_whole(statement, start, end) for start, end in abbreviated]
    named += [_whole(statement, term.start, term.end) for term in find_terms(statement) if term.kind != "abbreviation"]
    suffixed = [_whole(statement, *m.span()) for m in (*_SUFFIX_WORD_RE.finditer(statement),
                                                        *_DEVICE_RE.finditer(statement),
                                                        *_CONDITION_HEAD_RE.finditer(statement))]
    with_units = list(_NUMERIC_RE.finditer(statement))
    # a threshold is a value of its own only without a unit: "< 500" of "< 500/μL" would leave the unit showing
    values = [m.group(0) for m in with_units] + [
        m.group(0) for m in _THRESHOLD_RE.finditer(statement)
        if not any(u.start() <= m.start() < u.end() for u in with_units)]
    phrase = predicate_phrase(statement)
    # after "to" the phrase is what to do ("given to {prevent variceal bleeding}"): a verb phrase, no term
    asserted = [statement[phrase[0]:phrase[1]]] if phrase and not re.search(r"\bto\s+$", statement[:phrase[0]]) else []
    # an abbreviation is a whole term, though a learner more often has to recall the name it stands for
    bare = [_whole(statement, term.start, term.end) for term in find_terms(statement) if term.kind == "abbreviation"]
    acceptable = _choose([*named, *suffixed, *values, *asserted, *bare], statement, abbreviated)
    value_texts = {_trim_function_words(v) for v in values}
    answers = [c for c in acceptable if _one_answer_fits(c, statement) and not _ruled_out(c, statement)
               and (_ABBREVIATION_IN_PARENTHESES_RE.sub("", c) in value_texts or _identifies(c, statement))]
    if any(_LIST_ANSWER_RE.search(phrase) and not _RELATIVE_RE.search(statement[:statement.find(phrase)])
           for phrase in asserted):
        # what the sentence asserts is a list ("X is managed with A, B, and C"): its topic is no answer either (a
        # list in a relative clause only describes: "X is a form of Y that presents with A, B, and C")
        answers = [c for c in answers if _ABBREVIATION_IN_PARENTHESES_RE.sub("", c) in value_texts]
    ranks = {c: _focus_rank(c, statement, value_texts, asserted) for c in answers}
    ranked = sorted((c for c in answers if ranks[c] < _NO_ANSWER), key=ranks.__getitem__)
    chosen = _without_overlaps(ranked, statement)
    if not chosen:
        return []
    # a value is the most specific second blank, then a named term
    secondary = [c for group in (values, named) for c in chosen[1:]
                 if _ABBREVIATION_IN_PARENTHESES_RE.sub("", c) in {_trim_function_words(g) for g in group}]
    return [chosen[0], *secondary[:MAX_SECONDARY]]


_VALUE, _ASSERTED, _SUBJECT, _CONTEXT, _NO_ANSWER = range(5)


def _focus_rank(candidate: str, statement: str, values: set[str], phrases: list[str]) -> int:
    """Given-new order: a value the sentence asserts is the strongest answer, then a term or phrase of the assertion
    (a phrase only when the card names a term: "First-line treatments include {X}" says not of what); a blank on
    what the sentence takes as given (`in_topic`) comes last, its subject before its condition, and only when the rest
    of the card names a term or value, or MIN_SPECIFIC_WORDS specific words, that narrow it to one answer
    ("{{Omalizumab}} is indicated in severe asthma with elevated IgE", not "{{Plain radiography}} is recommended
    because of its low cost")."""
    start = statement.find(candidate)
    end = start + len(candidate)
    visible = statement[:start] + " … " + statement[end:]
    if not in_topic(statement, start):
        if _ABBREVIATION_IN_PARENTHESES_RE.sub("", candidate) in values:
            # a value of what? "Over {70%} of carriers are affected …" names nothing the value belongs to
            return _VALUE if _names_a_term(visible) else _NO_ANSWER
        # a phrase (no named term of its own) is an answer when the card names what it is about
        return _ASSERTED if candidate not in phrases or _names_a_term(visible) else _NO_ANSWER
    if not (_names_a_term(visible) or len(_specific_words(visible)) >= MIN_SPECIFIC_WORDS):
        return _NO_ANSWER
    focus = sentence_focus(statement)
    if _HEDGED_PREDICATE_RE.match(statement, focus.predicate_start):
        return _NO_ANSWER  # "{X} may persist for days", "The Dlco may be normal in {X}": a possibility many share
    predicate = statement[focus.predicate_start:]
    if (start < focus.predicate_start < len(statement) and not focus.frame_end and not _COMPLEMENT_RE.search(predicate)
            and len(_specific_words(predicate)) < MIN_PREDICATE_WORDS):
        return _NO_ANSWER  # "{Ultrasonography} is the preferred first test.": for what, the card does not say
    return _CONTEXT if in_context(statement, start) else _SUBJECT


def _names_a_term(text: str) -> bool:
    return bool(find_terms(text) or find_quantities(text) or _SUFFIX_WORD_RE.search(text)
                or _CONDITION_HEAD_RE.search(text) or _DEVICE_RE.search(text))


# Words that narrow a blank down to nothing: "{X} is recommended during initial evaluation because of its low cost".
_UNSPECIFIC = FUNCTION_WORDS | GENERIC_WORDS | _TRIVIAL | frozenset(
    """recommended recommend indicated preferred used use useful effective reasonable considered consider cost costs
    low high setting settings relatively reported shown associated important usually often typically
    acute initial routine standard clinical clinically uncommon rare common""".split()
)
MIN_SPECIFIC_WORDS = 3  # a subject blank needs this many specific words around it (or a named term, or a value)
MIN_PREDICATE_WORDS = 2  # specific words that let a predicate with no complement say something of its own
# A predicate that says what its subject is for or about ("… test for albuminuria", "… antibody that binds IgE").
_COMPLEMENT_RE = re.compile(r"\b(?:of|for|in|to|with|by|from|on|that|which|who|when|if|after|than|against)\b")
# A predicate that asserts only a possibility: many subjects share it, so the topic is no answer.
_HEDGED_PREDICATE_RE = re.compile(r"(?:may|can|could|might|sometimes|occasionally|often)\b", re.IGNORECASE)


# A relation that many terms share, whichever side is blanked: "{X} is a rare complication of gout", "patients with
# diabetes are at risk for {X}", "{X} can be mistaken for eczema", "{X} is an effective treatment for acne".
_SHARED_RELATION_RE = re.compile(
    r"\b(?:complications?\s+of|(?:common|frequent|rare|important)\s+causes?\s+of|at\s+(?:\w+\s+)?risk\s+(?:for|of)"
    r"|mistaken\s+for|predisposing|used\s+to\s+treat|effective\s+(?:in|for)|(?:an?\s+)?effective\s+treatment"
    r"|reasonable\s+(?:choice|option)|monitoring\s+for|occurs?\s+in|in\s+the\s+context\s+of"
    r"|(?:is|are)\s+(?:an?\s+)?(?:uncommon|rare|common)\b|(?:less|more)\s+commonly)",
    re.IGNORECASE,
)
# What singles one answer out, so that a shared relation still has one: "the most common cause", "first-line".
_SINGLING_OUT_RE = re.compile(
    r"\b(?:most|leading|first-line|of\s+choice|mainstay|hallmark|gold\s+standard|defined|diagnostic\s+(?:of|for)"
    r"|pathognomonic|only)\b",
    re.IGNORECASE,
)
# Enough specific words around a blank to describe one answer despite a shared relation: "{X} is a rare complication
# of measles that presents months later with fever, myoclonus, seizures and cognitive decline".
MIN_DESCRIBING_WORDS = 10
# A finding asserted as a possibility of a condition named after "in", "when", "on": "Serum ferritin may be elevated
# in {X}", "Anemia may be found on {X}": the finding fits many conditions, the blank many answers.
_HEDGE_RE = re.compile(r"\b(?:may|can|could|might|often|commonly|usually|sometimes|frequently)\b", re.IGNORECASE)
_FINDING_IN_RE = re.compile(
    r"\b(?:normal|abnormal|decreased|increased|elevated|reduced|low|high|detected|seen|found|present|absent|observed"
    r"|noted|common|uncommon|rare|useful|helpful)\s+(?:in|when|on|among)\s+(?:(?:a|an|the|patients\s+with)\s+)?$",
    re.IGNORECASE,
)
_RELATIVE_RE = re.compile(r"\b(?:that|which|who)\b")
# A coordinated list as one answer: "{rest, ice, and compression}".
_LIST_ANSWER_RE = re.compile(r",[^,]+,|,\s*(?:and|or)\s")


def _identifies(candidate: str, statement: str) -> bool:
    """A term the rest of the card points to alone: not a list of several, not one side of a relation many terms share
    (`_SHARED_RELATION_RE`, unless the sentence singles one out or describes it in MIN_DESCRIBING_WORDS words), not
    the condition of a hedged finding. Values are checked elsewhere: a number is specific whatever its relation."""
    if _LIST_ANSWER_RE.search(candidate):
        return False
    start = statement.find(candidate)
    if _SHARED_RELATION_RE.search(statement) and not _SINGLING_OUT_RE.search(statement):
        visible = statement[:start] + " " + statement[start + len(candidate):]
        if len(_specific_words(visible)) < MIN_DESCRIBING_WORDS:
            return False
    return not (_HEDGE_RE.search(statement) and _FINDING_IN_RE.search(statement[:start]))


def _specific_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z][\w-]*", text) if w.lower() not in _UNSPECIFIC and len(w) > 2]


def _without_overlaps(ranked: list[str], statement: str) -> list[str]:
    """The candidates in rank order, each dropped when it overlaps a better one (blanks must not overlap)."""
    kept: list[str] = []
    spans: list[tuple[int, int]] = []
    for candidate in ranked:
        start = statement.find(candidate)
        end = start + len(candidate)
        if not any(start < other_end and other_start < end for other_start, other_end in spans):
            spans.append((start, end))
            kept.append(candidate)
    return kept


# After a negation, what an exception names is a positive rule: "not recommended except in {bradycardia}".
_EXCEPTION_RE = re.compile(r"\b(?:except|unless|but|rather than|instead of)\b", re.IGNORECASE)


def _ruled_out(candidate: str, statement: str) -> bool:
    """The sentence's main clause is negated ("X is not indicated in Y") and the candidate is not in an exception
    after the negation: whatever is blanked, many answers fit."""
    negation = negated_assertion(statement)
    if negation is None:
        return False
    exception = _EXCEPTION_RE.search(statement, negation)
    return exception is None or statement.find(candidate) < exception.end()


def _whole(statement: str, start: int, end: int) -> str:
    """The whole term around a lexicon or suffix match ("type 2 {diabetes} mellitus")."""
    start, end = whole_term(statement, start, end)
    return statement[start:end]


# A list around a blank: "A, {B}, and C", "A, B, or a {C}", "{A}, B or C", "{A} or B", "such as {B}" (a blank on one
# item or example lets any other fit). A comma alone is no list ("For {X}, a device …"), nor is "and" before a
# second predicate ("{X} and then …", "{X} and is …").
_ITEM_BEFORE_RE = re.compile(
    r"(?:,\s*(?:and|or)|\b(?:and|or|such as|including|like|e\.g\.,?)|,[^,;.()]{1,40},)\s+(?:(?:a|an|the)\s+)?$"
    r"|\b(?:such as|including|e\.g\.,?)\s+(?:[\w-]+\s+){1,2}$"  # an example with its modifiers: "such as swallowed {X}"
)
_COMMA_BEFORE_RE = re.compile(r",\s+$")  # with a comma after too, the blank is a middle item: "A, {B}, C"
_SECOND_PREDICATE = (
    r"(?:then|thereafter|is|are|was|were|may|can|could|should|must|will|would|has|have|had|does|do|did|not|also|its"
    r"|their|it|they|\w+ly)\b"
)
_ITEM_AFTER_RE = re.compile(
    rf"^(?:,?\s+(?:and|or)\s+(?!{_SECOND_PREDICATE})|,\s+(?:[^\s,;.()]+\s+){{0,3}}(?:and|or)\s|,\s+[^,;.()]{{1,40}},)"
)
# A negation before which a blank names what is ruled out ("{X} is not indicated": almost anything fits), in the
# same clause: a negation after "if", "when", "who" … belongs to a condition ("{X} is stopped if no response …"), and
# "with no" describes ("{X} occurs in patients with no risk factors").
_NEGATION_RE = re.compile(r"^[^,;]*?(?:\b(?:not|never|cannot|neither|nor)\b|(?<!\bwith )\bno\b)", re.IGNORECASE)
_NEGATED_OBJECT_RE = re.compile(
    r"\b(?:not|never|cannot|no longer)\s+(?:[a-z]+\s+){0,2}(?:(?:a|an|the|any)\s+)?$", re.IGNORECASE
)
_SUBORDINATE_RE = re.compile(r"\b(?:if|when|unless|because|although|while|whereas|which|that|who|whom|after|until)\b")


def _one_answer_fits(candidate: str, statement: str) -> bool:
    """Only one answer fits the blank: it is no item of a list and not what a negation rules out, as the subject
    before it ("{X} is not indicated") or the object right after its verb ("does not show {X}")."""
    start = statement.find(candidate)
    end = start + len(candidate)
    if _ITEM_BEFORE_RE.search(statement[:start]) or _ITEM_AFTER_RE.match(statement[end:]):
        return False
    if _COMMA_BEFORE_RE.search(statement[:start]) and statement[end:].startswith(","):
        return False
    if _NEGATED_OBJECT_RE.search(statement[:start]):
        return False
    negation = _NEGATION_RE.search(statement[end:])
    return negation is None or bool(_SUBORDINATE_RE.search(negation.group(0)))


def _choose(ordered: list[str], statement: str, abbreviated: list[tuple[int, int]]) -> list[str]:
    chosen: list[str] = []
    for candidate in ordered:
        candidate = _with_modifiers(_with_leading_qualifiers(_trim_function_words(candidate), statement), statement)
        named = _ABBREVIATION_IN_PARENTHESES_RE.match(statement, statement.find(candidate) + len(candidate))
        if candidate and named:  # "potassium hydroxide (KOH)": the abbreviation goes into the same blank
            candidate += named.group(0)
        if not _acceptable(candidate, statement) or _INFINITIVE_BEFORE_RE.search(statement[:statement.find(candidate)]):
            continue
        start = statement.find(candidate)
        end = start + len(candidate)
        # Part of a "long form (ABBR)" is blanked only as the whole of it, never leaving the abbreviation showing.
        if any(start < a_end and a_start < end and not start <= a_start <= a_end <= end
               for a_start, a_end in abbreviated):
            continue
        if _gives_itself_away(candidate, statement, start) or _inside_a_name(statement, start, end):
            continue
        # what the card checks would flag: a part of a term, a participle tail, the answer shown elsewhere
        if cloze_fault(statement, start, end) or c1_giveaways(statement, [candidate]):
            continue
        if candidate not in chosen:
            chosen.append(candidate)
    return chosen


# A blank on what is to be done: "the treatment is to {cover the burn} with a dressing" cuts a verb phrase in two.
_INFINITIVE_BEFORE_RE = re.compile(r"\b(?:is|are|be)\s+to\s+$")
# Words that open a sentence on its subject's qualifiers: "Urgent diagnostic {angiography}", "GLP-1 {RAs}", "Severe
# {asthma}"; a blank on the head alone leaves half of the term showing.
_LEADING_QUALIFIERS_RE = re.compile(r"(?:[A-Za-z0-9][\w-]*\s+){1,3}")


def _with_leading_qualifiers(candidate: str, statement: str) -> str:
    """The candidate widened to the sentence's start when up to 3 words before it open the sentence and none is a
    function or generic word ("Daily azithromycin", not "Patients with {X}")."""
    start = statement.find(candidate)
    qualifiers = _LEADING_QUALIFIERS_RE.fullmatch(statement[:start]) if start > 0 else None
    if qualifiers is None or any(word.lower() in FUNCTION_WORDS | GENERIC_WORDS for word in qualifiers.group(0).split()):
        return candidate
    return statement[: start + len(candidate)]


# Modifiers of a term that a blank would leave outside, cutting the phrase: "a sudden pivoting {knee injury}",
# "clinically {significant hypotension}", "{LDL} lowering", "{iodine} ablative therapy". No parser here: before the
# blank, words that end like adjectives or adverbs (a participle in -ing only after an article or an adjective:
# "a sudden pivoting", not "recommends using"); after it, lower-case words up to a head noun, none of which looks like
# a verb of the sentence ("{X} parallels …") or is a postpositive adjective ("{asthma} refractory to …").
_ADJECTIVE = r"[a-z][a-z-]*(?:al|ic|ive|ous|ary|ory|ar|ant|ent|ed|ly)"
_MODIFIER_BEFORE_RE = re.compile(
    rf"(?:\b(?:a|an|the)\s+(?:[a-z-]+\s+)?|\b{_ADJECTIVE}\s+)[a-z][a-z-]*ing\s+(?:{_ADJECTIVE}\s+)?$"
    rf"|(?:\b{_ADJECTIVE}\s+){{1,3}}$"
)
_PHRASE_END = r"(?=\s*(?:[,;.:()]|$|\s+(?:is|are|was|were|in|of|for|with|to|and|or|that|which|may|can|should|must|has|have)\b))"
# Two words, then one: "{iodine} ablative therapy is …" takes both, "{X} suppression and …" one.
_NOUNS_AFTER_RES = (re.compile(r"^\s+[a-z][a-z-]*\s+[a-z][a-z-]*" + _PHRASE_END), re.compile(r"^\s+[a-z][a-z-]*" + _PHRASE_END))
_ADJECTIVE_RE = re.compile(rf"{_ADJECTIVE}$")
# Verbs that follow a subject without an -s ("Statins {reduce} …") or in the past; -s and -ed forms end a noun phrase.
_BASE_VERBS = frozenset(
    """reduce cause occur remain require include present improve increase decrease lead result appear develop need help
    affect respond show have indicate suggest confirm predict tend provide produce prevent involve allow mimic carry
    block bind inhibit target lower raise worsen reverse induce represent contain follow precede identify distinguish
    differentiate establish define characterize parallel""".split()
)


def _with_modifiers(candidate: str, statement: str) -> str:
    """The candidate widened over the modifiers it would leave showing (`_MODIFIER_BEFORE_RE`, `_NOUNS_AFTER_RES`), so
    the blank is the whole phrase; unchanged when there are none."""
    start = statement.find(candidate)
    if start < 0 or not candidate or _NUMERIC_RE.fullmatch(candidate) or _THRESHOLD_RE.fullmatch(candidate):
        return candidate  # a value is whole with its unit and comparator: "{5% to 10%}", not "an {estimated 5% …}"
    end = start + len(candidate)
    before = _MODIFIER_BEFORE_RE.search(statement[:start])
    # after "to" the first word is a verb however it ends: "given to prevent {variceal bleeding}"
    if before and not re.search(r"\bto\s+$", statement[:before.start()]):
        kept = before.group(0).split()
        while kept and kept[0].lower() in _STOP_MODIFIERS:
            kept.pop(0)
        if kept and not any(word.lower() in _STOP_MODIFIERS for word in kept):
            start -= len(" ".join(kept)) + 1
    for pattern in _NOUNS_AFTER_RES:
        after = pattern.match(statement[end:])
        words = after.group(0).split() if after else []
        if words and not (_ADJECTIVE_RE.match(words[-1]) or any(
                w in _BASE_VERBS or w in _COMPARATIVES or w.endswith(("s", "ed", "ly")) or w in _FUNCTION_WORDS
                for w in words)):
            end += len(after.group(0))
            break
    return statement[start:end]


_COMPARATIVES = frozenset("worse better higher lower greater smaller larger faster slower".split())
_STOP_MODIFIERS = _FUNCTION_WORDS | _TRIVIAL | FUNCTION_WORDS | GENERIC_WORDS
