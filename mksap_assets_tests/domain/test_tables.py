"""Tests for mksap_assets.domain.inputs.tables.

Every HTML snippet here is written for these tests (original text). The real table files are read at run
time from ../shared/corpus (relative to the repository root) and only their properties are asserted.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import lxml.html
import pytest
from pydantic import ValidationError

from mksap_assets.domain.inputs.tables import (
    MAX_TABLE_CELLS,
    ParsedTable,
    TableCell,
    TableParseError,
    classify_table,
    parse_table,
    parse_table_bytes,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def _table(body: str, *, cls: str = "table", caption: str | None = "Test caption") -> str:
    """A pretty-printed JSX-style table like the bank's, around ``body``."""
    cap = f"<caption>\n  <p>\n    {caption}\n  </p>\n</caption>\n" if caption is not None else ""
    return f'<table className="{cls}">\n{cap}{body}\n</table>\n'


def _cell_texts(table: ParsedTable) -> list[list[str]]:
    return [[c.text for c in row] for row in table.header_rows + table.body_rows]


LAB_HTML = _table(
    """
<tbody>
  <tr>
    <td className="labValueCellLeft1"><p>
      Sodium
    </p></td>
    <td className="labValueCellRight1"><p>
      128 mEq/L (128 mmol/L)
    </p></td>
    <td className="labValueCellRight1 highlow"><p>
      L
    </p></td>
  </tr>
  <tr>
    <td className="labValueCellLeft1"><p>
      Pco
      <sub>
        2
      </sub>
    </p></td>
    <td className="labValueCellRight1"><p>
      40 mm Hg (5.3 kPa)
    </p></td>
    <td className="labValueCellRight1 highlow"><p>
    </p></td>
  </tr>
</tbody>""",
    cls="lab-values table",
    caption="Serum chemistry:",
)

# Educational table: two header rows (the second a full-width group label), row headers in the body.
EDU_HTML = _table(
    """
<thead>
  <tr>
    <th rowSpan="1" colSpan="1"><p>Agent</p></th>
    <th rowSpan="1" colSpan="2"><p>Dosing</p></th>
  </tr>
  <tr>
    <th rowSpan="1" colSpan="1"><p>Name</p></th>
    <th rowSpan="1" colSpan="1"><p>Adult</p></th>
    <th rowSpan="1" colSpan="1"><p>Child</p></th>
  </tr>
</thead>
<tbody>
  <tr>
    <th rowSpan="1" colSpan="3"><p>Group One</p></th>
  </tr>
  <tr className="group_1-1 row-odd">
    <td rowSpan="2" colSpan="1"><p>Drug Alpha</p></td>
    <td rowSpan="1" colSpan="1"><p>10 mg daily</p></td>
    <td rowSpan="1" colSpan="1"><p>5 mg daily</p></td>
  </tr>
  <tr className="group_1-2 row-even">
    <td rowSpan="1" colSpan="1"><p>20 mg weekly</p></td>
    <td rowSpan="1" colSpan="1"><p>Not studied</p></td>
  </tr>
  <tr>
    <th rowSpan="1" colSpan="1"><p>Drug Beta</p></th>
    <td rowSpan="1" colSpan="2"><p>Avoid</p></td>
  </tr>
</tbody>""",
    caption="Dosing of Two Invented Agents",
)


# ---------------------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------------------


def test_lab_table_detected_by_table_class() -> None:
    parsed = parse_table(LAB_HTML, "zztab99001.html")  # even under an educational-looking name
    assert parsed.kind == "lab_values"
    assert parsed.caption == "Serum chemistry:"
    assert parsed.header_rows == []
    assert _cell_texts(parsed) == [["Sodium", "128 mEq/L (128 mmol/L)", "L"], ["Pco2", "40 mm Hg (5.3 kPa)", ""]]


def test_lab_table_detected_by_cell_classes_alone() -> None:
    html = _table('<tbody><tr><td className="labValueCellLeft2"><p>Urea</p></td><td><p>20</p></td></tr></tbody>')
    assert parse_table(html, "anything.html").kind == "lab_values"
    html = _table('<tbody><tr><td><p>Urea</p></td><td className="x highlow"><p>H</p></td></tr></tbody>')
    assert parse_table(html, "anything.html").kind == "lab_values"


def test_lab_table_detected_by_plain_class_attribute() -> None:
    html = '<table class="lab-values"><tr><td>Urea</td><td>20</td></tr></table>'
    assert parse_table(html, "t.html").kind == "lab_values"


