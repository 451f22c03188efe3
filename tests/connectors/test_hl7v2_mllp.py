"""The MLLP listener over loopback with python-hl7's own client (hl7.client.MLLPClient):
ACKs only after storing, AA/AE/AR, duplicates, a listener that dies before its ACK,
allowed senders, TLS, and many senders at once. The listener runs in its own event
loop thread; the tests talk to it as a sender would, on an ephemeral port."""

from __future__ import annotations

import asyncio
import io
import socket
import ssl
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hl7.client import MLLPClient
from sqlalchemy import func, select

from clinicsync.connectors.hl7v2.mllp import MllpListener
from clinicsync.connectors.hl7v2.model import MESSAGES
from clinicsync.connectors.hl7v2.settings import Hl7v2Settings
from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.checks.queries import connector_status
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.mllp_receiver import Receiver
from clinicsync.sync.service.mllp import Hl7Service, receiver_handler, serve_mllp
from clinicsync.sync.store.model import Appointment, Quarantine
from clinicsync.sync.store.outbox import read_events
from clinicsync.sync.store.store import Store
from tests.conftest import SettingsFactory
from tests.connectors.hl7v2_support import Ack, capture_logs, siu  # noqa: F401 - an autouse fixture
from tests.connectors.tls_certs import certificates, tls_client

T = TypeVar("T")
A = Appointment.__table__.c  # type: ignore[attr-defined]
Q = Quarantine.__table__.c  # type: ignore[attr-defined]
WAIT = 30  # seconds: only ever reached when something is broken
# Transport behaviour does not depend on the database: these run on SQLite only.
TRANSPORT_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


