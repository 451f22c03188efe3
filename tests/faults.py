"""Provider faults on loopback, for the vendors' real clients: a seeded plan that decides,
per request, whether the fake answers normally, throttles (429 + Retry-After), fails
(500/503), resets the connection before taking the request, takes the request and then
resets, or takes it and never answers (the client times out). The fakes count what the
provider *accepted* per key, so a test can tell "sent once" from "sent twice" or "lost".

A draw is keyed by (seed, key, n-th request for that key), so the faults a message meets do
not depend on which worker thread got there first. The key is what identifies a message at
the provider; the tests give each reminder its own recipient and key by that (Twilio's
form carries no idempotency key). Requests with no key (the calendar's batches) draw from
one seeded sequence instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import select
import socket
import struct
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

# What the fake does instead of answering normally. "Clean" faults leave the request untaken
# (safe to send again); "ambiguous" ones take it and leave the client without an answer.
THROTTLE, ERROR, UNAVAILABLE, RESET_BEFORE, RESET_AFTER, TIMEOUT = (
    "throttle", "error", "unavailable", "reset_before", "reset_after", "timeout")
CLEAN = frozenset({THROTTLE, ERROR, UNAVAILABLE, RESET_BEFORE})
AMBIGUOUS = frozenset({RESET_AFTER, TIMEOUT})
# Not drawn: the fake answered normally, but its answer was written only after
# ``answer_within`` (a loaded machine paused its thread between the check and the write), so
# whether the client read it before its own timeout is a race. Taken either way; the
# message ends `sent` or `unknown`, never twice, never lost. LATE_REFUSAL: the same race for
# a refusal (429, 5xx): the client retries it, or gives up on a request nothing took.
LATE, LATE_REFUSAL = "late", "late_refusal"
HANG_LIMIT = 30.0  # a hang guard: a "timeout" waits for the client to give up, at most this long


@dataclass(frozen=True)
class FaultRates:
    """Share of requests meeting each fault (the rest are answered normally)."""

    throttle: float = 0.0
    error: float = 0.0
    unavailable: float = 0.0
    reset_before: float = 0.0
    reset_after: float = 0.0
    timeout: float = 0.0

    def pick(self, draw: float) -> str | None:
        edge = 0.0
        for name in (THROTTLE, ERROR, UNAVAILABLE, RESET_BEFORE, RESET_AFTER, TIMEOUT):
            edge += getattr(self, name)
            if draw < edge:
                return name
        return None


@dataclass
class FaultPlan:
    rates: FaultRates
    seed: int = 0
    retry_after: int = 7  # seconds, sent with every 429
    limit: int | None = None  # at most this many faults, then every request is answered
    # An answer not ready this many seconds after the request arrived is withheld, as a timeout
    # (set it well under the client's timeout; None: always answer). See FaultyApi._too_late.
    answer_within: float | None = None
    log: list[tuple[str, str | None]] = field(default_factory=list)  # (key, fault) per request
    hang_ups: list[bool] = field(default_factory=list)  # per "timeout": did the client give up (not the guard)?
    _seen: Counter[str] = field(default_factory=Counter)
    _sequence: random.Random | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def draw(self, key: str | None) -> str | None:
        """The fault for this request (None: answer normally), recorded in ``log``."""
        with self._lock:
            if key is None:
                if self._sequence is None:
                    self._sequence = random.Random(self.seed)
                value = self._sequence.random()
            else:
                n = self._seen[key]
                self._seen[key] += 1
                digest = hashlib.sha256(f"{self.seed}:{key}:{n}".encode()).digest()
                value = struct.unpack(">Q", digest[:8])[0] / 2**64
            fault = self.rates.pick(value)
            if fault is not None and self.limit is not None and sum(f is not None for _k, f in self.log) >= self.limit:
                fault = None
            self.log.append((key or "", fault))
            return fault

    def client_gave_up(self, key: str, *, before_the_message: bool = False) -> None:
        """The client hung up before our answer could be written (a loaded machine outlasted
        its timeout): to the client this request was a timeout, whatever the plan drew. The
        provider took it if it was to be answered normally (``timeout``), else nothing
        (``reset_before``: the client cannot tell either from no answer). An SMTP client that
        gave up ``before_the_message`` (during the envelope) sent nothing, and knows it."""
        with self._lock:
            for index in range(len(self.log) - 1, -1, -1):
                logged_key, fault = self.log[index]
                if logged_key == key:
                    taken = fault is None and not before_the_message
                    self.log[index] = (key, TIMEOUT if taken else RESET_BEFORE)
                    return

    def answered_late(self, key: str) -> None:
        """This key's last answer reached the socket after ``answer_within``: see LATE."""
        with self._lock:
            for index in range(len(self.log) - 1, -1, -1):
                logged_key, fault = self.log[index]
                if logged_key == key:
                    self.log[index] = (key, LATE if fault is None else LATE_REFUSAL)
                    return

    def faults_of(self, key: str) -> list[str | None]:
        with self._lock:
            return [fault for k, fault in self.log if k == key]