def test_unmarked_inline_table_falls_back_to_file_name() -> None:
    html = _table("<tbody><tr><td><p>Glucose</p></td><td><p>90 mg/dL</p></td></tr></tbody>")
    assert parse_table(html, "inline_table_2.html").kind == "lab_values"
    assert parse_table(html, "nptab24001.html").kind == "educational"


def test_thead_plays_no_part_in_classification() -> None:
    with_thead = _table("<thead><tr><th><p>A</p></th></tr></thead><tbody><tr><td><p>1</p></td></tr></tbody>")
    without = _table("<tbody><tr><th><p>A</p></th></tr><tr><td><p>1</p></td></tr></tbody>")
    assert parse_table(with_thead, "xtab.html").kind == parse_table(without, "xtab.html").kind == "educational"


def test_classify_table_accepts_element_or_html() -> None:
    element = lxml.html.fromstring(LAB_HTML)
    assert classify_table(element, "x.html") == "lab_values"
    assert classify_table(EDU_HTML, "x.html") == "educational"
    assert classify_table(EDU_HTML) == "educational"


# ---------------------------------------------------------------------------------------------------------
# Structure: headers, row headers, spans
# ---------------------------------------------------------------------------------------------------------


def test_educational_table_with_multi_row_header() -> None:
    parsed = parse_table(EDU_HTML, "zztab99002.html")
    assert parsed.kind == "educational"
    assert parsed.caption == "Dosing of Two Invented Agents"
    assert len(parsed.header_rows) == 2
    assert all(cell.is_header for row in parsed.header_rows for cell in row)
    assert parsed.header_rows[0][1] == TableCell(text="Dosing", is_header=True, row_span=1, col_span=2)
    assert len(parsed.body_rows) == 4


def test_row_headers_in_tbody_are_kept() -> None:
    parsed = parse_table(EDU_HTML, "zztab99002.html")
    group_row, _, _, beta_row = parsed.body_rows
    assert [c.is_header for c in group_row] == [True]
    assert group_row[0].text == "Group One" and group_row[0].col_span == 3
    assert [(c.text, c.is_header) for c in beta_row] == [("Drug Beta", True), ("Avoid", False)]


def test_grid_expands_row_and_col_spans() -> None:
    grid = parse_table(EDU_HTML, "zztab99002.html").grid()
    assert grid == [
        ["Agent", "Dosing", "Dosing"],
        ["Name", "Adult", "Child"],
        ["Group One", "Group One", "Group One"],
        ["Drug Alpha", "10 mg daily", "5 mg daily"],
        ["Drug Alpha", "20 mg weekly", "Not studied"],
        ["Drug Beta", "Avoid", "Avoid"],
    ]
    assert len({len(row) for row in grid}) == 1


def test_grid_rowspan_in_middle_column_and_ragged_rows() -> None:
    html = _table(
        """<tbody>
        <tr><td><p>a1</p></td><td rowSpan="3"><p>shared</p></td><td><p>c1</p></td></tr>
        <tr><td><p>a2</p></td><td><p>c2</p></td></tr>
        <tr><td><p>a3</p></td></tr>
        <tr><td><p>a4</p></td><td><p>b4</p></td><td><p>c4</p></td><td><p>d4</p></td></tr>
        </tbody>"""
    )
    assert parse_table(html, "t.html").grid() == [
        ["a1", "shared", "c1", ""],
        ["a2", "shared", "c2", ""],
        ["a3", "shared", "", ""],
        ["a4", "b4", "c4", "d4"],
    ]


def test_header_rowspan_does_not_leak_into_body() -> None:
    html = _table(
        """<thead><tr><th rowSpan="5"><p>Tall</p></th><th><p>H</p></th></tr></thead>
        <tbody><tr><td><p>x</p></td><td><p>y</p></td></tr></tbody>"""
    )
    parsed = parse_table(html, "t.html")
    assert parsed.header_rows[0][0].row_span == 1
    assert parsed.grid() == [["Tall", "H"], ["x", "y"]]


def test_span_attribute_edge_cases() -> None:
    html = _table(
        """<tbody>
        <tr><td rowSpan="0"><p>all</p></td><td colSpan="zero"><p>b1</p></td></tr>
        <tr><td colSpan="0" rowSpan="-3"><p>b2</p></td></tr>
        <tr><td colSpan=" 2 "><p>b3</p></td></tr>
        </tbody>"""
    )
    parsed = parse_table(html, "t.html")
    assert [(c.row_span, c.col_span) for row in parsed.body_rows for c in row] == [(3, 1), (1, 1), (1, 1), (1, 2)]
    assert parsed.grid() == [["all", "b1", ""], ["all", "b2", ""], ["all", "b3", "b3"]]


