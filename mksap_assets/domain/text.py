"""Pure string clean-ups applied to question text, critiques and generated statements.

No spaCy, no I/O: every function is a fast regex pass (patterns compiled once at import).

The bank carries a little inline HTML ("<i>", "<sup>", "<small class="small-caps">", links), glues paragraphs
together without a space ("…the diagnosis.Patients with…") and list items without any separator ("…the
following:DrugsCrohn diseaseParasites…"), flattens exponents ("0.15 × 109/L"), cites answer options inline
("(Option C)"), and the statements we generate should use comparator symbols consistently.
The original system got two things wrong that these functions must not repeat (REFERENCE_SYSTEM §2.6):
its comparator rules ran shortest-first ("less than or equal to 30" became "< or = 30"), and it replaced
"approximately" with "~". Here the longest phrase always wins and only true comparators become symbols.

Bump ``NORMALISER_VERSION`` whenever the output of any function here changes for some input, so cached
downstream results keyed on it are recomputed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

__all__ = [
    "NORMALISER_VERSION",
    "MarkupError",
    "normalise_comparators",
    "normalise_exponents",
    "normalise_whitespace",
    "render_inline_markup",
    "render_superscript",
    "repair_glued_sentences",
    "split_glued_list_items",
    "strip_option_citations",
]

NORMALISER_VERSION = "2"

# ---------------------------------------------------------------------------------------------------------
# Whitespace
# ---------------------------------------------------------------------------------------------------------

# str-mode \s is Unicode-aware: it covers NBSP (U+00A0), thin/narrow spaces (U+2009, U+202F), tabs, newlines.
_WS_RE = re.compile(r"\s+")


def normalise_whitespace(text: str) -> str:
    """Collapse every run of whitespace (NBSP and other Unicode spaces included) to one space; strip."""
    return _WS_RE.sub(" ", text).strip()


# ---------------------------------------------------------------------------------------------------------
# Inline markup
# ---------------------------------------------------------------------------------------------------------

# A tag: "<" or "</" directly followed by a name, attributes, ">", where the name is an HTML element's (or a
# custom element's, with a "-"). Comparators are not tags: "<30 mL/min", "a < b", nor "<LLN but >60".
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(\s[^<>]*)?/?>")
_HTML_ELEMENTS = frozenset(
    """a abbr acronym address applet area article aside audio b base basefont bdi bdo bgsound big blink
    blockquote body br button canvas caption center cite code col colgroup data datalist dd del details dfn
    dialog dir div dl dt em embed fieldset figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6
    head header hgroup hr html i iframe image img input ins isindex kbd keygen label legend li link listing
    main map mark marquee math menu menuitem meta meter nav nobr noembed noframes noscript object ol optgroup
    option output p param picture plaintext portal pre progress q rb rp rt rtc ruby s samp script search
    section select slot small source span strike strong style sub summary sup svg table tbody td template
    textarea tfoot th thead time title tr track tt u ul var video wbr xmp""".split()
)
# The inline formatting the bank uses. Any other tag ("<script>", "<p>", "<iframe>") means the text is not
# what it claims to be.
_INLINE_MARKUP_TAGS = frozenset({"i", "b", "em", "strong", "sup", "sub", "small", "a", "br"})
_ATTRIBUTE_RE = re.compile(r"""([^\s=/>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]*))?""")
_SCRIPT_URL_RE = re.compile(r"^\s*(?:javascript|vbscript|data)\s*:", re.IGNORECASE)
# Entities need their ";": "AT&T" or "&not" in prose is text, not an entity.
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

# Superscripts: a footnote marker ("a", "a,b", "*", "†") or an exponent (a signed number).
_FOOTNOTE_MARK_RE = re.compile(r"^(?:[a-z]|[*†‡§¶#‖]+)(?:\s*,\s*(?:[a-z]|[*†‡§¶#‖]+))*$")
_EXPONENT_RE = re.compile(r"^[-−–+]?\d+(?:\.\d+)?$")
_OPENING_MARKS = tuple("([{/“‘-–")


class MarkupError(ValueError):
    """Markup that is not the bank's inline formatting (a script, a block element, an event handler…)."""


