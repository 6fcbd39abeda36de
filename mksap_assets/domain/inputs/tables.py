"""Parse the bank's table HTML (React/JSX style) into a typed, span-aware table.

The files are pretty-printed JSX: ``className``/``rowSpan``/``colSpan`` attributes, cell text in one or
more ``<p>`` blocks, ``<sup>``/``<sub>``, ``<caption><p>…</p></caption>``, an optional ``<thead>`` and
``<th>`` row headers inside ``<tbody>`` (REFERENCE_SYSTEM §1.7).

Defects of the original parser that this module does not repeat (REFERENCE_SYSTEM §2.4, §7.4):

* the lab-table test looked for ``class`` (lxml lowercases ``className`` to ``classname``, so it never
  fired) and in practice decided on "has no ``<thead>``", losing the educational tables without one.
  Here: ``classify_table`` reads both attribute spellings, the lab cell classes, and only then falls back
  to the file name; ``<thead>`` plays no part;
* cell text was concatenated without separators ("profile; orMicrovascular", "95 × 109/L"). Here ``<p>``
  blocks are joined with "; " (or a space for a continuation), ``<sup>`` is rendered by the rule the
  question text uses (``text.render_superscript``: footnote letters " (a)", exponents "10^9"), exponents
  flattened in the source are repaired (``text.normalise_exponents``) and ``<small class="small-caps">``
  is written in capitals ("DLCO");
* row headers, rowSpan/colSpan, multi-row headers were dropped. Here they are kept and ``grid()``
  expands the spans;
* parse failures were swallowed. Here every failure is a ``TableParseError`` naming the field.

Pure module: lxml and pydantic only, no Dagster.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import lxml.etree
import lxml.html
from pydantic import BaseModel, ConfigDict, Field

from mksap_assets.domain.text import normalise_exponents, render_superscript

__all__ = [
    "TABLE_PARSER_VERSION",
    "ParsedTable",
    "TableCell",
    "TableKind",
    "TableParseError",
    "classify_table",
    "parse_table",
    "parse_table_bytes",
]

# Bump whenever parse_table/to_text output changes for some input (part of downstream cache keys).
TABLE_PARSER_VERSION = "2"

TableKind = Literal["lab_values", "educational"]

# HTML caps: colspan at 1000, rowspan at 65534 (rowspans are also clipped to their row group).
_MAX_COL_SPAN = 1000
_MAX_ROW_SPAN = 65534
# Real tables have at most a few hundred cells; expanding spans costs time and memory in the grid's area, so a larger
# grid is refused before it is built (`colspan="1000"` on a few hundred cells would take gigabytes).
MAX_TABLE_CELLS = 10_000
_CellId = tuple[int, int, int]  # (section, row, index in row): identifies one source cell in the grid


class TableParseError(ValueError):
    """A table that cannot be parsed. ``field`` names the part at fault ("file", "html", "table", "rows"…)."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def __reduce__(self):  # picklable across processes (default would call cls(str(self)))
        return (type(self), (self.field, self.message))


