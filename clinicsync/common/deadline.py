"""An overall deadline on a blocking network exchange: connect plus everything after it,
so a slow peer cannot hold a worker. Every client we use (smtplib, requests/urllib3, urllib, botocore, httpx) takes a
*per read* timeout, so a peer that sends one byte every 2 s never times out: `remind --once`
ran past 120 s on a mail server that trickled, with every send worker stuck on it.

How: ``SocketScope.within(seconds)`` marks the calling thread; the sockets it creates meanwhile
(seen through the interpreter's audit events ``socket.__new__`` and ``socket.connect``, so
whichever library opens them) are remembered by the scope. When the deadline passes, a watchdog
thread shuts them down (``shutdown(SHUT_RDWR)``, which wakes a blocked ``recv`` at once); the
library then fails as on a dropped connection, and its caller classifies that as it always did
(nothing handed over yet: retryable; after the request or message went out: unknown). A connect
attempted after the deadline raises ``TimeoutError`` at once, and each connect waits at most
the time left.

Only the sockets the expiring call is using are shut: several sends share one notifier (the
dispatcher's send workers) and one HTTP client (the FHIR fan-out), and shutting them all turned
one slow exchange into many cut ones (a healthy message past DATA ended `unknown`). Each socket
belongs to the last call that claimed it: a socket created or connected during a call is that
call's, and a kept-alive connection taken up again by a later call is claimed by it (``claim``:
the SMTP pool's checkout, the httpx transport's network stream, httplib2's per-request path).
A deadline shuts the sockets its call owns; one owned by another call still running is never
touched. A scope whose client does not claim the connections it reuses (``claims_reuse=False``,
e.g. requests' pool inside the Twilio client) also shuts its sockets that no running call owns,
so a call stuck on a reused connection is still cut in time (a neighbour reusing an idle
connection of that client, unclaimed, may be cut with it and is classified as a dropped
connection). HTTP/2 multiplexes calls over one socket: it belongs to whichever call last read or
wrote it, so a call past its deadline on a busy HTTP/2 connection waits for that call's.

Cost: one audit hook for the process (a set lookup per audited event, a thread-local read per
socket event), a process-wide lock taken per socket created, connected or claimed (and by the
watchdog), and one watchdog thread, idle but for the deadlines it holds."""

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
_lock = threading.Lock()
_owners: weakref.WeakKeyDictionary[socket.socket, Deadline] = weakref.WeakKeyDictionary()
"""Each socket's owner: the call that last created, connected or claimed it."""
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
    deadline can end the exchange it is stuck in. Calls may overlap in several threads (send
    workers, the FHIR client's fan-out): each has its own deadline, and one that passes shuts
    only the sockets its own call owns (module docstring)."""

    claims_reuse: bool = True
    """The client claims every kept-alive connection it reuses (``claim``), so a deadline need
    only shut its own call's sockets; False: also those no running call owns (see the module)."""
    sockets: weakref.WeakSet[socket.socket] = field(default_factory=weakref.WeakSet)

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

    def expire(self, deadline: Deadline) -> None:
        """The watchdog's call: end the exchanges of the sockets ``deadline``'s call owns, if it still runs.
        Under the ownership lock, so a socket claimed by another call meanwhile is left alone."""
        if deadline.done:
            return
        deadline.hit = True
        with _lock:
            for sock in list(self.sockets):
                owner = _owners.get(sock)
                if owner is deadline or (not self.claims_reuse and (owner is None or owner.done)):
                    _shutdown(sock)


def claim(sock: socket.socket | None) -> None:
    """The calling thread's call now uses ``sock`` (a kept-alive connection taken up again): its
    deadline, and no other call's, may shut it. Nothing outside a deadline, or for ``None``."""
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None and not deadline.done and isinstance(sock, socket.socket):
        _claim(deadline, sock)


def _claim(deadline: Deadline, sock: socket.socket) -> None:
    with _lock:
        _owners[sock] = deadline
        deadline.scope.sockets.add(sock)


def _shutdown(sock: socket.socket) -> None:
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
    _claim(deadline, sock)
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
