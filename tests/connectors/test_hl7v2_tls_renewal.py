"""The MLLP listener's TLS files renewed while it runs (cert-manager, certbot: every 60-90
days, no restart), over real TLS on loopback with short-lived certificates: new connections
get the renewed certificate, key and client CA; a renewal written half keeps the previous
context, says which file, and is taken once whole; failed handshakes are counted and,
repeated, logged at warning once; an expiry near or past is logged."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import socket
import ssl
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from clinicsync.common.types import utcnow
from clinicsync.connectors.hl7v2.files import Hl7v2Connector
from clinicsync.connectors.hl7v2.settings import Hl7v2Settings, TlsSettings
from clinicsync.connectors.hl7v2.tls import REPEATED_HANDSHAKE_FAILURES, ListenerTls
from clinicsync.connectors.hl7v2.tls_files import files_state
from clinicsync.sync.checks.stalls import certificate_stall, figures, find_stalls
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.service.mllp import Hl7Service, serve_mllp
from clinicsync.sync.store.store import Store
from tests.conftest import SettingsFactory
from tests.connectors.hl7v2_support import Ack, capture_logs, siu  # noqa: F401 - an autouse fixture
from tests.connectors.test_hl7v2_mllp import (  # noqa: F401 - fixtures
    TRANSPORT_ONLY,
    ListenerFactory,
    LoopThread,
    listen,
    loop_thread,
)
from tests.connectors.tls_certs import certificates, tls_client
from tests.reliability.harness import wait_for


@pytest.fixture
def tls_listen(listen: ListenerFactory) -> ListenerFactory:  # noqa: F811 - test_hl7v2_mllp's fixture
    return listen


def served_serial(port: int, ca: Path, cert: tuple[Path, Path] | None = None, control_id: str = "M1") -> int:
    """The serial of the certificate the listener presents, after one message ACKed AA."""
    with tls_client(port, ca, cert) as client:
        ack = Ack.read(client.send_message(siu("S12", control_id, "20300301090000")))
        der = client.socket.getpeercert(binary_form=True)
    assert ack.code == "AA"
    return x509.load_der_x509_certificate(der).serial_number


def serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


def renew(source: Path, target: Path) -> None:
    """As cert-manager and certbot do: the new file put in place at once (a rename)."""
    staged = target.with_suffix(".new")
    shutil.copyfile(source, staged)
    os.replace(staged, target)


def events(logs: io.StringIO, name: str) -> list[dict[str, object]]:
    return [entry for line in logs.getvalue().splitlines() if (entry := json.loads(line))["event"] == name]


def tls_yaml(files: dict[str, Path], mutual: bool = False) -> str:
    ca = f", client_ca_file: {files['ca']}" if mutual else ""
    return f"tls: {{cert_file: {files['server_cert']}, key_file: {files['server_key']}{ca}}}"


def renewal(folder: Path) -> tuple[dict[str, Path], dict[str, Path], dict[str, Path]]:
    """A certificate about to end, its renewal, and the files the listener is told to read
    (a copy of the first, for the renewal to replace)."""
    old = certificates(folder / "old", timedelta(days=2))
    new = certificates(folder / "new", timedelta(days=90))
    (folder / "live").mkdir()
    files = {key: folder / "live" / old[key].name for key in ("server_cert", "server_key")}
    for key, path in files.items():
        shutil.copyfile(old[key], path)
    return old, new, files


@TRANSPORT_ONLY
def test_a_renewed_certificate_is_served_to_new_connections_without_a_restart(
        tls_listen: ListenerFactory, tmp_path: Path, logs: io.StringIO) -> None:
    """On main the listener served the certificate it started with until it expired."""
    old, new, files = renewal(tmp_path)
    running = tls_listen(tls_yaml(files))
    assert served_serial(running.port, old["ca"], control_id="M1") == serial(old["server_cert"])
    renew(new["server_key"], files["server_key"])
    renew(new["server_cert"], files["server_cert"])
    assert served_serial(running.port, new["ca"], control_id="M2") == serial(new["server_cert"])
    [reloaded] = events(logs, "mllp.tls_reloaded")
    assert reloaded["level"] == "info" and str(reloaded["not_after"]).endswith("Z")


@TRANSPORT_ONLY
def test_a_half_written_renewal_keeps_the_previous_certificate_names_the_file_and_is_taken_once_whole(
        tls_listen: ListenerFactory, tmp_path: Path, logs: io.StringIO) -> None:
    old, new, files = renewal(tmp_path)
    running = tls_listen(tls_yaml(files))
    renew(new["server_cert"], files["server_cert"])  # the key not yet: they do not belong together
    assert served_serial(running.port, old["ca"], control_id="M1") == serial(old["server_cert"])
    files["server_cert"].write_bytes(new["server_cert"].read_bytes()[:100])  # cut short while written
    assert served_serial(running.port, old["ca"], control_id="M2") == serial(old["server_cert"])
    failed = events(logs, "mllp.tls_reload_failed")
    assert [(e["level"], e["file"]) for e in failed] == [("error", str(files["server_key"])),
                                                         ("error", str(files["server_cert"]))]
    assert "does not belong to the certificate" in str(failed[0]["reason"])
    key_body = new["server_key"].read_text().splitlines()[1]
    assert key_body not in logs.getvalue()  # never key material
    renew(new["server_cert"], files["server_cert"])
    renew(new["server_key"], files["server_key"])
    assert served_serial(running.port, new["ca"], control_id="M3") == serial(new["server_cert"])
    [listener] = running.service._listeners
    assert listener.tls is not None and listener.tls.problem is None and listener.tls.reload_failures == 2


@TRANSPORT_ONLY
def test_a_renewed_client_ca_applies_to_new_connections(tls_listen: ListenerFactory, tmp_path: Path) -> None:
    """Mutual TLS: the senders' CA replaced by a new one (and their certificates with it)."""
    first = certificates(tmp_path / "first")
    second = certificates(tmp_path / "second", ca_name="test CA 2")
    live = tmp_path / "live"
    live.mkdir()
    files = {"server_cert": first["server_cert"], "server_key": first["server_key"], "ca": live / "senders.pem"}
    shutil.copyfile(first["ca"], files["ca"])
    running = tls_listen(tls_yaml(files, mutual=True))
    old_sender, new_sender = ((c["client_cert"], c["client_key"]) for c in (first, second))
    served_serial(running.port, first["ca"], old_sender, control_id="M1")
    renew(second["ca"], files["ca"])
    served_serial(running.port, first["ca"], new_sender, control_id="M2")  # refused on main
    try:  # TLS 1.3: the client's side of the handshake ends first, then the listener closes
        with tls_client(running.port, first["ca"], old_sender) as client:
            reply = client.send_message(siu("S12", "M3", "20300301090000"))
    except (ssl.SSLError, ConnectionError):
        reply = b""
    assert reply == b""