def render_superscript(before: str, content: str) -> str:
    """What ``<sup>content</sup>`` becomes when it follows the text ``before``.

    * an exponent (a signed number) after a digit: "^" and the number, the sign as "-":
      "10<sup>9</sup>" -> "10^9", "10<sup>−3</sup>" -> "10^-3";
    * a footnote marker (one lowercase letter, or *, †, ‡, §…, or a comma list of them): "(a)", after a
      space unless it opens the text or follows a space or an opening bracket: "Guideline<sup>a</sup>" ->
      "Guideline (a)" (a marker glued to a word would read as part of it);
    * anything else is glued as written: charges "Ca<sup>2+</sup>" -> "Ca2+", units "m<sup>2</sup>" -> "m2",
      ordinals "1<sup>st</sup>" -> "1st", "™".
    """
    text = _WS_RE.sub(" ", content).strip()
    if _EXPONENT_RE.match(text) and before[-1:].isdigit():
        return "^" + text.replace("−", "-").replace("–", "-")
    if _FOOTNOTE_MARK_RE.match(text):
        marker = "(" + text.replace(" ", "") + ")"
        glued = not before or before[-1].isspace() or before.endswith(_OPENING_MARKS)
        return marker if glued else " " + marker
    return text


def _decode_entities(text: str) -> str:
    return _ENTITY_RE.sub(lambda match: html.unescape(match.group(0)), text) if "&" in text else text


def _check_attributes(tag: str, attributes: str) -> None:
    for name, value in _ATTRIBUTE_RE.findall(attributes):
        if name.lower().startswith("on") or _SCRIPT_URL_RE.match(value.strip("\"'")):
            raise MarkupError(f"contains a script in markup ({tag[:60]!r}); question text must be plain text")


def _is_small_caps(attributes: str) -> bool:
    return any(
        name.lower() in ("class", "classname") and "small-caps" in value.lower().split()
        for name, value in ((n, v.strip("\"'")) for n, v in _ATTRIBUTE_RE.findall(attributes))
    )


def render_inline_markup(text: str) -> str:
    """Plain text from text carrying the bank's inline formatting; raises ``MarkupError`` on other markup.

    ``<i>``, ``<b>``, ``<em>``, ``<strong>``, ``<small>`` and ``<a href="…">`` keep their text (a link's URL is
    dropped); ``<small class="small-caps">`` is written in capitals ("D<small class="small-caps">lco</small>"
    -> "DLCO"); ``<sub>`` is glued ("H<sub>2</sub>O" -> "H2O"); ``<sup>`` follows ``render_superscript``
    ("10<sup>9</sup>/L" -> "10^9/L"); ``<br>`` is a space. Entities with their ";" are decoded ("&amp;" ->
    "&"). Unclosed elements end with the text, stray closing tags are ignored.

    Any other tag, an ``on…`` event attribute, a ``javascript:``/``data:`` URL, or markup that only appears
    once the entities are decoded ("&lt;script&gt;") raises ``MarkupError``.
    """
    if "<" not in text and "&" not in text:
        return text
    # One frame per open element: (tag name, small caps?, the pieces of its rendered content).
    frames: list[tuple[str, bool, list[str]]] = [("", False, [])]
    position = 0
    for match in _tags(text):
        frames[-1][2].append(_decode_entities(text[position:match.start()]))
        position = match.end()
        closing, name, attributes = match.group(1), match.group(2).lower(), match.group(3) or ""
        if name not in _INLINE_MARKUP_TAGS:
            raise MarkupError(f"contains HTML markup ({match.group(0)[:40]!r}); question text must be plain text")
        _check_attributes(match.group(0), attributes)
        if name == "br":
            frames[-1][2].append(" ")
        elif not closing:
            if not match.group(0).endswith("/>"):
                frames.append((name, name == "small" and _is_small_caps(attributes), []))
        elif any(frame[0] == name for frame in frames[1:]):
            while True:  # close the innermost open element of that name and any left open inside it
                closed = frames[-1][0]
                _close_frame(frames)
                if closed == name:
                    break
    frames[-1][2].append(_decode_entities(text[position:]))
    while len(frames) > 1:
        _close_frame(frames)
    rendered = "".join(frames[0][2])
    escaped = next(_tags(rendered), None)
    if escaped:
        raise MarkupError(f"contains escaped HTML markup ({escaped.group(0)[:40]!r}); question text must be plain text")
    return rendered


