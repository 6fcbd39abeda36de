"""The offline extractor: deterministic, rule-based, no API key needed.

It is a real, labelled fallback (outputs say "extractor": "offline"), not a test double. Each sentence of the
critique and key points is cut into atomic statements (clauses joined by ";", ", but", ", and", ", although",
"whereas", and a second verb phrase of the same subject, which gets the subject repeated); option citations and
parenthetical asides are dropped. A statement is kept only when it stands alone on a card: one that narrates the
case (its patient, the answer options, "would" counterfactuals, what its images show), points back to an earlier
sentence ("This …", "also", "it" unless the sentence before names it, "the disease"), opens with a subject too
generic to stand alone ("Patients may present with …", "Early management …"), opens on a condition without naming
its disease, or runs past MAX_WORDS is skipped, never rewritten into a general claim; and only when
`offline_cloze` finds it a whole, specific term that one answer fits (else it makes no card). Each educational
table row becomes one statement with the caption as its extra_field, unless its subject is a value or its cells give
the subject away. It never writes an extra_field for prose, because it cannot tell explanation from fact.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from rapidfuzz import fuzz

from mksap_assets.domain.extraction.offline_cloze import pick_cloze_candidates
from mksap_assets.domain.inputs.bank import RawQuestion
from mksap_assets.domain.inputs.tables import ParsedTable
from mksap_assets.domain.nlp import parsing
from mksap_assets.domain.nlp.lexicon import find_terms
from mksap_assets.domain.statements import Extraction, Statement, TableStatement
from mksap_assets.domain.text import (
    normalise_comparators,
    normalise_whitespace,
    strip_option_citations,
)
from mksap_assets.domain.validation.card_checks import c1_giveaways, cloze_fault

OFFLINE_EXTRACTOR_VERSION = "5"
# Offline "prompt" = these rules; the version lets the fingerprint change when they do.
OFFLINE_RULES_VERSION = hashlib.sha256(f"offline-rules-{OFFLINE_EXTRACTOR_VERSION}".encode()).hexdigest()[:12]

MIN_WORDS = 5
MAX_WORDS = 28  # a longer statement carries several facts or a case's detail: no card to learn in one look
MAX_TABLE_ROWS = 10
MAX_TABLE_ROW_WORDS = 50  # a row longer than this is a paragraph of dosing detail, not one card
MAX_ROW_SUBJECT_WORDS = 8  # a longer first cell is a description, not an answer to recall
MIN_ROW_VALUE_WORDS = 3  # cells shorter than this ("Variable; bland") fit several rows: no single answer

# The case, not a general fact: its patient ("this acutely symptomatic patient", "the patient's"), pronouns for
# that patient, pointers at the case, its answer options and what "would" happen to it.
_CASE_NARRATIVE_RE = re.compile(
    r"\b(?:this|the|our|such)\s+(?:[\w-]+\s+){0,3}?(?:patient|woman|man|child|boy|girl|infant)(?:'s)?\b"
    r"|\b(?:she|he|her|his|him|hers|herself|himself)\b"
    r"|\b(?:described here|here|in this case|this case|this scenario|this presentation|at this time)\b"
    # "the most appropriate …", "the most likely diagnosis" answer the case unless they say for which condition
    r"|\bmost (?:appropriate|likely (?:diagnosis|cause))(?!(?:\s[\w-]+){0,2}\s(?:for|in|of)\s(?!this|the\b))"
    r"|\b(?:options?\s+[A-H]\b|next step|best (?:choice|option|answer)|correct answer|incorrect)"
    r"|\b(?:would|was admitted|presented with|was started|was treated|was given|has yet to|on examination)\b"
    # what the case's images show: "Chest radiographs demonstrate …", "The slide shows …"
    r"|^(?:[\w-]+\s+){0,3}(?:radiographs?|MRI|CT(?: scan)?|imaging|ECG|electrocardiogram|ultrasound|biopsy|scan"
    r"|slide|image|smear|photograph|spirometry|pulmonary function testing|urinalysis|echocardiogram|echocardiography"
    r"|laboratory studies|laboratory tests|studies|analysis)s?\s+(?:(?:may|can|will|often|usually|typically)\s+)?"
    r"(?:demonstrates?|shows?|reveals?)\b"
    r"|\bnow\.$|\breproduced with permission\b|\bcourtesy of\b",
    re.IGNORECASE,
)
# A statement whose subject or link is in an earlier sentence ("This makes it …", "Likewise, …", "these agents").
_ANAPHORA_RE = re.compile(
    r"^(?:It|Its|This|These|Those|They|Their|Them|That|Such|Neither|None|Both|Either|Likewise|Similarly|Otherwise"
    r"|Instead|Here|Then|So|Thus|Hence|Alternatively|In comparison|Accordingly|As such|Subsequently|Afterward|Later"
    r"|Further|Other|Unlike"
    r"|As a result|The resultant|The latter|The former|The remaining|The other|And|But|Or|Nor)\b"
    r"|\b(?:this|these|those|the latter|the former|the same)\b"
    r"|\bsee (?:Table|Figure)\b|\b(?:make|for|establish) (?:the |a )?diagnosis\.$"
    # "also" adds to what an earlier sentence said ("… may also be present"); "the disease" is the one in the case
    r"|\b(?:also|still|another|therefore|thus|hence)\b|\b(?:it|its|they|their|them)\b|\bthe diagnosis\b(?!\s+of\b)"
    r"|\b(?:the|this|that) (?:disease|condition|disorder|infection|syndrome|illness|organism|drug"
    r"|medication|agent|procedure|tumor|lesion|wound|device|test)s?\b(?!\s+(?:of|in|caused|called|known)\b)"
    # a proportion of the cases of what the sentence does not name: "present in 57% of cases"
    r"|\b(?:of|in) (?:all |most |many |some |the )?cases\b(?!\s+(?:of|with)\b)",
    re.IGNORECASE,
)
# A subject so generic that the statement needs the previous sentence to say what it is about ("Patients may
# present with fever …", "Treatment is …", "Occasionally, a rash …"); "Treatment of X" / "Patients with X" name it.
_GENERIC_SUBJECT_RE = re.compile(
    r"^(?:Occasionally|Typically|Usually|Rarely|Often|Sometimes|Clinically)\b"
    r"|^(?:The\s+|Most\s+|No\s+one\s+)?(?:(?:typical|common|physical|laboratory|clinical|early|primary|initial"
    r"|urinary|first-line|plain|advanced|individualized|asymptomatic|other|further|additional|definitive|routine"
    r"|specific)\s+)?"
    r"(?:patients|treatment|therapy|management|diagnosis|symptoms|signs|findings|results|prognosis|evaluation"
    r"|testing|diagnostic testing|test|tests|imaging|radiographs|goals|stages|risk factors|incubation period"
    r"|illness|disease|infection|onset|recovery|lesions|rash|manifestations|features|complications|the condition"
    # an attribute of something the sentence does not name: "The starting dose should be …", "The rate can be …"
    r"|(?:starting\s+|maximum\s+|daily\s+|respiration\s+|respiratory\s+)?(?:dose|dosage|rate|duration|interval"
    r"|frequency|target|threshold|level|concentration))"
    r"(?:\s+(?:choice|options?|course|goal|approach))?\b(?!\s+(?:with|of|for|in|due)\b)",
    re.IGNORECASE,
)
# Connectives that carry no meaning of their own once the statement stands alone (a contrast with the case
# before it leaves a general statement behind: "In contrast, X commonly shows Y").
_LEADING_CONNECTIVE_RE = re.compile(
    r"^(?:However|Additionally|Also|Furthermore|Moreover|Therefore|In addition|Consequently|Notably|Importantly"
    r"|In contrast|By contrast|Conversely"
    r"|Overall|In general|Generally|Of note|Finally|First|Second|Third|Indeed)\s*,\s*",
    re.IGNORECASE,
)
# Asides in parentheses: examples, conversions, "formerly known as …". A bare abbreviation "(PSC)" is kept: it
# is how the source names the term, and the cloze blanks it with its long form.
_PARENTHETICAL_RE = re.compile(r"\s*\((?![A-Z][A-Za-z0-9-]{0,9}s?\))[^()]*\)|\s*\[[^\[\]]*\]")

_AUX = (
    r"is|are|can|may|might|should|must|will|does|do|has|have|often|also|usually|typically|generally|remains?"
    r"|cannot|requires?|causes?|results?|leads?|occurs?|includes?|reduces?|increases?|improves?|presents?"
)
_FINITE_RE = re.compile(rf"\b(?:{_AUX}|was|were|had|did|could|would)\b", re.IGNORECASE)
# A subject that can be repeated before a second verb phrase: a short noun phrase at the start of the sentence.
_SUBJECT_RE = re.compile(rf"^((?:[\w-]+\s+){{0,5}}?[\w-]+)\s+(?=(?:{_AUX})\b)", re.IGNORECASE)
_NOT_A_SUBJECT_START = {
    "if", "when", "while", "because", "although", "though", "since", "unless", "after", "before", "during", "in",
    "on", "at", "for", "with", "by", "from", "to", "as", "of", "among", "despite", "until", "once", "whether",
}
# ", and" / ", but" / ", whereas" / ", while" / ", although" / "; " before an independent clause, or " and" / " but"
# before a second verb phrase of the same subject.
_CLAUSE_JOIN_RE = re.compile(r"\s*;\s+|,\s+(?:and|but|whereas|while|yet|although|though)\s+|\s+whereas\s+")
_VERB_PHRASE_JOIN_RE = re.compile(rf",?\s+(?:and|but)\s+(?=(?:{_AUX}|would|could)\b)", re.IGNORECASE)


def _clean(text: str) -> str:
    text = normalise_whitespace(_PARENTHETICAL_RE.sub("", strip_option_citations(text)))
    text = _LEADING_CONNECTIVE_RE.sub("", text.strip(" ,;:"))
    text = normalise_comparators(text)
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else f"{text}."


def _split_clauses(sentence: str) -> list[str]:
    """Independent clauses: cut where the right-hand side has a verb of its own and the join is not a list's end."""
    pieces: list[str] = []
    rest = sentence
    while True:
        cut = None
        for match in _CLAUSE_JOIN_RE.finditer(rest):
            left, right = rest[: match.start()], rest[match.end():]
            if ";" in match.group(0):
                clauses = _FINITE_RE.search(right) and _FINITE_RE.search(left)
            elif " and " in match.group(0):  # "A, B, and C is …" is a list, not two clauses
                clauses = "," not in left and _FINITE_RE.search(left) and _FINITE_RE.search(" ".join(right.split()[:6]))
            else:  # "but", "whereas", "while", "yet", "although" join clauses
                clauses = _FINITE_RE.search(" ".join(right.split()[:6]))
            if clauses:
                cut = match
                break
        if cut is None:
            pieces.append(rest)
            return pieces
        pieces.append(rest[: cut.start()])
        rest = rest[cut.end():]


