"""Word lists (negation, hedge, obligation and polar words) and word support: when one word stands for another
(plurals, inflections, derivations, a condition and its adjective; never hyper- for hypo-)."""

from __future__ import annotations

from functools import lru_cache

NEGATION_WORDS = frozenset(
    """not no never without neither nor none cannot absence absent lack lacks lacking unlikely fail fails failed
    contraindicated contraindication contraindications avoid avoided avoids avoiding avoidance inappropriate unsafe
    unnecessary unwarranted ineffective inadequate""".split()
)
HEDGE_WORDS = frozenset("may might could possibly perhaps consider considered reasonable".split())
OBLIGATION_WORDS = frozenset("should must required requires require mandatory always".split())
# (key, sign) for polar words: a local edit that changes the sign of a key flips the statement's meaning.
_POLAR_PAIRS: tuple[tuple[str, str], ...] = (
    ("positive", "negative"), ("increase", "decrease"), ("increases", "decreases"), ("increased", "decreased"),
    ("increasing", "decreasing"), ("higher", "lower"), ("high", "low"), ("more", "less"), ("more", "fewer"),
    ("above", "below"), ("before", "after"), ("maximum", "minimum"), ("acute", "chronic"),
    ("benign", "malignant"), ("early", "late"), ("earlier", "later"), ("most", "least"), ("raise", "lower"),
    ("raises", "lowers"), ("rise", "fall"), ("rises", "falls"), (">", "<"), ("≥", "≤"), ("over", "under"),
    ("indicated", "contraindicated"), ("effective", "ineffective"), ("appropriate", "inappropriate"),
    ("safe", "unsafe"), ("necessary", "unnecessary"), ("adequate", "inadequate"), ("likely", "unlikely"),
    ("common", "uncommon"), ("common", "rare"), ("sensitive", "insensitive"), ("excess", "deficiency"),
    ("agonist", "antagonist"), ("inhibits", "stimulates"), ("inhibit", "stimulate"), ("with", "without"),
)
POLAR: dict[str, tuple[str, int]] = {}
for _plus, _minus in _POLAR_PAIRS:
    POLAR.setdefault(_plus, (_plus, 1))
    POLAR.setdefault(_minus, (_plus, -1))
POLAR_PREFIXES = (("hyper", "hypo"), ("tachy", "brady"), ("macro", "micro"), ("hyper", "normo"))

_DISEASE_ENDINGS = ("itis", "itides", "osis", "oses", "emia", "emias", "oma", "omas", "pathy", "pathies")


def polar_prefix_clash(a: str, b: str) -> bool:
    for plus, minus in POLAR_PREFIXES:
        if (a.startswith(plus) and b.startswith(minus)) or (a.startswith(minus) and b.startswith(plus)):
            return True
    return False


@lru_cache(maxsize=65536)
def variants(word: str) -> frozenset[str]:
    w = word
    out = {w}
    if w.endswith("ies"):
        out.add(w[:-3] + "y")
    if w.endswith("es"):
        out.add(w[:-2])
    if w.endswith("s"):
        out.add(w[:-1])
    else:
        out |= {w + "s", w + "es"}
    if w.endswith("y"):
        out.add(w[:-1] + "ies")
    if len(w) >= 4:  # lower/lowered/lowering, reduce/reduced, use/used
        out |= {w + "ed", w + "d", w + "ing"}
        for ending in ("ed", "d", "ing"):
            if w.endswith(ending) and len(w) - len(ending) >= 3:
                stem = w[: -len(ending)]
                out |= {stem, stem + "e"}
    for a, b in (("osis", "oses"), ("itis", "itides"), ("oma", "omas"), ("ion", "ions")):
        if w.endswith(a):
            out.add(w[: -len(a)] + b)
        if w.endswith(b):
            out.add(w[: -len(b)] + a)
    return frozenset(out)


def same_family(a: str, b: str) -> bool:
    """Derivational variants: hypertension/hypertensive, anticoagulant/anticoagulation."""
    if polar_prefix_clash(a, b):
        return False
    shorter = min(len(a), len(b))
    common = 0
    for x, y in zip(a, b):
        if x != y:
            break
        common += 1
    if common < max(6, shorter - 3):
        return False
    a_disease = a.endswith(_DISEASE_ENDINGS)
    b_disease = b.endswith(_DISEASE_ENDINGS)
    return a_disease == b_disease or _disease_adjective(a, b) or _disease_adjective(b, a)


# A condition and its adjective: hypovolemia/hypovolemic, cirrhosis/cirrhotic, arthritis/arthritic (never
# hepatitis/hepatic: the stems must be the same).
_DISEASE_ADJECTIVES = (("emia", "emic"), ("osis", "otic"), ("itis", "itic"), ("pathy", "pathic"), ("oma", "omatous"))


def _disease_adjective(noun: str, adjective: str) -> bool:
    return any(noun.endswith(n) and adjective.endswith(a) and noun[:-len(n)] == adjective[:-len(a)]
               for n, a in _DISEASE_ADJECTIVES)


@lru_cache(maxsize=8192)
def _condition_forms(word: str) -> tuple[str, ...]:
    """The adjective of a condition, or the condition of an adjective (hypovolemia <-> hypovolemic): what
    _disease_adjective pairs the word with, found by rewriting its ending instead of scanning a word set."""
    forms = [word[:-len(n)] + a for n, a in _DISEASE_ADJECTIVES if word.endswith(n)]
    forms += [word[:-len(a)] + n for n, a in _DISEASE_ADJECTIVES if word.endswith(a)]
    return tuple(form for form in forms if form[:4] == word[:4])


def has_exact(words: set[str] | frozenset[str], word: str) -> bool:
    """The word or one of its variants (plural, -ed, -ing) is among the words."""
    return bool(variants(word) & words)


def has(words: set[str] | frozenset[str], word: str) -> bool:
    """The word, a variant, or the adjective of a condition (hypovolemic for hypovolemia) is among the words."""
    if variants(word) & words:
        return True
    return len(word) >= 6 and word.isalpha() and any(form in words for form in _condition_forms(word))


def has_related(words: set[str] | frozenset[str], word: str) -> bool:
    """As has, or a derivation of the same family (effect/effective, hypertension/hypertensive)."""
    return has(words, word) or (len(word) >= 6 and word.isalpha() and any(
        len(other) >= 6 and other[:5] == word[:5] and other.isalpha() and same_family(word, other) for other in words
    ))
