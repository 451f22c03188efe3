"""A token bucket shared by the sending threads of one notifier: at most ``rate``
messages per second on average, bursts up to ``capacity``. The default capacity is one
message: a full bucket of ``rate`` would let a run start with a burst of ``rate`` and so
send twice the rate in its first second, which a provider enforcing its limit per second
refuses (429)."""

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