def _plain_subject(clause: str) -> str | None:
    """The clause's subject when it is a short noun phrase at its start ("Bone lesions in myeloma"), else None."""
    subject = _SUBJECT_RE.match(clause)
    if subject is None or subject.group(1).split()[0].lower() in _NOT_A_SUBJECT_START:
        return None
    words = subject.group(1).split()
    while len(words) > 1 and words[-1].lower().endswith("ly"):  # "X transiently improves …": the adverb is not X
        words.pop()
    return " ".join(words)


def _resolve_pronoun(clause: str, first_clause: str) -> str:
    """'…, but it has no role …' -> '<subject of the sentence> has no role …' when its verb shows the same number
    (the pronoun may open the clause or, for the sentence before, the sentence: "It usually occurs in …")."""
    pronoun = re.match(r"(it|they)\s", clause, re.IGNORECASE)
    subject = _plain_subject(first_clause)
    if pronoun is None or subject is None or _EXPLETIVE_IT_RE.match(clause):
        return clause
    verb = first_clause[len(subject):].split()[0].lower()
    number = "it" if verb in ("is", "has", "does", "was") else "they" if verb in ("are", "have", "do", "were") else None
    return f"{subject} {clause[pronoun.end():]}" if pronoun.group(1).lower() == number else clause