def test_educational_table_without_thead_promotes_leading_th_row() -> None:
    html = _table(
        """<tbody>
        <tr><th rowSpan="1" colSpan="1"><p>Finding</p></th><th rowSpan="1" colSpan="1"><p>Meaning</p></th></tr>
        <tr><th rowSpan="1" colSpan="1"><p>Rash</p></th><td rowSpan="1" colSpan="1"><p>Allergy likely</p></td></tr>
        <tr><td rowSpan="1" colSpan="1"><p>Fever</p></td><td rowSpan="1" colSpan="1"><p>Infection likely</p></td></tr>
        </tbody>""",
        caption="Signs Without a Header Section",
    )
    parsed = parse_table(html, "zztab99003.html")
    assert parsed.kind == "educational"
    assert [[c.text for c in row] for row in parsed.header_rows] == [["Finding", "Meaning"]]
    assert [[c.text for c in row] for row in parsed.body_rows] == [
        ["Rash", "Allergy likely"],
        ["Fever", "Infection likely"],
    ]
    assert parsed.body_rows[0][0].is_header  # a row header stays a row header


def test_all_th_table_keeps_its_rows_in_the_body() -> None:
    html = _table("<tbody><tr><th><p>Only</p></th></tr><tr><th><p>Headers</p></th></tr></tbody>")
    parsed = parse_table(html, "t.html")
    assert parsed.header_rows == []
    assert [[c.text for c in row] for row in parsed.body_rows] == [["Only"], ["Headers"]]


def test_rows_directly_under_table_and_several_tbodies() -> None:
    html = (
        "<table><caption>C</caption><tr><td>a</td></tr>"
        "<tbody><tr><td>b</td></tr></tbody><tbody><tr><td>c</td></tr></tbody></table>"
    )
    assert parse_table(html, "t.html").grid() == [["a"], ["b"], ["c"]]


def test_empty_rows_are_skipped_and_spans_adjusted() -> None:
    html = _table(
        """<tbody>
        <tr><td rowSpan="3"><p>span</p></td><td><p>r1</p></td></tr>
        <tr><td><p>
        </p></td></tr>
        <tr><td><p>r3</p></td></tr>
        <tr></tr>
        <tr><td><p></p></td><td></td></tr>
        </tbody>"""
    )
    parsed = parse_table(html, "t.html")
    assert [[c.text for c in row] for row in parsed.body_rows] == [["span", "r1"], ["r3"]]
    assert parsed.body_rows[0][0].row_span == 2
    assert parsed.grid() == [["span", "r1"], ["span", "r3"]]


def test_missing_caption_is_empty_string() -> None:
    parsed = parse_table(_table("<tbody><tr><td><p>x</p></td></tr></tbody>", caption=None), "t.html")
    assert parsed.caption == ""
    assert "No caption" not in parsed.to_text()


# ---------------------------------------------------------------------------------------------------------
# Cell text
# ---------------------------------------------------------------------------------------------------------


def _one_cell(inner: str) -> str:
    html = _table(f'<tbody><tr><td rowSpan="1" colSpan="1">{inner}</td></tr></tbody>')
    return parse_table(html, "t.html").body_rows[0][0].text


