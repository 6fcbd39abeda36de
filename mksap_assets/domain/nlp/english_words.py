"""Is a word an ordinary English word? (grounding: an unknown word that replaces a word of the source is invented)

The word list is pyspellchecker's English word-frequency dictionary, shipped inside its wheel (nothing is downloaded):
160,572 entries, of which 128,383 are alphabetic (possessives such as "aardvark's" are left out: tokens drop "'s").
It is loaded once per process, on first use (like the spaCy pipeline in parsing.py): about 0.16 s of CPU and 20 MB of
resident memory. Looking a word up is a dict lookup; `is_english_word` keeps its answers (an LRU cache).

`is_english_word` case-folds the word and tries its inflections and a few productive prefixes ("nonadherent",
"reassessed", "hyperacute"); `english_words()` is the list itself.
"""

from __future__ import annotations

from functools import cache, lru_cache

# Productive prefixes of English (and of clinical English) that make a word of a word: "non" + "invasive".
PREFIXES = (
    "non", "un", "re", "pre", "post", "anti", "counter", "over", "under", "co", "sub", "super", "semi", "multi",
    "inter", "intra", "extra", "trans", "pseudo", "mis", "dis", "de", "in", "im", "ir", "il", "self", "hyper", "hypo",
    "micro", "macro", "poly", "peri", "para", "neo", "auto", "bi", "mid", "out", "up", "down", "well", "ultra",
)
MIN_PREFIXED_REST = 4  # "re" + "dose" is a word; "re" + "x" is not read as one


@cache
def english_words() -> dict[str, None]:
    """pyspellchecker's English words (lower case, letters only), loaded once per process. Kept as the keys of a
    plain dict of strings, which the garbage collector does not track (a set of 128,000 words would add about 4 ms to
    every full collection)."""
    from spellchecker import SpellChecker

    frequencies = SpellChecker(language="en", distance=1).word_frequency.dictionary
    return dict.fromkeys(word for word in frequencies if word.isalpha())


def _inflections(word: str) -> list[str]:
    """The word and the bases it may be an inflection of ("arrhythmias" -> "arrhythmia", "titrating" -> "titrate")."""
    out = [word]
    if word.endswith("ies") and len(word) > 4:
        out.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 4:
        out.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        out.append(word[:-1])
    for ending in ("ed", "ing", "er", "est", "ly"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            stem = word[: -len(ending)]
            out += [stem, stem + "e"]
            if len(stem) >= 4 and stem[-1] == stem[-2]:  # "titrated" is covered; "controlled" -> "control"
                out.append(stem[:-1])
            if ending == "ly" and stem.endswith("al"):  # "hemodynamically" -> "hemodynamic"
                out.append(stem[:-2])
            if stem.endswith("i"):  # "emptied" -> "empty"
                out.append(stem[:-1] + "y")
    american = word
    for british, us in _BRITISH:
        american = american.replace(british, us)
    if american != word:  # "anaemia", "oesophageal", "paediatric"
        out += _inflections(american)
    return out


# British spellings of medical English ("haem", "oedema", "paediatric", "anaesthesia", "foetal", "caecum").
_BRITISH = (("haem", "hem"), ("aemi", "emi"), ("oes", "es"), ("oed", "ed"), ("paed", "ped"), ("aesth", "esth"),
            ("foet", "fet"), ("caec", "cec"), ("oestr", "estr"))


@lru_cache(maxsize=65536)
def is_english_word(word: str) -> bool:
    """The word, case-folded, is an English word, an inflection of one, a prefixed one ("nonadherent") or a
    hyphenated compound of them ("well-known")."""
    w = word.casefold().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if "-" in w:
        parts = [p for p in w.split("-") if p]
        return bool(parts) and all(is_english_word(p) for p in parts if len(p) > 1)
    if not w.isalpha():
        return False
    if _listed(w):
        return True
    return any(
        w.startswith(prefix) and len(w) - len(prefix) >= MIN_PREFIXED_REST and _listed(w[len(prefix):])
        for prefix in PREFIXES
    )  # one prefix: "co" + "up" + "ride" is no word


def _listed(word: str) -> bool:
    """The word or one of the bases it may be an inflection of is in the list."""
    words = english_words()
    return any(form in words for form in _inflections(word))
