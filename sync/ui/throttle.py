"""Login throttling: after a few failures a key (a client address, a user name) is locked out
for a time that doubles with every further failure, up to a cap. Guessing a password then
costs hours instead of seconds, and a locked-out client is answered 429 before any password
is hashed, so an attack cannot buy CPU or memory with wrong guesses.

Bounded: at most ``max_entries`` keys are remembered (the least recently seen go first), so
an attacker cycling through addresses or user names cannot grow it without limit.

Not a token bucket (clinicsync/common/ratelimit.py is the one of those): a bucket spaces
attempts at a steady rate whether they succeed or not, where this lets a person who types
correctly through at once, stops only wrong guesses, and makes each further one cost twice
as long; nor the ``limits`` package, whose windows count hits but cannot forget them on a
success or lengthen the lock-out with each failure.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int
    locked_until: float
    last_failure: float


class Throttle:
    def __init__(self, free_failures: int = 5, base_seconds: float = 1.0, max_seconds: float = 900.0,
                 clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self.free_failures = free_failures
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self.clock = clock
        self.max_entries = max_entries
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Whole seconds until every one of ``keys`` may try again; None when none is locked."""
        now = self.clock()
        with self._lock:
            waits = [r.locked_until - now for key in keys if (r := self._records.get(key)) is not None]
        longest = max((w for w in waits if w > 0), default=0.0)
        return max(1, math.ceil(longest)) if longest > 0 else None

    def failed(self, keys: Iterable[str]) -> None:
        """Count one failure against each key; from the ``free_failures``-th on, lock it out (doubling)."""
        now = self.clock()
        with self._lock:
            for key in keys:
                record = self._records.pop(key, None)
                if record is None or now - record.last_failure > self.max_seconds * 2:
                    record = _Record(0, 0.0, now)  # quiet long enough: start afresh
                record.failures += 1
                record.last_failure = now
                over = record.failures - self.free_failures
                if over >= 0:
                    record.locked_until = now + min(self.max_seconds, self.base_seconds * 2 ** min(over, 32))
                self._records[key] = record
            while len(self._records) > self.max_entries:
                self._records.popitem(last=False)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._records.pop(key, None)