@pytest.mark.parametrize(
    ("inner", "text"),
    [
        # footnote letters, compact and pretty-printed
        ("<p>Guidelines<sup>b</sup></p>", "Guidelines (b)"),
        ("<p>\n  Guidelines\n  <sup>\n    b\n  </sup>\n</p>", "Guidelines (b)"),
        ("<p>Ratio: 2.5<sup>a</sup></p>", "Ratio: 2.5 (a)"),
        ("<p>History of polyps\n<sup>\nc\n</sup>\n:\n</p>", "History of polyps (c):"),
        ("<p>Item<sup>a,b</sup> follows</p>", "Item (a,b) follows"),
        ("<p>Item<sup>*</sup></p>", "Item (*)"),
        ("<p>Item<sup>†</sup></p>", "Item (†)"),
        # exponents
        ("<p>(2.1 × 10<sup>9</sup>/L)</p>", "(2.1 × 10^9/L)"),
        ("<p>\n  (2.1 × 10\n  <sup>\n    9\n  </sup>\n  /L)\n</p>", "(2.1 × 10^9/L)"),
        ("<p>10<sup>-3</sup> units</p>", "10^-3 units"),
        ("<p>1.73 m<sup>2</sup></p>", "1.73 m2"),
        ("<p>Ca<sup>2+</sup> channel</p>", "Ca2+ channel"),
        ("<p>10<sup>\u22123</sup> units</p>", "10^-3 units"),  # a minus sign exponent is written "-"
        # exponents the source already flattened, as the question text repairs them
        ("<p>(2.1 × 109/L)</p>", "(2.1 × 10^9/L)"),
        ("<p>300 x 103/\u00b5L</p>", "300 x 10^3/\u00b5L"),
        ("<p>a 109-bed ward</p>", "a 109-bed ward"),
        # small capitals, in both attribute spellings
        ('<p>D<small className="small-caps">lco</small> falls</p>', "DLCO falls"),
        ('<p>D<small class="small-caps">lco</small> falls</p>', "DLCO falls"),
        ("<p>D<small>lco</small> falls</p>", "Dlco falls"),
        # subscripts
        ("<p>Pco<sub>2</sub></p>", "Pco2"),
        ("<p>\n  Po\n  <sub>\n    2\n  </sub>\n</p>", "Po2"),
        ("<p>FEV\n<sub>\n1\n</sub>\n/FVC ratio</p>", "FEV1/FVC ratio"),
        ("<p>Hemoglobin A<sub>1c</sub> level</p>", "Hemoglobin A1c level"),
        # inline elements in pretty-printed markup
        ("<p>\n  Gene pair (\n  <i>\n    ABC1\n  </i>\n  /\n  <i>\n    XYZ2\n  </i>\n  ) noted\n</p>",
         "Gene pair (ABC1/XYZ2) noted"),
        ("<p>\n  <b>\n    Bold heading\n  </b>\n</p>", "Bold heading"),
        ("<p>\n  <i>\n    (\n  </i>\n  Video: Test Clip)\n</p>", "(Video: Test Clip)"),
        ("<p>An <b>important</b> word</p>", "An important word"),
        ("<p>anti-<i>XY</i> antibody</p>", "anti-XY antibody"),
        ("<p>sub<b>word</b>s stay glued</p>", "subwords stay glued"),
        ("<p>see\n<span className=\"text-nowrap\">\nFigure: A Sketch)\n</span>\n</p>", "see Figure: A Sketch)"),
        # cells without <p>
        ("Plain text cell", "Plain text cell"),
        ("  spaced \u00a0 out  ", "spaced out"),
    ],
)
def test_cell_text_rendering(inner: str, text: str) -> None:
    assert _one_cell(inner) == text


@pytest.mark.parametrize(
    ("inner", "text"),
    [
        ("<p>First item</p><p>Second item</p><p>Third item</p>", "First item; Second item; Third item"),
        ("<p>\n  Nausea, headache,\n</p>\n<p>\n  dizziness\n</p>", "Nausea, headache, dizziness"),
        ("<p>Requires two findings:</p><p>1. Fever</p><p>2. Rash</p>", "Requires two findings: 1. Fever; 2. Rash"),
        ("<p>Ends a sentence.</p><p>Starts another.</p>", "Ends a sentence. Starts another."),
        ("<p>Dose is 5 mg or</p><p>10 mg</p>", "Dose is 5 mg or 10 mg"),
        ("<p>Hepatitis A</p><p>Hepatitis B</p>", "Hepatitis A; Hepatitis B"),
        ("<p>Ratio 3.8<sup>a</sup></p><p>Ratio 0.2<sup>a</sup></p>", "Ratio 3.8 (a); Ratio 0.2 (a)"),
        ("<p>One</p><p>\n</p><p>Two</p>", "One; Two"),
        ("<div>Block</div><p>Para</p>", "Block; Para"),
        ("<p>Line one<br>line two</p>", "Line one; line two"),
    ],
)
def test_paragraph_blocks_are_separated(inner: str, text: str) -> None:
    assert _one_cell(inner) == text


def test_caption_uses_the_same_rendering() -> None:
    html = '<table><caption><p>Criteria for Something<sup>a</sup></p><p>Part Two</p></caption><tr><td>x</td></tr></table>'
    assert parse_table(html, "t.html").caption == "Criteria for Something (a); Part Two"


# ---------------------------------------------------------------------------------------------------------
# to_text
# ---------------------------------------------------------------------------------------------------------