def _tags(text: str) -> Iterator[re.Match[str]]:
    for match in _TAG_RE.finditer(text):
        name = match.group(2).lower()
        if name in _HTML_ELEMENTS or "-" in name:
            yield match


def _close_frame(frames: list[tuple[str, bool, list[str]]]) -> None:
    name, small_caps, pieces = frames.pop()
    content = "".join(pieces)
    if small_caps:
        content = content.upper()
    elif name == "sup":
        content = render_superscript(_text_before(frames), content)
    elif name == "sub":
        content = _WS_RE.sub("", content)  # "H<sub> 2 </sub>O" is still "H2O"
    frames[-1][2].append(content)


def _text_before(frames: list[tuple[str, bool, list[str]]]) -> str:
    """The rendered text that ends where the element being closed began (only its end is ever read)."""
    for _, _, pieces in reversed(frames):
        for piece in reversed(pieces):
            if piece:
                return piece
    return ""


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
# Glued list items
# ---------------------------------------------------------------------------------------------------------

# Where the bank dropped a list's line breaks, each item runs into the next with no separator: "…the
# following:DrugsCrohn diseaseParasitesVasculitis…", "…in the legs and feetThis patient…", "…test (OGTT)Two
# abnormal…". Candidate boundaries, each directly followed by a capitalised word:
#   lower: after 3+ lowercase letters ("feetThis"; "McArdle", "pH", "IgG", "mmHg", "iPhone" have fewer);
#   a1c:   after "A1c" (an item "Hemoglobin A1c"), whose lowercase run is one letter;
#   paren: after a ")" closing 2+ characters ("(OGTT)Two"; not a "(R)" mark);
#   colon: after "word:", the list's lead-in ("following:Skin").
# The capital comes first in the pattern (the lookbehinds include it) so that the scan only stops at capitals:
# about ten times faster than trying the lookbehinds at every position.
_GLUED_ITEM_RE = re.compile(
    r"[A-Z](?=[a-z])"
    r"(?:(?P<lower>(?<=[a-z]{3}[A-Z]))|(?P<a1c>(?<=A1c[A-Z]))|(?P<paren>(?<=[^\s()]{2}\)[A-Z]))"
    r"|(?P<colon>(?<=[a-z]:[A-Z])))"
)
# A lowercase prefix joined to a capitalised word is a coinage, not two items: the CRAB mnemonic's
# "hyperCalcemia", "alphaGal".
_CAMEL_PREFIXES = frozenset(
    {
        "anti", "hyper", "hypo", "non", "pre", "post", "pseudo", "intra", "inter", "extra", "trans", "para",
        "peri", "poly", "semi", "micro", "macro", "multi", "mono", "neo", "sub", "super", "ultra", "endo",
        "epi", "retro", "alpha", "beta", "gamma", "delta", "kappa", "lambda",
    }
)
# Names written in camel case that a list split would break (devices, tests, brands, sites); names whose
# first hump has fewer than 3 lowercase letters ("McArdle", "DiGeorge", "PubMed") are never candidates.
_CAMEL_CASE_NAMES = (
    "FibroScan", "FibroTest", "MitraClip", "HeartMate", "GeneXpert", "PillCam", "ThinPrep", "SurePath",
    "MammaPrint", "FoundationOne", "HandiHaler", "DiskHaler", "AeroChamber", "FlexPen", "KwikPen", "SoloStar",
    "CellCept", "NovoLog", "HumaLog", "NovoSeven", "LifeVest", "CoreValve", "FreeStyle", "OmniPod",
    "GlaxoSmithKline", "ClinicalTrials", "MedlinePlus", "StatPearls", "PowerPoint", "WhatsApp", "GoodRx",
)
# No word boundary around them: in a glued list a name follows the previous item directly ("…ClipHeartMate…").
_CAMEL_CASE_NAME_RE = re.compile("|".join(_CAMEL_CASE_NAMES))


_SENTENCE_END_RE = re.compile(r"[.!?]\s")


def _after_a_colon(text: str, at: int) -> bool:
    """A colon comes before `at` in its sentence: the boundary at `at` separates items of the colon's list."""
    sentence_start = max((m.end() for m in _SENTENCE_END_RE.finditer(text, 0, at)), default=0)
    return ":" in text[sentence_start:at]


