"""Pure string clean-ups applied to question text, critiques and generated statements.

No spaCy, no I/O: every function is a fast regex pass (patterns compiled once at import).

The bank glues paragraphs together without a space ("…the diagnosis.Patients with…"), cites answer
options inline ("(Option C)"), and the statements we generate should use comparator symbols consistently.
The original system got two things wrong that these functions must not repeat (REFERENCE_SYSTEM §2.6):
its comparator rules ran shortest-first ("less than or equal to 30" became "< or = 30"), and it replaced
"approximately" with "~". Here the longest phrase always wins and only true comparators become symbols.

Bump ``NORMALISER_VERSION`` whenever the output of any function here changes for some input, so cached
downstream results keyed on it are recomputed.
"""

from __future__ import annotations

import re

__all__ = [
    "NORMALISER_VERSION",
    "normalise_comparators",
    "normalise_whitespace",
    "repair_glued_sentences",
    "strip_option_citations",
]

NORMALISER_VERSION = "1"

# ---------------------------------------------------------------------------------------------------------
# Whitespace
# ---------------------------------------------------------------------------------------------------------

# str-mode \s is Unicode-aware: it covers NBSP (U+00A0), thin/narrow spaces (U+2009, U+202F), tabs, newlines.
_WS_RE = re.compile(r"\s+")


def normalise_whitespace(text: str) -> str:
    """Collapse every run of whitespace (NBSP and other Unicode spaces included) to one space; strip."""
    return _WS_RE.sub(" ", text).strip()


# ---------------------------------------------------------------------------------------------------------
# Glued sentences
# ---------------------------------------------------------------------------------------------------------

# Candidate boundary: a sentence-final mark directly after a word character, ")", "]" or "%", directly
# followed by what looks like the start of a sentence: a capitalised word ("Patients"), an acronym of two
# or more capitals ("ECG", "MELD") or the article "A" followed by a space.
# Whether it really is a boundary is decided by _is_boundary() from the token before the mark.
_GLUE_RE = re.compile(
    r"(?<=[A-Za-z0-9)\]%\u00C0-\u024F\u0370-\u03FF])"
    r"([.?!])"
    r"(?=[A-Z][a-z\u00DF-\u00FF]|[A-Z]{2}|A\s)"
)

# Tokens (the non-space run before the mark, leading brackets/quotes removed) that are abbreviations:
# a period after them does not end a sentence. Case-sensitive on purpose ("Ms." vs "MS." = multiple
# sclerosis). Single letters and dotted forms (e.g., i.e., U.S., i.v., J.A.) are handled by rule, not here.
_ABBREVIATIONS = frozenset(
    {
        "Dr", "Drs", "Mr", "Mrs", "Ms", "Mx", "Prof", "Jr", "Sr", "St", "Mt", "Rev",
        "vs", "Vs", "al", "approx", "Approx", "cf", "Cf", "eg", "ie", "viz", "resp", "incl",
        "Fig", "fig", "Figs", "figs", "Eq", "eq", "Ref", "ref", "Refs", "Vol", "vol", "Ed", "ed", "Eds",
        "eds", "pp", "Suppl", "suppl", "sp", "spp", "ssp", "subsp", "var", "Inc", "Ltd", "Corp", "Dept",
        "Univ", "Assoc",
    }
)
# A single capital after one of these is an initial ("by J.Smith"), not "vitamin D." ending a sentence.
_INITIAL_CONTEXT = frozenset({"by", "and", "with", "from", "to", "of", "per", "see", "&"})

# A dotted abbreviation ending at the mark: "e.g", "i.e", "U.S", "i.v", "a.m", "Ph.D", "J.A".
_DOTTED_ABBREV_RE = re.compile(r"(?:^|[^A-Za-z])(?:[A-Za-z]{1,2}\.)+[A-Za-z]{1,2}$")
# Anything URL- or DOI-like in the whitespace-delimited chunk: leave it alone entirely.
_URL_RE = re.compile(
    r"(?i:[a-z][a-z0-9+.-]*://|\bwww\.|\bdoi:|\b10\.\d{4,9}/|@)"
    # top-level domains / file extensions: lowercase only, so "…positive.Net benefit" is still a boundary
    r"|\.(?:com|org|gov|edu|net|html?|pdf)\b"
)
# Leading characters that are not part of the token ("(COPD" -> "COPD").
_TOKEN_LEAD_RE = re.compile(r"^[(\[{\"'“‘]+")
_ALL_CAPS_RE = re.compile(r"^[A-Z][A-Z0-9]*$")


def _is_boundary(text: str, mark: int) -> bool:
    """Is the mark at index ``mark`` (followed by a capital) the end of a sentence?"""
    start = mark
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    end = mark + 1
    while end < len(text) and not text[end].isspace():
        end += 1
    if _URL_RE.search(text, start, end):
        return False

    raw_token = text[start:mark]
    if raw_token.endswith((".", "…")):  # ellipsis or a stray double mark: leave it alone
        return False
    if _DOTTED_ABBREV_RE.search(raw_token):
        return False
    token = _TOKEN_LEAD_RE.sub("", raw_token)
    if not token:
        return False
    if token in _ABBREVIATIONS:
        return False

    last = token[-1]
    if last.isdigit() or last in ")]%":
        return True
    if len(token) == 1:
        if last.islower():  # "p.Val600Glu", "c.Ala" and other one-letter prefixes
            return False
        # One capital: an initial ("Smith J.Title") unless the word before is lowercase ("vitamin D.On").
        previous = text[:start].rstrip().rsplit(" ", 1)[-1] if start else ""
        previous = _TOKEN_LEAD_RE.sub("", previous)
        return (
            bool(previous)
            and previous[0].islower()
            and previous not in _ABBREVIATIONS
            and previous not in _INITIAL_CONTEXT
        )
    if last.isupper() and _ALL_CAPS_RE.match(token) and len(token) <= 3:
        # Two or three capitals after a capitalised word look like citation initials ("Smith JA.Title");
        # after anything else they are an acronym ending a sentence ("with COPD.Asthma", "and CKD.A").
        previous = text[:start].rstrip().rsplit(" ", 1)[-1] if start else ""
        previous = _TOKEN_LEAD_RE.sub("", previous)
        if previous[:1].isupper() and previous[1:2].islower() and previous.isalpha():
            return False
    # Lowercase endings ("diagnosis", "Hg"), units ending in a capital ("mg/dL", "U/L"), acronyms.
    return True