class LoopThread:
    """An event loop in a thread: the listener's home while the test thread sends."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(WAIT)

    def close(self) -> None:
        self.run(self.loop.shutdown_default_executor())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@dataclass
class Running:
    service: Hl7Service
    port: int

    def client(self) -> MLLPClient:
        return MLLPClient("127.0.0.1", self.port)

    def send(self, *messages: str) -> list[Ack]:
        with self.client() as client:
            return [Ack.read(client.send_message(m)) for m in messages]


ListenerFactory = Callable[..., Running]


@pytest.fixture
def listen(write_settings: SettingsFactory, store: Store, loop_thread: LoopThread) -> Iterator[ListenerFactory]:
    """Start the hl7v2 listener service with extra `listen:` keys; stopped after the test."""
    started: list[Hl7Service] = []

    def start(listen_yaml: str = "", connector_yaml: str = "") -> Running:
        settings = load_settings(write_settings(f"""
            - name: siu
              kind: hl7v2
              timezone: America/New_York
              {connector_yaml}
              listen:
                port: 0
                {listen_yaml}
            """))
        service = Hl7Service(settings, store)
        [listening] = loop_thread.run(service.start())
        started.append(service)
        return Running(service, listening.port)

    yield start
    for service in started:
        loop_thread.run(service.stop())


def outbox(store: Store) -> list[tuple[str, str, int]]:
    with store.engine.connect() as connection:
        ids = dict(connection.execute(select(A.id, A.external_id)).all())
        return [(ids[e.appointment_id], e.kind, e.version) for e in read_events(connection, 0)]


def count(store: Store, table: Any) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_s12_s13_s15_are_each_acknowledged_after_the_store_has_them(listen: ListenerFactory, store: Store,
                                                                   logs: io.StringIO) -> None:
    running = listen()
    acks = running.send(
        siu("S12", "MSG1", "20300301090000", start="203003041000"),
        siu("S13", "MSG2", "20300302090000", start="203003051130"),
        siu("S15", "MSG3", "20300303090000", start="203003051130", status="Cancelled"))
    assert [(a.code, a.control_id) for a in acks] == [("AA", "MSG1"), ("AA", "MSG2"), ("AA", "MSG3")]
    assert outbox(store) == [("A100", "created", 1), ("A100", "rescheduled", 2), ("A100", "cancelled", 3)]
    with store.engine.connect() as connection:
        row = connection.execute(select(A.status, A.start_utc, A.timezone, A.source_updated_at)).one()
        rescheduled = read_events(connection, 0)[1].payload
    assert row.status == "cancelled"
    assert row.start_utc == datetime(2030, 3, 5, 16, 30, tzinfo=UTC)  # 11:30 New York
    assert row.source_updated_at == datetime(2030, 3, 3, 14, 0, tzinfo=UTC)  # MSH-7 of the S15
    assert rescheduled["previous"]["start"] == "2030-03-04T15:00:00Z" and rescheduled["moved"] == ["start", "end"]
    logged = logs.getvalue()
    assert '"control_id": "MSG3"' in logged and '"ack": "AA"' in logged  # ids and outcomes...
    for phi in ("Doe", "Jane", "5550123", "jane.doe@example.org", "19800101", "999-99-9999"):
        assert phi not in logged  # ...never the patient


def test_a_garbage_frame_gets_ar_and_the_connection_goes_on(listen: ListenerFactory, store: Store) -> None:
    running = listen()
    with running.client() as client:
        garbage = Ack.read(client.send_message("this is not hl7"))
        no_start_block = Ack.read(client.send(b"\x00\xffjunk\x1c\r"))
        after = Ack.read(client.send_message(siu("S12", "MSG1", "20300301090000")))
    assert (garbage.code, garbage.control_id) == ("AR", "")
    assert "not an HL7 v2 message" in garbage.text
    assert no_start_block.code == "AR"
    assert (after.code, after.control_id) == ("AA", "MSG1")
    with store.engine.connect() as connection:
        reasons = list(connection.execute(select(Q.reason, Q.raw).order_by(Q.id)))
    not_hl7 = "rejected (AR): not an HL7 v2 message (it does not start with an MSH segment)"
    assert [r.reason for r in reasons] == [not_hl7, not_hl7]
    assert reasons[0].raw == "this is not hl7"  # kept for staff: nothing is lost
    assert outbox(store) == [("A100", "created", 1)]


def test_a_message_that_does_not_map_gets_ae_and_lands_in_quarantine(listen: ListenerFactory, store: Store) -> None:
    running = listen()
    broken = siu("S12", "MSG9", "20300301090000", appointment="A9", timing="none")
    [ack] = running.send(broken)
    assert (ack.code, ack.control_id, ack.text) == ("AE", "MSG9", "start: missing (required)")
    with store.engine.connect() as connection:
        entry = connection.execute(select(Q)).one()
    assert (entry.connector, entry.field, entry.reason, entry.record_id) == ("siu", "start", "missing (required)", "A9")
    assert entry.position == "mllp 127.0.0.1 MSH-10=MSG9"
    assert entry.raw == broken.rstrip("\r")
    [again] = running.send(broken)  # the sender insists: same answer, quarantined once
    assert (again.code, again.control_id) == ("AE", "MSG9")
    assert count(store, Quarantine.__table__) == 1  # type: ignore[attr-defined]
    assert outbox(store) == []


def test_an_unsupported_message_type_gets_ar_naming_it(listen: ListenerFactory, store: Store) -> None:
    [ack] = listen().send("MSH|^~\\&|EPIC|HOSP|||20300301||ADT^A08|ADT1|P|2.5\rPID|1||P1\r")
    assert (ack.code, ack.control_id) == ("AR", "ADT1")
    assert ack.text == "unsupported message type ADT (this interface takes SIU)"
    assert count(store, Quarantine.__table__) == 1  # type: ignore[attr-defined]


def test_a_duplicate_control_id_gets_aa_and_changes_nothing(listen: ListenerFactory, store: Store) -> None:
    running = listen()
    first = siu("S12", "MSG1", "20300301090000", start="203003041000")
    acks = running.send(first, first)
    assert [(a.code, a.control_id) for a in acks] == [("AA", "MSG1")] * 2
    assert outbox(store) == [("A100", "created", 1)]
    with store.engine.connect() as connection:
        assert connection.execute(select(A.start_utc)).scalar_one() == datetime(2030, 3, 4, 15, 0, tzinfo=UTC)
    # A different message under the same id (a restarted counter) is applied, with a warning
    # (tests/connectors/test_hl7v2_vendors.py has the table, MLLP and files side by side).
    [changed] = running.send(siu("S14", "MSG1", "20300301100000", start="203003061000"))
    assert changed.code == "AA" and outbox(store)[-1] == ("A100", "rescheduled", 2)
    # The same id from another sending application is another message.
    [other] = running.send(siu("S12", "MSG1", "20300301090000", appointment="B1", sender="CERNER^NORTH"))
    assert other.code == "AA" and outbox(store)[-1] == ("B1", "created", 1)


def test_an_older_message_arriving_late_does_not_overwrite(listen: ListenerFactory, store: Store) -> None:
    running = listen()
    running.send(siu("S12", "MSG1", "20300301090000", start="203003041000"),
                 siu("S13", "MSG3", "20300301110000", start="203003060900"))
    [late] = running.send(siu("S14", "MSG2", "20300301100000", start="203003041000", room="ANNEX^Room 9"))
    assert late.code == "AA"
    assert [kind for _, kind, _ in outbox(store)] == ["created", "rescheduled"]
    with store.engine.connect() as connection:
        row = connection.execute(select(A.start_utc, A.location_ref)).one()
    assert row.start_utc == datetime(2030, 3, 6, 14, 0, tzinfo=UTC) and row.location_ref == "CLINIC Room 3 Main"


def test_s17_deletes_and_s26_marks_a_no_show(listen: ListenerFactory, store: Store) -> None:
    running = listen()
    acks = running.send(siu("S12", "1", "20300301090000", appointment="A1"),
                        siu("S12", "2", "20300301090000", appointment="A2"),
                        siu("S17", "3", "20300302090000", appointment="A1"),
                        siu("S26", "4", "20300305090000", appointment="A2"),
                        siu("S24", "5", "20300305090000", appointment="SLOT"))
    assert [a.code for a in acks] == ["AA"] * 5
    assert "ignored" in acks[4].text
    assert outbox(store) == [("A1", "created", 1), ("A2", "created", 1), ("A1", "deleted", 2), ("A2", "noshow", 2)]


def test_the_listener_killed_between_store_and_ack_the_resend_is_not_duplicated(
        write_settings: SettingsFactory, listen: ListenerFactory, store: Store, loop_thread: LoopThread) -> None:
    settings = load_settings(write_settings("""
        - name: siu
          kind: hl7v2
          timezone: America/New_York
          listen: {port: 0}
        """))
    config = settings.connectors[0]
    assert isinstance(config, Hl7v2Settings) and config.listen is not None
    receiver = Receiver(config, load_mapping(config.mapping, "America/New_York", "US"), store, "run1")
    stored = receiver_handler(receiver)
    dying: list[MllpListener] = []
    closing: list[asyncio.Task[None]] = []

    async def store_then_die(payload: bytes, peer: str) -> bytes | None:
        await stored(payload, peer)  # committed
        closing.append(asyncio.create_task(dying[0].close()))
        return None  # ...and the process is gone before the ACK is written

    async def dead() -> None:
        await closing[0]

    dying.append(MllpListener("siu", config.listen, store_then_die))
    _, port = loop_thread.run(dying[0].start())
    message = siu("S12", "MSG1", "20300301090000")
    with MLLPClient("127.0.0.1", port) as client:
        assert client.send_message(message) == b""  # connection closed, no ACK
    loop_thread.run(dead())
    assert outbox(store) == [("A100", "created", 1)]
    with pytest.raises(ConnectionRefusedError):
        MLLPClient("127.0.0.1", port)  # the listener is down
    restarted = listen()  # a new process: only the database remembers
    [ack] = restarted.send(message)  # the sender resends what was never acknowledged
    assert (ack.code, ack.control_id) == ("AA", "MSG1")
    assert outbox(store) == [("A100", "created", 1)]
    assert count(store, MESSAGES) == 1


def test_a_store_failure_sends_no_ack_and_the_resend_is_stored(listen: ListenerFactory, store: Store,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    running = listen()
    real = store.apply_push

    def database_down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(store, "apply_push", database_down)
    message = siu("S12", "MSG1", "20300301090000")
    with running.client() as client:
        assert client.send_message(message) == b""
    monkeypatch.setattr(store, "apply_push", real)
    [ack] = running.send(message)
    assert ack.code == "AA" and outbox(store) == [("A100", "created", 1)]


@TRANSPORT_ONLY
def test_a_sender_not_allowed_is_closed_without_a_word(listen: ListenerFactory, store: Store) -> None:
    running = listen('allowed_senders: ["10.20.0.0/16", "192.0.2.7"]')
    with running.client() as client:
        try:
            reply = client.send_message(siu("S12", "MSG1", "20300301090000"))
        except ConnectionError:
            reply = b""
    assert reply == b""
    assert outbox(store) == [] and count(store, Quarantine.__table__) == 0  # type: ignore[attr-defined]


@TRANSPORT_ONLY
def test_a_frame_larger_than_allowed_gets_ar_and_the_connection_closes(listen: ListenerFactory,
                                                                       store: Store) -> None:
    running = listen("max_message_bytes: 1024")
    big = siu("S12", "MSG1", "20300301090000") + "NTE|1||" + "x" * 2000 + "\r"
    with running.client() as client:
        ack = Ack.read(client.send_message(big))
        assert (ack.code, ack.text) == ("AR", "message larger than 1024 bytes (max_message_bytes)")
        assert client.socket.recv(10) == b""
    assert outbox(store) == []


@TRANSPORT_ONLY
def test_one_sender_mid_message_does_not_hold_up_another(listen: ListenerFactory, store: Store) -> None:
    running = listen()
    slow = siu("S12", "SLOW", "20300301090000", appointment="S1").encode()
    with running.client() as first, running.client() as second:
        first.socket.sendall(b"\x0b" + slow[:40])  # half a message; the listener waits for the rest
        fast = Ack.read(second.send_message(siu("S12", "FAST", "20300301090000", appointment="F1")))
        assert (fast.code, fast.control_id) == ("AA", "FAST")
        late = Ack.read(first.send(slow[40:] + b"\x1c\r"))
        assert (late.code, late.control_id) == ("AA", "SLOW")
    assert sorted(e for e, _, _ in outbox(store)) == ["F1", "S1"]


@TRANSPORT_ONLY
def test_store_work_runs_off_the_event_loop(listen: ListenerFactory, store: Store,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """While one message is held inside the store, another sender is answered."""
    running = listen()
    receiver = running.service.receivers[0]
    real = receiver.handle
    other_answered = threading.Event()
    held_until_answered: list[bool] = []

    def handle(payload: bytes, peer: str) -> Any:
        if b"|HELD|" in payload:
            held_until_answered.append(other_answered.wait(WAIT))
        return real(payload, peer)

    monkeypatch.setattr(receiver, "handle", handle)
    result: list[Ack] = []
    held = threading.Thread(target=lambda: result.extend(running.send(siu("S12", "HELD", "20300301", appointment="H"))))
    held.start()
    [ack] = running.send(siu("S12", "FREE", "20300301", appointment="F"))
    other_answered.set()
    held.join(WAIT)
    assert ack.code == "AA" and [a.code for a in result] == ["AA"]
    assert held_until_answered == [True]


def test_many_senders_at_once(listen: ListenerFactory, store: Store) -> None:
    running = listen()
    results: dict[int, list[str]] = {}

    def sender(number: int) -> None:
        acks = running.send(*(siu("S12", f"{number}-{n}", "20300301090000", appointment=f"A{number}-{n}",
                                  sender=f"APP{number}^SITE") for n in range(5)))
        results[number] = [a.code for a in acks]

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert results == {n: ["AA"] * 5 for n in range(6)}
    assert count(store, Appointment.__table__) == 30  # type: ignore[attr-defined]


# -- TLS -------------------------------------------------------------------------------------------
@TRANSPORT_ONLY
def test_tls_listener_answers_over_tls_and_refuses_plain_text(listen: ListenerFactory, store: Store,
                                                              tmp_path: Path) -> None:
    certs = certificates(tmp_path)
    running = listen(f"tls: {{cert_file: {certs['server_cert']}, key_file: {certs['server_key']}}}")
    with tls_client(running.port, certs["ca"]) as client:
        ack = Ack.read(client.send_message(siu("S12", "MSG1", "20300301090000")))
    assert ack.code == "AA"
    with running.client() as plain:
        try:
            reply = plain.send_message(siu("S12", "MSG2", "20300301090000"))
        except ConnectionError:
            reply = b""
    assert b"MSA" not in reply
    assert outbox(store) == [("A100", "created", 1)]


@TRANSPORT_ONLY
def test_mutual_tls_wants_a_client_certificate(listen: ListenerFactory, store: Store, tmp_path: Path) -> None:
    certs = certificates(tmp_path)
    running = listen(f"tls: {{cert_file: {certs['server_cert']}, key_file: {certs['server_key']}, "
                     f"client_ca_file: {certs['ca']}}}")
    try:
        with tls_client(running.port, certs["ca"]) as anonymous:
            reply = anonymous.send_message(siu("S12", "MSG1", "20300301090000"))
    except (ssl.SSLError, ConnectionError):
        reply = b""
    assert reply == b""
    with tls_client(running.port, certs["ca"], (certs["client_cert"], certs["client_key"])) as known:
        ack = Ack.read(known.send_message(siu("S12", "MSG2", "20300301090000")))
    assert (ack.code, ack.control_id) == ("AA", "MSG2")
    assert outbox(store) == [("A100", "created", 1)]


# -- the service as a whole ------------------------------------------------------------------------
def test_serve_mllp_serves_until_stopped_and_records_its_run(write_settings: SettingsFactory, store: Store,
                                                             loop_thread: LoopThread) -> None:
    settings: Settings = load_settings(write_settings("""
        - name: siu
          kind: hl7v2
          listen: {port: 0}
        - name: other
          kind: hl7v2
          enabled: false
          listen: {port: 0}
        """))
    ready: asyncio.Queue[Any] = asyncio.Queue()
    stop: list[asyncio.Event] = []

    async def serve() -> None:
        stop.append(asyncio.Event())
        await serve_mllp(settings, store, on_ready=ready.put_nowait, stop=stop[0])

    future = asyncio.run_coroutine_threadsafe(serve(), loop_thread.loop)
    listening = loop_thread.run(ready.get())
    assert [item.connector for item in listening] == ["siu"]  # the disabled one does not listen
    with MLLPClient("127.0.0.1", listening[0].port) as client:
        assert Ack.read(client.send_message(siu("S12", "MSG1", "20300301090000"))).code == "AA"
    loop_thread.loop.call_soon_threadsafe(stop[0].set)
    future.result(WAIT)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", listening[0].port), timeout=WAIT)
    [status] = connector_status(store)
    assert (status["connector"], status["last_status"], status["counts"]["created"]) == ("siu", "ok", 1)


def test_a_renamed_listener_source_is_not_acknowledged_until_source_rename(
        listen: ListenerFactory, store: Store, loop_thread: LoopThread, write_settings: SettingsFactory,
        cli: Callable[[Path | None], Any]) -> None:
    """The `siu` listener renamed `siu-new` in the settings. On main its
    next message of a visit it had stored (an S13) was stored under the new name as a new visit
    (AA, a second `created`), and `source rename` was then refused. Now it gets no ACK, as for a
    store outage, so the sender resends; after `source rename` the resend is the reschedule."""
    first = listen()
    assert [a.code for a in first.send(siu("S12", "MSG1", "20300301090000"))] == ["AA"]
    loop_thread.run(first.service.stop())
    path = write_settings("""
        - name: siu-new
          kind: hl7v2
          timezone: America/New_York
          listen:
            port: 0
        """)
    service = Hl7Service(load_settings(path), store)
    [listening] = loop_thread.run(service.start())
    try:
        renamed = Running(service, listening.port)
        moved = siu("S13", "MSG2", "20300302090000", start="203003051130")
        with renamed.client() as client:
            assert client.send_message(moved) == b""  # main: AA, a second visit under 'siu-new'
        assert outbox(store) == [("A100", "created", 1)]
        with store.engine.connect() as connection:
            assert connection.execute(select(A.connector)).scalars().all() == ["siu"]

        cli(path)("source", "rename", "siu", "siu-new")
        [ack] = renamed.send(moved)  # the sender's resend
        assert ack.code == "AA"
        assert outbox(store) == [("A100", "created", 1), ("A100", "rescheduled", 2)]
        with store.engine.connect() as connection:
            assert connection.execute(select(A.connector)).scalars().all() == ["siu-new"]
    finally:
        loop_thread.run(service.stop())
