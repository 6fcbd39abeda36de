"""Negation: every negation of the statement must be a negation of its source about the same words, and a word the
aligned sentence negates must not be stated without one."""

from __future__ import annotations

from mksap_assets.domain.nlp.rules import Cue
from mksap_assets.domain.statements import Issue, IssueField
from mksap_assets.domain.validation.grounding.cues import (
    Anchors,
    clause_before,
    cue_anchors,
    restrictive,
)
from mksap_assets.domain.validation.grounding.issues import grounding_issue
from mksap_assets.domain.validation.grounding.source import (
    WEAK_ALIGNMENT,
    Alignment,
    Source,
    SourceCue,
)
from mksap_assets.domain.validation.grounding.tokens import (
    STOP_WORDS,
    Token,
    is_content,
    tokenize,
)
from mksap_assets.domain.validation.grounding.words import (
    NEGATION_WORDS,
    OBLIGATION_WORDS,
    has,
    has_exact,
    has_related,
    variants,
)

# Actions a source may say have not been done yet, which a statement may state as a requirement:
# "X has not been excluded" -> "X must be excluded".
_PENDING_VERBS = frozenset(
    """excluded ruled evaluated assessed performed done obtained tested measured confirmed established identified
    treated completed started initiated administered given tried checked investigated addressed""".split()
)
_NEED_WORDS = OBLIGATION_WORDS | {"need", "needs", "needed"}


def unmet_requirement(negated: list[str], other: list[str], following: list[str]) -> bool:
    """The negated side says an action has not (yet) been done; the other side says it must be."""
    if "not" not in negated or not any(w in _NEED_WORDS for w in other):
        return False
    after = negated[negated.index("not") + 1:] + following
    if not after or after[0] not in ("been", "yet", "previously"):
        return False
    verb = next((w for w in after if w not in ("been", "yet", "previously", "be")), "")
    return verb in _PENDING_VERBS


_COMPLEMENT_WORDS = frozenset({"other", "remaining"})


def complement_paraphrase(text: str, cue: Cue, source: Source, alignment: Alignment) -> bool:
    """The statement negates a group the source names as the complement of another: "all other patients" ->
    "patients without additional risk factors", "the remaining cases" -> "the cases not inherited"."""
    before = [t.norm for t in tokenize(text[max(0, cue.start - 40):cue.start])][-3:]
    nouns = [w for w in before if len(w) > 3 and w.isalpha() and w not in STOP_WORDS | {"that"}] or [
        w for w in before if w in ("patients", "patient")]
    if not nouns:
        return False
    indices = {i + d for i in alignment.sentences for d in (-1, 0, 1)} & set(range(len(source.sentence_tokens)))
    for index in indices:
        words = [t.norm for t in source.sentence_tokens[index]]
        for a, b in zip(words, words[1:]):
            if a in _COMPLEMENT_WORDS and any(b in variants(noun) for noun in nouns):
                return True
    return False


# Words by which a sentence states the opposite case too ("… if X does not respond …; otherwise, …").
CONTRAST_WORDS = frozenset("otherwise unless except whereas conversely instead".split())
# Those that state the other case of the same clause ("…; otherwise, …"), not another subject ("whereas").
COMPLEMENT_WORDS = frozenset("otherwise unless except".split())

_CASE_WORDS = frozenset({"patient", "patients", "he", "she", "his", "her"})


def _about_the_case(text: str, start: int) -> bool:
    """The clause before a cue has the case patient as its only subject ("This patient has not …", "She does
    not …")."""
    words = [t.norm for t in tokenize(clause_before(text, start))]
    return bool(_CASE_WORDS & set(words)) and not any(is_content(w) for w in words)


