"""The live status of the jobs of `clinicsync run`: written by the jobs (jobs.py), read by the
health endpoint and by /metrics (metrics.py), so both import it and neither imports the other."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from clinicsync.common.types import utcnow


@dataclass
class JobStatus:
    """What a job did lately: read by the health endpoint and metrics."""

    runs: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    running_since: datetime | None = None
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    next_due: datetime | None = None


# Upper bounds (seconds) of the job duration histogram: a dispatch takes well under a second,
# a first import of a large source can take many minutes.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass
class Durations:
    """How long a job's runs took: counts per bucket of DURATION_BUCKETS (+Inf last), and the sum."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        index = next((i for i, bound in enumerate(DURATION_BUCKETS) if seconds <= bound), len(DURATION_BUCKETS))
        self.counts[index] += 1
        self.total += seconds


@dataclass
class JobBoard:
    """The live status of every job, safe to read from any thread."""

    jobs: dict[str, JobStatus] = field(default_factory=dict)
    durations: dict[str, Durations] = field(default_factory=dict)
    _began: dict[str, float] = field(default_factory=dict, repr=False)  # monotonic start of the run
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self._lock:
            self.jobs.setdefault(name, JobStatus())
            self.durations.setdefault(name, Durations())

    def due(self, name: str, when: datetime) -> None:
        with self._lock:
            self.jobs[name].next_due = when

    def started(self, name: str) -> None:
        with self._lock:
            status = self.jobs[name]
            status.running_since = status.last_started = utcnow()
            self._began[name] = time.monotonic()

    def finished(self, name: str, error: str | None) -> None:
        with self._lock:
            status = self.jobs[name]
            status.runs += 1
            status.running_since = None
            status.last_finished = utcnow()
            status.last_error = error
            began = self._began.pop(name, None)
            if began is not None:
                self.durations[name].observe(time.monotonic() - began)
            if error is None:
                status.consecutive_failures = 0
                status.last_success = status.last_finished
            else:
                status.failures += 1
                status.consecutive_failures += 1

    def figures(self) -> dict[str, tuple[JobStatus, Durations]]:
        """A consistent copy of each job's status and durations (for /metrics)."""
        with self._lock:
            return {name: (replace(status), Durations(list(self.durations[name].counts), self.durations[name].total))
                    for name, status in self.jobs.items()}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: {key: (value.isoformat() if isinstance(value, datetime) else value)
                           for key, value in vars(status).items()} for name, status in self.jobs.items()}