def split_glued_list_items(text: str) -> str:
    """End each list item that runs into the next, and put a space after a list's glued colon.

    "…the following:DrugsCrohn diseaseParasites…" -> "…the following: Drugs; Crohn disease; Parasites…": the items of
    a list led in by a colon in the same sentence are separated by "; ", so they stay in the sentence of their
    lead-in and a statement about one item is read with what the list is of ("contraindications to X include the
    following: …"). Elsewhere the boundary may as well end a sentence ("…radiographThe result…"): ". ".
    A boundary is a capitalised word ("Parasites", not "MRI") directly after 3+ lowercase letters, after
    "A1c", after a ")" closing 2+ characters, or after "word:". A capitalised item ("Drugs", "Vasculitis")
    is only split from the next when a boundary was already found earlier in the same run of non-space
    characters, so a camel-case name on its own ("FibroScan") is left alone; so are the camel-case names
    known to this module, in a list or not ("MitraClip"), lowercase prefixes ("hyperCalcemia"), words with
    a short lowercase run ("McArdle", "pH", "IgG", "HbA1c", "mL", "DLco", "eGFR", "SpO2", "NaCl", "iPhone",
    "LaPlace") and URLs.
    """
    if not text:
        return text
    pieces: list[str] = []
    copied = 0  # text[:copied] is in pieces
    split_at = -1  # the last boundary found
    names: list[tuple[int, int]] | None = None  # spans of the camel-case names, found on first need
    for match in _GLUED_ITEM_RE.finditer(text):
        at = match.start()
        kind = match.lastgroup  # the groups are empty lookbehinds: only the name tells which one matched
        if kind in ("lower", "a1c"):
            word = _word_before(text, at)
            if word.islower() and word in _CAMEL_PREFIXES:
                continue
            if word[0].isupper() and not (split_at >= 0 and not _WS_RE.search(text, split_at, at)):
                continue
            if names is None:
                names = [m.span() for m in _CAMEL_CASE_NAME_RE.finditer(text)]
            if any(start < at < end for start, end in names):
                continue
        if _in_url(text, at):
            continue
        pieces.append(text[copied:at])
        pieces.append(" " if kind == "colon" else "; " if _after_a_colon(text, at) else ". ")
        copied = split_at = at
    if not pieces:
        return text
    pieces.append(text[copied:])
    return "".join(pieces)


def _word_before(text: str, at: int) -> str:
    """The run of ASCII letters that ends at ``at``."""
    start = at
    while start > 0 and text[start - 1].isascii() and text[start - 1].isalpha():
        start -= 1
    return text[start:at]


def _in_url(text: str, at: int) -> bool:
    start = at
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    end = at
    while end < len(text) and not text[end].isspace():
        end += 1
    return bool(_URL_RE.search(text, start, end))


# ---------------------------------------------------------------------------------------------------------
# Exponents
# ---------------------------------------------------------------------------------------------------------

_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
# "10⁹", "10⁻³": a power of ten written with Unicode superscripts.
_UNICODE_POWER_RE = re.compile(r"(?<![\d.])10([⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
# A cell count whose superscript was flattened upstream: "0.15 × 109/L", "250 x 103/µL", "12 × 10 6/L".
# Only these exponents and only before "/L" or "/µL", where "× 109" cannot mean one hundred and nine.
_FLAT_POWER_RE = re.compile(
    r"(?<![\w.])(\d+(?:[.,]\d+)*\s?[×xX]\s?)10\s?(9|6|3|12)(?=\s?/\s?[µμu]?L(?![A-Za-z]))"
)


def normalise_exponents(text: str) -> str:
    """Write every power of ten as "10^n", so "× 10^9/L", "× 10⁹/L" and "× 109/L" all read the same.

    "0.15 × 109/L" -> "0.15 × 10^9/L" (a flattened superscript: the exponents 9, 6, 3 and 12 of a count
    per litre or microlitre, after a number and "×" or "x"); "10⁹/L" -> "10^9/L"; "10⁻³" -> "10^-3". Text
    already written "10^9" is unchanged. Apply it to source text and statements alike, so that
    ``nlp.rules.find_quantities`` reads the same value and unit from both.
    """
    if "10" not in text:
        return text
    text = _FLAT_POWER_RE.sub(r"\g<1>10^\2", text)
    return _UNICODE_POWER_RE.sub(lambda m: "10^" + m.group(1).translate(_SUPERSCRIPT_DIGITS), text)


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
