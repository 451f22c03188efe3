"""Read the next search page while the current one is mapped and stored.

A poll alternates between waiting on the server and working on what it sent; reading the
next page on a thread overlaps the two. Nothing about commits changes: the read-ahead page
is only handed over once the consumer asks for the next batch, i.e. after the current
page and its cursor (which still points at the read-ahead page) are stored. A poll that
stops in between simply drops the read-ahead page and resumes at that link next time.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Prefetch(Generic[T]):
    """``call()`` on a daemon thread, started at once; ``result()`` waits for it and returns
    its value or raises its exception, as if it had been called there and then. The thread
    runs in a copy of the caller's context, so its log lines keep the run's bindings.
    Daemon: a read-ahead left behind (the poll stopped) never holds up interpreter exit."""

    def __init__(self, call: Callable[[], T], name: str) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run, call), name=name, daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], T]) -> None:
        try:
            self._value = call()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._value  # type: ignore[return-value]  # set whenever no error was
