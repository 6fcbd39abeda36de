"""Local edits: a word-level diff of the statement against its aligned sentence finds the small edits that change
what it says (a negation added or dropped, a polar word flipped, a modal strengthened, a named term or a word
replaced by one the source never uses)."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import NamedTuple

from mksap_assets.domain.nlp.lexicon import is_abbreviation, word_kind
from mksap_assets.domain.nlp.rules import Cue
from mksap_assets.domain.statements import Issue, IssueField
from mksap_assets.domain.validation.grounding.cues import cue_anchors, restrictive
from mksap_assets.domain.validation.grounding.invented import unknown_part
from mksap_assets.domain.validation.grounding.issues import grounding_issue
from mksap_assets.domain.validation.grounding.negation import (
    COMPLEMENT_WORDS,
    CONTRAST_WORDS,
    complement_paraphrase,
    unmet_requirement,
)
from mksap_assets.domain.validation.grounding.source import (
    Alignment,
    Source,
    SourceCue,
    cue_text_at,
)
from mksap_assets.domain.validation.grounding.terms import (
    abbreviated_in_source,
    long_form_around,
)
from mksap_assets.domain.validation.grounding.tokens import (
    STOP_WORDS,
    Token,
    is_content,
)
from mksap_assets.domain.validation.grounding.words import (
    HEDGE_WORDS,
    NEGATION_WORDS,
    OBLIGATION_WORDS,
    POLAR,
    POLAR_PREFIXES,
    has,
    has_exact,
    has_related,
    polar_prefix_clash,
)


def _negative_flags(words: list[str]) -> list[bool]:
    """Which words negate: the negation words, except "avoid" in "avoid the need for" (prevention)."""
    flags = [w in NEGATION_WORDS for w in words]
    for i, w in enumerate(words):
        if flags[i] and w.startswith("avoid") and words[i + 1:i + 3] and (
            words[i + 1] in ("need", "needs") or words[i + 1:i + 3] in (["the", "need"], ["the", "needs"])
        ):
            flags[i] = False
    return flags


def _is_anchor(words: list[str]) -> bool:
    """An equal run that anchors the edits around it: it has a content word (not only "is", "the", "of")."""
    return any(w not in STOP_WORDS for w in words)


_Opcode = tuple[str, int, int, int, int]


def _merged_opcodes(opcodes: list[_Opcode], s_words: list[str]) -> list[_Opcode]:
    """Small edits separated only by stop words are one edit ("neither [is]" -> "it [is] not"): a word such as "is"
    matched on both sides does not make two edits of them. (Not when the merged edit would be too long to be a local
    edit: then each keeps its own anchors.)"""
    merged: list[_Opcode] = []
    for op in opcodes:
        if (op[0] != "equal" and len(merged) >= 2 and merged[-1][0] == "equal" and merged[-2][0] != "equal"
                and not _is_anchor(s_words[merged[-1][1]:merged[-1][2]])
                and max(op[2] - merged[-2][1], op[4] - merged[-2][3]) <= MAX_LOCAL_EDIT):
            merged.pop()  # the stop-word run
            first = merged.pop()
            i1, j1 = first[1], first[3]
            i2, j2 = op[2], op[4]
            tag = "replace" if i2 > i1 and j2 > j1 else ("delete" if i2 > i1 else "insert")
            merged.append((tag, i1, i2, j1, j2))
            continue
        merged.append(op)
    return merged


def _polar_signs(words: Iterable[str]) -> dict[str, int]:
    signs: dict[str, int] = {}
    for w in words:
        if w in POLAR:
            key, sign = POLAR[w]
            signs[key] = sign
    return signs


def _prefix_flip(s_words: list[str], c_words: list[str]) -> tuple[str, str] | None:
    for s in s_words:
        for c in c_words:
            if s != c and polar_prefix_clash(s, c):
                for plus, minus in POLAR_PREFIXES:
                    for a, b in ((plus, minus), (minus, plus)):
                        if s.startswith(a) and c.startswith(b) and s[len(a):] == c[len(b):]:
                            return s, c
    return None


MAX_LOCAL_EDIT = 4


def check_local_edits(text: str, tokens: list[Token], context: list[Token], source: Source,
                       where: IssueField, cues: list[Cue] | None = None,
                       alignment: Alignment | None = None) -> list[Issue]:
    if not tokens or not context:
        return []
    s_words = [t.norm for t in tokens]
    c_words = [t.norm for t in context]
    s_neg, c_neg = _negative_flags(s_words), _negative_flags(c_words)
    opcodes = _merged_opcodes(SequenceMatcher(None, s_words, c_words, autojunk=False).get_opcodes(), s_words)
    equal_positions = [k for k, op in enumerate(opcodes) if op[0] == "equal"]
    if not equal_positions:
        return []
    first_equal, last_equal = equal_positions[0], equal_positions[-1]
    # A statement that is (nearly) its whole aligned sentence: every local edit is a real edit. Otherwise the
    # statement paraphrases or splits the sentence, and an edit explained by the rest of it is only a warning.
    near_verbatim = len(s_words) >= 0.8 * len(c_words)
    issues: list[Issue] = []
    for k, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            continue
        inside = first_equal < k < last_equal
        s_edge = (k < first_equal and j2 - j1 == 0) or (k > last_equal and j2 - j1 == 0)  # statement-only ends
        # both texts start (or end) with this edit: "… is contraindicated." -> "… is indicated."
        both_edge = tag == "replace" and ((i1 == 0 and j1 == 0) or (i2 == len(s_words) and j2 == len(c_words)))
        if not inside and not s_edge and not both_edge:
            continue
        if max(i2 - i1, j2 - j1) > MAX_LOCAL_EDIT:
            continue
        s_part, c_part = s_words[i1:i2], c_words[j1:j2]
        if i2 > i1:
            span = (tokens[i1].start, tokens[i2 - 1].end)
        else:
            at = tokens[i1].start if i1 < len(tokens) else tokens[-1].end
            span = (at, at)
        said = " ".join(c_part) or "(nothing)"
        wrote = " ".join(s_part) or "(nothing)"
        if sum(s_neg[i1:i2]) % 2 != sum(c_neg[j1:j2]) % 2:
            if _in_disjunction(s_words, i1, i2) or _in_disjunction(c_words, j1, j2):
                continue  # "no or minimal response", "with or without": an alternative, not a polarity
            following = s_words[i2:opcodes[k + 1][2]] if k + 1 < len(opcodes) else []
            edit = _Edit(text, tokens, context, source, s_words, c_words, i1, i2, j1, j2, following)
            if not _negation_about_same_words(edit, s_neg, c_neg, cues or []):
                continue  # the negation is about words the other side does not state ("no short title")
            if unmet_requirement(s_words[i1:i2], c_words[j1:j2], following) or unmet_requirement(
                    c_words[j1:j2], s_words[i1:i2], following):
                continue  # "X has not been excluded" -> "X must be excluded"
            if alignment is not None and any(complement_paraphrase(text, cue, source, alignment)
                                             for cue in _cues_in(cues or [], tokens, i1, i2)):
                continue  # "all other patients" -> "patients without …": reported by check_negation_cues
            severity, code = "error", "negation_mismatch"
            # Inside a copied clause, a negation or a contrast of two subjects ("whereas") elsewhere in the sentence is
            # about another clause: only a negation the statement rewrote next door, or a word stating the other
            # case of this one ("otherwise"), explains the edit.
            copied_clause = _inside_copied_clause(opcodes, k, s_words)
            explained = (copied_clause and _negation_next_door(c_words, opcodes, k)) or (
                _explained_elsewhere(c_words, j1, j2, opcodes, frozenset(), COMPLEMENT_WORDS) if copied_clause
                else _explained_elsewhere(c_words, j1, j2, opcodes, NEGATION_WORDS))
            if not near_verbatim and explained:
                severity, code = "warning", "negation_unclear"
            issues.append(grounding_issue(code, severity,
                                 f"negation changed: the {source.name} says {said!r} where the statement says "
                                 f"{wrote!r}", span, where))
            continue
        s_signs, c_signs = _polar_signs(s_part), _polar_signs(c_part)
        flipped = [key for key in s_signs if key in c_signs and s_signs[key] != c_signs[key]]
        prefix = _prefix_flip(s_part, c_part)
        if flipped or prefix:
            severity, code = "error", "polarity_mismatch"
            polar_words = {w for w in POLAR if POLAR[w][0] in flipped} | set(prefix or ())
            if not near_verbatim and _explained_elsewhere(c_words, j1, j2, opcodes, frozenset(polar_words)):
                severity, code = "warning", "polarity_unclear"
            issues.append(grounding_issue(code, severity,
                                 f"meaning flipped: the {source.name} says {said!r} where the statement says "
                                 f"{wrote!r}", span, where))
            continue
        s_hedge = any(w in HEDGE_WORDS for w in s_part)
        c_hedge = any(w in HEDGE_WORDS for w in c_part)
        s_oblig = any(w in OBLIGATION_WORDS for w in s_part)
        c_oblig = any(w in OBLIGATION_WORDS for w in c_part)
        if s_oblig and c_hedge and not c_oblig:
            issues.append(grounding_issue("modality_strengthened", "error",
                                 f"the {source.name} hedges ({said!r}) where the statement says {wrote!r}", span,
                                 where))
        elif s_hedge and c_oblig and not s_oblig:
            issues.append(grounding_issue("modality_weakened", "warning",
                                 f"the {source.name} says {said!r} where the statement hedges ({wrote!r})", span,
                                 where))
        issues += _check_substitution(s_part, c_part, tokens[i1:i2], source, where, text, s_words, context, j1)
    return issues


class _Edit(NamedTuple):
    text: str
    tokens: list[Token]
    context: list[Token]
    source: Source
    s_words: list[str]
    c_words: list[str]
    i1: int
    i2: int
    j1: int
    j2: int
    following: list[str]  # the words of the equal run after the edit


def _cues_in(cues: list[Cue], tokens: list[Token], i1: int, i2: int) -> list[Cue]:
    """The statement's negative cues that overlap tokens[i1:i2]."""
    if i2 <= i1:
        return []
    start, end = tokens[i1].start, tokens[i2 - 1].end
    return [c for c in cues if c.negative and c.start < end and start < c.end]


