"""The doctor's notice of a decline says who declined (issue 58): the front desk's cancel, with
its reason, reads "cancelled by the front desk"; a patient's own SMS decline keeps "declined by
the patient". Through the real desk action, the real dispatcher and the mail notifier's log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.sync.config.clinic import ClinicSettings
from clinicsync.sync.config.settings.reminders import RemindersSettings
from clinicsync.sync.desk.actions import record_action, seen_of, undo_action
from clinicsync.sync.reminders.compose import Composer, Draft, Visit
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.doctor_values import desk_note
from clinicsync.sync.reminders.render import Renderer
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import read_log

A = Appointment.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)
BASE = ("quiet_hours: null\nagenda: {enabled: false}\noffsets: [1d]\nchannels: [sms, email]\n"
        "routes: {sms: texts, email: mails}\nconfirmation: false")


def _doctor_mail(settings: Any, store: Store, tmp_path: Any) -> dict[str, str]:
    assert Dispatcher(settings, store, NOW).run().as_dict()["sent"] == 1
    [mail] = [m for m in read_log(tmp_path / "mails.jsonl") if m["to"] == "hart@clinic.example.org"]
    return mail


def test_a_desk_cancel_tells_the_doctor_the_front_desk_cancelled_it_and_why(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    with store.engine.connect() as connection:
        target = connection.execute(select(A.c.id)).scalar_one()
    record_action(settings, store, target, "cancel", "desk1", "front_desk", NOW,
                  seen=seen_of(store, [target])[target].digest, reason="patient_ill")
    with store.engine.connect() as connection:
        notice = connection.execute(select(REMINDERS).where(REMINDERS.c.recipient == "practitioner")).one()
    assert (notice.kind, notice.note) == ("declined", "cancelled by the front desk: the patient is ill")
    mail = _doctor_mail(settings, store, tmp_path)
    assert mail["subject"].endswith(": cancelled by the front desk"), mail["subject"]
    body = mail["body"]
    assert "The front desk cancelled an appointment" in body
    assert "Reason: the patient is ill" in body
    assert "declined by the patient" not in mail["subject"] and "A patient cancelled" not in body


def test_a_patients_sms_decline_still_reads_declined_by_the_patient(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    assert handle_reply(settings, store, "sms", "+12125550101", "NO", "SM1", NOW).outcome == "applied"
    mail = _doctor_mail(settings, store, tmp_path)
    assert mail["subject"].endswith(": declined by the patient"), mail["subject"]
    body = mail["body"]
    assert "A patient cancelled an appointment" in body and "front desk cancelled" not in body


def test_the_spanish_notice_names_the_desk_and_its_reason_in_spanish() -> None:
    clinic = ClinicSettings(name="Clínica Sur", timezone="America/New_York", default_region="US", language="es")
    visit = Visit("csv", "A1", START, START + timedelta(minutes=30), "America/New_York", 1, doctor="Dr. Hart")
    composer = Composer(RemindersSettings(), clinic, Renderer())
    desk = composer.render(Draft("k", "declined", "practitioner", "es", visit=visit,
                                 note=desk_note("the patient is ill")), "email", NOW)
    assert desk.subject is not None and desk.subject.endswith(": cancelada por la recepción")
    assert "Motivo: el paciente está enfermo" in desk.text
    patient = composer.render(Draft("k", "declined", "practitioner", "es", visit=visit), "email", NOW)
    assert patient.subject is not None and patient.subject.endswith(": rechazada por el paciente")
    assert "Un paciente canceló una cita" in patient.text


def _doctor_subjects(settings: Any, store: Store, tmp_path: Any, at: datetime) -> list[str]:
    """Every notice the doctor has received so far, after a dispatcher pass at ``at``."""
    Dispatcher(settings, store, at).run()
    return [m["subject"].rsplit(": ", 1)[-1] for m in read_log(tmp_path / "mails.jsonl")
            if m["to"] == "hart@clinic.example.org"] if (tmp_path / "mails.jsonl").exists() else []


def _cancel(settings: Any, store: Store, target: int, at: datetime) -> int:
    done = record_action(settings, store, target, "cancel", "desk1", "front_desk", at,
                         seen=seen_of(store, [target])[target].digest, reason="patient_asked")
    assert done is not None
    return int(done["id"])


def _undo(settings: Any, store: Store, target: int, action: int, at: datetime) -> None:
    undo_action(settings, store, action, "desk1", at, seen_of(store, [target])[target].digest)


@pytest.mark.parametrize("dispatch_between", [False, True])
def test_cancel_undo_cancel_leaves_the_doctor_told_it_is_cancelled_once(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any, dispatch_between: bool) -> None:
    """Undo withdrew the first cancel's notice, whose key was the visit and its version, and the
    second cancel landed on that withdrawn key: the doctor was never told. Both quickly (nothing
    sent between) and with the dispatcher running after each step (the doctor hears cancelled,
    booked again, cancelled)."""
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    with store.engine.connect() as connection:
        target = connection.execute(select(A.c.id)).scalar_one()
    at = NOW
    first = _cancel(settings, store, target, at)
    if dispatch_between:
        assert _doctor_subjects(settings, store, tmp_path, at) == ["cancelled by the front desk"]
    _undo(settings, store, target, first, at := at + timedelta(minutes=1))
    if dispatch_between:
        told = _doctor_subjects(settings, store, tmp_path, at)
        assert len(told) == 2 and told[0] == "cancelled by the front desk" and "cancelled" not in told[1], told
    _cancel(settings, store, target, at := at + timedelta(minutes=1))
    told = _doctor_subjects(settings, store, tmp_path, at)
    assert told[-1] == "cancelled by the front desk", told
    assert len(told) == (3 if dispatch_between else 1), told
    assert _doctor_subjects(settings, store, tmp_path, at + timedelta(hours=1)) == told  # nothing more later


def test_cancel_undone_before_its_notice_went_then_cancelled_again_after_it_went_is_one_notice(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    """Sent, undone (the "booked again" notice planned), cancelled again before that went: the
    "booked again" is withdrawn and the doctor's one notice, cancelled, stands."""
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    with store.engine.connect() as connection:
        target = connection.execute(select(A.c.id)).scalar_one()
    first = _cancel(settings, store, target, NOW)
    assert _doctor_subjects(settings, store, tmp_path, NOW) == ["cancelled by the front desk"]
    _undo(settings, store, target, first, NOW + timedelta(minutes=1))
    second = _cancel(settings, store, target, NOW + timedelta(minutes=2))
    assert _doctor_subjects(settings, store, tmp_path, NOW + timedelta(minutes=3)) == ["cancelled by the front desk"]
    _undo(settings, store, target, second, NOW + timedelta(minutes=4))  # and its undo tells the doctor it is on
    told = _doctor_subjects(settings, store, tmp_path, NOW + timedelta(minutes=5))
    assert len(told) == 2 and "cancelled" not in told[1], told
