"""An overall deadline on a blocking network exchange: connect plus everything after it
(issue 59). Every client we use (smtplib, requests/urllib3, urllib, botocore, httpx) takes a
*per read* timeout, so a peer that sends one byte every 2 s never times out: `remind --once`
ran past 120 s on a mail server that trickled, with every send worker stuck on it.

How: ``SocketScope.within(seconds)`` marks the calling thread; the sockets it creates meanwhile
(seen through the interpreter's audit events ``socket.__new__`` and ``socket.connect``, so
whichever library opens them) are remembered by the scope. When the deadline passes, a watchdog
thread shuts them down (``shutdown(SHUT_RDWR)``, which wakes a blocked ``recv`` at once); the
library then fails as on a dropped connection, and its caller classifies that as it always did
(nothing handed over yet: retryable; after the request or message went out: unknown). A connect
attempted after the deadline raises ``TimeoutError`` at once, and each connect waits at most
the time left. The scope outlives one call: a kept-alive connection opened in an earlier send
is shut down too if a later send over it passes its deadline.

Cost: one audit hook for the process (a set lookup per audited event, a thread-local read per
socket event) and one watchdog thread, idle but for the deadlines it holds."""

from __future__ import annotations

import heapq
import itertools
import socket
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_EVENTS = frozenset({"socket.__new__", "socket.connect"})
_current = threading.local()
_installed = False
_install_lock = threading.Lock()


@dataclass
class Deadline:
    """One call's deadline: ``hit`` once it passed while the call was still running."""

    scope: SocketScope
    at: float
    seconds: float
    hit: bool = False
    done: bool = False

    def left(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        """The deadline ended the call, or the call ended at it (a timeout cut to the time left)."""
        return self.hit or self.left() <= 0.05


@dataclass(eq=False)
class SocketScope:
    """The sockets one client (one notifier instance, one HTTP client) has opened, so that a
    deadline can end the exchange it is stuck in. Calls may overlap in several threads (the FHIR
    client's fan-out): each has its own deadline, and one that passes shuts every socket of the
    client, which may cut a neighbour's request short too (it fails as a dropped connection and
    is retried as one): a peer that trickles is not worth keeping connections to."""

    sockets: weakref.WeakSet[socket.socket] = field(default_factory=weakref.WeakSet)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def within(self, seconds: float) -> Iterator[Deadline]:
        """Run the block with a deadline of ``seconds`` on its network exchange."""
        _install()
        deadline = Deadline(self, time.monotonic() + seconds, seconds)
        previous = getattr(_current, "deadline", None)
        _current.deadline = deadline
        _WATCHDOG.watch(deadline)
        try:
            yield deadline
        finally:
            deadline.done = True
            _current.deadline = previous

    def add(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.add(sock)

    def expire(self, deadline: Deadline) -> None:
        """The watchdog's call: end every exchange of this scope's sockets, if ``deadline``'s call still runs."""
        if deadline.done:
            return
        deadline.hit = True
        with self.lock:
            sockets = list(self.sockets)
        for sock in sockets:
            try:
                if sock.fileno() != -1:
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)  # not SSLSocket's: no TLS goodbye to wait for
            except OSError:
                pass  # not connected (yet), or closed meanwhile


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in _EVENTS:
        return
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is None or deadline.done:
        return
    sock = args[0]
    if not isinstance(sock, socket.socket):
        return
    deadline.scope.add(sock)
    if event == "socket.connect":
        left = deadline.left()
        if deadline.hit or left <= 0:
            raise TimeoutError(f"the overall deadline of {deadline.seconds:g} s passed before connecting")
        timeout = sock.gettimeout()
        if timeout is None or timeout > left:
            sock.settimeout(left)  # the library sets its own read timeout after connecting, as it always did


def _install() -> None:
    global _installed
    if _installed:
        return
    with _install_lock:
        if not _installed:
            sys.addaudithook(_audit)
            _installed = True


class _Watchdog:
    """One daemon thread that expires deadlines in time order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="send-deadlines", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)  # finished in time: nothing to do
                if not self._heap:
                    self._wake.wait()
                    continue
                at, _, deadline = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
            deadline.scope.expire(deadline)


_WATCHDOG = _Watchdog()