def _source_cue_at(source: Source, position: int) -> tuple[SourceCue, int] | None:
    """The negative source cue whose text covers a character position, and the cue's end."""
    for cue in source.cues:
        if cue.negative and position - 40 <= cue.start <= position:
            end = cue.start + len(cue_text_at(source, cue))
            if position < end:
                return cue, end
    return None


def _negation_about_same_words(edit: _Edit, s_neg: list[bool], c_neg: list[bool], cues: list[Cue]) -> bool:
    """Is a negation that the edit adds or drops about words the other side states? Its head (the word it negates)
    must be in the other side's edit or in the words copied right after it, and a source negation about a subject
    ("adults who have no risk factors", "in adults without signs of …") must have that subject in the statement.
    Otherwise the negation belongs to a clause or cell the statement does not render ("…, but no one test is …";
    a table's "No short title")."""
    statement_words = set(edit.s_words)
    for index in range(edit.i1, edit.i2):
        if not s_neg[index]:
            continue
        cue = next((c for c in _cues_in(cues, edit.tokens, index, index + 1)), None)
        if cue is None:
            return True
        anchors = cue_anchors(edit.text, cue.start, cue.end, cue.scope_end)
        if anchors.head is None or has_related(set(edit.c_words[edit.j1:edit.j2]) | set(edit.following),
                                                anchors.head):
            return True
    for index in range(edit.j1, edit.j2):
        if not c_neg[index]:
            continue
        found = _source_cue_at(edit.source, edit.context[index].start)
        if found is None:
            return True
        cue, end = found
        anchors = cue_anchors(edit.source.text, cue.start, end, cue.scope_end)
        if anchors.head is not None and not has_related(set(edit.s_words[edit.i1:edit.i2]) | set(edit.following),
                                                 anchors.head):
            continue
        if (anchors.before and restrictive(edit.source.text, cue.start)
                and not any(has_exact(statement_words, w) for w in anchors.before)):
            continue
        return True
    return False


