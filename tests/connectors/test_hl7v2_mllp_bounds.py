"""The MLLP listener under hostile senders (issue 16, observation 7), with real sockets on
loopback: an idle connection and a trickled frame are closed after their timeouts, the
number of open connections is capped, and so is the memory partial frames can hold."""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack, suppress
from pathlib import Path

import pytest

from clinicsync.sync.store.store import Store
from tests.connectors.hl7v2_support import Ack, siu
from tests.connectors.test_hl7v2_mllp import (  # noqa: F401 - fixtures
    TRANSPORT_ONLY,
    ListenerFactory,
    listen,
    loop_thread,
    outbox,
)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the listener closed this connection; None if it stayed open."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionError:
        pass
    return time.monotonic() - started


@TRANSPORT_ONLY
def test_an_idle_connection_is_closed_after_the_idle_timeout(listen: ListenerFactory) -> None:  # noqa: F811
    running = listen("idle_timeout_seconds: 0.5")
    with connect(running.port) as sock:
        waited = closed_within(sock, 10)
    assert waited is not None and waited < 5


@TRANSPORT_ONLY
def test_a_frame_trickled_byte_by_byte_is_cut_off_after_the_frame_timeout(listen: ListenerFactory,  # noqa: F811
                                                                          store: Store) -> None:
    running = listen("frame_timeout_seconds: 1\n                idle_timeout_seconds: 60")
    message = b"\x0b" + siu("S12", "SLOW", "20300301090000").encode() + b"\x1c\r"
    started = time.monotonic()
    with connect(running.port) as sock:
        cut = False
        for byte in message:  # 10 bytes a second: the whole message would take a minute
            try:
                sock.sendall(bytes([byte]))
            except ConnectionError:
                cut = True
                break
            time.sleep(0.1)
            if time.monotonic() - started > 8:
                break
        assert cut or closed_within(sock, 5) is not None
    assert time.monotonic() - started < 10
    assert outbox(store) == []  # never acknowledged, never stored: the sender sends it again


@TRANSPORT_ONLY
def test_connections_beyond_the_cap_are_closed_and_a_freed_slot_serves_again(listen: ListenerFactory) -> None:  # noqa: F811
    running = listen("max_connections: 3")
    with ExitStack() as stack:
        held = [stack.enter_context(connect(running.port)) for _ in range(3)]
        for sock in held:
            sock.sendall(b"\x0bMSH|")  # each mid-frame: busy
        time.sleep(0.3)
        with connect(running.port) as extra:
            assert closed_within(extra, 5) is not None
        held[0].close()
        time.sleep(0.3)
        [ack] = running.send(siu("S12", "AFTER", "20300301090000", appointment="A1"))
        assert ack.code == "AA"


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@TRANSPORT_ONLY
def test_200_partial_one_mib_frames_hold_bounded_memory(listen: ListenerFactory) -> None:  # noqa: F811
    """The broken listener kept all 200 (about +230 MiB); with the default cap of 32
    connections at most 32 partial frames are held. The bound is generous."""
    running = listen("frame_timeout_seconds: 60\n                idle_timeout_seconds: 60")
    chunk = b"\x0b" + b"x" * (1024 * 1024 - 16)
    before = _rss_mib()
    with ExitStack() as stack:
        open_ = 0
        for _ in range(200):
            sock = stack.enter_context(connect(running.port))
            sock.settimeout(5)
            with suppress(ConnectionError, TimeoutError):
                sock.sendall(chunk)
                open_ += 1
        time.sleep(1)
        grown = _rss_mib() - before
    print(f"\n200 partial 1 MiB frames: RSS +{grown:.0f} MiB")
    assert grown < 120


def test_mllp_bounds_are_settings_with_sane_limits(tmp_path: Path) -> None:
    from clinicsync.sync.config.config_loader import ConfigError
    from clinicsync.sync.config.settings import load_settings

    path = tmp_path / "settings.yaml"
    path.write_text("connectors:\n  - name: siu\n    kind: hl7v2\n    listen:\n      max_connections: 0\n")
    with pytest.raises(ConfigError, match=r"connectors\[0\]\.listen\.max_connections \(line 5\)"):
        load_settings(path)
    path.write_text("connectors:\n  - name: siu\n    kind: hl7v2\n    listen: {}\n")
    listen_settings = load_settings(path).connectors[0].listen  # type: ignore[attr-defined]
    assert listen_settings.max_connections == 32
    assert 0 < listen_settings.frame_timeout_seconds <= 60 and listen_settings.idle_timeout_seconds <= 3600
    assert Ack  # the ACK reader is shared with the transport tests
