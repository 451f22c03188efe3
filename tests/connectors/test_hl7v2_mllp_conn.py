"""The MLLP listener's connections over months, over real sockets on loopback: a TLS health
check that closes right after its handshake, and a sender whose host vanished (TCP keepalive)."""

from __future__ import annotations

import io
import json
import logging
import socket
import ssl
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from clinicsync.connectors.hl7v2.mllp import keep_alive
from clinicsync.connectors.hl7v2.settings import MllpSettings
from tests.connectors.hl7v2_support import Ack, capture_logs, siu  # noqa: F401 - an autouse fixture
from tests.connectors.test_hl7v2_mllp import (  # noqa: F401 - fixtures
    TRANSPORT_ONLY,
    ListenerFactory,
    LoopThread,
    listen,
    loop_thread,
)
from tests.connectors.test_hl7v2_tls_renewal import events, tls_yaml
from tests.connectors.tls_certs import certificates, tls_client
from tests.connectors.vanished_sender import can_vanish
from tests.reliability.harness import wait_for


def tls_health_check(port: int, ca: Path) -> None:
    """What `openssl s_client </dev/null` or a load balancer's TLS check does: a whole handshake,
    then close_notify at once. The client's Finished and its close_notify leave in one write,
    so the listener reads both in one pass: the race a health check wins now and then, every time."""
    context = ssl.create_default_context(cafile=str(ca))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if pending := outgoing.read():
                    sock.sendall(pending)
                data = sock.recv(65536)
                assert data, "the listener closed during the handshake"
                incoming.write(data)
        with pytest.raises(ssl.SSLWantReadError):  # close_notify written, the listener's awaited
            tls.unwrap()
        sock.sendall(outgoing.read())  # Finished + close_notify together
        while sock.recv(65536):  # the listener's session tickets and close_notify, then its close
            pass


@TRANSPORT_ONLY
def test_a_tls_health_check_is_a_handshake_that_passed_and_nothing_else(
    listen: ListenerFactory,  # noqa: F811 - the fixture
    tmp_path: Path,
    logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On main each such check made asyncio write "returning true from eof_received() has no
    effect when using ssl" (the stdlib's logging: a plain line on stderr amid the JSON log)."""
    files = certificates(tmp_path, timedelta(days=90))
    running = listen(tls_yaml(files))
    caplog.set_level(logging.DEBUG, logger="asyncio")
    checks = 20
    for _check in range(checks):
        tls_health_check(running.port, files["ca"])
    [listener] = running.service._listeners
    tls = listener.tls
    assert tls is not None
    assert wait_for(lambda: not listener._connections)
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    assert tls.handshakes == checks
    assert tls.handshake_failures == 0 and events(logs, "mllp.tls_handshake_failed") == []
    assert [e for e in map(str, logs.getvalue().splitlines()) if '"level": "warning"' in e] == []
    with tls_client(running.port, files["ca"]) as client:  # and a sender after them is served
        assert Ack.read(client.send_message(siu("S12", "M1", "20300301090000"))).code == "AA"


def vanished(settings: dict[str, object], wait: float) -> dict[str, Any]:
    """tests/connectors/vanished_sender.py in a network namespace of its own."""
    done = subprocess.run(
        [
            "unshare",
            "--net",
            "sh",
            "-c",
            'ip link set lo up && exec "$0" -m tests.connectors.vanished_sender "$1" "$2"',
            sys.executable,
            json.dumps(settings),
            str(wait),
        ],
        capture_output=True,
        text=True,
        timeout=wait + 60,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    return cast(dict[str, Any], json.loads(done.stdout))


@pytest.mark.skipif(not can_vanish(), reason="needs a network namespace of its own (root, unshare, ip)")
def test_a_sender_whose_host_vanished_is_let_go_by_keepalive() -> None:
    """The sender's host goes away with no FIN or RST (the loopback of a namespace taken down
    under both ends). On main the connection stayed until idle_timeout_seconds (900 s by
    default; with 30 s here: held 30 s, then `mllp.idle_closed`, as if the sender had been idle)."""
    out = vanished(
        {"keepalive": {"idle_seconds": 1, "interval_seconds": 1, "count": 2}, "idle_timeout_seconds": 60}, 20
    )
    assert out["acked"] and not out["still_held"], out
    assert out["held_seconds"] < 10, out  # 1 + 1 x 2 s, and the kernel's timer: ~3 s
    assert out["events"] == [["mllp.sender_vanished", "info"]]


def test_keepalive_is_on_by_default_and_lets_a_vanished_sender_go_within_two_minutes() -> None:
    keepalive = MllpSettings().keepalive
    assert keepalive is not None and keepalive.dead_after_seconds() == 120
    assert MllpSettings.model_validate({"keepalive": None}).keepalive is None
    with socket.socket() as sock:
        keep_alive(sock, keepalive)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        if sys.platform == "linux":
            assert [
                sock.getsockopt(socket.IPPROTO_TCP, option)
                for option in (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT, socket.TCP_USER_TIMEOUT)
            ] == [60, 15, 4, 120_000]


@TRANSPORT_ONLY
def test_a_stop_with_senders_connected_prints_no_traceback(
    listen: ListenerFactory,  # noqa: F811 - the fixture
    loop_thread: LoopThread,  # noqa: F811 - the fixture
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On main each connection open at a stop (a restart, a deploy: senders keep theirs open)
    made asyncio log "Exception in callback StreamReaderProtocol.connection_made...
    CancelledError" with a traceback: 30 senders, 30 tracebacks."""
    running = listen()
    caplog.set_level(logging.DEBUG, logger="asyncio")
    clients = [running.client() for _sender in range(3)]
    for number, client in enumerate(clients):
        assert Ack.read(client.send_message(siu("S12", f"M{number}", "20300301090000"))).code == "AA"
    loop_thread.run(running.service.stop())
    for client in clients:
        client.close()
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
