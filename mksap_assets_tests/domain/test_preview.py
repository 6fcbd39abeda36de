"""The card preview (preview.py): crafted documents rendered and read back as HTML (lxml), and the sample bank's
preview loaded in a real headless browser (Debian's chromium; skipped, saying so, when it is not installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import lxml.html
import pytest

from mksap_assets.domain.exports.anki import AnkiExportSummary, write_anki_export
from mksap_assets.domain.exports.preview import HIDDEN, card_face
from mksap_assets_tests.domain.test_anki import document, item, run_pipeline, write_docs

APIXABAN = "Apixaban is reduced to 2.5 mg twice daily."


def _page(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(path.read_text(encoding="utf-8"))


def _entry(page: lxml.html.HtmlElement, anchor: str) -> lxml.html.HtmlElement:
    [entry] = page.xpath(f'//article[@id="{anchor}"]')
    return entry


def _face(entry: lxml.html.HtmlElement, side: str, card: int) -> lxml.html.HtmlElement:
    [face] = entry.xpath(f'.//div[contains(@class, "{side}") and @data-card="{card}"]')
    return face


def _reasons(entry: lxml.html.HtmlElement) -> list[str]:
    return [li.text_content() for li in entry.xpath('.//ul[@class="reasons"]/li')]


def _preview(output_dir: Path) -> Path:
    return write_anki_export(output_dir).preview_path.parent


# ------------------------------------------------------------------------------------------------ crafted documents


def test_card_face_hides_its_own_cloze_only():
    text = "{{c1::Apixaban}} is reduced to {{c2::2.5 mg}}"
    assert card_face(text, 1, revealed=False) == f'<span class="cloze">{HIDDEN}</span> is reduced to 2.5 mg'
    assert card_face(text, 2, revealed=True) == 'Apixaban is reduced to <span class="cloze">2.5 mg</span>'


def test_front_hides_the_cloze_back_reveals_it_and_card_2_hides_c2(tmp_path: Path):
    write_docs(tmp_path, document("cvmcq26001", critique=[
        item(APIXABAN, ["2.5 mg", "twice daily"], extra="Renal dosing rule.", blocked_by=[])]))
    entry = _entry(_page(_preview(tmp_path) / "cv.html"), "cvmcq26001-critique-0")
    front, back = _face(entry, "front", 1), _face(entry, "back", 1)
    assert [c.text_content() for c in front.xpath('.//span[@class="cloze"]')] == [HIDDEN]
    assert "2.5 mg" not in front.text_content() and "twice daily" in front.text_content()
    assert [c.text_content() for c in back.xpath('.//span[@class="cloze"]')] == ["2.5 mg"]
    front_2 = _face(entry, "front", 2)
    assert [c.text_content() for c in front_2.xpath('.//span[@class="cloze"]')] == [HIDDEN]
    assert "2.5 mg" in front_2.text_content() and "twice daily" not in front_2.text_content()
    [extra] = entry.xpath('.//div[contains(@class, "extra")]')
    assert "Renal dosing rule." in extra.text_content() and "MKSAP cvmcq26001" in extra.text_content()
    assert entry.xpath('.//p[@class="tags"]')[0].text_content().split() == [
        "MKSAP::Cardiovascular_Medicine", "MKSAP::mcq", "MKSAP::source::critique"]
    assert "cvmcq26001 · critique #0" in entry.xpath(".//h3")[0].text_content()


def test_statement_text_is_escaped_in_cards_and_left_out_statements(tmp_path: Path):
    hostile = "Give <script>alert(1)</script> & wait <b>here</b>."
    write_docs(tmp_path, document("cvmcq26001", critique=[
        item(hostile, ["wait"], blocked_by=[]),
        item(hostile + " Again.", ["wait"], [("x", "error")], blocked_by=["x"]),
    ]))
    page_path = _preview(tmp_path) / "cv.html"
    raw = page_path.read_text(encoding="utf-8")
    assert "<script>alert" not in raw and "<b>here" not in raw
    page = _page(page_path)
    assert len(page.xpath("//script")) == 1 and not page.xpath("//article//b")  # the filter's own script only
    in_deck, left_out = _entry(page, "cvmcq26001-critique-0"), _entry(page, "cvmcq26001-critique-1")
    assert "Give <script>alert(1)</script> & wait" in _face(in_deck, "back", 1).text_content()
    assert hostile + " Again." in left_out.xpath('.//p[@class="statement"]')[0].text_content()


def test_a_left_out_statement_shows_its_reasons(tmp_path: Path):
    blocked = item(APIXABAN, ["2.5 mg"], [("number_not_in_source", "error"), ("too_long", "warning")],
                   blocked_by=["number_not_in_source", "source_concern"])
    blocked["source_concern"] = "Guidelines now say 5 mg."
    write_docs(tmp_path, document("cvmcq26001", critique=[blocked]))
    entry = _entry(_page(_preview(tmp_path) / "cv.html"), "cvmcq26001-critique-0")
    assert "left-out" in entry.classes and not entry.xpath('.//div[contains(@class, "card")]')
    assert _reasons(entry) == ["blocked by number_not_in_source, source_concern", "warnings: too_long",
                               "source concern: Guidelines now say 5 mg."]


def test_a_merged_duplicate_links_to_the_note_that_carries_it(tmp_path: Path):
    write_docs(
        tmp_path,
        document("cvmcq26001", critique=[item(APIXABAN, ["2.5 mg"], blocked_by=[])]),
        document("npmcq26001", critique=[item(APIXABAN, ["2.5 mg"], blocked_by=[])]),
    )
    folder = _preview(tmp_path)
    merged = _entry(_page(folder / "np.html"), "npmcq26001-critique-0")
    assert _reasons(merged) == ["duplicate of cvmcq26001 critique #0"]
    [link] = merged.xpath(".//a/@href")
    page, anchor = link.split("#")
    assert "in-deck" in _entry(_page(folder / page), anchor).classes


def test_retired_statements_and_statement_ids_are_shown(tmp_path: Path):
    doc = document("cvmcq26001", critique=[dict(item(APIXABAN, ["2.5 mg"], blocked_by=[]), id="st-7")])
    doc["retired_statements"] = [
        {"id": "st-3", "statement": "Warfarin <needs> INR checks.", "section": "critique",
         "retired_at": "2026-01-01T00:00:00+00:00"}]
    write_docs(tmp_path, doc)
    page = _page(_preview(tmp_path) / "cv.html")
    assert "id st-7" in _entry(page, "cvmcq26001-critique-0").xpath(".//h3")[0].text_content()
    retired = _entry(page, "cvmcq26001-retired-st-3")
    assert "retired" in retired.classes and "critique · id st-3" in retired.xpath(".//h3")[0].text_content()
    assert retired.xpath('.//p[@class="statement"]')[0].text_content() == "Warfarin <needs> INR checks."
    assert _reasons(retired) == [
        "retired since 2026-01-01T00:00:00+00:00: a re-extraction of the question no longer has it (MKSAP::retired)"]


def test_one_page_per_system_linked_from_the_index_and_stale_pages_removed(tmp_path: Path):
    write_docs(
        tmp_path,
        document("cvmcq26001", critique=[item(APIXABAN, ["2.5 mg"], blocked_by=[])]),
        document("npmcq26001", critique=[item("Hyperkalemia is treated with calcium first.", ["calcium"],
                                              blocked_by=[]),
                                         item("Not a card.", ["card"], [("x", "error")], blocked_by=["x"])]),
    )
    folder = _preview(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["cv.html", "index.html", "np.html"]
    index = _page(folder / "index.html")
    links = index.xpath("//table//a/@href")
    assert links == ["cv.html", "cv.html#in-deck", "cv.html#left-out", "cv.html#retired",
                     "np.html", "np.html#in-deck", "np.html#left-out", "np.html#retired"]
    np_row = [td.text_content() for td in index.xpath('//tr[td/a[@href="np.html"]]/td')]
    assert np_row == ["np", "Nephrology", "1", "1", "1", "0", "1"]  # questions, in deck, left out, retired, cards
    np_page = _page(folder / "np.html")
    assert {a.get("id") for a in np_page.xpath("//article")} == {"npmcq26001-critique-0", "npmcq26001-critique-1"}
    (tmp_path / "np" / "npmcq26001.json").unlink()
    assert sorted(p.name for p in _preview(tmp_path).iterdir()) == ["cv.html", "index.html"]


# ------------------------------------------------------------------------------------------------ in a real browser

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")


def chromium_dom(page: Path, profile: Path, fragment: str = "") -> lxml.html.HtmlElement:
    """The page's DOM after its scripts ran, as headless chromium serialises it."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it): "
                    "the preview's browser test needs it")
    url = page.as_uri() + (f"#{fragment}" if fragment else "")
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "<html" in done.stdout, done.stderr[-2000:]
    return lxml.html.fromstring(done.stdout)


