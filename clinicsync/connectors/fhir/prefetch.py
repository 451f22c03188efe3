"""Read the next search page while the current one is mapped and stored.

A poll alternates between waiting on the server and working on what it sent; reading the
next page on a thread overlaps the two. Nothing about commits changes: the read-ahead page
is only handed over once the consumer asks for the next batch, i.e. after the current
page and its cursor (which still points at the read-ahead page) are stored. A poll that
stops in between simply drops the read-ahead page and resumes at that link next time.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
_Work = tuple[Callable[[], Any], "Future[Any]", contextvars.Context]


class ReadAhead:
    """One daemon thread (started on first use) that runs submitted calls in order; each
    call's value or exception comes back through its Future, as if called by the caller.

    One thread per listing rather than one per page: starting a thread waits for it to be
    scheduled, which on a busy machine cost more than the page. Calls run in a copy of the
    submitter's context, so log lines keep the run's bindings. Daemon: a read-ahead left
    behind (the poll stopped) never holds up interpreter exit."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, call: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._work.put((call, future, contextvars.copy_context()))
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
            self._thread.start()
        return future

    def close(self) -> None:
        """The thread ends after the call in hand (if any); its result is dropped."""
        if self._thread is not None:
            self._work.put(None)

    def _serve(self) -> None:
        while (work := self._work.get()) is not None:
            call, future, context = work
            try:
                future.set_result(context.run(call))
            except BaseException as exc:  # handed to the caller by future.result()
                future.set_exception(exc)
