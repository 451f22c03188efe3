"""A deadline cuts only the send that passed it (issue 59): one notifier's send workers, and one
HTTP client's overlapping requests, share a deadline scope; when one exchange trickles past its
deadline, only the socket that call is using is shut, and a healthy exchange in flight at that
moment (its answer held back by the loopback server until the slow one is cut) completes. A
kept-alive connection taken up again by a later call belongs to that call: the slow call on it
is still cut in time. Real smtplib, httpx and httplib2 clients against loopback servers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from clinicsync.common.deadline import SocketScope, claim
from clinicsync.common.http_deadline import DeadlineTransport
from clinicsync.common.httplib2_deadline import DeadlineHttp
from clinicsync.notifiers.base import DeliveryUnknownError, Receipt
from tests.notifiers.conftest import email_message
from tests.notifiers.test_send_deadline import DEADLINE, SLACK, smtp
from tests.notifiers.trickle import Trickler, trickling


def _side_by_side(server: Trickler, slow: Callable[[], Any], healthy: Callable[[], Any]) -> dict[str, Any]:
    """Start ``slow``; once its request reached the server, start ``healthy``, whose answer the
    server holds until the slow exchange is cut. Each outcome (result or exception) and duration."""
    outcomes: dict[str, Any] = {}

    def run(key: str, call: Callable[[], Any]) -> None:
        started = time.monotonic()
        try:
            outcomes[key] = call()
        except Exception as exc:  # the outcome under test
            outcomes[key] = exc
        outcomes[key + "_seconds"] = time.monotonic() - started

    seen = len(server.received)
    threads = [threading.Thread(target=run, args=("slow", slow))]
    threads[0].start()
    until = time.monotonic() + 5
    while len(server.received) == seen and time.monotonic() < until:
        time.sleep(0.005)
    assert len(server.received) == seen + 1, "the slow request never reached the server"
    time.sleep(DEADLINE / 2)  # the healthy exchange starts later and is mid-way when the slow one is cut
    threads.append(threading.Thread(target=run, args=("healthy", healthy)))
    threads[1].start()
    for thread in threads:
        thread.join(15)
    return outcomes


@contextmanager
def _unhurried(holder: Any, name: str, loose: Any) -> Iterator[None]:
    """A warm-up exchange (one that leaves an idle connection in the pool) is no exchange under
    test: it runs with a generous deadline, as on a loaded machine a whole healthy exchange may
    take over the 1 s under test. ``holder.name`` is the deadline (or the settings holding it)."""
    tight = getattr(holder, name)
    setattr(holder, name, loose)
    try:
        yield
    finally:
        setattr(holder, name, tight)


@pytest.mark.parametrize("pooled", [False, True], ids=["fresh", "pooled"])
def test_one_smtp_send_past_its_deadline_leaves_the_other_workers_send_alone(pooled: bool) -> None:
    with trickling("smtp-split", interval=0.5) as server:
        notifier = smtp(server.port)
        if pooled:  # one idle connection: the slow send takes it up (and claims it), the healthy one connects
            with _unhurried(notifier, "settings", notifier.settings.model_copy(update={"send_deadline": 30.0})):
                assert notifier.deliver(email_message()).status == "sent"
        outcomes = _side_by_side(server, lambda: notifier.deliver(email_message(recipient="slow@example.com")),
                                 lambda: notifier.deliver(email_message()))
        notifier.close()
        assert server.connections == 2
    assert isinstance(outcomes["slow"], DeliveryUnknownError), outcomes
    assert DEADLINE <= outcomes["slow_seconds"] < DEADLINE + SLACK, outcomes
    assert isinstance(outcomes["healthy"], Receipt) and outcomes["healthy"].status == "sent", outcomes
    assert len(server.received) == 3 if pooled else 2


@pytest.mark.parametrize("pooled", [False, True], ids=["fresh", "pooled"])
def test_one_http_request_past_its_deadline_leaves_the_clients_other_request_alone(pooled: bool) -> None:
    transport = DeadlineTransport(DEADLINE)
    with trickling("http-split", interval=0.5) as server, httpx.Client(timeout=5, transport=transport) as client:
        root = f"http://127.0.0.1:{server.port}"
        if pooled:  # a kept-alive connection in the pool: the slow request takes it up
            with _unhurried(transport, "deadline", 30.0):
                assert client.post(f"{root}/x", content=b"{}").status_code == 201
        outcomes = _side_by_side(server, lambda: client.post(f"{root}/slow", content=b"{}"),
                                 lambda: client.post(f"{root}/x", content=b"{}"))
        assert server.connections == 2
    assert isinstance(outcomes["slow"], httpx.ReadTimeout), outcomes
    assert "overall deadline of 1 s" in str(outcomes["slow"])
    assert DEADLINE <= outcomes["slow_seconds"] < DEADLINE + SLACK, outcomes
    assert isinstance(outcomes["healthy"], httpx.Response) and outcomes["healthy"].json()["status"] == "queued"


def test_httplib2_claims_its_kept_alive_connection_for_the_next_request() -> None:
    with trickling("http-split", interval=0.5) as server:
        http = DeadlineHttp(DEADLINE, timeout=5)
        root = f"http://127.0.0.1:{server.port}"
        with _unhurried(http, "deadline", 30.0):
            assert http.request(f"{root}/x", "POST", body="{}")[0].status == 201
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="overall deadline of 1 s"):
            http.request(f"{root}/slow", "POST", body="{}")
        assert DEADLINE <= time.monotonic() - started < DEADLINE + SLACK
        assert server.connections == 1  # the same connection: claimed by the second request


def _stuck(scope: SocketScope, sock: socket.socket, seconds: float, claim_it: bool) -> tuple[bytes | None, float]:
    """``sock.recv`` within a deadline of ``seconds``: b"" if the deadline shut it, None on its own 1 s timeout."""
    started = time.monotonic()
    with scope.within(seconds):
        if claim_it:
            claim(sock)
        try:
            return sock.recv(1), time.monotonic() - started
        except TimeoutError:
            return None, time.monotonic() - started


@pytest.mark.parametrize("claims_reuse", [True, False])
def test_a_reused_socket_is_cut_when_claimed_or_when_the_client_cannot_claim(claims_reuse: bool) -> None:
    """A socket opened by an earlier call and taken up again: cut if the new call claimed it; a
    scope whose client cannot claim (requests' pool) cuts the sockets no running call owns."""
    scope = SocketScope(claims_reuse=claims_reuse)
    with scope.within(5):
        ours, theirs = socket.socketpair()  # the earlier call's: now kept alive
    ours.settimeout(1.0)
    try:
        assert _stuck(scope, ours, 0.2, claim_it=True)[0] == b""  # claimed: cut at the deadline
        ours.close()
        with scope.within(5):
            ours, second = socket.socketpair()
        ours.settimeout(1.0)
        answer, seconds = _stuck(scope, ours, 0.2, claim_it=False)
        assert answer == (None if claims_reuse else b""), (answer, seconds)
        second.close()
    finally:
        ours.close()
        theirs.close()
