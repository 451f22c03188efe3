"""Login throttling: after a few failures a key (a client address, a user name, a known
device) is locked for a time that doubles with every further failure, up to a cap. Guessing a
password then costs hours instead of seconds, and a locked key is answered 429 before any
password is hashed, so an attack cannot buy CPU or memory with wrong guesses.

Counted before the check: an attempt *reserves* its place (``reserve``: refused while
the key is locked, else counted at once, and the key locked by the count that reaches the
allowance), and a success clears the key afterwards. Counting after the check let 60 parallel
guesses from one address all pass the read before any failure was written (19 passwords checked
where 5 were allowed); now the allowance is exactly what is checked.

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

from clinicsync.sync.config.settings.ui import UiSettings


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
                self._count(key, now)

    def reserve(self, key: str) -> int | None:
        """Whole seconds ``key`` is still locked (nothing counted); else None, with this attempt
        counted as a failure already (and the key locked if it reaches the allowance), in one
        step under the lock: parallel attempts cannot all pass before the first one is counted.
        A success undoes it (``succeeded``)."""
        now = self.clock()
        with self._lock:
            record = self._records.get(key)
            if record is not None and record.locked_until > now:
                return self.whole_seconds(record.locked_until - now)
            self._count(key, now)
        return None

    def _count(self, key: str, now: float) -> None:
        """One failure on ``key`` (the caller holds the lock)."""
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


class LocalLogins:
    """The login defence's counts in this process (OWASP's authentication guidance):

    - per client (``client``: the address, or a known device's id instead): ``failures_allowed``,
      then locked, doubling up to ``max_lockout_seconds``. Every attempt it makes that is not a
      success counts, also one refused because its account is slowed down;
    - per account (``account``: the user name): ``failures_allowed``, then each further attempt
      waits, doubling up to ``max_account_delay_seconds`` (a minute by default): a slow-down, never
      a lockout, so that guessing one user's password from many addresses stays slow while that
      user waits at most that long.

    There is no budget over all clients: one let anyone who could reach the port lock every
    user out. The store-backed ``SharedLogins`` (sync/ui/shared_login.py) has the same calls."""

    blocking = False  # in memory: async callers call it in place (sync/ui/shared_login.py ``off_loop``)

    def __init__(self, clients: Throttle, accounts: Throttle) -> None:
        self.clients, self.accounts = clients, accounts

    @classmethod
    def for_settings(cls, ui: UiSettings, clock: Callable[[], float] = time.monotonic) -> LocalLogins:
        return cls(Throttle(ui.failures_allowed, ui.lockout_seconds, ui.max_lockout_seconds, clock),
                   Throttle(ui.failures_allowed, ui.lockout_seconds, ui.max_account_delay_seconds, clock))

    def attempt(self, client: str, account: str | None) -> int | None:
        """Seconds to wait (refused, 429) or None: go ahead, counted on ``client`` and ``account``
        (a success clears both). A locked client counts nothing more; a slowed-down account
        counts on the client that tried it."""
        wait = self.clients.reserve(client)
        if wait is not None or account is None:
            return wait
        return self.accounts.reserve(account)

    def succeeded(self, keys: list[str]) -> None:
        self.clients.succeeded(keys)
        self.accounts.succeeded(keys)