# "It is important to …", "It is not recommended that …": no pronoun for a thing.
_EXPLETIVE_IT_RE = re.compile(r"it\s+(?:is|was)\s+(?:not\s+)?(?:\w+\s+){0,2}?(?:to|that)\b", re.IGNORECASE)


def _split_verb_phrases(clause: str) -> list[str]:
    """'X is A and may cause B' -> 'X is A', 'X may cause B' when X is a plain noun phrase at the start; with any
    other start the later verb phrases have no subject of their own and are left out (the first stays true)."""
    pieces = _VERB_PHRASE_JOIN_RE.split(clause)
    if len(pieces) == 1 or any(re.search(r"\b(?:which|who|that|whom)\b", p) for p in pieces[:-1]):
        return [clause]  # the join may be inside a relative clause
    subject = _plain_subject(clause)
    return [pieces[0]] if subject is None else [pieces[0], *(f"{subject} {piece}" for piece in pieces[1:])]


# A role with nothing it is a role for: "Clarithromycin, 500 mg twice daily, is an alternative." (to what?)
_ROLE_WITHOUT_COMPLEMENT_RE = re.compile(
    r"^(?!.*\b(?:for|in|to|of|with|when|if)\b).*\b(?:is|are)\s+(?:an?\s+|the\s+)?(?:alternative|option|first-line"
    r"|second-line|preferred|recommended|indicated|reasonable|appropriate)(?:\s+[\w-]+){0,2}\.$",
    re.IGNORECASE,
)
# A worked calculation (a case's own numbers): "… so the odds are 0.30/0.70 = 0.43".
# A slash between numbers is no sum: blood pressure "140/90 mm Hg", "FEV1/FVC 0.70".
_ARITHMETIC_RE = re.compile(r"\d\s*[×*]\s*\d|=\s*\d")
# A condition the sentence opens on: "If little or no change is seen at 3 months, …" is about the case's disease
# unless the sentence names one.
_CONDITIONAL_OPENING_RE = re.compile(r"^(?:If|When|Once|Unless|After|Until|Whenever)\b")


