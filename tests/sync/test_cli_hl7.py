"""`clinicsync hl7 listen`: serves until SIGTERM, and says clearly why it cannot start."""

from __future__ import annotations

import os
import queue
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hl7.client import MLLPClient

import clinicsync.sync.cli.hl7 as hl7_cli
from clinicsync.sync.service.mllp import Listening
from clinicsync.sync.store.store import Store
from tests.conftest import Cli, SettingsFactory
from tests.connectors.hl7v2_support import Ack, siu

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def test_listen_serves_until_sigterm(write_settings: SettingsFactory, cli: Callable[[Path | None], Cli],
                                     store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_settings("""
        - name: siu
          kind: hl7v2
          listen: {port: 0}
        """)
    ready: queue.Queue[list[Listening]] = queue.Queue()
    announce = hl7_cli._announce

    def announced(listening: list[Listening]) -> None:
        announce(listening)
        ready.put(listening)

    monkeypatch.setattr(hl7_cli, "_announce", announced)
    acks: list[Ack] = []

    def sender() -> None:
        [listening] = ready.get(timeout=30)
        with MLLPClient("127.0.0.1", listening.port) as client:
            acks.append(Ack.read(client.send_message(siu("S12", "MSG1", "20300301090000"))))
        os.kill(os.getpid(), signal.SIGTERM)  # as systemd stops a service

    thread = threading.Thread(target=sender)
    thread.start()
    _, out, _ = cli(config)("hl7", "listen", "--metrics-port", "0")  # the listeners' TLS figures: none here
    thread.join(30)
    assert out.startswith("metrics: http://127.0.0.1:") and "\nlistening: siu on 127.0.0.1:" in out
    assert [(a.code, a.control_id) for a in acks] == [("AA", "MSG1")]
    _, status, _ = cli(config)("status", "--json")
    assert '"last_status": "ok"' in status


def test_listen_without_a_listening_connector_exits_2(write_settings: SettingsFactory,
                                                      cli: Callable[[Path | None], Cli], drop_dir: Path) -> None:
    config = write_settings(f"""
        - name: files-only
          kind: hl7v2
          drop_dir: {drop_dir}
        """)
    _, _, err = cli(config)("hl7", "listen", expect=2)
    assert "no enabled hl7v2 connector with `listen:`" in " ".join(err.split())


def test_listen_on_a_port_in_use_exits_1(write_settings: SettingsFactory, cli: Callable[[Path | None], Cli],
                                         store: Store) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_settings(f"""
            - name: siu
              kind: hl7v2
              listen: {{port: {port}}}
            """)
        _, _, err = cli(config)("hl7", "listen", expect=1)
    assert "cannot listen" in err


def test_listen_with_a_key_that_is_no_key_exits_2(write_settings: SettingsFactory,
                                                  cli: Callable[[Path | None], Cli], store: Store,
                                                  tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    config = write_settings("""
        - name: siu
          kind: hl7v2
          listen: {port: 0, tls: {cert_file: cert.pem, key_file: key.pem}}
        """)
    _, _, err = cli(config)("hl7", "listen", expect=2)
    assert "listen.tls: cannot use the certificate or key" in " ".join(err.split())