def test_to_text_layout() -> None:
    text = parse_table(EDU_HTML, "zztab99002.html").to_text()
    assert text.splitlines() == [
        "Dosing of Two Invented Agents",
        "Agent | Dosing",
        "Name | Adult | Child",
        "---",
        "Group One",
        "Drug Alpha | 10 mg daily | 5 mg daily",
        "Drug Alpha | 20 mg weekly | Not studied",
        "Drug Beta | Avoid",
    ]


def test_to_text_lab_table_drops_trailing_empty_flag() -> None:
    lines = parse_table(LAB_HTML, "inline_table_1.html").to_text().splitlines()
    assert lines == ["Serum chemistry:", "Sodium | 128 mEq/L (128 mmol/L) | L", "Pco2 | 40 mm Hg (5.3 kPa)"]


def test_models_are_frozen_and_validated() -> None:
    parsed = parse_table(EDU_HTML, "zztab99002.html")
    with pytest.raises(ValidationError):
        parsed.caption = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        TableCell(text="x", is_header=False, row_span=0)
    manual = ParsedTable(
        source="m.html",
        kind="educational",
        caption="",
        header_rows=[[TableCell(text="H", is_header=True, col_span=2)]],
        body_rows=[[TableCell(text="a", is_header=False, row_span=9), TableCell(text="b", is_header=False)]],
    )
    assert manual.grid() == [["H", "H"], ["a", "b"]]  # out-of-range rowSpan is clipped


# ---------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "field"),
    [
        ("<div><p>No table in here</p></div>", "table"),
        ("just some words", "table"),
        ("<<<>>>", "table"),
        ("", "html"),
        ("   \n ", "html"),
        ("<table></table>", "rows"),
        ("<table><caption><p>Only a caption</p></caption></table>", "rows"),
        ("<table><tbody><tr></tr><tr><td><p> </p></td></tr></tbody></table>", "rows"),
        ("<table><thead></thead><tbody></tbody></table>", "rows"),
        ('<?xml version="1.0" encoding="utf-8"?><p>no table</p>', "table"),
        ("<table><tr><td>a\x00b</td></tr></table>", None),
        (None, "html"),
        (42, "html"),
        (b"\xff\xfe<table>", "html"),
    ],
)
def test_parse_errors_are_table_parse_errors(html: object, field: str | None) -> None:
    try:
        parse_table(html, "bad.html")  # type: ignore[arg-type]
    except TableParseError as error:
        assert isinstance(error, ValueError)
        if field is not None:
            assert error.field == field
        assert str(error).startswith(f"{error.field}: ")
    else:
        assert field is None  # only the NUL-byte case may legitimately parse


def test_malformed_but_recoverable_markup_parses() -> None:
    parsed = parse_table("<table><tr><td>a<td>b<tr><td>c", "t.html")
    assert parsed.grid() == [["a", "b"], ["c", ""]]
    nested = parse_table("<div><table><tr><td>outer<table><tr><td>inner</td></tr></table></td></tr></table></div>", "t.html")
    assert nested.body_rows[0][0].text == "outer; inner"
    assert len(nested.body_rows) == 1


def test_table_parse_error_pickles() -> None:
    error = TableParseError("rows", "the table has no rows")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.field, clone.message, str(clone)) == ("rows", "the table has no rows", str(error))


def test_table_bytes_name_their_source_and_must_be_utf8() -> None:
    assert parse_table_bytes(EDU_HTML.encode(), "zztab99002.html") == parse_table(EDU_HTML, "zztab99002.html")
    with pytest.raises(TableParseError) as info:
        parse_table_bytes("<table><tr><td>caf\u00e9</td></tr></table>".encode("latin-1"), "latin1.html")
    assert info.value.field == "file" and "latin1.html" in str(info.value)


def test_a_span_bomb_is_refused_before_its_spans_are_expanded() -> None:
    # 300 cells of colspan 1000 on 300 rows would be a 300 x 300,000 grid (gigabytes); it is counted, not built.
    row = "<tr>" + '<td colspan="1000">x</td>' * 300 + "</tr>"
    with pytest.raises(TableParseError) as info:
        parse_table(f"<table>{row * 300}</table>", "bomb.html")
    assert info.value.field == "rows" and "bomb.html" in str(info.value) and str(MAX_TABLE_CELLS) in str(info.value)
    # a carried rowSpan counts in the rows it reaches: 2 rows x (5,000 + 1) columns
    tall = '<tr><td rowspan="2">a</td><td colspan="1000">b</td></tr><tr>' + '<td colspan="1000">c</td>' * 5 + "</tr>"
    with pytest.raises(TableParseError):
        parse_table(f"<table>{tall}</table>", "tall.html")