class TableCell(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    is_header: bool = False
    row_span: int = Field(default=1, ge=1)
    col_span: int = Field(default=1, ge=1)


class ParsedTable(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str
    kind: TableKind
    caption: str = ""
    header_rows: list[list[TableCell]] = Field(default_factory=list)
    body_rows: list[list[TableCell]] = Field(default_factory=list)

    def grid(self) -> list[list[str]]:
        """Header rows then body rows, spans expanded into a rectangle (spanned positions repeat the text).

        A rowSpan never crosses from the header into the body. Short rows are padded with "".
        """
        return [[text for text, _ in row] for row in self._expanded()]

    def to_text(self) -> str:
        """Plain-text rendering for an LLM prompt.

        The caption line (if any); the header rows " | "-joined; a "---" line (only when there is a
        header); then one " | "-joined line per body row. Values that a rowSpan carries down are repeated on every row, so each line stands alone; a
        colSpan cell is written once per line, not once per column; trailing empty cells are dropped.
        """
        expanded = self._expanded()
        n_header = len(self.header_rows)
        lines: list[str] = []
        if self.caption:
            lines.append(self.caption)
        for index, row in enumerate(expanded):
            if index == n_header and n_header:
                lines.append("---")
            texts: list[str] = []
            previous_id = None
            for text, cell_id in row:
                if cell_id is not None and cell_id == previous_id:
                    continue  # same colSpan cell as the column before
                previous_id = cell_id
                texts.append(text)
            while texts and not texts[-1]:
                texts.pop()
            lines.append(" | ".join(texts))
        return "\n".join(lines)

    def _expanded(self) -> list[list[tuple[str, _CellId | None]]]:
        sections = [_expand_section(self.header_rows, 0)]
        sections.append(_expand_section(self.body_rows, 1))
        rows = [row for section in sections for row in section]
        width = max((len(row) for row in rows), default=0)
        return [row + [("", None)] * (width - len(row)) for row in rows]


def _expand_section(
    rows: list[list[TableCell]], section: int
) -> list[list[tuple[str, _CellId | None]]]:
    """Place the cells of one row group on a grid; rowSpans are clipped to the group."""
    occupied: dict[tuple[int, int], tuple[str, _CellId | None]] = {}
    n_rows = len(rows)
    for r, row in enumerate(rows):
        c = 0
        for k, cell in enumerate(row):
            while (r, c) in occupied:
                c += 1
            cell_id = (section, r, k)
            for rr in range(r, min(r + cell.row_span, n_rows)):
                for cc in range(c, c + cell.col_span):
                    occupied.setdefault((rr, cc), (cell.text, cell_id))
            c += cell.col_span
    widths = [0] * n_rows
    for rr, cc in occupied:
        widths[rr] = max(widths[rr], cc + 1)
    return [[occupied.get((r, c), ("", None)) for c in range(widths[r])] for r in range(n_rows)]


# ---------------------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------------------


def _class_attr(element: lxml.html.HtmlElement) -> str:
    # lxml lowercases attribute names: JSX className arrives as "classname".
    return " ".join(v for v in (element.get("classname"), element.get("class")) if v)


def _is_tag(element, *names: str) -> bool:
    return isinstance(element.tag, str) and element.tag.lower() in names


def classify_table(table: lxml.html.HtmlElement | str, source: str = "") -> TableKind:
    """Lab-values or educational, never from ``<thead>``.

    Lab when the table's class contains "lab-values", or any cell carries a ``labValueCell*`` or
    ``highlow`` class, or (for unmarked tables only) the file name starts with "inline_table".
    Educational otherwise. ``table`` is a parsed ``<table>`` element or the HTML text.
    """
    if isinstance(table, str):
        table = _find_table(_parse_html(table))
    if "lab-values" in _class_attr(table).lower():
        return "lab_values"
    for cell in table.iter("td", "th"):
        classes = _class_attr(cell).lower()
        if "labvaluecell" in classes or "highlow" in classes.split():
            return "lab_values"
    if Path(source).name.lower().startswith("inline_table"):
        return "lab_values"
    return "educational"


# ---------------------------------------------------------------------------------------------------------
# Cell text
# ---------------------------------------------------------------------------------------------------------

_WS_RE = re.compile(r"\s+")
_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "ul", "ol", "br", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table",
     "tr", "td", "th", "dl", "dt", "dd", "hr", "pre"}
)
# Across an inline-element boundary with whitespace in the source (the files are pretty-printed, so
# there always is some), no space after an opening mark or before a closing one: "(MLH1/MSH2)".
_NO_SPACE_AFTER = tuple("([{/“‘-–")
_NO_SPACE_BEFORE = tuple(")]},;:.!?%/”’")
# A block ending like this continues in the next block: join with a space, not "; ".
_CONTINUATION_END = tuple(",;:([{/-–—&+")
_SENTENCE_END = tuple(".!?")
_CONNECTOR_WORDS = frozenset(
    {"and", "or", "nor", "but", "of", "to", "with", "without", "for", "in", "on", "at", "by", "from",
     "the", "a", "an", "than", "as", "vs", "versus", "plus", "minus", "including", "such", "if", "when",
     "that", "which", "is", "are", "was", "were", "be", "not", "into", "per", "via"}
)
_BREAK = object()


class _Text:
    __slots__ = ("kind", "text", "lead_ws", "trail_ws")

    def __init__(self, kind: str, raw: str):
        self.kind = kind  # "text" | "sup" | "sub"
        self.text = _WS_RE.sub(" ", raw).strip()
        self.lead_ws = raw[:1].isspace()
        self.trail_ws = raw[-1:].isspace()


def _tokens(element) -> Iterator[object]:
    """Text pieces of ``element`` in document order; _BREAK around block elements."""
    if element.text:
        yield _Text("text", element.text)
    for child in element:
        if not isinstance(child.tag, str):  # comment / processing instruction: skip it, keep its tail
            pass
        elif _is_tag(child, "sup", "sub"):
            yield _Text(child.tag.lower(), child.text_content())
        elif _is_tag(child, "small") and "small-caps" in _class_attr(child).lower().split():
            yield _Text("text", child.text_content().upper())
        elif _is_tag(child, *_BLOCK_TAGS):
            yield _BREAK
            yield from _tokens(child)
            yield _BREAK
        elif _is_tag(child, "script", "style"):
            pass
        else:
            yield from _tokens(child)  # inline: i, b, em, strong, span, a…
        if child.tail:
            yield _Text("text", child.tail)


