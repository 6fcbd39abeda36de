"""Wording that is not a named term: information, a warning when much of it is absent from the source, an error when
most of it is."""

from __future__ import annotations

from mksap_assets.domain.statements import Issue, IssueField
from mksap_assets.domain.validation.grounding.issues import grounding_issue
from mksap_assets.domain.validation.grounding.source import Source
from mksap_assets.domain.validation.grounding.tokens import Token, is_content

GENERIC_WORDS = frozenset("a patient patients person people adult adults".split())
UNSUPPORTED_SHARE = 0.75
UNSUPPORTED_MIN_WORDS = 4


def check_wording(tokens: list[Token], source: Source, where: IssueField) -> list[Issue]:
    content = [t for t in tokens if is_content(t.norm) and t.norm.isalpha() and len(t.norm) > 3
               and t.norm not in GENERIC_WORDS]
    if not content:
        return []
    missing = [t for t in content if not source.supports_word(t.norm)]
    if not missing:
        return []
    words = ", ".join(dict.fromkeys(t.norm for t in missing[:6]))
    share = len(missing) / len(content)
    if share >= UNSUPPORTED_SHARE and len(missing) >= UNSUPPORTED_MIN_WORDS:
        # Most of what it says is not in its source: invented, or leaked from somewhere else (a prompt injection).
        return [grounding_issue("unsupported_statement", "error",
                       f"{len(missing)} of {len(content)} content words are not in the {source.name}: {words}",
                       None, where)]
    if share >= 0.4 and len(missing) >= 3:
        return [grounding_issue("low_source_overlap", "warning",
                       f"{len(missing)} of {len(content)} content words are not in the {source.name}: {words}",
                       None, where)]
    return [grounding_issue("unsupported_wording", "info", f"words not in the {source.name}: {words}", None, where)]