# A subordinate clause with no main clause after it ("Because X can result in Y."), or a parenthesis cut in two.
_FRAGMENT_RE = re.compile(r"^(?:Because|Although|Though|Since|While|Whereas|If|When|Unless)\b[^,]*$|\([^)]*$|^[^(]*\)")


def _names_its_subject(statement: str) -> bool:
    """A statement that opens on a condition names the disease, drug or abbreviated term it is about."""
    return not _CONDITIONAL_OPENING_RE.match(statement) or any(
        term.kind in ("disease", "drug", "abbreviation") for term in find_terms(statement))


def _plain_text(sentence: str) -> str:
    return _LEADING_CONNECTIVE_RE.sub("", normalise_whitespace(strip_option_citations(sentence)))


def atomic_statements(sentence: str, previous: str | None = None) -> list[str]:
    """The self-contained general facts of one source sentence, in order; [] for case narration.

    A sentence that opens on the case ("This patient has …, but a second … should be obtained") stays about the
    case after its first clause too, so nothing of it is kept; one that ends on it keeps its general clauses. A
    sentence that opens on "It" or "They" takes the subject of the `previous` sentence when the verbs agree ("Tinea
    cruris is … . It spares the scrotum." -> "Tinea cruris spares the scrotum."), else it is skipped."""
    text = _plain_text(sentence)
    if text.count(";") >= 2:
        return []  # an enumeration flattened into one line, not a statement
    if previous is not None:
        text = _resolve_pronoun(text, _split_clauses(_plain_text(previous))[0])
    clauses = _split_clauses(text)
    statements = []
    for position, clause in enumerate(clauses):
        clause = clause.strip(" ,;")
        for piece in _split_verb_phrases(_resolve_pronoun(clause, clauses[0]) if position else clause):
            statement = _clean(piece)
            if _CASE_NARRATIVE_RE.search(statement) and position == 0 and not statements:
                return []
            if (
                not MIN_WORDS <= len(statement.split()) <= MAX_WORDS
                or _CASE_NARRATIVE_RE.search(statement)
                or _ANAPHORA_RE.search(statement)
                or _GENERIC_SUBJECT_RE.search(statement)
                or not _names_its_subject(statement)
                or _FRAGMENT_RE.search(statement)
                or _ROLE_WITHOUT_COMPLEMENT_RE.search(statement)
                or _ARITHMETIC_RE.search(statement)
            ):
                continue
            statements.append(statement)
    return statements


def _prose_statements(sentences: list[str]) -> list[Statement]:
    """The atomic statements that have a cloze worth studying (a whole, specific term only one answer fits)."""
    statements = []
    for previous, sentence in zip([None, *sentences], sentences, strict=False):
        for text in atomic_statements(sentence, previous):
            candidates = pick_cloze_candidates(text)
            if candidates:
                statements.append(Statement(statement=text, extra_field=None, cloze_candidates=candidates))
    return statements