@TRANSPORT_ONLY
def test_failed_handshakes_are_counted_and_warned_once_when_repeated(
        tls_listen: ListenerFactory, tmp_path: Path, logs: io.StringIO) -> None:
    """An expired certificate: every sender's handshake fails. On main asyncio's SSL protocol
    swallowed these before the listener saw the connection: nothing counted, nothing logged.
    TCP probes (a load balancer's, Kubernetes' tcpSocket) are no failed handshake."""
    expired = certificates(tmp_path / "expired", timedelta(hours=-1))
    running = tls_listen(tls_yaml(expired))
    for _probe in range(REPEATED_HANDSHAKE_FAILURES):  # a TCP health check: connects, closes, says nothing
        socket.create_connection(("127.0.0.1", running.port), timeout=5).close()
    for number in range(REPEATED_HANDSHAKE_FAILURES + 3):
        with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
            served_serial(running.port, expired["ca"], control_id=f"M{number}")
    [listener] = running.service._listeners
    tls = listener.tls
    assert tls is not None  # the client may be told before the listener reads the alert: wait for it
    assert wait_for(lambda: tls.handshake_failures == REPEATED_HANDSHAKE_FAILURES + 3)
    each = events(logs, "mllp.tls_handshake_failed")
    assert len(each) == REPEATED_HANDSHAKE_FAILURES + 3 and {e["level"] for e in each} == {"info"}
    assert {e["reason"] for e in each} == {"SSLV3_ALERT_CERTIFICATE_EXPIRED"}
    [warned] = events(logs, "mllp.tls_handshakes_failing")
    assert warned["level"] == "warning" and warned["failed_in_a_row"] == REPEATED_HANDSHAKE_FAILURES


