"""benchmarks/results.md, where every benchmark appends its measurements."""

from collections.abc import Sequence
from pathlib import Path

RESULTS = Path(__file__).with_name("results.md")


def append_results(lines: Sequence[str]) -> None:
    """Append a benchmark's section to results.md and print it."""
    text = "\n".join(lines)
    with RESULTS.open("a") as handle:
        handle.write(text + "\n")
    print(text)
