"""Validators of a question's statements: `validate_extraction` (validate.py) runs the checks of every statement
(structure.py, cloze.py, quality.py, autofix.py's mechanical defects, grounding/ against the statement's source),
repairs mechanical defects (autofix.py), gates each statement (card_gate.py) and counts the question's summary;
pool.py runs it in worker processes."""

from mksap_assets.domain.validation.validate import (
    VALIDATOR_VERSION,
    check_statement,
    summarised,
    validate_extraction,
)

__all__ = ["VALIDATOR_VERSION", "check_statement", "summarised", "validate_extraction"]
