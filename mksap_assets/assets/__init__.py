"""The Dagster assets: the four per-question assets (questions.py) and the roll-ups they feed (anki.py, report.py)."""

GROUP = "mksap"  # the one asset group the UI shows them in
