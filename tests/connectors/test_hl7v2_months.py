"""An HL7 v2 SIU feed over months, driven over loopback MLLP (and the drop folder) as an
interface engine sends it: a message resent because its ACK was lost (same MSH-10, days
later, MSH-7 restamped), messages out of order (a cancellation before its booking, a day's
backlog replayed in a burst), a booking and its cancellation stamped in the same minute,
MSH-7 in the sender's zone in the hour a fall-back repeats, and a connection the engine
keeps open and then abandons. Ordering is the store's own (sync/store/changes.py update_order,
the mechanism REST and FHIR pushes use), not a second one for HL7."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from clinicsync.connectors.hl7v2.model import MESSAGES
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.service.mllp import Hl7Service
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import Reminder
from clinicsync.sync.store.store import Store
from tests.conftest import Cli, SettingsFactory
from tests.connectors.hl7v2_support import Ack, capture_logs, siu  # noqa: F401 - an autouse fixture
from tests.connectors.test_hl7v2_files import runner  # noqa: F401 - a fixture
from tests.connectors.test_hl7v2_mllp import (  # noqa: F401 - fixtures
    TRANSPORT_ONLY,
    A,
    ListenerFactory,
    LoopThread,
    Running,
    count,
    listen,
    loop_thread,
    outbox,
)
from tests.sync.reminders.conftest import scripted  # noqa: F401 - a fixture

R = Reminder.__table__.c  # type: ignore[attr-defined]
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hl7_siu"


def state(store: Store, external_id: str = "A100") -> tuple[str, datetime, bool]:
    """(status, start, deleted) of one stored appointment."""
    with store.engine.connect() as connection:
        row = connection.execute(select(A.status, A.start_utc, A.deleted_at)
                                 .where(A.external_id == external_id)).one()
    return row.status, row.start_utc, row.deleted_at is not None


def reminding_listener(write_settings: SettingsFactory, store: Store,
                       loop_thread: LoopThread) -> tuple[Settings, Hl7Service, Running]:  # noqa: F811
    """The listener with reminders on (a scripted SMS notifier): stop its service when done."""
    settings = load_settings(write_settings(
        """
        - name: siu
          kind: hl7v2
          timezone: America/New_York
          listen:
            port: 0
        """,
        extra="notifiers:\n  - name: texts\n    kind: scripted\n    log: texts.jsonl\n    outcomes: {}\n"
              "reminders:\n  enabled: true\n"))
    service = Hl7Service(settings, store)
    [listening] = loop_thread.run(service.start())
    return settings, service, Running(service, listening.port)


def test_a_message_resent_days_later_after_newer_ones_changes_nothing(listen: ListenerFactory,  # noqa: F811
                                                                      store: Store) -> None:
    """The ACKs of the booking and the move were lost; the engine resends both (the move with
    MSH-7 restamped) a week after the cancellation: the original ACKs, no visit moved back,
    no cancelled visit revived. Right on main too: pinned."""
    running = listen()
    booked = siu("S12", "M1", "20300301090000", start="203003041000")
    running.send(booked, siu("S13", "M2", "20300302090000", start="203003051000"),
                 siu("S15", "M3", "20300303090000", start="203003051000", status="Cancelled"))
    acks = running.send(siu("S13", "M2", "20300310090000", start="203003051000"), booked)
    assert [(a.code, a.control_id) for a in acks] == [("AA", "M2"), ("AA", "M1")]
    assert outbox(store) == [("A100", "created", 1), ("A100", "rescheduled", 2), ("A100", "cancelled", 3)]
    assert state(store) == ("cancelled", datetime(2030, 3, 5, 15, 0, tzinfo=UTC), False)


def test_a_cancellation_or_change_before_its_booking_keeps_the_newest(listen: ListenerFactory,  # noqa: F811
                                                                      store: Store) -> None:
    """S15 arrives before the S12 it cancels, then an older S14; S17 before its S12: the
    newest message holds. Right on main too: pinned."""
    running = listen()
    running.send(siu("S15", "M3", "20300301090500", status="Cancelled"),
                 siu("S12", "M1", "20300301090000"),
                 siu("S14", "M2", "20300301090200", start="203003061000"),
                 siu("S17", "N2", "20300301090500", appointment="B1"),
                 siu("S12", "N1", "20300301090000", appointment="B1"))
    assert state(store) == ("cancelled", datetime(2030, 3, 4, 15, 0, tzinfo=UTC), False)
    assert state(store, "B1")[2] is True
    assert [kind for _, kind, _ in outbox(store)] == ["created"]  # the cancelled A100, never booked


def test_a_booking_and_its_cancellation_in_one_minute_stay_cancelled_in_either_order(
        listen: ListenerFactory, store: Store) -> None:  # noqa: F811
    """MSH-7 to the minute (as many senders stamp it): a visit booked and cancelled within
    a minute, delivered in either order. On main the booking arriving second revived the
    cancelled visit (an `updated` event, reactivated, reminders planned for it)."""
    running = listen()
    acks = running.send(siu("S15", "M2", "203003010905", status="Cancelled"), siu("S12", "M1", "203003010905"),
                        siu("S12", "N1", "203003010905", appointment="B1"),
                        siu("S15", "N2", "203003010905", appointment="B1", status="Cancelled"))
    assert [a.code for a in acks] == ["AA"] * 4
    assert state(store)[0] == "cancelled" and state(store, "B1")[0] == "cancelled"
    assert outbox(store) == [("A100", "created", 1), ("B1", "created", 1), ("B1", "cancelled", 2)]
    # A later minute is told apart: the visit booked again is booked.
    running.send(siu("S12", "M9", "203003010906"))
    assert state(store)[0] == "booked" and outbox(store)[-1] == ("A100", "updated", 2)
    # Only an ended visit is held: a waitlist entry booked in the same minute is booked.
    running.send(siu("S12", "W1", "203003010907", appointment="W", status="Waitlist"),
                 siu("S14", "W2", "203003010907", appointment="W", status="Booked"))
    assert state(store, "W")[0] == "booked"


def test_a_fall_back_hour_in_the_senders_zone_keeps_the_cancellation(listen: ListenerFactory,  # noqa: F811
                                                                    store: Store) -> None:
    """MSH-7 without an offset, in the sender's zone (America/New_York) on 2030-11-03, when
    01:00-01:59 happens twice: a booking at 01:50 (first pass) and its cancellation at 01:10
    (second pass, 20 minutes later). On main both read as the first pass, the cancellation
    50 minutes "older", and it was dropped: the cancelled visit stayed booked. Likewise a
    deletion (S17) after a change. With offsets the times are exact: a late S14 stays late."""
    running = listen()
    running.send(siu("S12", "M1", "20301103015000", start="203011101000"),
                 siu("S15", "M2", "20301103011000", start="203011101000", status="Cancelled"),
                 siu("S14", "N1", "20301103015500", appointment="B1", start="203011111000"),
                 siu("S17", "N2", "20301103010500", appointment="B1", start="203011111000"))
    assert state(store)[0] == "cancelled"
    assert state(store, "B1")[2] is True
    # With offsets: the cancellation at 01:10 EST is exact; the change stamped 01:50 EDT
    # (an hour before it, arriving after it) is older and changes nothing.
    running.send(siu("S12", "O1", "20301103014000-0400", appointment="C1", start="203011121000"),
                 siu("S15", "O3", "20301103011000-0500", appointment="C1", start="203011121000",
                     status="Cancelled"),
                 siu("S14", "O2", "20301103015000-0400", appointment="C1", start="203011131000"))
    assert state(store, "C1") == ("cancelled", datetime(2030, 11, 12, 15, 0, tzinfo=UTC), False)
    assert [kind for ext, kind, _ in outbox(store) if ext == "C1"] == ["created", "cancelled"]


def test_an_outage_backlog_replayed_shuffled_and_then_again_ends_at_the_newest_state(
        listen: ListenerFactory, store: Store) -> None:  # noqa: F811
    """A day's outage: the engine queued 120 messages for 30 appointments (book, change,
    move, and for every third a cancellation), then replays them in a burst out of order,
    and after a reconnect replays the whole queue once more. Every visit ends as its newest
    message says, the second replay changes nothing. Right on main too: pinned. (60
    appointments before: 30 still give every day of the 15 and both endings.)"""
    rng = random.Random(51)  # starts at 14:00 EDT (18:00 UTC) on days after the spring-forward
    messages, expected = [], {}
    for n in range(30):
        ext, day = f"Q{n}", 12 + n % 15
        sent = [f"20300301{9 + k:02d}{n % 60:02d}00" for k in range(4)]
        messages += [siu("S12", f"{ext}-1", sent[0], appointment=ext, start=f"203003{day:02d}0900"),
                     siu("S14", f"{ext}-2", sent[1], appointment=ext, start=f"203003{day:02d}0900",
                         room="ANNEX^Room 9"),
                     siu("S13", f"{ext}-3", sent[2], appointment=ext, start=f"203003{day:02d}1400")]
        if n % 3 == 0:
            messages.append(siu("S15", f"{ext}-4", sent[3], appointment=ext, start=f"203003{day:02d}1400",
                                status="Cancelled"))
        else:
            messages.append(siu("S14", f"{ext}-4", sent[3], appointment=ext, start=f"203003{day:02d}1400"))
        expected[ext] = ("cancelled" if n % 3 == 0 else "booked", datetime(2030, 3, day, 18, 0, tzinfo=UTC))
    rng.shuffle(messages)
    running = listen()
    assert {a.code for a in running.send(*messages)} == {"AA"}
    events = len(outbox(store))
    for ext, (status, start) in expected.items():
        assert state(store, ext)[:2] == (status, start), ext
    again = running.send(*messages)
    assert {a.code for a in again} == {"AA"} and len(outbox(store)) == events
    assert count(store, MESSAGES) == 120


def test_a_no_show_and_a_reschedule_stamped_in_one_minute_keep_the_no_show_from_files(
        runner: Cli, drop_dir: Path, store: Store) -> None:  # noqa: F811
    """Microsoft FHIR-Converter's S26 and S13 samples for appointment 36996 both carry MSH-7
    202108181130+0215, to the minute. Dropped as two files, the no-show first: which came
    first cannot be told, so the no-show holds (on main the S13 revived the visit as booked,
    and its reminders were planned again)."""
    for number, name in enumerate(["ms_fhirconverter_siu_s26_02", "ms_fhirconverter_siu_s13_02"], start=1):
        shutil.copyfile(FIXTURES / f"{name}.hl7", drop_dir / f"{number}.hl7")
        _, out, _ = runner("sync", "--once", "--json", expect=None)
        assert json.loads(out)["connectors"]["siu-files"]["fetched"] == 1
    assert state(store, "36996")[0] == "noshow"


def test_no_reminder_is_left_for_a_visit_cancelled_in_the_minute_it_was_booked(
        write_settings: SettingsFactory, store: Store, loop_thread: LoopThread, scripted: Path) -> None:  # noqa: F811
    """Through to the reminders: the cancellation first, the booking of the same minute
    second. On main the revived visit got its confirmation planned (pending); now nothing is
    planned, not even a cancellation notice for a visit the patient was never told of."""
    settings, service, running = reminding_listener(write_settings, store, loop_thread)
    try:
        running.send(siu("S15", "M2", "203003010905", status="Cancelled"), siu("S12", "M1", "203003010905"))
    finally:
        loop_thread.run(service.stop())
    plan(settings, store, now=datetime(2030, 3, 1, 15, 0, tzinfo=UTC))
    with store.engine.connect() as connection:
        planned = connection.execute(select(R.kind, R.status)).all()
    assert planned == []  # no confirmation, and no cancellation notice for a visit never announced


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@TRANSPORT_ONLY
def test_connections_abandoned_by_the_engine_are_closed_and_leave_nothing_behind(listen: ListenerFactory,  # noqa: F811
                                                                                 store: Store) -> None:
    """An engine that keeps its connection open, sends, then goes silent (as a peer behind
    a network blip looks from here: no FIN ever comes): 30 such connections are closed by
    the idle timeout, the listener holds no connection task, and the process's open file
    descriptors are back where they were. Right on main too: pinned."""
    running = listen("idle_timeout_seconds: 0.5")
    baseline = _open_fds()
    abandoned = []
    for n in range(30):
        sock = socket.create_connection(("127.0.0.1", running.port), timeout=10)
        sock.sendall(b"\x0b" + siu("S12", f"K{n}", "20300301090000", appointment=f"K{n}").encode() + b"\x1c\r")
        assert Ack.read(sock.recv(65536)).code == "AA"
        abandoned.append(sock)  # never closed by the sender, never read again
    deadline = time.monotonic() + 10
    [listener] = running.service._listeners
    while time.monotonic() < deadline:
        if all(_closed(sock) for sock in abandoned):
            break
        time.sleep(0.02)
    assert all(_closed(sock) for sock in abandoned)
    for sock in abandoned:
        sock.close()
    deadline = time.monotonic() + 10  # the connection tasks finish on the loop thread: poll, not a fixed 0.3 s
    while listener._connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not listener._connections
    assert _open_fds() <= baseline + 2
    assert count(store, MESSAGES) == 30


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(0.01)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def test_s13_s17_s26_through_to_reminders(
        write_settings: SettingsFactory, store: Store, loop_thread: LoopThread, scripted: Path) -> None:  # noqa: F811
    """Booked, then moved by an S13 (a new time), then deleted by an S17; another visit
    marked a no-show by an S26 before its time. What the reminders make of them: right on
    main too, pinned."""
    settings, service, running = reminding_listener(write_settings, store, loop_thread)
    now = datetime(2030, 3, 1, 15, 0, tzinfo=UTC)

    def planned() -> list[tuple[str, str, str, Any]]:
        plan(settings, store, now=now)
        with store.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(
                select(A.external_id, R.kind, R.status, R.due_at)
                .join(Appointment.__table__, A.id == R.appointment_id).order_by(R.id))]

    def pending(external_id: str) -> list[tuple[str, datetime]]:
        return [(kind, due) for ext, kind, status, due in planned() if ext == external_id and status == "pending"]

    try:
        running.send(siu("S12", "M1", "20300301090000", start="203003101000"),
                     siu("S12", "N1", "20300301090000", appointment="B1", start="203003111000"))
        assert [kind for kind, _ in pending("A100")] == ["confirmation", "reminder", "reminder", "reminder"]
        # S13 to 15:00 on the 12th: the reminders for the 10th are cancelled, new ones planned
        # before the new time (the confirmation, not yet sent, stays planned).
        running.send(siu("S13", "M2", "20300301093000", start="203003121500"))
        moved = pending("A100")
        assert [kind for kind, _ in moved] == ["confirmation", "reminder", "reminder", "reminder"]
        assert max(due for _, due in moved) == datetime(2030, 3, 12, 18, 0, tzinfo=UTC)  # 2 h before 19:00 UTC
        # S17 deletes A100: every reminder cancelled, a cancellation notice planned. S26 marks
        # B1 a no-show before its time: its reminders cancelled, nothing sent to the patient.
        running.send(siu("S17", "M3", "20300301100000", start="203003121500"),
                     siu("S26", "N2", "20300301100000", appointment="B1", start="203003111000"))
        assert pending("A100") == [("cancelled", now)]
        assert pending("B1") == []
    finally:
        loop_thread.run(service.stop())


def test_one_batch_file_with_a_cancellation_and_its_booking_of_one_minute_keeps_it_cancelled(
        runner: Cli, drop_dir: Path, store: Store) -> None:  # noqa: F811
    """The same within one batch file, where the messages of one visit collapse to the newest
    before the store sees them: the cancellation first, the booking of its minute after it;
    a deletion likewise. On main the later line won and the visit was booked."""
    text = "".join([siu("S15", "M2", "203003010905", status="Cancelled"), siu("S12", "M1", "203003010905"),
                    siu("S17", "N2", "203003010905", appointment="B1"),
                    siu("S12", "N1", "203003010905", appointment="B1")])
    (drop_dir / "day.hl7").write_text(text.replace("\r", "\r\n"), encoding="utf-8")
    _, out, _ = runner("sync", "--once", "--json", expect=None)
    assert json.loads(out)["connectors"]["siu-files"]["fetched"] == 4
    assert state(store)[0] == "cancelled"
    assert state(store, "B1")[2] is True