def check_negation_cues(cues: list[Cue], text: str, source: Source, alignment: Alignment,
                         where: IssueField) -> list[Issue]:
    """Every negation of the statement must be a negation of the source about the same words: the word it
    negates, or at least two of the words around it, in the window of a negative cue of the source."""
    issues: list[Issue] = []
    negative = [c for c in cues if c.negative]
    if not negative:
        return issues
    context = set(alignment.sentences) if alignment.strong else set()
    source_negative = [c for c in source.cues if c.negative]
    for cue in negative:
        anchors = cue_anchors(text, cue.start, cue.end, cue.scope_end)
        words = [w for w in (anchors.head, *anchors.others) if w]
        if not words:
            continue
        cue_words = [t.norm for t in tokenize(cue.text) if is_content(t.norm) or t.norm in NEGATION_WORDS]

        def statement_scope(cue: Cue = cue) -> frozenset[str]:
            return frozenset(t.norm for t in tokenize(text[cue.end:cue.scope_end]) if is_content(t.norm))

        supported = near = False
        for source_cue in source_negative:
            window = source.cue_window(source_cue)
            matched = sum(has(window, w) for w in anchors.others)
            # the same cue, or one of its family ("contraindication" for "contraindicated")
            same_cue = any(has_related(window, w) for w in cue_words if w not in ("not", "no"))
            head_found = bool(anchors.head) and has(window, anchors.head)
            # A statement aligned with another sentence needs more than its head word in a negation elsewhere: the
            # same subject, or two words around it ("X is not the most appropriate next step" is not supported by
            # "Y is not appropriate").
            far = bool(context) and source_cue.sentence not in context and len(anchors.others) >= 2
            same_subject = False
            if far:
                # the source cue must negate the head itself, and be said of the same subject
                head_found = head_found and has(source.cue_scope(source_cue), anchors.head)
                subject = source.cue_subject(source_cue)
                if subject:
                    same_subject = sum(has(subject, w) for w in anchors.before) >= min(2, len(subject),
                                                                                       len(anchors.before))
                    # or the same fact turned round: "Y is a contraindication to X" for "X is contraindicated in
                    # Y": the statement's subject is what the source cue governs, and the source's subject is
                    # what the statement's cue governs
                    same_subject = same_subject or (
                        bool(anchors.before)
                        and sum(has(source.cue_scope(source_cue), w) for w in anchors.before)
                        >= min(2, len(anchors.before))
                        and any(has(statement_scope(), w) for w in subject)
                    )
                else:  # said of a pronoun: two more of the statement's words in what it negates
                    scope = source.cue_scope(source_cue)
                    same_subject = sum(has(scope, w) for w in anchors.others if w != anchors.head) >= 2
                if not same_subject:
                    head_found = same_cue = False
            # a cue of the same family, said of the same subject, needs one more word in common even when far
            if ((head_found or (not anchors.head and matched >= 2 and not far)
                    or (same_cue and (matched >= (2 if far and not same_subject else 1) or not anchors.others)))):
                supported = True
                break
            near = near or (matched >= 1 and source_cue.sentence in context)
        if supported:
            continue
        span = (cue.start, cue.end)
        if near or complement_paraphrase(text, cue, source, alignment):
            issues.append(grounding_issue("negation_paraphrased", "warning",
                                 f"{cue.text!r}: the aligned {source.name} sentence negates something close, not "
                                 f"{anchors.head or words[0]!r}", span, where))
        else:
            issues.append(grounding_issue("negation_unsupported", "error",
                                 f"{cue.text!r}: the {source.name} does not negate {', '.join(words[:3])}", span,
                                 where))
    return issues


