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
from typing import NamedTuple

from clinicsync.sync.settings.ui import UiSettings


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
        return self.whole_seconds(max(waits, default=0.0))

    @staticmethod
    def whole_seconds(wait: float) -> int | None:
        """A wait as the whole seconds a Retry-After says (at least 1); None when it is over."""
        return max(1, math.ceil(wait)) if wait > 0 else None

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


class Verdict(NamedTuple):
    """An attempt's standing: ``wait`` seconds (None: it may go ahead); ``counted``, whether its
    keys have failures that a success must clear (a shared store skips that write when not)."""

    wait: int | None
    counted: bool


class LocalLogins:
    """The login defence's counts in this process: ``throttle`` per client address and user name
    (``keys``), ``kinds`` per credential kind over every client (``kind``; not reset by a success:
    an attacker must not get a fresh budget each time the desk logs in). The store-backed
    ``SharedLogins`` (sync/ui/shared_login.py) has the same three calls."""

    blocking = False  # in memory: async callers call it in place (sync/ui/shared_login.py ``off_loop``)

    def __init__(self, throttle: Throttle, kinds: Throttle) -> None:
        self.throttle, self.kinds = throttle, kinds

    @classmethod
    def for_settings(cls, ui: UiSettings) -> LocalLogins:
        return cls(Throttle(ui.failures_allowed, ui.lockout_seconds, ui.max_lockout_seconds),
                   Throttle(ui.failures_allowed_per_kind, ui.lockout_seconds, ui.max_lockout_seconds))

    def check(self, keys: list[str], kind: list[str]) -> Verdict:
        """The longest lockout over ``keys`` and ``kind`` (empty: credentials already verified
        pass a locked kind), so "try again in N s" names the time the attempt can succeed."""
        waits = [w for w in (self.throttle.retry_after(keys), self.kinds.retry_after(kind)) if w is not None]
        return Verdict(max(waits, default=None), True)

    def failed(self, keys: list[str], kind: list[str]) -> None:
        self.throttle.failed(keys)
        self.kinds.failed(kind)

    def succeeded(self, keys: list[str]) -> None:
        self.throttle.succeeded(keys)