# ---------------------------------------------------------------------------------------------------------
# Real corpus (read at run time; skipped when ../shared/corpus is absent)
# ---------------------------------------------------------------------------------------------------------

CORPUS_FILES = sorted(CORPUS.glob("*/*/tables/*.html")) if CORPUS.is_dir() else []
_corpus_params = [pytest.param(p, id=str(p.relative_to(CORPUS))) for p in CORPUS_FILES] or [
    pytest.param(None, id="corpus-absent")
]
_WORD = re.compile(r"[A-Za-z0-9]+")


def _norm(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.corpus
@pytest.mark.parametrize("path", _corpus_params)
def test_corpus_table(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"corpus not found at {CORPUS}")
    parsed = parse_table_bytes(path.read_bytes(), path.name)
    assert parsed.source == path.name
    grid = parsed.grid()
    assert grid and len({len(row) for row in grid}) == 1
    for row in parsed.header_rows + parsed.body_rows:
        assert row, "no empty row survives"
        assert any(cell.text for cell in row)
        for cell in row:
            assert cell.text == _norm(cell.text)
    text = parsed.to_text()
    assert "No caption" not in text
    if parsed.caption:
        assert text.startswith(parsed.caption)

    if path.name.startswith("inline_table"):
        assert parsed.kind == "lab_values"
    if "tab" in path.name and not path.name.startswith("inline_table"):
        assert parsed.kind == "educational"
        assert len(parsed.header_rows) >= 1
        assert len(parsed.body_rows) >= 1
        assert parsed.caption

    # No two words glued across a <p> boundary: consecutive non-empty blocks of a cell are separated by
    # "; " or a space inside one parsed cell (or the caption).
    texts = [c.text for row in parsed.header_rows + parsed.body_rows for c in row]
    document = lxml.html.fromstring(path.read_text(encoding="utf-8"))
    for cell in document.iter("td", "th", "caption"):
        blocks = [_norm(p.text_content()) for p in cell.iter("p")]
        blocks = [b for b in blocks if _WORD.search(b)]
        candidates = [parsed.caption] if cell.tag == "caption" else texts
        for left, right in zip(blocks, blocks[1:]):
            last = _WORD.findall(left)[-1]
            first = _WORD.findall(right)[0]
            separated = re.compile(re.escape(last) + r"\W*(?:; | )\W*" + re.escape(first))
            assert any(separated.search(t) for t in candidates), (path.name, last, first)
            if last[-1].isalpha() and first[0].isalpha():
                glued = re.compile(r"(?<![A-Za-z0-9])" + re.escape(last + first) + r"(?![A-Za-z0-9])")
                assert not any(glued.search(t) for t in candidates), (path.name, last, first)

    # Footnote letters are rendered as "(x)"; exponents as "10^n", never glued into "109/L".
    everything = "\n".join([parsed.caption, *texts])
    for sup in document.iter("sup"):
        content = _norm(sup.text_content())
        if re.fullmatch(r"[a-z]", content):
            assert f"({content})" in everything, (path.name, content)
        elif re.fullmatch(r"\d+", content) and _norm(sup.getprevious().tail if sup.getprevious() is not None
                                                       else sup.getparent().text or "")[-1:].isdigit():
            assert f"^{content}" in everything, (path.name, content)
    assert not re.search(r"\b10 ?9/L", everything)


def test_parser_version_is_a_nonempty_string() -> None:
    from mksap_assets.domain.inputs.tables import TABLE_PARSER_VERSION

    assert isinstance(TABLE_PARSER_VERSION, str) and TABLE_PARSER_VERSION


def test_an_authoring_placeholder_cell_is_empty() -> None:
    html = (
        '<table><caption>Grades of Widget Wear</caption>'
        '<thead><tr><th>Grade</th><th></th><th>Meaning</th></tr></thead>'
        '<tbody><tr><td>1</td><td>  No short title </td><td><p>Light scuffing only</p></td></tr>'
        '<tr><td>2</td><td>No Short Title</td><td><p>Deep grooves</p></td></tr></tbody></table>'
    )
    text = parse_table(html, "zztab99002.html").to_text()
    assert "short title" not in text.casefold()
    assert text.splitlines()[-2:] == ["1 |  | Light scuffing only", "2 |  | Deep grooves"]
