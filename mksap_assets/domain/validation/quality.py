"""Quality, ambiguity and enumeration checks on the statement text (REFERENCE_SYSTEM §4.4, §4.6, §4.7), tuned for
few false positives: the original's organism, medication-context, procedure-context and broad "multi-concept"
rules are not carried over (§7.4.14: mostly false positives); grounding replaces its hallucination check.

- quality: no "this/the patient" (error) unless "the patient" is the generic one of a conditional rule ("if the
  patient is not intubated, …"), no "(Option X)" (error), no dangling pronoun at the start (an anticipatory "It is
  important to …" is not one), no reference to the case ("described here", "in this case"), no narrative pronouns
  (she, his…; the generic "his or her" is not one), one fact: multi-clause statements (a ", but it …" caveat on the
  same subject is one fact) and enumerations of 4 or more items are flagged (warnings);
- ambiguity: pronoun, vague, repeated and overlapping cloze candidates (in cloze.py), statements that start with a
  pronoun;
- enumeration: lists of ≥ 4 items (items of one comma-separated run; the clause before the first item, an example
  list's head and a parenthesis are not items), numbered lists ("(1) … (2)", "first … second … third"; decimals and
  repeated footnote marks are not list numbers), three or more cloze candidates in a row of one list (where the
  card places them), explicit counts ("three criteria", info).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mksap_assets.domain.statements import Issue, Statement, TableStatement
from mksap_assets.domain.validation.cloze import place_candidates

_PATIENT_RE = re.compile(r"\b(?:this|the)\s+patient(?:'s|s)?\b", re.IGNORECASE)
# "the patient" after one of these, in the same sentence, is the generic patient of a rule
_CONDITIONAL_RE = re.compile(
    r"\b(?:if|when|whenever|unless|until|once|before|after|while|whether|provided|in\s+case|as\s+long\s+as|"
    r"as\s+soon\s+as)\b",
    re.IGNORECASE,
)
_PAST_FINITE = frozenset("""was were had did underwent became began came went took gave got felt fell saw left
    ran rose grew ate drank wore spent kept brought told""".split())
_NOT_PAST_ED = frozenset("need bleed feed proceed exceed succeed breed speed seed shed".split())
_PERFECT_OR_PASSIVE = frozenset("""is are be been being has have not remains remain becomes become gets get
    appears appear seems seem feels feel isn't aren't hasn't haven't""".split())
_OPTION_RE = re.compile(r"\(\s*Options?\s+[A-H]\b[^)]*\)", re.IGNORECASE)
_DANGLING_RE = re.compile(
    r"^(?:It|Its|They|Their|Them|This|That|These|Those|He|She|His|Her|Both|Neither|None|Either|Such|"
    r"The\s+(?:latter|former))\b"
)
# Not dangling: an anticipatory "it" whose content is the to/that clause that follows ("It is important to …",
# "It is recommended that …", "It is not known whether …"), and a correlative "Neither A nor B".
_ADVERB = r"(?:\w+ly|not|also|now|still|very|most|more|less|well|often|always|never|therefore|thus|then|so|even)"
_IT_VERB = (r"(?:is|was|(?:may|might|can|could|would|will|should|must)\s+(?:not\s+)?be|has\s+been|remains|"
            r"seems|appears|becomes)")
# adjectives and participles that take a to- or that-clause as their subject
_IT_TO_OR_THAT = (
    "important essential necessary unnecessary reasonable unreasonable preferable recommended advisable "
    "inadvisable appropriate inappropriate imperative critical crucial prudent vital acceptable unacceptable "
    "advised suggested mandatory optimal desirable customary common uncommon rare unusual worthwhile "
    "permissible standard routine wise unwise best better required key paramount"
).split()
# only with a that/whether clause ("It is likely to recur" and "It is difficult to treat" are about something)
_IT_THAT_ONLY = (
    "likely unlikely unclear uncertain unknown known clear thought believed estimated suspected presumed assumed "
    "expected noted shown reported recognized recognised established accepted possible impossible probable "
    "improbable evident apparent true noteworthy notable safe unsafe easy difficult hard useful helpful debated "
    "controversial postulated hypothesized hypothesised documented demonstrated proven understood agreed "
    "emphasized emphasised"
).split()
_DUMMY_IT_RE = re.compile(
    rf"^It\s+(?:{_IT_VERB}\s+(?:{_ADVERB}\s+){{0,2}}"
    rf"(?:(?:{'|'.join(_IT_TO_OR_THAT)})\s+(?:to|that|whether|if|for\s+[^,;.]{{1,40}}?\s+to)\b"
    rf"|(?:{'|'.join(_IT_THAT_ONLY)})\s+(?:that|whether|if)\b"
    rf"|worth\s+\w+ing\b)"
    rf"|(?:seems|appears)\s+(?:{_ADVERB}\s+)?that\b)"
)
_CORRELATIVE_RE = re.compile(r"^Neither\s+[^,;.]{1,80}?\bnor\b")
_CASE_REFERENCE_RE = re.compile(
    r"\b(?:described\s+here|in\s+this\s+case|this\s+case|this\s+scenario|this\s+vignette|this\s+question|"
    r"the\s+critique|this\s+presentation|(?:the\s+)?(?:correct|best)\s+answer)\b",
    re.IGNORECASE,
)
_NARRATIVE_RE = re.compile(r"\b(?:she|he|her|his|him|hers)\b", re.IGNORECASE)
# the generic singular pair ("his or her", "he/she") refers to anyone, not to the case's patient
_GENERIC_PAIR_RE = re.compile(
    r"\b(?:he\s*(?:or|/)\s*she|she\s*(?:or|/)\s*he|his\s*(?:or|/)\s*hers?|hers?\s*(?:or|/)\s*his|"
    r"him\s*(?:or|/)\s*her|her\s*(?:or|/)\s*him|s/he)\b",
    re.IGNORECASE,
)
_CLAUSE_JOINERS_RE = re.compile(r";|,\s+(?:but|whereas|while|although)\s|\s(?:whereas)\s")
# ", but it is not specific": a caveat about the same subject, one fact (splitting it would leave "It is not
# specific" dangling)
_CAVEAT_RE = re.compile(r",\s+(?:but|although)\s+(?:it|they)\b", re.IGNORECASE)
_INNER_SENTENCE_RE = re.compile(r"[a-z0-9)%\]][.!?]\s+[A-Z][a-z]")
_NUMBERED_RE = re.compile(r"\(\s?([1-9]|i{1,3}|iv|[a-e])\s?\)")
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
_ORDINAL_LIST_RE = re.compile(r"\bfirst\b.*\bsecond\b.*\bthird\b", re.IGNORECASE)
_COUNT_RE = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|\d+)\s+(?:main\s+|major\s+|key\s+)?"
    r"(?:types|categories|classes|criteria|features|signs|symptoms|causes|components|steps|stages|factors)\b",
    re.IGNORECASE,
)
_LIST_GAP_RE = re.compile(r",\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+")
# Lists: a run of comma-separated segments of one clause (";", ":" and sentence ends separate clauses; commas in
# parentheses are not separators). The first segment ends with the first item, whatever precedes it; every middle
# segment is one item (a short noun phrase: no verb, no introducer); the run closes with "and/or …" ("A, B, and C";
# "A, B and C" counts the pair of its last segment). "red or pink" inside one segment is one item.
_MAX_ITEM_WORDS = 6
_CONJUNCTION_RE = re.compile(r"(?:and|or)\b", re.IGNORECASE)
_INNER_CONJUNCTION_RE = re.compile(r"\s(?:and|or)\s", re.IGNORECASE)
_NOT_ITEM_START = frozenset("""such including include includes e.g. eg e.g i.e. ie like namely especially
    particularly notably even if when whenever unless until once because since although though while whereas which
    who whom whose that where but so then thereafter as and or nor yet however therefore thus also moreover
    furthermore additionally overall finally first second third initially similarly conversely alternatively
    otherwise instead""".split())
_PREPOSITIONS = frozenset("""in with without for to from by on at of after before during into among between over
    under within via per despite against""".split())
_VERBS = frozenset("""is are was were be been being has have had can cannot could may might must should shall will
    would does do did shows show showed reveals revealed demonstrates demonstrated suggests indicates requires
    include includes included""".split())
_PARENTHESIS_RE = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")


def _issue(code: str, severity: str, message: str, span=None, category: str = "quality",
           field: str = "statement") -> Issue:
    return Issue(code=code, severity=severity, message=message, span=span, category=category, field=field)


def check_quality(item: Statement) -> Iterator[Issue]:
    text = item.statement
    # A table describes no case: its "the patient" is generic ("the patient is supine"), so only a warning there.
    patient_severity = "warning" if isinstance(item, TableStatement) else "error"
    for match in _patient_mentions(text):
        yield _issue("patient_specific", patient_severity,
                     f"{match.group(0)!r}: a statement must be a general fact, not about the case's patient",
                     match.span())
    for field_name, value in (("statement", text), ("extra_field", item.extra_field or "")):
        for match in _OPTION_RE.finditer(value):
            yield _issue("option_citation", "error", f"answer-option citation {match.group(0)!r}", match.span(),
                         field=field_name)
    if item.extra_field:
        for match in _patient_mentions(item.extra_field):
            yield _issue("patient_specific", "warning", f"{match.group(0)!r} in extra_field", match.span(),
                         field="extra_field")
    stripped = text.lstrip()
    match = _DANGLING_RE.match(stripped)
    if match and not _DUMMY_IT_RE.match(stripped) and not _CORRELATIVE_RE.match(stripped):
        yield _issue("dangling_pronoun", "warning",
                     f"starts with {match.group(0)!r}: the statement needs what it refers to", match.span(),
                     "ambiguity")
    for match in _CASE_REFERENCE_RE.finditer(text):
        yield _issue("case_reference", "warning", f"{match.group(0)!r} refers to the question's case", match.span())
    match = _NARRATIVE_RE.search(text)
    if match:
        generic = [m.span() for m in _GENERIC_PAIR_RE.finditer(text)]
        match = next((m for m in _NARRATIVE_RE.finditer(text)
                      if not any(a <= m.start() < b for a, b in generic)), None)
    if match:
        yield _issue("case_narrative", "warning", f"{match.group(0)!r}: narrates the case", match.span())
    yield from _one_fact(text)


def _patient_mentions(text: str) -> Iterator[re.Match]:
    """"this patient" always; "the patient" unless it is the generic patient of a conditional rule."""
    for match in _PATIENT_RE.finditer(text):
        if match.group(0).lower().startswith("the") and _in_general_rule(text, match):
            continue
        yield match


def _in_general_rule(text: str, match: re.Match) -> bool:
    """"If the patient is not intubated, …", "when the patient cannot take oral medication", "If hypotension
    persists, the patient should receive …": a conditional earlier in the same sentence, and no past tense in the
    clause that follows "the patient" ("When the patient presented with …" narrates the case)."""
    sentence_start = max(text.rfind(". ", 0, match.start()), text.rfind("; ", 0, match.start())) + 1
    if not _CONDITIONAL_RE.search(text, sentence_start, match.start()):
        return False
    clause = re.split(r"[,;:.()]", text[match.end():], maxsplit=1)[0]
    auxiliary = False  # after "is", "has", "not" … a word in -ed is a participle ("is not intubated")
    for word in re.findall(r"[A-Za-z']+", clause.lower()):
        if word in _PAST_FINITE:
            return False
        auxiliary = auxiliary or word in _PERFECT_OR_PASSIVE
        if word.endswith("ed") and len(word) > 4 and word not in _NOT_PAST_ED and not auxiliary:
            return False
    return True


def _outside_parentheses(text: str, index: int) -> bool:
    return text.count("(", 0, index) <= text.count(")", 0, index)


def _one_fact(text: str) -> Iterator[Issue]:
    # separators inside parentheses belong to a table row ("Agent (Dose: 5 mg; Reduced: 2.5 mg)"), not a clause
    joiner = next((m for m in _CLAUSE_JOINERS_RE.finditer(text)
                   if _outside_parentheses(text, m.start()) and not _CAVEAT_RE.match(text, m.start())), None)
    inner = _INNER_SENTENCE_RE.search(text)
    if inner and not _is_abbreviation_dot(text, inner.start() + 1):
        yield _issue("multi_clause", "warning", "more than one sentence", (inner.start() + 1, inner.start() + 2))
    elif joiner:
        yield _issue("multi_clause", "warning",
                     f"two clauses joined by {joiner.group(0).strip()!r}: probably two facts", joiner.span())
    items = _longest_list(text)
    if items:
        count, span = items
        if count >= 4:
            yield _issue("enumeration", "warning", f"a list of {count} items: split it or keep the key ones",
                         span, "enumeration")


def _is_abbreviation_dot(text: str, index: int) -> bool:
    word = re.findall(r"[A-Za-z.]+$", text[:index])
    return bool(word) and word[0].lower().rstrip(".") in {"e.g", "i.e", "vs", "etc", "al", "approx"}


def _mask_parentheses(text: str) -> str:
    """The text with every separator inside parentheses or brackets blanked (same length, same offsets)."""
    if "(" not in text and "[" not in text:
        return text
    out: list[str] = []
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif depth and ch in ",;:.":
            ch = " "
        out.append(ch)
    return "".join(out)


def _row_cells(text: str) -> tuple[int, int] | None:
    """The inside of a table row's parenthesis, "Name (Column: value, value; Column: value)": a parenthesis that
    closes the statement and holds a column label. Its lists are the statement's content, not an aside."""
    stripped = text.rstrip(". ")
    if not stripped.endswith(")"):
        return None
    depth = 0
    for index in range(len(stripped) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(stripped[index], 0)
        if depth == 0:
            inner = (index + 1, len(stripped) - 1)
            return inner if ":" in text[inner[0]:inner[1]] else None
    return None


def _segments(text: str, start: int, end: int, separator: str) -> list[tuple[str, int, int]]:
    pieces: list[tuple[str, int, int]] = []
    position = start
    for match in re.finditer(separator, text[start:end]):
        pieces.append((text[position:start + match.start()], position, start + match.start()))
        position = start + match.end()
    pieces.append((text[position:end], position, end))
    return pieces


def _words(segment: str) -> list[str]:
    return _PARENTHESIS_RE.sub(" ", segment).lower().split()


def _is_item(segment: str, closing: str, max_words: int = _MAX_ITEM_WORDS) -> bool:
    """A middle segment of a list: one short noun phrase. A leading preposition is allowed only when the closing
    item repeats it ("in the liver, in the spleen, and in bone")."""
    words = _words(segment)
    if not 1 <= len(words) <= max_words or words[0] in _NOT_ITEM_START or _VERBS.intersection(words):
        return False
    if len(words) == 1 and words[0].endswith("ly"):  # "Clinically, …"
        return False
    if words[0] in _PREPOSITIONS:
        closing_words = _words(re.sub(r"^(?:and|or)\s+", "", closing.strip(), flags=re.IGNORECASE))
        return bool(closing_words) and closing_words[0] == words[0]
    return True


def _is_introductory(segment: str) -> bool:
    words = _words(segment)
    return len(words) == 1 and (words[0] in _NOT_ITEM_START or words[0].endswith("ly"))


def _longest_list(text: str) -> tuple[int, tuple[int, int]] | None:
    if text.count(",") + text.count(";") < 2:
        return None
    best: tuple[int, tuple[int, int]] | None = None
    masked = _mask_parentheses(text)
    regions = [(masked, 0, len(text))]
    cells = _row_cells(text)
    if cells:
        regions.append((text[:cells[0]] + _mask_parentheses(text[cells[0]:cells[1]]) + text[cells[1]:], *cells))
    for source, start, end in regions:
        # clauses end at ":" and at sentence ends; items of a clause are separated by "; " (long items) or ", "
        for clause in re.finditer(r"[^:]+", source[start:end]):
            for sentence in re.finditer(r".+?(?:[.!?](?=\s+[A-Z])|$)", clause.group(0)):
                offset = start + clause.start() + sentence.start()
                parts = _segments(source, offset, offset + len(sentence.group(0)), r";\s+")
                found = list(_lists(parts, max_words=2 * _MAX_ITEM_WORDS))
                for _, part_start, part_end in parts:
                    found += _lists(_segments(source, part_start, part_end, r",\s+"))
                for count, span in found:
                    if best is None or count > best[0]:
                        best = (count, span)
    return best


def _lists(segments: list[tuple[str, int, int]], max_words: int = _MAX_ITEM_WORDS
           ) -> Iterator[tuple[int, tuple[int, int]]]:
    """(item count, span) of every list that closes in one of these segments, and of a list without a conjunction
    that opens the clause ("Toe, ankle, knee, wrist; …": every segment from the first is an item; a
    segment after them holds the last item)."""
    run = 0
    while run < len(segments) and _is_item(segments[run][0], "", max_words):
        run += 1
    if run >= 3:
        last = min(run, len(segments) - 1)
        yield run + (run < len(segments)), (segments[0][1], segments[last][2])
    for j in range(1, len(segments)):
        closing = segments[j][0].strip()
        oxford = bool(_CONJUNCTION_RE.match(closing))
        if not oxford and not _INNER_CONJUNCTION_RE.search(closing):
            continue
        k = j - 1
        while k > 0 and _is_item(segments[k][0], closing, max_words):
            k -= 1
        middles = j - k - 1
        if _is_introductory(segments[k][0]):  # "Clinically, fever, rash, and …": the first segment holds no item
            k, middles = k + 1, middles - 1
            if middles < 0:
                continue
        if not oxford:
            # "A, B and C": the last segment holds the last pair; needs a middle item to be a list at all
            head, tail = _INNER_CONJUNCTION_RE.split(closing, maxsplit=1)
            tail_words = _words(tail)
            # "…, warm joint and may need drainage": the "and" joins a verb phrase, not a last item
            if middles == 0 or not _is_item(head, closing, max_words) or not tail_words or tail_words[0] in _VERBS:
                continue
            yield middles + 3, (segments[k][1], segments[j][2])
        else:
            yield middles + 2, (segments[k][1], segments[j][2])


def _numbered_list(text: str) -> bool:
    """Two list labels in order ("(1) … (2)", "(a) … (b)", "(i) … (ii)"); a repeated footnote mark "(a) … (a)"
    is not a list."""
    labels = [_label_rank(label) for label in _NUMBERED_RE.findall(text)]
    return any(b == (kind, rank + 1) for index, (kind, rank) in enumerate(labels) for b in labels[index + 1:])


def _label_rank(label: str) -> tuple[str, int]:
    if label.isdigit():
        return "digit", int(label)
    if label in _ROMAN:
        # "(i)" is a roman one or a letter; "(ii)" and "(iii)" only roman
        return "roman", _ROMAN[label]
    return "letter", ord(label) - ord("a") + 1


def check_enumeration(item: Statement) -> Iterator[Issue]:
    text = item.statement
    if _numbered_list(text) or _ORDINAL_LIST_RE.search(text):
        yield _issue("numbered_list", "warning", "a numbered list in one statement", None, "enumeration")
    match = _COUNT_RE.search(text)
    if match:
        yield _issue("explicit_count", "info", f"{match.group(0)!r}: a counted list; every item must be present",
                     match.span(), "enumeration")
    placed, _ = place_candidates(text, [c for c in item.cloze_candidates if c])
    positions = sorted((p.start, p.end) for p in placed)
    gaps: list[str] = []
    for (_, end_a), (start_b, _) in zip(positions, positions[1:]):
        gap = text[end_a:start_b]
        gaps = [*gaps, gap] if _LIST_GAP_RE.fullmatch(gap) else []
        # a real list: "A, B, and C" or "A, B, C" (not "In A, B and C", an introductory phrase before a pair)
        if len(gaps) >= 2 and (sum("," in g for g in gaps) >= 2 or any(re.match(r",\s*(?:and|or)\s", g) for g in gaps)):
            yield _issue("cloze_sequence", "warning", "three or more cloze candidates are items of one list",
                         None, "enumeration", field="cloze_candidates")
            break