def check_dropped_negations(tokens: list[Token], source: Source, alignment: Alignment,
                             where: IssueField) -> list[Issue]:
    """A negation of the aligned source sentence whose head word the statement states with no negation near any
    of its occurrences, about the same subject: "Drug A has no activity against X" -> "Drug A has activity
    against X". A warning only when the source sentence states the opposite case too ("otherwise", "unless")."""
    if alignment.coverage < WEAK_ALIGNMENT or not tokens:
        return []
    issues: list[Issue] = []
    words = [t.norm for t in tokens]
    present = set(words)
    for source_cue, cue_text, anchors, head_variants in source.negative_cues():
        if (head_variants.isdisjoint(present)
                or not any(has_exact(present, w) for w in anchors.others)):
            continue
        # A negation of another sentence counts only when it is said of the statement's own subject and about
        # several of its words: "The device is contraindicated in A, B and C" for "The device is indicated in B".
        far = source_cue.sentence not in alignment.sentences
        if far and not _far_negation_about_statement(source, source_cue, anchors, present, alignment):
            continue
        following = [t.norm for t in tokenize(source.text[source_cue.start:source_cue.scope_end])][1:2]
        if following == ["or"]:
            continue  # "no or minimal response": an alternative
        if not alignment.strong and sum(has_exact(present, w) for w in {*anchors.before, *anchors.others}) < 3:
            continue  # a loosely aligned statement: only a negation about several of its words
        if (anchors.before and restrictive(source.text, source_cue.start)
                and not any(has_exact(present, w) for w in anchors.before)):
            continue  # about another group: "in adults who have no risk factors, …" -> "One risk factor is …"
        if not anchors.before and _about_the_case(source.text, source_cue.start) and not present & _CASE_WORDS:
            continue  # "This patient has not yet had a foot examination": the case, not a general fact
        lexical = {t.norm for t in tokenize(cue_text)} & NEGATION_WORDS - {"not", "no"}
        if any(has_exact(present, w) for w in lexical):
            continue  # the statement keeps the source's own negative word ("ineffective", "avoided")
        occurrences = [i for i, word in enumerate(words) if variants(word) & variants(anchors.head)]
        if any(any(w in NEGATION_WORDS or w in _EXCLUDING_WORDS for w in words[max(0, i - 5):i + 3])
               for i in occurrences):
            continue  # negated somewhere in the statement ("does not have X" -> "excludes X"): kept
        scope = [t.norm for t in tokenize(source.text[source_cue.start:source_cue.scope_end])]
        if any(unmet_requirement(scope[:3], words[max(0, i - 4):i], scope[3:]) for i in occurrences):
            continue  # "X has not been excluded" -> "X must be excluded"
        sentence_start, sentence_end = source.sentences[source_cue.sentence]
        sentence_words = [t.norm for t in tokenize(source.text[sentence_start:sentence_end])]
        if any(
            variants(word) & variants(anchors.head)
            and not any(w in NEGATION_WORDS for w in sentence_words[max(0, i - 5):i + 3])
            for i, word in enumerate(sentence_words)
        ):
            continue  # the sentence also states it affirmatively ("is effective for A but ineffective for B")
        # the opposite case is one the statement could be stating, unless it copies the contrast itself ("… is not
        # recommended except in A" -> "… is recommended except in A")
        contrast = bool(set(sentence_words) & CONTRAST_WORDS - present)
        token = tokens[occurrences[0]]
        issues.append(grounding_issue(
            "negation_unclear" if contrast else "negation_dropped",
            "warning" if contrast else "error",
            f"the {source.name} says {cue_text!r} about {anchors.head!r}; the statement states it without a "
            "negation" + (" (the source contrasts two cases)" if contrast else ""),
            (token.start, token.end), where,
        ))
    return issues


def _far_negation_about_statement(source: Source, source_cue: SourceCue, anchors: Anchors, present: set[str],
                                  alignment: Alignment) -> bool:
    """A negation in a source sentence other than the aligned one is about the statement's words only when it is
    said of the statement's subject (its words before the cue in its clause, two of them or all if fewer; not a
    restricted group such as "in adults without …"), two of the statement's words besides its head are around it or
    in what it governs ("The device is contraindicated in A, B and C" for "The device is indicated in B"), and the
    aligned sentences do not state the head without a negation."""
    subject = anchors.before
    if not subject or sum(has_exact(present, w) for w in subject) < min(2, len(subject)):
        return False
    if restrictive(source.text, source_cue.start):
        return False
    around = {w for w in (*anchors.others, *source.cue_scope(source_cue))
              if is_content(w) and w not in NEGATION_WORDS}
    around.discard(anchors.head)
    if sum(has_exact(present, w) for w in around) < 2:
        return False
    for index in alignment.sentences:
        words = [t.norm for t in source.sentence_tokens[index]]
        if any(variants(word) & variants(anchors.head)
               and not any(w in NEGATION_WORDS for w in words[max(0, i - 5):i + 3]) for i, word in enumerate(words)):
            return False  # the aligned sentence states it: "X is recommended in A" beside "X is not recommended in B"
    return True


# Words by which a statement negates what follows without a negation cue: "excludes X", "rules out X".
_EXCLUDING_WORDS = frozenset({"exclude", "excludes", "excluded", "excluding", "exclusion", "rule", "rules",
                              "ruled", "ruling"})
