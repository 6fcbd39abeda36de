"""The issues of every grounding check (category "grounding")."""

from __future__ import annotations

from mksap_assets.domain.statements import Issue, IssueField

CATEGORY = "grounding"


def grounding_issue(code: str, severity: str, message: str, span: tuple[int, int] | None, where: IssueField) -> Issue:
    return Issue(code=code, severity=severity, message=message, span=span, category=CATEGORY, field=where)