def _render_block(pieces: list[_Text]) -> str:
    out = ""
    previous: _Text | None = None
    for piece in pieces:
        text = piece.text
        if not text:
            if previous is not None and piece.kind == "text" and (piece.lead_ws or piece.trail_ws):
                previous.trail_ws = True  # a whitespace-only node still separates its neighbours
            continue
        if piece.kind == "sub":
            out += text
        elif piece.kind == "sup":
            out += render_superscript(out, text)
        elif not out:
            out = text
        else:
            spaced = previous is not None and (previous.trail_ws or piece.lead_ws)
            spaced_dash = out.endswith(("-", "–")) and out[-2:-1] == " "  # "10 – 20", not "anti-Ro"
            if not spaced or text.startswith(_NO_SPACE_BEFORE):
                out += text
            elif out.endswith(_NO_SPACE_AFTER) and not spaced_dash:
                out += text
            else:
                out += " " + text
        previous = piece
    return out


def _join_blocks(blocks: list[str]) -> str:
    text = ""
    for block in blocks:
        if not text:
            text = block
            continue
        last_word = text.rsplit(" ", 1)[-1]  # case-sensitive: "Hepatitis A" is not the article "a"
        if block.startswith((",", ";", ".", ")", "]")):
            separator = ""
        elif text.endswith(_CONTINUATION_END) or text.endswith(_SENTENCE_END) or last_word in _CONNECTOR_WORDS:
            separator = " "
        else:
            separator = "; "
        text += separator + block
    return text


def element_text(element) -> str:
    """Readable text of a cell or caption: ``<p>`` blocks joined with "; " (a space for a continuation),
    footnote ``<sup>`` letters as " (a)", exponents as "10^9" (flattened ones "× 109/L" too), ``<sub>`` glued
    ("Pco2"), small capitals in capitals."""
    blocks: list[str] = []
    current: list[_Text] = []
    for token in _tokens(element):
        if token is _BREAK:
            if current:
                blocks.append(_render_block(current))
                current = []
        else:
            current.append(token)  # type: ignore[arg-type]
    if current:
        blocks.append(_render_block(current))
    return normalise_exponents(_join_blocks([b for b in blocks if b]))


# ---------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------

_XML_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*\?>")


def _parse_html(html: str | bytes):
    if isinstance(html, bytes):
        try:
            html = html.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TableParseError("html", f"HTML bytes are not UTF-8: {exc}") from exc
    if not isinstance(html, str):
        raise TableParseError("html", f"expected HTML text, got {type(html).__name__}")
    html = _XML_DECLARATION_RE.sub("", html)
    if not html.strip():
        raise TableParseError("html", "the HTML is empty")
    try:
        return lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError, TypeError) as exc:
        raise TableParseError("html", f"unparsable markup: {exc}") from exc


def _find_table(document):
    if _is_tag(document, "table"):
        return document
    table = next(document.iter("table"), None)
    if table is None:
        raise TableParseError("table", "no <table> element in the HTML")
    return table


