"""Validation reports for docs/VALIDATION.md, from the real corpus (../shared/corpus; never copied here).

    python benchmarks/validation_report.py reference   # the original system's outputs (files with true_statements)
    python benchmarks/validation_report.py offline     # the offline extractor on every corpus question
    python benchmarks/validation_report.py planted     # the planted-fault suites: the bundled samples, and (when
                                                       # ../shared is present) the original system's statements and
                                                       # the model-written statements of ../shared/model_responses

Prints counts and issue codes only (no statement text), as Markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from pathlib import Path

import orjson

from mksap_assets.domain.extraction.offline import OfflineExtractor
from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question
from mksap_assets.domain.statements import Extraction
from mksap_assets.domain.validation import validate_extraction
from mksap_assets.settings import PROJECT_ROOT

CORPUS = PROJECT_ROOT.parent / "shared" / "corpus"


def reference_extraction(document: dict) -> Extraction:
    """The original system's stored statements as an Extraction (extra keys such as final_clozes dropped)."""
    return Extraction.from_document(document, extractor="original", prompt_version="original")


def _rate(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "0/0"


def reference(corpus: Path) -> None:
    rows = []
    codes_by_statement: Counter[str] = Counter()
    error_codes: Counter[str] = Counter()
    warning_codes: Counter[str] = Counter()
    category_statements: Counter[str] = Counter()
    rejected_fields: Counter[str] = Counter()
    fix_codes: Counter[str] = Counter()
    totals = Counter()
    for question_file in discover_questions(corpus):
        document = orjson.loads(question_file.path.read_bytes())
        if "true_statements" not in document:
            continue
        raw = load_raw_question(question_file)
        extraction = reference_extraction(document)
        without_fix = validate_extraction(extraction, raw, autofix=False)
        validated = validate_extraction(extraction, raw)
        rejected_before = sum(1 for _, _, s in without_fix.checked() if any(i.severity == "error" for i in s.issues))
        rejected = validated.validation.statements_with_errors
        reasons: Counter[str] = Counter()
        for _, _, item in validated.checked():
            errors = {i.code for i in item.issues if i.severity == "error"}
            reasons.update(errors)
            fields = {i.field for i in item.issues if i.severity == "error"}
            if fields:
                rejected_fields[" + ".join(sorted(fields))] += 1
            fix_codes.update(f.code for f in item.fixes)
            for code in errors:
                error_codes[code] += 1
            for code in {i.code for i in item.issues if i.severity == "warning"}:
                warning_codes[code] += 1
            for category in {i.category for i in item.issues if i.severity == "warning"}:
                category_statements[category] += 1
            codes_by_statement.update({i.code for i in item.issues})
        n = validated.validation.statements
        totals.update(statements=n, rejected=rejected, rejected_before=rejected_before, fixes=validated.validation.fixes,
                      fixed_statements=sum(1 for _, _, s in validated.checked() if s.fixes))
        rows.append((raw.question_id, n, rejected_before, rejected, validated.validation.fixes,
                     ", ".join(f"{c} {k}" for c, k in sorted(((k, c) for c, k in reasons.items()), reverse=True))))
    print("| question | statements | rejected before fixes | rejected after fixes | fixes | error codes "
          "(statements) |")
    print("|---|---|---|---|---|---|")
    for qid, n, before, after, fixes, reasons in rows:
        print(f"| {qid} | {n} | {before} | {after} | {fixes} | {reasons or '–'} |")
    print(f"| **total** | {totals['statements']} | {_rate(totals['rejected_before'], totals['statements'])} | "
          f"{_rate(totals['rejected'], totals['statements'])} | {totals['fixes']} "
          f"(on {totals['fixed_statements']} statements) | |")
    print()
    print("Statements with each error code:", dict(error_codes.most_common()))
    print("Rejected statements by the field their errors are in:", dict(rejected_fields.most_common()))
    print("Fixes by code:", dict(fix_codes.most_common()))
    print()
    n = totals["statements"]
    print("| warning category | statements flagged | rate |")
    print("|---|---|---|")
    for category in ("ambiguity", "enumeration", "quality", "cloze", "grounding", "structure"):
        print(f"| {category} | {category_statements[category]} | {_rate(category_statements[category], n)} |")
    print()
    print("Statements with each warning code:", dict(warning_codes.most_common()))


def offline(corpus: Path) -> None:
    extractor = OfflineExtractor()
    totals: Counter[str] = Counter()
    codes: Counter[tuple[str, str, str]] = Counter()
    for question_file in discover_questions(corpus):
        raw = load_raw_question(question_file)
        validated = validate_extraction(asyncio.run(extractor.extract(raw)), raw)
        totals.update(questions=1, passed=validated.validation.statements_passed,
                      statements=validated.validation.statements, with_errors=validated.validation.statements_with_errors)
        for _, _, item in validated.checked():
            codes.update((i.severity, i.category, i.code) for i in item.issues)
    print(f"questions {totals['questions']}, statements {totals['statements']}, passed "
          f"{_rate(totals['passed'], totals['statements'])}, with an error {totals['with_errors']}")
    grounding_errors = sum(c for (sev, cat, _), c in codes.items() if sev == "error" and cat == "grounding")
    print(f"grounding errors: {grounding_errors}")
    for (severity, category, code), count in sorted(codes.items(), key=lambda kv: (kv[0][0], -kv[1])):
        print(f"  {severity:8} {category:12} {code:28} {count}")


def planted() -> None:
    sys.path.insert(0, str(PROJECT_ROOT))
    from mksap_assets_tests.domain.test_planted_faults import planted_report

    print(planted_report())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", choices=["reference", "offline", "planted"])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    if args.report == "planted":
        planted()
    elif not args.corpus.is_dir():
        sys.exit(f"no corpus at {args.corpus}")
    elif args.report == "reference":
        reference(args.corpus)
    else:
        offline(args.corpus)


if __name__ == "__main__":
    main()