def table_row_statements(table: ParsedTable) -> list[TableStatement]:
    """One statement per body row: '<row subject> (<header>: <value>; …)', caption as extra_field.

    A leading cell that only numbers the row is not its subject (a row number is nothing to learn); a row whose
    subject is a value or shows in its own cells, or whose cells say too little to tell it from the other rows, is
    left out (`_row_subject_is_an_answer`, MIN_ROW_VALUE_WORDS)."""
    grid = table.grid()
    header_count = len(table.header_rows)
    headers = grid[header_count - 1] if header_count else []
    statements = []
    for row in grid[header_count:][:MAX_TABLE_ROWS]:
        first = 1 if len(row) > 1 and re.fullmatch(r"\s*\d+[.)]?\s*", row[0]) else 0
        if not row or not row[first].strip():
            continue
        subject = row[first].strip()
        parts = []
        for column, value in enumerate(row[first + 1:], start=first + 1):
            if not value.strip():
                continue
            label = headers[column].strip() if column < len(headers) else ""
            parts.append(f"{label}: {value.strip()}" if label else value.strip())
        if not parts:
            continue
        text = normalise_comparators(f"{subject} ({'; '.join(parts)})")
        if (len(text.split()) > MAX_TABLE_ROW_WORDS or sum(len(value.split()) for value in row[first + 1:])
                < MIN_ROW_VALUE_WORDS or not _row_subject_is_an_answer(text, subject)):
            continue
        statements.append(
            TableStatement(
                statement=text, extra_field=table.caption or None, cloze_candidates=[subject], table_source=table.source
            )
        )
    return _telling_rows_apart(_own_subjects(statements))


def _own_subjects(rows: list[TableStatement]) -> list[TableStatement]:
    """The rows whose subject no other row shares: a first column that groups rows ("Loop diuretics" beside
    furosemide and bumetanide) names a category, not the row's answer."""
    subjects = Counter(row.cloze_candidates[0].lower() for row in rows)
    return [row for row in rows if subjects[row.cloze_candidates[0].lower()] == 1]


MIN_ROW_DIFFERENCE = 10  # 100 - rapidfuzz's token_sort_ratio of two rows' cells: below it, both rows fit one card


def _telling_rows_apart(rows: list[TableStatement]) -> list[TableStatement]:
    """The rows whose cells no other row nearly repeats with the same numbers: two biologics with the same target,
    guideline and adverse effects make two cards either answer fits ("5 mg daily" and "500 mg daily" do not)."""
    cells = [row.statement[len(row.cloze_candidates[0]):] for row in rows]
    numbers = [re.findall(r"\d+(?:\.\d+)?", text) for text in cells]
    return [row for index, row in enumerate(rows) if not any(
        other != index and numbers[other] == numbers[index]
        and 100 - fuzz.token_sort_ratio(cells[index], cells[other]) < MIN_ROW_DIFFERENCE
        for other in range(len(rows)))]


def _row_subject_is_an_answer(text: str, subject: str) -> bool:
    """The row's subject makes a blank the rest of the row does not give away: it names something (not a value
    such as "<35" or "60-69", which no card could ask for without its column, nor a description of more than
    MAX_ROW_SUBJECT_WORDS words), is a whole term, and neither it nor
    a word of it shows in the row's cells (a row that repeats its subject, or "Adults with X" beside "in X")."""
    if subject not in text or re.match(r"[\d<>≤≥=~.+-]", subject) or len(subject.split()) > MAX_ROW_SUBJECT_WORDS:
        return False
    return not c1_giveaways(text, [subject]) and cloze_fault(text, 0, len(subject)) is None


class OfflineExtractor:
    name = "offline"
    model: str | None = None
    prompt_version = OFFLINE_RULES_VERSION

    async def aclose(self) -> None:
        return None

    async def extract(self, raw: RawQuestion) -> Extraction:
        critique_sentences, *key_point_sentences = parsing.split_sentences([raw.critique, *raw.key_points])
        table_statements = [s for table in raw.educational_tables for s in table_row_statements(table)]
        return Extraction(
            question_id=raw.question_id,
            extractor=self.name,
            model=self.model,
            prompt_version=self.prompt_version,
            from_critique=_prose_statements(critique_sentences),
            # each key point on its own: "It" never reaches back into another key point
            from_key_points=[s for sentences in key_point_sentences for s in _prose_statements(sentences)],
            table_statements=table_statements,
            tables_processed=len({s.table_source for s in table_statements}),
            tables_skipped=raw.lab_tables_skipped,
        )