@pytest.fixture(scope="module")
def sample_deck(tmp_path_factory: pytest.TempPathFactory) -> AnkiExportSummary:
    return write_anki_export(run_pipeline(tmp_path_factory.mktemp("preview_sample")))


@pytest.mark.slow
def test_the_sample_bank_preview_in_a_headless_browser(sample_deck: AnkiExportSummary, tmp_path: Path):
    folder = sample_deck.preview_path.parent
    index = chromium_dom(sample_deck.preview_path, tmp_path / "profile")
    systems = sorted(sample_deck.per_system)
    assert index.xpath("//table//tr/td[1]/a/@href") == [f"{code}.html" for code in systems]
    # every note of the deck is on its system's page, once
    pages = {code: _page(folder / f"{code}.html") for code in systems}
    assert sum(len(p.xpath('//article[contains(@class, "in-deck")]')) for p in pages.values()) == sample_deck.notes
    largest = max(systems, key=lambda code: sample_deck.per_system[code].notes)
    page = chromium_dom(folder / f"{largest}.html", tmp_path / "profile")
    notes = page.xpath('//article[contains(@class, "in-deck")]')
    assert len(notes) == sample_deck.per_system[largest].notes > 0
    cards = page.xpath('//div[contains(@class, "card") and contains(@class, "front")]')
    assert len(cards) == sample_deck.per_system[largest].cards
    for note in notes:  # card 1: the front hides the answer the back reveals, the rest of the text is the same
        front, back = _face(note, "front", 1), _face(note, "back", 1)
        assert [c.text_content() for c in front.xpath('.//span[@class="cloze"]')] == [HIDDEN]
        [answer] = [c.text_content() for c in back.xpath('.//span[@class="cloze"]')]
        assert answer.strip() and answer != HIDDEN
        assert front.text_content().replace(HIDDEN, answer) == back.text_content()
    # the status filter's script ran: opened at #left-out, the page hides the other statuses
    filtered = chromium_dom(folder / f"{largest}.html", tmp_path / "profile", "left-out")
    assert set(filtered.body.classes) == {"hide-in-deck", "hide-retired"}
    assert set(page.body.classes) == set()