def repair_glued_sentences(text: str) -> str:
    """Insert the missing space where two sentences were glued together.

    "confirms the diagnosis.Patients" -> "confirms the diagnosis. Patients"; likewise after digits
    ("5.5 mg/dL.Repeat"), ")" ("(Option C).The"), "%", "]", units and acronyms. Decimals, dotted
    abbreviations (e.g., i.e., U.S., i.v.), listed abbreviations (vs., Dr., et al.), initials, URLs/DOIs
    and ellipses are left untouched. Colons are never touched. Nothing else in the text changes.
    """
    if not text:
        return text

    def _fix(match: re.Match[str]) -> str:
        mark = match.group(1)
        return mark + " " if _is_boundary(match.string, match.start(1)) else mark

    return _GLUE_RE.sub(_fix, text)


# ---------------------------------------------------------------------------------------------------------
# Option citations
# ---------------------------------------------------------------------------------------------------------

_OPTION_LETTER = r"[A-H]\b"
_OPTION_SEP = r"(?:\s*,\s*(?:(?:and|or)\s+)?|\s+(?:and|or|&)\s+|\s*[-–/]\s*)"
_OPTION_CITATION_RE = re.compile(
    r"(\s*)\(\s*Options?\s+"
    + _OPTION_LETTER
    + r"(?:" + _OPTION_SEP + r"(?:Options?\s+)?" + _OPTION_LETTER + r")*"
    + r"\s*\)(\s*)",
    re.IGNORECASE,
)
_CLOSING_PUNCT = ".,;:!?)]}"


def strip_option_citations(text: str) -> str:
    """Remove "(Option A)", "(Options A and C)", "(Options A, B, and D)" and the space before them.

    No double space and no space before punctuation is left where a citation was removed; the rest of
    the text is not touched.
    """
    if not text:
        return text

    def _fix(match: re.Match[str]) -> str:
        s = match.string
        before = s[match.start() - 1] if match.start() > 0 else ""
        after = s[match.end()] if match.end() < len(s) else ""
        if not before or before.isspace() or before in "([{":
            return ""  # start of text, or the spacing before the citation is kept already
        if not after or after in _CLOSING_PUNCT:
            return ""
        return " " if (match.group(1) or match.group(2)) else ""

    return _OPTION_CITATION_RE.sub(_fix, text)


# ---------------------------------------------------------------------------------------------------------
# Comparators
# ---------------------------------------------------------------------------------------------------------

# Longest phrases first: the alternation is tried left to right, so "less than or equal to" must come
# before "less than". "no/not less than" means "≥" (and vice versa); replacing only "less than" in it
# would invert the meaning into "not < 5".
_COMPARATORS: tuple[tuple[str, str], ...] = (
    ("greater than or equal to", "≥"),
    ("less than or equal to", "≤"),
    ("not greater than", "≤"),
    ("no greater than", "≤"),
    ("not less than", "≥"),
    ("no less than", "≥"),
    ("not equal to", "≠"),
    ("greater than", ">"),
    ("less than", "<"),
    ("plus or minus", "±"),
    ("plus-minus", "±"),
    ("plus/minus", "±"),
)
_SYMBOL_BY_PHRASE = {phrase: symbol for phrase, symbol in _COMPARATORS}


def _phrase_pattern(phrase: str) -> str:
    return r"\s+".join(re.escape(word) for word in phrase.split(" "))


_COMPARATOR_ALTERNATION = "|".join(
    _phrase_pattern(p) for p, _ in sorted(_COMPARATORS, key=lambda item: -len(item[0]))
)
# A numeric operand: optional sign/approximation mark, then a digit or ".5".
_NUMERIC_AHEAD = r"(?=\s*(?:[-−+~≈$]\s*)?(?:\d|\.\d))"
_COMPARATOR_ANY_RE = re.compile(rf"\b(?:{_COMPARATOR_ALTERNATION})\b", re.IGNORECASE)
_COMPARATOR_NUMERIC_RE = re.compile(
    rf"\b(?:{_COMPARATOR_ALTERNATION})\b{_NUMERIC_AHEAD}", re.IGNORECASE
)


def _comparator_symbol(match: re.Match[str]) -> str:
    return _SYMBOL_BY_PHRASE[_WS_RE.sub(" ", match.group(0)).lower()]


def normalise_comparators(text: str, *, numeric_only: bool = True) -> str:
    """Replace comparator phrases with symbols, the longest phrase first, case-insensitively.

    "less than or equal to 30" -> "≤ 30", "greater than or equal to" -> "≥", "not equal to" -> "≠",
    "less than" -> "<", "greater than" -> ">", "plus or minus" -> "±". "approximately", "at least" and
    "at most" stay words.

    With ``numeric_only`` (the default) a phrase is replaced only when a number follows it, so prose such
    as "less than ideal" or "greater than expected" is not turned into "< ideal".
    """
    if not text:
        return text
    pattern = _COMPARATOR_NUMERIC_RE if numeric_only else _COMPARATOR_ANY_RE
    return pattern.sub(_comparator_symbol, text)
