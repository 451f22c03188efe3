"""A wake-up call between jobs: the poll jobs ring it when a poll stored a change, and the
stages job (jobs.py ``stages_job``) sleeps on it. Rings that come while the stages sleep or
run collapse into one: a burst of polls finishing together costs one stage pass, and an idle
poll costs none."""

from __future__ import annotations

import threading


class Wake:
    """A flag a thread can sleep on with a time limit; ``ring`` from any thread."""

    def __init__(self) -> None:
        self._rung = threading.Event()

    def ring(self) -> None:
        self._rung.set()

    def wait(self, seconds: float) -> bool:
        """Sleep until rung or ``seconds`` have passed; True when rung (the ring stays set
        until ``take``: a job that wakes for another reason still sees it)."""
        return self._rung.wait(max(0.0, seconds))

    def take(self) -> bool:
        """Clear the ring before a pass and say whether it was rung: a ring during the pass
        then asks for the next one, so no change waits for the schedule."""
        rung = self._rung.is_set()
        self._rung.clear()
        return rung

    def rung(self) -> bool:
        return self._rung.is_set()