def settings_of(files: dict[str, Path]) -> TlsSettings:
    return TlsSettings(cert_file=files["server_cert"], key_file=files["server_key"])


def test_the_periodic_check_retries_a_failed_reload_and_logs_a_near_expiry_once_a_day(
        tmp_path: Path, logs: io.StringIO) -> None:
    files = certificates(tmp_path, timedelta(days=5))
    moment = [0.0]
    tls = ListenerTls("siu", settings_of(files), clock=lambda: moment[0])
    tls.periodic()
    tls.periodic()
    moment[0] += 24 * 3600
    tls.periodic()
    expiring = events(logs, "mllp.certificate_expiring")
    assert [(e["level"], e["days_left"]) for e in expiring] == [("warning", 5.0), ("warning", 5.0)]
    files["server_key"].write_text("")  # unreadable as a key: a failed reload, kept, tried again
    tls.check()
    tls.periodic()
    assert tls.reload_failures == 2 and tls.problem is not None and str(files["server_key"]) in tls.problem
    assert len(events(logs, "mllp.tls_reload_failed")) == 1  # the same problem is not logged each minute


def test_an_expired_certificate_in_use_is_logged_as_an_error(tmp_path: Path, logs: io.StringIO) -> None:
    tls = ListenerTls("siu", settings_of(certificates(tmp_path, timedelta(minutes=-5))))
    tls.periodic()
    [expired] = events(logs, "mllp.certificate_expired")
    assert expired["level"] == "error" and expired["file"] == str(tmp_path / "server.pem")


@pytest.mark.parametrize(("valid_for", "ok", "words"), [
    (timedelta(days=90), True, "TLS certificate valid until"),
    (timedelta(days=5), True, "warning: the TLS certificate expires at"),
    (timedelta(minutes=-5), False, "listen.tls: the certificate expired at"),
])
def test_check_reports_the_certificate_end(tmp_path: Path, valid_for: timedelta, ok: bool, words: str) -> None:
    files = certificates(tmp_path, valid_for)
    config = Hl7v2Settings.model_validate({"name": "siu", "kind": "hl7v2", "listen": {
        "tls": {"cert_file": str(files["server_cert"]), "key_file": str(files["server_key"])}}})
    result = Hl7v2Connector(config).check()
    assert result.ok is ok and words in result.detail, result


def test_check_fails_on_a_half_written_renewal_naming_the_key(tmp_path: Path) -> None:
    files = certificates(tmp_path / "old")
    files["server_cert"].write_bytes(certificates(tmp_path / "new")["server_cert"].read_bytes())
    config = Hl7v2Settings.model_validate({"name": "siu", "kind": "hl7v2", "listen": {
        "tls": {"cert_file": str(files["server_cert"]), "key_file": str(files["server_key"])}}})
    result = Hl7v2Connector(config).check()
    assert not result.ok and f"{files['server_key']}: the key does not belong to the certificate" in result.detail