def hard_close(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashed peer or a middlebox does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def seconds_since_request(sock: socket.socket) -> float | None:
    """How long ago the client's last bytes reached ``sock`` (Linux TCP_INFO's
    ``tcpi_last_data_recv``, in ms): the client's read timeout runs from then. None where the
    kernel does not say."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except (AttributeError, OSError):
        return None
    return struct.unpack_from("=I", info, 52)[0] / 1000 if len(info) >= 56 else None


def wait_for_hang_up(sock: socket.socket, plan: FaultPlan | None = None) -> None:
    """Hold the connection, answering nothing, until the client gives up (EOF) or the guard
    runs out; ``plan.hang_ups`` records which (a client without a timeout waits for the guard)."""
    readable, _, _ = select.select([sock], [], [], HANG_LIMIT)
    if readable:
        with contextlib.suppress(OSError):
            sock.recv(65536)
    if plan is not None:
        plan.hang_ups.append(bool(readable))


# --- HTTP ------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: Any = None  # dict -> JSON, bytes as is
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


# (method, path, headers, body) -> the normal answer; key_of(body) -> the message's key.
Responder = Callable[[str, str, Any, bytes], Answer]
FaultAnswers = dict[str, Callable[[int], Answer]]  # fault -> the answer for it, given Retry-After


class FaultyApi:
    """A vendor's HTTP API on loopback (HTTP/1.1, keep-alive) with faults from a plan.

    ``accepted`` counts per key the requests the provider took: answered normally, or taken
    and then left without an answer (reset_after, timeout)."""

    def __init__(self, plan: FaultPlan, respond: Responder, key_of: Callable[[bytes], str],
                 fault_answers: FaultAnswers, port: int = 0) -> None:
        self.plan, self.respond, self.key_of, self.fault_answers = plan, respond, key_of, fault_answers
        self.accepted: Counter[str] = Counter()
        self.requests = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._in_flight = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # TCP_NODELAY: see tests/connectors/fhir_fake.py

            def _handle(self) -> None:
                with api._idle:
                    api._in_flight += 1
                try:
                    self._handle_request()
                finally:
                    with api._idle:
                        api._in_flight -= 1
                        api._idle.notify_all()

            def _handle_request(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                key = api.key_of(body)
                fault = api.plan.draw(key)
                with api._lock:
                    api.requests += 1
                if fault == RESET_BEFORE:  # as if the request never got in: nothing is taken
                    self._drop(hang=False)
                    return
                if fault in (THROTTLE, ERROR, UNAVAILABLE):
                    self._write(api.fault_answers[fault](api.plan.retry_after), key)
                    return
                answer = api.respond(self.command, self.path, self.headers, body)
                if 200 <= answer.status < 300:
                    with api._lock:
                        api.accepted[key] += 1
                if fault in AMBIGUOUS:
                    self._drop(hang=fault == TIMEOUT)
                    return
                self._write(answer, key)

            def _drop(self, hang: bool) -> None:
                self.close_connection = True
                self.wfile.flush()
                if hang:
                    wait_for_hang_up(self.connection, api.plan)
                hard_close(self.connection)

            def _answer_deadline(self) -> float | None:
                """When (time.monotonic) the answer must be on its way: ``answer_within``
                after the request's last bytes arrived (None: no limit, or the kernel does not
                say). Read before writing: once the client hangs up, its FIN counts as data."""
                limit = api.plan.answer_within
                waited = None if limit is None else seconds_since_request(self.connection)
                return None if waited is None or limit is None else time.monotonic() - waited + limit

            def _write(self, answer: Answer, key: str) -> None:
                """On a loaded machine this thread may get the answer ready only after the
                client's timeout ran out; the client then reports "no answer" although the plan
                said answer. Whether the late answer still reaches it is a race, so the fake
                decides instead: it withholds the answer and holds the connection until the
                client gives up, and the plan records what the client met (a timeout after
                the provider took the request, or an untaken request it cannot tell from one).
                A pause between that check and the write is still a race: LATE."""
                deadline = self._answer_deadline()
                if deadline is not None and time.monotonic() > deadline:
                    api.plan.client_gave_up(key)
                    self._drop(hang=True)
                    return
                data = answer.payload()
                try:
                    self.send_response(answer.status)
                    for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:  # the client's timeout ran out first
                    self.close_connection = True
                    api.plan.client_gave_up(key)
                    return
                if deadline is not None and time.monotonic() > deadline:
                    api.plan.answered_late(key)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def finish(self) -> None:
                with contextlib.suppress(OSError):  # the connection was reset on purpose
                    super().finish()

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FaultyApi:
        self.thread.start()
        return self

    def settled(self) -> Counter[str]:
        """``accepted`` once no request is being handled: a handler paused past the
        client's timeout may still be writing, and may yet mark its answer late."""
        with self._idle:
            assert self._idle.wait_for(lambda: self._in_flight == 0, timeout=HANG_LIMIT), "a request never ended"
        return self.accepted

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- SMTP ------------------------------------------------------------------------------


