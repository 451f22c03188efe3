"""The one token bucket: at most ``rate`` events per second on average, bursts up to
``capacity``. Reminder sending waits for its token (``acquire``); the REST API refuses a
request past its burst with the seconds to wait (``try_acquire``, per source through
``KeyedBuckets``). The login throttle (sync/ui/throttle.py) is not a rate: it counts
failures and locks out for doubling times, so it is not built on this.

Ours rather than the ``limits`` package: ``limits`` offers fixed and sliding
windows of whole "N per period" counts, not a bucket with a fractional rate, it cannot
wait in turn (a blocked sender would poll), and it reads the wall clock itself, where the
tests drive an injected clock and sleep; the bucket is twenty lines.

The default capacity is one event: a full bucket of ``rate`` would let a run start with a
burst of ``rate`` and so send twice the rate in its first second, which a provider
enforcing its limit per second refuses (429).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate: float, capacity: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity if capacity is not None else 1.0
        self.tokens = self.capacity
        self._clock, self._sleep = clock, sleep
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self) -> float:
        """Take one token, waiting for it if need be; returns the seconds waited.

        A caller that finds the bucket empty reserves the next token (the count goes
        negative) and sleeps until it is due, so waiting callers are served in order."""
        with self._lock:
            self._refill()
            self.tokens -= 1
            wait = max(0.0, -self.tokens / self.rate)
        if wait:
            self._sleep(wait)
        return wait

    def try_acquire(self) -> float:
        """Take one token if there is one and return 0; otherwise take nothing and return
        the seconds until one will be there. Never waits."""
        with self._lock:
            self._refill()
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate

    def reconfigure(self, rate: float, capacity: float) -> None:
        """Apply a changed rate or capacity (settings reloaded) without forgetting what
        was spent: the tokens earned so far count at the old rate."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        with self._lock:
            self._refill()
            self.rate, self.capacity = rate, capacity
            self.tokens = min(self.capacity, self.tokens)


class KeyedBuckets:
    """One non-waiting bucket per key (an API source), created full on first use."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def try_acquire(self, key: str, rate: float, capacity: float) -> float:
        """0 when `key` may go ahead now; otherwise the seconds until it may."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(rate, capacity, clock=self._clock)
        if (bucket.rate, bucket.capacity) != (rate, capacity):
            bucket.reconfigure(rate, capacity)
        return bucket.try_acquire()
