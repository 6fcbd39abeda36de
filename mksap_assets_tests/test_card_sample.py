"""benchmarks/card_sample.py: the review sample is fixed by its seed, and the card front hides only c1."""
from types import SimpleNamespace

from mksap_assets_tests.helpers import load_benchmark

card_sample = load_benchmark("card_sample")


def _notes() -> list[SimpleNamespace]:
    return [SimpleNamespace(question_id=f"q{n % 7}", section="keypoints", index=n) for n in range(30)]


def test_sample_is_fixed_by_the_seed_whatever_the_notes_order():
    drawn = card_sample.sample(_notes(), seed=16, count=5)
    again = card_sample.sample(list(reversed(_notes())), seed=16, count=5)
    assert [n.index for n in drawn] == [n.index for n in again]
    assert [n.index for n in card_sample.sample(_notes(), seed=17, count=5)] != [n.index for n in drawn]
    assert len(card_sample.sample(_notes(), seed=16, count=99)) == 30


def test_front_hides_c1_and_shows_the_other_clozes():
    text = "{{c1::Aspirin}} lowers {{c2::stroke}} risk; {{c1::it::drug}}"
    assert card_sample.front(text) == "[...] lowers stroke risk; [drug]"