@TRANSPORT_ONLY
def test_hl7_listen_serves_its_tls_figures_at_metrics(write_settings: SettingsFactory, store: Store,
                                                     loop_thread: LoopThread, tmp_path: Path) -> None:  # noqa: F811
    """`clinicsync hl7 listen --metrics-port`: what only the running listener knows, scraped
    over HTTP: failed handshakes, reloads, and the certificate it serves."""
    files = certificates(tmp_path / "tls", timedelta(hours=-1))  # expired: every handshake fails
    settings = load_settings(write_settings(f"""
        - name: siu
          kind: hl7v2
          listen: {{port: 0, {tls_yaml(files)}}}
        """))
    ready: asyncio.Queue[Any] = asyncio.Queue()
    stop: list[asyncio.Event] = []

    async def serve() -> None:
        stop.append(asyncio.Event())
        await serve_mllp(settings, store, on_ready=ready.put_nowait, stop=stop[0], metrics=("127.0.0.1", 0),
                         on_metrics=lambda host, port: ready.put_nowait(port))
    future = asyncio.run_coroutine_threadsafe(serve(), loop_thread.loop)
    metrics_port = loop_thread.run(ready.get())
    [listening] = loop_thread.run(ready.get())
    try:
        for number in range(4):
            with pytest.raises(ssl.SSLCertVerificationError):
                served_serial(listening.port, files["ca"], control_id=f"M{number}")

        def figure(name: str) -> float | None:
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
            return next((sample.value for family in text_string_to_metric_families(text)
                         for sample in family.samples if sample.name == name), None)

        assert wait_for(lambda: figure("clinicsync_mllp_tls_handshake_failures_total") == 4)
        assert figure("clinicsync_mllp_certificate_reload_failing") == 0
        in_use = x509.load_pem_x509_certificate(files["server_cert"].read_bytes()).not_valid_after_utc
        assert figure("clinicsync_mllp_certificate_in_use_expiry_timestamp_seconds") == in_use.timestamp()
    finally:
        loop_thread.loop.call_soon_threadsafe(stop[0].set)
        future.result(30)
    with pytest.raises(httpx.ConnectError):  # stopped with the listener
        httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)


def test_the_files_state_reads_the_certificate_once(tmp_path: Path) -> None:
    """`status`, the status page and each /metrics scrape read the files (~5 ms a listener): on
    main the certificate was read and parsed twice per call (its end, then again inside the
    context's load), besides OpenSSL's own read."""
    files = certificates(tmp_path)
    opened: list[str] = []
    watching = [True]

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if watching[0] and event == "open" and str(args[0]) == str(files["server_cert"]):
            opened.append(event)

    sys.addaudithook(audit)
    try:
        state = files_state(settings_of(files))
    finally:
        watching[0] = False
    assert state.problem is None and state.not_after is not None
    assert len(opened) == 1