def _in_disjunction(words: list[str], i1: int, i2: int) -> bool:
    """The edited negation is one side of an alternative: "no or minimal", "with or without"."""
    for index in range(i1, i2):
        if words[index] in NEGATION_WORDS:
            after = words[index + 1] if index + 1 < len(words) else ""
            before = words[index - 1] if index > 0 else ""
            if after in ("or", "and/or") or before == "or":
                return True
    return False


def _inside_copied_clause(opcodes, k: int, s_words: list[str]) -> bool:
    """Is edit `k` between two runs the statement copies, the one after it naming something ("X has [not] improved
    survival")? Then the statement copies the negated clause itself ("improves oxygenation but has not improved
    survival; it should not be used …")."""
    if k == 0 or k + 1 >= len(opcodes) or opcodes[k - 1][0] != "equal" or opcodes[k + 1][0] != "equal":
        return False
    _, i1, i2, _, _ = opcodes[k + 1]
    return any(is_content(word) for word in s_words[i1:i2])


def _negation_next_door(c_words: list[str], opcodes, k: int) -> bool:
    """Inside a copied clause, only a negation the statement rewrote one run away explains a moved negation ("but
    neither is specific" -> "but it is not specific")."""
    for near in (k - 2, k + 2):
        if 0 <= near < len(opcodes) and opcodes[near][0] != "equal":
            _, _, _, j1, j2 = opcodes[near]
            if any(word in NEGATION_WORDS for word in c_words[j1:j2]):
                return True
    return False


