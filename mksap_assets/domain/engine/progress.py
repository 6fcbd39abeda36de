"""Progress of a long run: a line every N questions with rate and ETA, and a warning for a question slower than
twice the running median (the seed guide's "checkpoints for long runs" and "alert on performance degradation")."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

MIN_SAMPLES_FOR_MEDIAN = 20
MAX_SLOW_WARNINGS = 20


@dataclass
class Progress:
    total: int
    every: int = 100
    slow_factor: float = 2.0
    clock: object = time.monotonic
    done: int = 0
    slow: int = 0
    _durations: list[float] = field(default_factory=list)
    _started: float | None = None

    def median(self) -> float:
        return self._durations[len(self._durations) // 2] if self._durations else 0.0

    def record(self, question_id: str, seconds: float) -> list[tuple[str, str]]:
        """Account for one finished question; returns (level, message) pairs to log."""
        now = self.clock()
        if self._started is None:
            self._started = now - seconds
        messages = []
        if len(self._durations) >= MIN_SAMPLES_FOR_MEDIAN and seconds > self.slow_factor * self.median():
            self.slow += 1
            if self.slow <= MAX_SLOW_WARNINGS:
                messages.append((
                    "warning",
                    f"{question_id} took {seconds:.2f}s, over {self.slow_factor:g}× the running median "
                    f"({self.median():.2f}s)" + (" (further slow questions are only counted)"
                                                 if self.slow == MAX_SLOW_WARNINGS else ""),
                ))
        bisect.insort(self._durations, seconds)
        self.done += 1
        if self.done % self.every == 0 or self.done == self.total:
            elapsed = max(now - self._started, 1e-9)
            rate = self.done / elapsed
            eta = (self.total - self.done) / rate if rate else 0.0
            messages.append((
                "info",
                f"{self.done}/{self.total} questions ({rate:.1f}/s, ETA {eta:.0f}s, median {self.median():.2f}s, "
                f"{self.slow} slow)",
            ))
        return messages
