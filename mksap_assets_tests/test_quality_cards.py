"""The "Card checks" section of `make quality` (benchmarks/quality_cards.py)."""

from __future__ import annotations

from mksap_assets_tests.helpers import load_benchmark


def _item(statement: str, clozes: list[str], extra: str | None = None) -> dict:
    return {"statement": statement, "cloze_candidates": clozes, "extra_field": extra}


def test_card_checks_count_the_deck_only_and_show_ids_not_text():
    cards = load_benchmark("quality_cards")
    document = {
        "question_id": "cvq001",
        "true_statements": {
            "from_critique": [
                _item("Primary sclerosing cholangitis (PSC) is common in this patient.", ["sclerosing cholangitis"],
                      "Cholangiography confirms it."),
                _item("Aspirin is continued after stenting.", ["Aspirin"]),  # blocked: not in the deck
            ],
            "from_key_points": [_item("Beta-blockers are repeated every day.", ["repeated every", "Beta-blockers"])],
        },
        "table_statements": {"statements": []},
    }
    figures = cards.CardFigures()
    cards.add_deck_cards(figures, document, [("critique", 0), ("key_point", 0)])
    assert figures.words == [9, 5]
    assert figures.clozes == [1, 2]
    assert figures.with_extra_field == 1
    assert figures.narration_notes == [("cvq001", "critique", 0)]
    assert figures.narration_cues == {"this_patient": 1}
    assert figures.giveaways == {"abbreviation": 1}
    # "Primary" left outside the blank of "primary sclerosing cholangitis"; "repeated every" a fragment
    assert figures.trivial_notes == [("cvq001", "critique", 0), ("cvq001", "key_point", 0)]
    assert figures.trivial_clozes == {"partial_term": 1, "fragment": 1}

    section = "\n".join(cards.card_checks_section([("offline", figures)]))
    assert "| offline | 2 | 7.0 / 7 | 1.5 / 1.5 | 1 (50.0%) | 1 (50.0%) | 1 (50.0%) | 1 | 2 |" in section
    assert "cvq001 critique[0]" in section
    assert "sclerosing" not in section and "Beta-blockers" not in section  # ids and counts, never statement text


def test_a_blank_on_the_topic_is_counted():
    cards = load_benchmark("quality_cards")
    statement = "Severe gout is characterized by recurrent flares that may require hospital care."
    document = {"question_id": "rmq001", "true_statements": {"from_critique": [
        _item(statement, ["gout"]), _item(statement, ["recurrent flares"])], "from_key_points": []},
        "table_statements": {"statements": []}}
    figures = cards.CardFigures()
    cards.add_deck_cards(figures, document, [("critique", 0), ("critique", 1)])
    assert figures.topic_notes == [("rmq001", "critique", 0)]
    [row] = [line for line in cards.card_checks_section([("offline", figures)]) if line.startswith("| offline |")]
    assert row.endswith("| 1 (50.0%) |")  # the last column: notes with c1 on the topic