@dataclass
class FaultySmtpSink:
    """aiosmtpd handler with faults from a plan, keyed by recipient. At RCPT: 451 (throttle),
    421 and hang up (unavailable), or hang up without a word (reset_before). At the end of
    DATA: 451 (error, nothing taken), or the message is taken and the connection dropped
    (reset_after) or left unanswered until the client gives up (timeout)."""

    plan: FaultPlan
    accepted: Counter[str] = field(default_factory=Counter)
    # envelope -> the fault for DATA. Weakly keyed by the envelope itself, not id(envelope): one
    # whose client gave up before DATA is freed, and a later envelope at the same address (CPython
    # reuses it at once) took up its stale fault - a healthy message reset after DATA, `unknown`.
    _at_data: weakref.WeakKeyDictionary[Envelope, str | None] = field(default_factory=weakref.WeakKeyDictionary)
    _awaiting_data: set[str] = field(default_factory=set)  # recipients accepted whose DATA has not come

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self._awaiting_data:
            # The last envelope for this recipient never reached DATA: the client gave up on
            # that connection (a loaded machine outlasted its timeout) before sending anything.
            self.plan.client_gave_up(address, before_the_message=True)
        fault = self.plan.draw(address)
        if fault == THROTTLE:
            return "451 4.7.1 Too many messages, slow down"
        if fault == UNAVAILABLE:
            self._close(server, later=True)
            return "421 4.3.2 Service not available, closing transmission channel"
        if fault == RESET_BEFORE:
            self._close(server)
            return "250 OK"  # never reaches the client
        envelope.rcpt_tos.append(address)
        self._at_data[envelope] = fault
        self._awaiting_data.add(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        fault = self._at_data.pop(envelope, None)
        self._awaiting_data.difference_update(envelope.rcpt_tos)
        if fault == ERROR:
            return "451 4.3.0 Local error in processing"
        for address in envelope.rcpt_tos:
            self.accepted[address] += 1
        if fault == RESET_AFTER:
            self._close(server)
        elif fault == TIMEOUT:
            await asyncio.sleep(HANG_LIMIT)  # aiosmtpd cancels this when the client hangs up
            self._close(server)
        return "250 2.0.0 OK queued"

    @staticmethod
    def _close(server: SMTPServer, later: bool = False) -> None:
        transport = server.transport
        if transport is None:
            return
        if later:  # after the reply has been written
            asyncio.get_running_loop().call_soon(transport.close)
        else:
            transport.abort()