def _span(value: str | None, maximum: int) -> int:
    """rowSpan/colSpan attribute value; missing, invalid or < 1 → 1 (0 is resolved by the caller)."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return 1
    if number < 0:
        return 1
    return min(number, maximum)


class _RawCell:
    __slots__ = ("text", "is_header", "row_span", "col_span")

    def __init__(self, text: str, is_header: bool, row_span: int, col_span: int):
        self.text, self.is_header, self.row_span, self.col_span = text, is_header, row_span, col_span


def _row_groups(table) -> tuple[list[list], list[list]]:
    """(header groups, body groups); each group is a list of <tr> elements of this table only."""
    header: list[list] = []
    body: list[list] = []
    loose: list = []
    for child in table:
        if _is_tag(child, "tr"):
            loose.append(child)
            continue
        if loose:
            body.append(loose)
            loose = []
        if _is_tag(child, "thead"):
            rows = [tr for tr in child if _is_tag(tr, "tr")]
            if rows:
                header.append(rows)
        elif _is_tag(child, "tbody", "tfoot"):
            rows = [tr for tr in child if _is_tag(tr, "tr")]
            if rows:
                body.append(rows)
    if loose:
        body.append(loose)
    return header, body


# Text the bank's authoring tool leaves in a cell that has none ("No short title" under an empty header): not data.
_PLACEHOLDER_CELLS = frozenset({"no short title"})


def _read_group(rows: list) -> list[list[_RawCell]]:
    """Cells of one row group, rowSpans clipped to the group and empty rows removed (spans adjusted)."""
    n_rows = len(rows)
    raw: list[list[_RawCell]] = []
    for r, tr in enumerate(rows):
        cells: list[_RawCell] = []
        for td in tr:
            if not _is_tag(td, "td", "th"):
                continue
            remaining = n_rows - r
            row_span = _span(td.get("rowspan"), _MAX_ROW_SPAN)
            row_span = remaining if row_span == 0 else min(row_span, remaining)
            col_span = max(_span(td.get("colspan"), _MAX_COL_SPAN), 1)
            text = element_text(td)
            text = "" if text.casefold() in _PLACEHOLDER_CELLS else text
            cells.append(_RawCell(text, _is_tag(td, "th"), row_span, col_span))
        raw.append(cells)

    kept: list[list[_RawCell]] = []
    active: list[tuple[_RawCell, int]] = []  # (cell, index of the last raw row it covers)
    for r, cells in enumerate(raw):
        active = [(cell, last) for cell, last in active if last >= r]
        empty = all(not cell.text for cell in cells) and all(cell.row_span == 1 for cell in cells)
        if empty:
            for cell, _ in active:  # the dropped row no longer counts in the spans that cover it
                cell.row_span -= 1
            continue
        kept.append(cells)
        active.extend((cell, r + cell.row_span - 1) for cell in cells if cell.row_span > 1)
    return kept


def _freeze(rows: list[list[_RawCell]]) -> list[list[TableCell]]:
    return [
        [TableCell(text=c.text, is_header=c.is_header, row_span=max(c.row_span, 1), col_span=c.col_span)
         for c in row]
        for row in rows
    ]


def _width(rows: list[list[_RawCell]]) -> int:
    """The widest row of one row group once its spans are expanded, counted without expanding them: the columns of a
    row are its own cells' colSpans plus those of the rowSpans from above that reach it (an upper bound when cells
    overlap)."""
    widest = 0
    carried: list[tuple[int, int]] = []  # (colSpan, index of the last row covered) of rowSpans from earlier rows
    for r, row in enumerate(rows):
        carried = [(span, last) for span, last in carried if last >= r]
        widest = max(widest, sum(cell.col_span for cell in row) + sum(span for span, _ in carried))
        carried += [(cell.col_span, r + cell.row_span - 1) for cell in row if cell.row_span > 1]
    return widest


def _clip_spans(rows: list[list[_RawCell]]) -> None:
    """Clip rowSpans to the end of ``rows`` (used when leading rows are promoted to a header)."""
    for r, row in enumerate(rows):
        for cell in row:
            cell.row_span = min(cell.row_span, len(rows) - r)


def parse_table(html: str, source: str) -> ParsedTable:
    """Parse one table file's HTML. Raises ``TableParseError`` (and nothing else) on any failure.

    ``<thead>`` rows are the header. Without a ``<thead>``, the leading rows made only of ``<th>`` are the
    header. ``<th>`` cells elsewhere stay in the body with ``is_header=True``. Rows whose cells are all
    empty are dropped. A missing caption is "".
    """
    try:
        return _parse_table(html, source)
    except TableParseError as error:
        if source and not error.message.startswith(source):
            raise TableParseError(error.field, f"{source}: {error.message}") from error
        raise
    except Exception as exc:  # noqa: BLE001 - the contract is "TableParseError or a table"
        raise TableParseError("table", f"{source or 'table'}: cannot parse: {type(exc).__name__}: {exc}") from exc


def _parse_table(html: str, source: str) -> ParsedTable:
    table = _find_table(_parse_html(html))

    caption_element = next((c for c in table if _is_tag(c, "caption")), None)
    if caption_element is None:
        caption_element = next(table.iter("caption"), None)
    caption = element_text(caption_element) if caption_element is not None else ""

    header_groups, body_groups = _row_groups(table)
    header: list[list[_RawCell]] = [row for group in header_groups for row in _read_group(group)]
    body_by_group = [_read_group(group) for group in body_groups]

    if not header and body_by_group:
        first = body_by_group[0]
        n_leading = 0
        while n_leading < len(first) and all(cell.is_header for cell in first[n_leading]):
            n_leading += 1
        if 0 < n_leading < len(first) or (n_leading and len(body_by_group) > 1):
            header = first[:n_leading]
            _clip_spans(header)
            body_by_group[0] = first[n_leading:]
    body = [row for group in body_by_group for row in group]

    if not header and not body:
        raise TableParseError("rows", f"{source or 'table'}: the table has no non-empty rows")
    cells = len(header + body) * max(_width(header), _width(body))
    if cells > MAX_TABLE_CELLS:
        raise TableParseError("rows", f"{source or 'table'}: {cells} cells once spans are expanded, more than the "
                                      f"{MAX_TABLE_CELLS} allowed")

    return ParsedTable(
        source=source,
        kind=classify_table(table, source),
        caption=caption,
        header_rows=_freeze(header),
        body_rows=_freeze(body),
    )


def parse_table_bytes(content: bytes, source: str) -> ParsedTable:
    """Parse a table file's bytes (UTF-8); the table's ``source`` is its file name."""
    try:
        html = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TableParseError("file", f"{source}: not UTF-8: {exc}") from exc
    return parse_table(html, source)
