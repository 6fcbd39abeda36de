"""VALIDATOR_VERSION is part of every export's fingerprint: bumping it makes the exports validated by older checks
stale, so the sensor validates them again. These tests tie it to the checks' code (a change to the checks without a
bump fails here) and to docs/VALIDATION.md, which quotes it."""

from __future__ import annotations

import hashlib
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

from mksap_assets import domain
from mksap_assets.domain.validation import VALIDATOR_VERSION
from mksap_assets.settings import PROJECT_ROOT

DOMAIN = Path(domain.__file__).parent
# What decides an issue, its severity and the gate: the validation package (but pool.py, which only runs it in
# worker processes), and the NLP rules, lexicon and text helpers the checks read. Hashed as Python tokens without
# comments, docstrings, blank lines or line wrapping, so editing those needs no bump. The issue codes and severities
# alone were not enough: most changes of behaviour are a threshold, a pattern or a word list, with the same codes.
# A change that cannot alter any issue (a rename, a move) changes the fingerprint too: record it, keep the version.
CHECKS_CODE = (
    *sorted(p for p in (DOMAIN / "validation").rglob("*.py") if p.name != "pool.py"),
    DOMAIN / "nlp" / "analysis.py",
    DOMAIN / "nlp" / "english_words.py",
    DOMAIN / "nlp" / "lexicon.py",
    DOMAIN / "nlp" / "rules.py",
    DOMAIN / "text.py",
    DOMAIN / "cloze_placement.py",
)
# The version and the fingerprint of the checks it names (Python 3.11's tokenizer; pyproject pins 3.11).
RECORDED_VERSION = "6"
# 6: the model's source concern and quoted evidence; extra_field length and restatement; "not only … but" is no
# negation (card_checks.py, which no validation issue reads, changed the fingerprint since without a bump: last, a
# word of the same stem as the answer is a give-away, for the offline extractor v5 and the card checks report)
RECORDED_CHECKS = "8b6b8762bc153214"


def code_tokens(source: str) -> Iterator[str]:
    """The tokens that make the code's behaviour: no comments, no blank lines or wrapping, no bare strings
    (docstrings); indentation as INDENT/DEDENT."""
    line: list[str] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.ENDMARKER):
            continue
        if token.type in (tokenize.INDENT, tokenize.DEDENT):
            yield tokenize.tok_name[token.type]
        elif token.type == tokenize.NEWLINE:
            if not (len(line) == 1 and line[0][0] == tokenize.STRING):
                yield from (text for _, text in line)
                yield "NEWLINE"
            line = []
        else:
            line.append((token.type, token.string))


def checks_fingerprint(paths: tuple[Path, ...] = CHECKS_CODE) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(DOMAIN).as_posix().encode() + b"\0")
        for token in code_tokens(path.read_text(encoding="utf-8")):
            digest.update(token.encode() + b"\0")
    return digest.hexdigest()[:16]


def test_the_validator_version_was_bumped_when_the_checks_changed():
    fingerprint = checks_fingerprint()
    if VALIDATOR_VERSION == RECORDED_VERSION:
        assert fingerprint == RECORDED_CHECKS, (
            f"the validation checks changed since VALIDATOR_VERSION {VALIDATOR_VERSION!r} (fingerprint "
            f"{fingerprint}, recorded {RECORDED_CHECKS}): bump VALIDATOR_VERSION (domain/validation/validate.py) so "
            f"exports validated by the old checks are stale, then record the new version and fingerprint in "
            f"{Path(__file__).name}. Only a change that cannot alter any issue keeps the version."
        )
    else:
        raise AssertionError(
            f"VALIDATOR_VERSION is now {VALIDATOR_VERSION!r}: record it and its checks' fingerprint in "
            f'{Path(__file__).name}: RECORDED_VERSION = "{VALIDATOR_VERSION}", RECORDED_CHECKS = "{fingerprint}"'
        )


def test_the_fingerprint_follows_the_code_not_its_comments_docstrings_or_wrapping():
    base = 'def check(words):\n    """Too long?"""\n    return len(words) > 30\n'
    same = [
        'def check(words):\n    """Longer than a card should be?"""\n    # the cap\n    return len(words) > 30\n',
        'def check(words):\n\n    return len(\n        words\n    ) > 30  # wrapped\n',
    ]
    different = [
        'def check(words):\n    """Too long?"""\n    return len(words) > 25\n',
        'def check(words):\n    """Too long?"""\n    return len(words) >= 30\n',
        'def check(words):\n    """Too long?"""\n    return "too_long" if len(words) > 30 else None\n',
    ]
    assert all(list(code_tokens(source)) == list(code_tokens(base)) for source in same)
    assert all(list(code_tokens(source)) != list(code_tokens(base)) for source in different)


def test_the_docs_quote_the_validator_version():
    text = (PROJECT_ROOT / "docs" / "VALIDATION.md").read_text(encoding="utf-8")
    assert re.findall(r'`VALIDATOR_VERSION` \(`"([^"`]+)"`\)', text) == [VALIDATOR_VERSION]
    repaired = re.findall(r"`([^`+]+)\+repair\.<version>`", text)
    assert repaired and set(repaired) == {VALIDATOR_VERSION}
