"""The desk's Undo of a cancel puts back exactly what the cancel changed, when the patient had
already declined by SMS: the doctor is not told of the cancel that was undone, the patient's
answer is their decline again, and their decline's write-back to the source is still on its way
(or, once the cancel's own went, the source is told the decline and its status again, cancelled
when a decline cancels). A cancel taken again after the Undo tells the doctor once, of itself.
Through the real SMS reply, desk action, dispatcher and write-back stage (a CSV responses file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.desk.actions import record_action, seen_of, undo_action
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.responses.writeback import process_writebacks
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import WRITEBACKS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import read_log

A = Appointment.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)
DOCTOR = "hart@clinic.example.org"
BASE = ("quiet_hours: null\nagenda: {enabled: false}\noffsets: [1d]\nchannels: [sms, email]\n"
        "routes: {sms: texts, email: mails}\nconfirmation: false")


def _settings(make: SettingsMaker, tmp_path: Path, *, doctor_fails: bool = False,
              decline_cancels: bool = False) -> Settings:
    """The visit's source (c1) takes answers back through a CSV responses file; ``doctor_fails``:
    the mail provider refuses the doctor's address for good (their notice fails)."""
    (tmp_path / "drop").mkdir(exist_ok=True)
    source = (f"connectors:\n  - name: c1\n    kind: csv\n    mapping: csv_default\n"
              f"    drop_dir: {tmp_path / 'drop'}\n    responses_file: {tmp_path / 'out' / 'responses.csv'}\n"
              f"responses:\n  decline_cancels: {'true' if decline_cancels else 'false'}\n")
    return make(BASE, outcomes=f"{{{DOCTOR}: permanent}}" if doctor_fails else "{}", extra_notifiers=source)


def _visit(settings: Settings, store: Store) -> int:
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    with store.engine.connect() as connection:
        return int(connection.execute(select(A.c.id)).scalar_one())


def _declined_by_sms(settings: Settings, store: Store, at: datetime) -> None:
    assert handle_reply(settings, store, "sms", "+12125550101", "NO", "SM1", at).outcome == "applied"


def _cancel(settings: Settings, store: Store, target: int, at: datetime, reason: str = "patient_asked") -> int:
    done = record_action(settings, store, target, "cancel", "desk1", "front_desk", at,
                         seen=seen_of(store, [target])[target].digest, reason=reason)
    assert done is not None
    return int(done["id"])


def _undo(settings: Settings, store: Store, target: int, action: int, at: datetime) -> None:
    assert undo_action(settings, store, action, "desk1", at, seen_of(store, [target])[target].digest) == target


def _doctor_told(settings: Settings, store: Store, tmp_path: Path, at: datetime) -> list[dict[str, Any]]:
    """Every mail the doctor received so far, after a dispatcher pass at ``at``."""
    Dispatcher(settings, store, at).run()
    log = tmp_path / "mails.jsonl"
    return [m for m in read_log(log) if m["to"] == DOCTOR] if log.exists() else []


def _answer(store: Store) -> tuple[str | None, datetime | None]:
    with store.engine.connect() as connection:
        row = connection.execute(select(A.c.participation, A.c.participation_at)).one()
    at = row.participation_at
    return row.participation, at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _outbox(store: Store) -> list[tuple[str, str | None, str]]:
    """The write-backs, oldest first: (participant_status, appointment_status, status)."""
    with store.engine.connect() as connection:
        return [(r.participant_status, r.appointment_status, r.status)
                for r in connection.execute(select(WRITEBACKS).order_by(WRITEBACKS.c.id))]


def _doctors_declined_unsent(store: Store) -> list[str]:
    with store.engine.connect() as connection:
        return [r.key for r in connection.execute(select(REMINDERS.c.key).where(
            REMINDERS.c.recipient == "practitioner", REMINDERS.c.status == "pending"))]