@pytest.mark.parametrize(("ca_valid_for", "ok", "words", "stall"), [
    (timedelta(days=5), True, "warning: the client CA (client_ca_file) expires at",
     "its client CA (client_ca_file) expires at"),
    (timedelta(minutes=-5), False, "listen.tls: the client CA (client_ca_file) expired at",
     "its client CA (client_ca_file) expired at"),
])
def test_a_client_ca_ending_is_a_stall_and_a_check_problem(tmp_path: Path, ca_valid_for: timedelta, ok: bool,
                                                            words: str, stall: str) -> None:
    """Mutual TLS: when the senders' CA ends, every sender's handshake fails though the
    listener's own certificate is good. On main nothing watched it (no stall, no `check` line)."""
    files = certificates(tmp_path, timedelta(days=90), ca_valid_for=ca_valid_for)
    config = Hl7v2Settings.model_validate({"name": "siu", "kind": "hl7v2", "listen": {"tls": {
        "cert_file": str(files["server_cert"]), "key_file": str(files["server_key"]),
        "client_ca_file": str(files["ca"])}}})
    result = Hl7v2Connector(config).check()
    assert result.ok is ok and words in result.detail, result
    assert config.listen is not None and config.listen.tls is not None
    state = files_state(config.listen.tls)
    assert state.client_ca_not_after == x509.load_pem_x509_certificate(files["ca"].read_bytes()).not_valid_after_utc
    found = certificate_stall("siu", state, utcnow())
    assert found is not None and found.kind == "mllp_certificate" and found.detail.startswith(stall), found


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_failing_handshakes_and_a_failed_reload_are_told_by_any_process_on_the_store(
        tls_listen: ListenerFactory, store: Store, loop_thread: LoopThread, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What only the running listener knows reaches `status` and the main /metrics through the
    store (sync/runs/mllp_state.py). On main only `hl7 listen --metrics-port` served it."""
    monkeypatch.setattr(Hl7Service, "note_every", 0.05, raising=False)
    expired = certificates(tmp_path / "expired", timedelta(hours=-1))
    live = tmp_path / "live"
    live.mkdir()
    files = {key: live / expired[key].name for key in ("server_cert", "server_key")}
    for key, path in files.items():
        shutil.copyfile(expired[key], path)
    running = tls_listen(tls_yaml(files))
    settings = running.service.settings
    for number in range(REPEATED_HANDSHAKE_FAILURES + 1):
        with pytest.raises(ssl.SSLCertVerificationError):
            served_serial(running.port, expired["ca"], control_id=f"M{number}")

    def kinds() -> list[tuple[str, str]]:
        return [(s.kind, s.subject) for s in find_stalls(store, settings)]

    assert wait_for(lambda: ("mllp_handshakes_failing", "siu") in kinds())
    failing = next(s for s in find_stalls(store, settings) if s.kind == "mllp_handshakes_failing")
    assert "every TLS handshake of its listener since" in failing.detail and failing.since is not None
    with store.engine.connect() as connection:
        assert figures(connection, settings).mllp_handshakes_failing["siu"] > 0
    # A renewal written half: the files' own stall says it; the listener's failed reload is the
    # same fault, not a second stall, and its gauge is 1.
    new = certificates(tmp_path / "new", timedelta(days=90))
    renew(new["server_cert"], files["server_cert"])
    with pytest.raises(ssl.SSLCertVerificationError):  # the listener looks at the files: reload fails
        served_serial(running.port, expired["ca"], control_id="M9")

    def reload_failing() -> int | None:
        with store.engine.connect() as connection:
            return figures(connection, settings).mllp_reload_failing.get("siu")

    assert wait_for(lambda: reload_failing() == 1)
    assert sorted(kinds()) == [("mllp_certificate", "siu"), ("mllp_handshakes_failing", "siu")]
    renew(new["server_key"], files["server_key"])  # put right: a handshake passes, nothing stands
    served_serial(running.port, new["ca"], control_id="M10")
    assert wait_for(lambda: kinds() == [] and reload_failing() == 0)
    for number in range(REPEATED_HANDSHAKE_FAILURES):  # failing again (a sender with the old CA)...
        with pytest.raises(ssl.SSLCertVerificationError):
            served_serial(running.port, expired["ca"], control_id=f"N{number}")
    assert wait_for(lambda: kinds() == [("mllp_handshakes_failing", "siu")])
    loop_thread.run(running.service.stop())  # ...then the listener stops: nothing of it stands
    assert kinds() == []


def test_a_client_ca_ending_before_the_listeners_own_certificate_is_named_first(tmp_path: Path) -> None:
    """Both end within the warning: the CA in 5 days, the listener's certificate in 10. At the
    first version the stall and `check` named the certificate only (10 days), so an admin who
    planned by it lost every sender at day 5; now both, the first to end first."""
    files = certificates(tmp_path, timedelta(days=10), ca_valid_for=timedelta(days=5))
    config = Hl7v2Settings.model_validate({"name": "siu", "kind": "hl7v2", "listen": {"tls": {
        "cert_file": str(files["server_cert"]), "key_file": str(files["server_key"]),
        "client_ca_file": str(files["ca"])}}})
    result = Hl7v2Connector(config).check()
    assert result.ok and "warning: the client CA (client_ca_file) expires" in result.detail, result
    assert result.detail.index("client CA") < result.detail.index("the TLS certificate expires"), result
    assert config.listen is not None and config.listen.tls is not None
    found = certificate_stall("siu", files_state(config.listen.tls), utcnow())
    assert found is not None and found.detail.startswith("its client CA (client_ca_file) expires"), found
    assert "its TLS certificate expires" in found.detail, found
