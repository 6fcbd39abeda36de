"""Inline markup in question text: rendered to plain text, or refused. Every input is written for these tests."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mksap_assets.domain.inputs.question import Question
from mksap_assets.domain.text import (
    MarkupError,
    render_inline_markup,
    render_superscript,
)


@pytest.mark.parametrize(
    ("marked", "plain"),
    [
        # emphasis: tags dropped, text kept
        ("Infection with <i>Babesia microti</i> is tick-borne.", "Infection with Babesia microti is tick-borne."),
        ("This is <b>never</b> safe.", "This is never safe."),
        ("Start <em>low</em> and go <strong>slow</strong>.", "Start low and go slow."),
        ("Mixed <I>Case</I> tags.", "Mixed Case tags."),
        # small capitals
        ('A low D<small class="small-caps">lco</small> suggests it.', "A low DLCO suggests it."),
        ('A low D<small className="small-caps">lco</small> here.', "A low DLCO here."),
        ("Plain <small>small</small> print.", "Plain small print."),
        # superscripts
        ("Platelets 90 × 10<sup>9</sup>/L.", "Platelets 90 × 10^9/L."),
        ("A dilution of 10<sup>−6</sup> was used.", "A dilution of 10^-6 was used."),
        ("Serum Ca<sup>2+</sup> is low.", "Serum Ca2+ is low."),
        ("Body surface 1.73 m<sup>2</sup> here.", "Body surface 1.73 m2 here."),
        ("On the 2<sup>nd</sup> day.", "On the 2nd day."),
        ("The rule<sup>a</sup> applies.", "The rule (a) applies."),
        ("The rule<sup>a,b</sup> applies.", "The rule (a,b) applies."),
        ("The rule <sup>†</sup> applies.", "The rule (†) applies."),
        # subscripts, glued
        ("Drink H<sub>2</sub>O often.", "Drink H2O often."),
        ("The Pa<sub> co2 </sub> rises.", "The Paco2 rises."),
        ("FEV<sub>1</sub>/FVC is reduced.", "FEV1/FVC is reduced."),
        # links: the text stays, the URL goes
        ('See <a href="https://example.org/x" target="_blank">the trial</a>.', "See the trial."),
        ("An <a>anchor</a> without href.", "An anchor without href."),
        # line breaks
        ("One line<br>next line<br/>last<br />", "One line next line last "),
        # nesting, unclosed and stray tags
        ("Count 10<i><sup>9</sup></i>/L.", "Count 10^9/L."),
        ('<b>D<small class="small-caps">lco</small> 60%</b>', "DLCO 60%"),
        ("An <i>open tag to the end", "An open tag to the end"),
        ("A stray</b> closing tag.", "A stray closing tag."),
        ("<i>inner <b>bold</i> after", "inner bold after"),
        # entities with their semicolon are decoded; without it, prose is left alone
        ("Salt &amp; water, &lt;5 or &gt;10, 4&#215;2, &#x3b1;-gal.", "Salt & water, <5 or >10, 4×2, α-gal."),
        ("AT&T and R&D &not decoded.", "AT&T and R&D &not decoded."),
        # comparators are not tags
        ("An eGFR <30 mL/min and a < b.", "An eGFR <30 mL/min and a < b."),
        ("A ratio <LLN but >0.7 and a value <ULN>.", "A ratio <LLN but >0.7 and a value <ULN>."),
        ("Below the limit (&lt;LLN) here.", "Below the limit (<LLN) here."),
        ("No markup at all.", "No markup at all."),
    ],
)
def test_inline_markup_is_rendered(marked: str, plain: str) -> None:
    assert render_inline_markup(marked) == plain


@pytest.mark.parametrize(
    "hostile",
    [
        "Text<script>alert(1)</script> more.",
        "A <p>paragraph</p> tag.",
        "A <span>span</span> tag.",
        "An <iframe src='x'></iframe> frame.",
        "A <div>block</div>.",
        "A <custom-widget>custom element</custom-widget>.",
        "An <IMG SRC=x> in capitals.",
        '<b onclick="steal()">click</b>',
        '<a href="javascript:alert(1)">link</a>',
        "<a href=' JavaScript:void(0)'>link</a>",
        '<a href="data:text/html;base64,AAAA">link</a>',
        "Escaped &lt;script&gt;alert(1)&lt;/script&gt; markup.",
        "Escaped &lt;img src=x&gt; markup.",
    ],
)
def test_other_markup_is_refused(hostile: str) -> None:
    with pytest.raises(MarkupError):
        render_inline_markup(hostile)


@pytest.mark.parametrize(
    ("before", "content", "rendered"),
    [
        ("10", "9", "^9"),
        ("10", " 12 ", "^12"),
        ("10", "–3", "^-3"),
        ("5 ×10", "+4", "^+4"),
        ("Ca", "2+", "2+"),  # a charge: glued
        ("m", "2", "2"),  # a unit's power after a letter: glued
        ("1", "st", "st"),
        ("Finding", "a", " (a)"),
        ("Finding", "a, b", " (a,b)"),
        ("Finding", "‡", " (‡)"),
        ("", "c", "(c)"),
        ("Finding ", "c", "(c)"),
        ("(", "c", "(c)"),
        ("Drug", "®", "®"),
    ],
)
def test_superscript_rule(before: str, content: str, rendered: str) -> None:
    assert render_superscript(before, content) == rendered


def _question(**changes) -> dict:
    document = {
        "question_id": "cvmcq26901",
        "category": "cv",
        "category_name": "Cardiovascular Medicine",
        "educational_objective": "Recognise a made-up finding.",
        "question_text": "A made-up stem.",
        "question_stem": "What now?",
        "options": [{"letter": "A", "text": "One"}, {"letter": "B", "text": "Two"}],
        "critique": "A made-up critique.",
        "key_points": ["A made-up point."],
        "references": "",
        "media": {},
    }
    document.update(changes)
    return document


@pytest.mark.parametrize("field", ["critique", "educational_objective", "question_text", "question_stem"])
def test_question_accepts_inline_markup_and_keeps_it(field: str) -> None:
    marked = 'A D<small class="small-caps">lco</small> of 10<sup>9</sup> with <a href="https://example.org">a link</a>.'
    question = Question.model_validate(_question(**{field: marked}))
    assert getattr(question, field) == marked


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("critique", "Fine text.<script>x()</script>"),
        ("educational_objective", '<i onmouseover="x()">Hover</i>'),
        ("question_stem", "A <table><tr><td>cell</td></tr></table>"),
        ("key_points", ["Fine.", '<a href="javascript:x()">bad</a>']),
    ],
)
def test_question_refuses_other_markup(field: str, value) -> None:
    with pytest.raises(ValidationError) as caught:
        Question.model_validate(_question(**{field: value}))
    assert caught.value.errors()[0]["loc"][0] == field
    assert "must be plain text" in str(caught.value)
