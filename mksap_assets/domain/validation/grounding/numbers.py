"""Numbers: each number of the statement must be in its source, exactly, with a compatible unit and the same
comparator."""

from __future__ import annotations

import re

from mksap_assets.domain.nlp.rules import Quantity
from mksap_assets.domain.statements import Issue, IssueField
from mksap_assets.domain.validation.grounding.issues import grounding_issue
from mksap_assets.domain.validation.grounding.source import Alignment, Source


def _units_compatible(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def _unit_prefix(a: str, b: str) -> bool:
    """'mg' vs 'mg/d', 'ml/min' vs 'ml/min/1.73m2': one is the other without its denominator."""
    return a.startswith(b + "/") or b.startswith(a + "/")


def check_numbers(quantities: list[Quantity], source: Source, alignment: Alignment, where: IssueField) -> list[Issue]:
    issues: list[Issue] = []
    in_context = set(alignment.sentences)
    for q in quantities:
        span = (q.expr_start, q.expr_end)
        same_value = [s for s in source.quantities if s.value == q.value]
        if not same_value:
            issues.append(grounding_issue("number_not_in_source", "error",
                                 f"{q.text!r}: the number {q.value} does not occur in the {source.name}", span, where))
            continue
        nearby = [s for s in same_value if s.sentence in in_context]
        if not nearby and alignment.word_coverage >= 0.8 and not source.name.startswith("table:"):
            issues.append(grounding_issue("number_elsewhere", "warning",
                                 f"{q.text!r}: {q.value} is in the {source.name}, but not in the sentence this "
                                 f"statement comes from", span, where))
        nearby = nearby or same_value
        unit_ok = [s for s in nearby if _units_compatible(q.unit, s.unit)] or [
            s for s in same_value if _units_compatible(q.unit, s.unit)
        ]
        if not unit_ok:
            units = sorted({s.unit for s in same_value if s.unit})
            if q.unit and any(_unit_prefix(q.unit, u) for u in units):
                issues.append(grounding_issue("unit_incomplete", "warning",
                                     f"{q.text!r}: the {source.name} gives {q.value} in {', '.join(units)}", span,
                                     where))
                continue
            issues.append(grounding_issue("unit_mismatch", "error",
                                 f"{q.text!r}: the {source.name} gives {q.value} in {', '.join(units) or 'no unit'}, "
                                 f"not {q.unit}", span, where))
            continue
        if q.direction:
            same_direction = [s for s in unit_ok if s.direction == q.direction]
            if not same_direction and unit_ok is not same_value:
                same_direction = [s for s in same_value if s.direction == q.direction
                                  and _units_compatible(q.unit, s.unit)]
            if same_direction:
                if not any(s.strict == q.strict for s in same_direction):
                    issues.append(grounding_issue("comparator_strictness", "warning",
                                         f"{q.text!r}: the {source.name} has {same_direction[0].text!r}", span, where))
            elif _referent_comparator(source, alignment, q.direction):
                continue  # "… greater than 150/μL. … a count below this threshold …" -> "a count below 150/μL"
            elif any(s.direction and s.direction != q.direction for s in unit_ok):
                other = next(s for s in unit_ok if s.direction)
                issues.append(grounding_issue("comparator_mismatch", "error",
                                     f"{q.text!r}: the {source.name} says {other.text!r}", span, where))
            else:
                issues.append(grounding_issue("comparator_not_in_source", "error",
                                     f"{q.text!r}: the {source.name} gives {q.value} without this comparator", span,
                                     where))
        elif unit_ok and all(s.direction for s in unit_ok) and not q.is_word:
            issues.append(grounding_issue("comparator_dropped", "warning",
                                 f"{q.text!r}: the {source.name} says {unit_ok[0].text!r}", span, where))
    return issues


_REFERENT_COMPARATOR_RE = re.compile(
    r"\b(?:(?P<lt>below|under|less\s+than|lower\s+than|fewer\s+than)|(?P<gt>above|over|greater\s+than|more\s+than|"
    r"higher\s+than|exceed(?:s|ed|ing)?))\s+(?:this|that|the|these|those)\s+(?:thresholds?|cut-?offs?|cut\s+points?|"
    r"levels?|values?|limits?|targets?)\b",
    re.IGNORECASE,
)


def _referent_comparator(source: Source, alignment: Alignment, direction: str) -> bool:
    """An aligned source sentence compares with the number by reference ("below this threshold"), in the
    statement's direction: the statement writes the number the reference points to."""
    for index in alignment.sentences:
        start, end = source.sentences[index]
        for match in _REFERENT_COMPARATOR_RE.finditer(source.text, start, end):
            if match.group(direction) is not None:
                return True
    return False