def _explained_elsewhere(c_words: list[str], j1: int, j2: int, opcodes, family: frozenset[str],
                         contrast: frozenset[str] = CONTRAST_WORDS) -> bool:
    """Does the aligned sentence state the opposite too, or contrast two cases, outside this edit and outside
    what the statement copied? Then the statement may paraphrase ("Contraindications to X include Y" -> "X is
    contraindicated in Y"; "… if X does not respond …; otherwise, …" -> "… if X responds …")."""
    copied = {j for tag, _, _, b1, b2 in opcodes if tag == "equal" for j in range(b1, b2)}
    for j, word in enumerate(c_words):
        if j1 <= j < j2 or j in copied:
            continue
        if word in family or word in contrast or any(
            word.startswith(f[:8]) for f in family if len(f) >= 8
        ):
            return True
    return False


def _list_sibling_kept(source: Source, context: list[Token], index: int, kept: set[str]) -> bool:
    """The context word at `index` is an item of a list ("A, B, or C") and the statement keeps a neighbouring item:
    the statement picks one item of the list ("One treatment … is B"), it does not replace A."""
    for step in (1, -1):
        j = index
        while 0 <= j + step < len(context):
            a, b = (context[j], context[j + step]) if step == 1 else (context[j + step], context[j])
            gap = source.text[a.end:b.start]
            nxt = context[j + step]
            if nxt.norm in ("or", "and", "and/or") or "," in gap or "/" in gap:
                if nxt.norm in ("or", "and", "and/or"):
                    j += step
                    continue
                return is_content(nxt.norm) and has(kept, nxt.norm)
            if j != index:  # after "or"/"and": the next word starts the sibling item
                return is_content(nxt.norm) and has(kept, nxt.norm)
            break
    return False


def _check_substitution(s_part: list[str], c_part: list[str], s_tokens: list[Token], source: Source,
                        where: IssueField, text: str = "", s_words: list[str] | None = None,
                        context: list[Token] | None = None, j1: int = 0) -> list[Issue]:
    """A named term of the source replaced by a word the source never uses ("apixaban" -> "gabapentin"), or a
    content word of the source replaced by a term-like word it never uses (an invented "zorvatinib"): term_substituted.
    A named term that the statement still states elsewhere was moved, not replaced ("X is associated with Y" -> "One
    form of Y associated with X"). A content word replaced by an invented word with no drug stem ("blorvex", see
    unknown_part): unknown_word_substituted."""
    if not s_part or not any(is_content(c) for c in c_part):
        return []
    kept = set(s_words or s_part)
    replaced_term = any(
        word_kind(c) for offset, c in enumerate(c_part)
        if c.isalpha() and not has_related(kept, c)
        and not (context and _list_sibling_kept(source, context, j1 + offset, kept))
    )
    replaced_word = any(c.isalpha() and is_content(c) for c in c_part)
    issues = []
    for word, token in zip(s_part, s_tokens, strict=True):
        raw = text[token.start:token.end] if text else word
        if (word.isalpha() and is_content(word) and len(word) > 3 and not source.supports_word(word)
                and (replaced_term or word_kind(word))):
            if is_abbreviation(raw) and source.supports_abbreviation(raw):
                continue  # "ECGs" for "electrocardiograms"
            if text and (abbreviated_in_source(raw, source)
                         or long_form_around(text, token.start, token.end, source)):
                continue  # "electrocardiograms" for "ECGs"
            issues.append(grounding_issue("term_substituted", "error",
                                 f"{word!r} replaces {' '.join(c_part)!r} of the {source.name}, which never "
                                 f"mentions it", (token.start, token.end), where))
            continue
        unknown = unknown_part(word, raw, source) if replaced_word else None
        if unknown is not None:  # an invented word with no drug stem replaces an ordinary word
            issues.append(grounding_issue("unknown_word_substituted", "error",
                                 f"{unknown!r} replaces {' '.join(c_part)!r} of the {source.name}; it is neither in "
                                 f"the {source.name} nor an English word, a named term or a medical word (invented?)",
                                 (token.start, token.end), where))
    return issues