def test_undo_of_a_cancel_after_an_sms_decline_tells_the_doctor_nothing_and_keeps_the_decline(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The doctor's notice of the patient's decline failed, so the desk's cancel planned one of its
    own: the Undo withdraws it (the doctor is not told of a cancel that was undone). The decline
    came in the same minute as the cancel: its write-back is still the one pending."""
    failing = _settings(reminder_settings, tmp_path, doctor_fails=True)
    target = _visit(failing, store)
    _declined_by_sms(failing, store, NOW)
    declined_at = _answer(store)[1]
    assert _doctor_told(failing, store, tmp_path, NOW) == []  # the provider refused it: failed
    settings = _settings(reminder_settings, tmp_path)
    cancel = _cancel(settings, store, target, NOW)
    assert len(_doctors_declined_unsent(store)) == 1  # the cancel's own notice
    _undo(settings, store, target, cancel, NOW + timedelta(minutes=1))
    assert _doctors_declined_unsent(store) == []
    assert _doctor_told(settings, store, tmp_path, NOW + timedelta(minutes=2)) == []
    assert _answer(store) == ("declined", declined_at)
    assert _outbox(store) == [("declined", None, "pending"), ("declined", "cancelled", "superseded")]
    assert process_writebacks(settings, store, NOW + timedelta(minutes=2))["done"] == 1
    assert _outbox(store)[0] == ("declined", None, "done")


def test_cancel_undo_cancel_after_an_sms_decline_tells_the_doctor_once_of_the_last_cancel(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    failing = _settings(reminder_settings, tmp_path, doctor_fails=True)
    target = _visit(failing, store)
    _declined_by_sms(failing, store, NOW)
    assert _doctor_told(failing, store, tmp_path, NOW) == []
    settings = _settings(reminder_settings, tmp_path)
    first = _cancel(settings, store, target, NOW + timedelta(minutes=1), reason="patient_ill")
    _undo(settings, store, target, first, NOW + timedelta(minutes=2))
    _cancel(settings, store, target, NOW + timedelta(minutes=3), reason="moved")
    told = _doctor_told(settings, store, tmp_path, NOW + timedelta(minutes=4))
    assert len(told) == 1, told
    assert told[0]["subject"].endswith(": cancelled by the front desk"), told[0]["subject"]
    assert "the patient is ill" not in told[0]["body"], told[0]["body"]
    assert _doctor_told(settings, store, tmp_path, NOW + timedelta(hours=1)) == told  # nothing more later


def test_undo_puts_back_the_decline_that_cancels_once_the_cancel_was_written(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """decline_cancels: the patient's decline was written back as declined and cancelled, then the
    desk's cancel too; its Undo tells the source the decline and its cancelled status again, not
    "booked" (the state before the desk's cancel)."""
    settings = _settings(reminder_settings, tmp_path, decline_cancels=True)
    target = _visit(settings, store)
    _declined_by_sms(settings, store, NOW)
    declined_at = _answer(store)[1]
    assert process_writebacks(settings, store, NOW)["done"] == 1
    cancel = _cancel(settings, store, target, NOW + timedelta(minutes=1))
    assert process_writebacks(settings, store, NOW + timedelta(minutes=1))["done"] == 1
    _undo(settings, store, target, cancel, NOW + timedelta(minutes=2))
    assert _answer(store) == ("declined", declined_at)
    assert _outbox(store)[-1] == ("declined", "cancelled", "pending")
    assert process_writebacks(settings, store, NOW + timedelta(minutes=2))["done"] == 1
    lines = (tmp_path / "out" / "responses.csv").read_text().splitlines()
    assert [line.split(",")[2:4] for line in lines[1:]] == [["declined", "cancelled"]] * 3


def test_undo_gives_back_a_decline_the_write_back_stage_set_aside_for_the_cancel(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The stage ran between the cancel and its Undo with the source refusing writes: the patient's
    decline was superseded by the cancel's write-back, still pending. The Undo withdraws the
    cancel's and the patient's decline is pending again (not lost)."""
    settings = _settings(reminder_settings, tmp_path)
    target = _visit(settings, store)
    _declined_by_sms(settings, store, NOW)
    cancel = _cancel(settings, store, target, NOW + timedelta(minutes=1))
    (tmp_path / "out").write_text("")  # a file where the folder goes: the append fails, retried later
    assert process_writebacks(settings, store, NOW + timedelta(minutes=1))["retrying"] == 1
    assert [s for _, _, s in _outbox(store)] == ["superseded", "pending"]
    _undo(settings, store, target, cancel, NOW + timedelta(minutes=2))
    assert _outbox(store) == [("declined", None, "pending"), ("declined", "cancelled", "superseded")]
