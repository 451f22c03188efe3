"""The doctor told a visit is off hears when it is on again (issue 67): a patient declines by
SMS, the doctor gets "declined by the patient", then the patient phones and the desk records
"Confirmed by phone". The doctor gets exactly one "on again" notice; undo and redo of the
confirmation stay exact (an unsent notice withdrawn, a sent one followed by the word that is
true again). Through the real desk actions, the real dispatcher and the mail notifier's log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from clinicsync.sync.config.clinic import ClinicSettings
from clinicsync.sync.config.settings.reminders import RemindersSettings
from clinicsync.sync.desk.actions import record_action, seen_of, undo_action
from clinicsync.sync.reminders.compose import Composer, Draft, Visit
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.doctor_values import ON_AGAIN_NOTES
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
DOCTOR = "hart@clinic.example.org"
DECLINED, ON_AGAIN = "declined by the patient", "on again"


def _told(store: Store, settings: Any, tmp_path: Any, at: datetime) -> list[str]:
    """Every notice the doctor has received so far (the subject's last words), after a
    dispatcher pass at ``at``."""
    Dispatcher(settings, store, at).run()
    log = tmp_path / "mails.jsonl"
    return [m["subject"].rsplit(": ", 1)[-1] for m in read_log(log) if m["to"] == DOCTOR] if log.exists() else []


def _declined_by_sms(store: Store, reminder_settings: SettingsMaker) -> tuple[Any, int]:
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    assert handle_reply(settings, store, "sms", "+12125550101", "NO", "SM1", NOW).outcome == "applied"
    with store.engine.connect() as connection:
        return settings, int(connection.execute(select(A.c.id)).scalar_one())


def _desk(settings: Any, store: Store, target: int, action: str, at: datetime) -> int:
    done = record_action(settings, store, target, action, "desk1", "front_desk", at,
                         seen=seen_of(store, [target])[target].digest,
                         reason="patient_asked" if action == "cancel" else None)
    assert done is not None
    return int(done["id"])


def _undo(settings: Any, store: Store, target: int, action: int, at: datetime) -> None:
    undo_action(settings, store, action, "desk1", at, seen_of(store, [target])[target].digest)


def _doctor_rows(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(REMINDERS).where(REMINDERS.c.recipient == "practitioner")
                                       .order_by(REMINDERS.c.id)))


def test_a_phone_confirmation_after_a_decline_the_doctor_heard_tells_them_it_is_on_again(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    settings, target = _declined_by_sms(store, reminder_settings)
    assert _told(store, settings, tmp_path, NOW) == [DECLINED]
    confirmed = _desk(settings, store, target, "confirmed_by_phone", NOW + timedelta(minutes=5))
    notice = _doctor_rows(store)[-1]
    assert (notice.kind, notice.note) == ("confirmation", ON_AGAIN_NOTES["phone"])
    assert notice.key == f"a{target}:practitioner:confirmation:desk{confirmed}:v1"  # names the desk action
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=6)) == [DECLINED, ON_AGAIN]
    [mail] = [m for m in read_log(tmp_path / "mails.jsonl") if m["to"] == DOCTOR][1:]
    assert "An appointment is on again" in mail["body"]
    assert "The patient phoned the front desk and confirmed: the visit is on again." in mail["body"]
    assert "A new appointment was booked" not in mail["body"]
    assert _told(store, settings, tmp_path, NOW + timedelta(hours=2)) == [DECLINED, ON_AGAIN]  # once


def test_a_confirmation_before_the_decline_went_withdraws_it_and_its_undo_puts_it_back(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    """The doctor was not told yet: nothing to take back, so they hear nothing; the dispatcher
    running meanwhile must not lose the decline that stands again after the undo."""
    settings, target = _declined_by_sms(store, reminder_settings)
    confirmed = _desk(settings, store, target, "confirmed_by_phone", NOW)
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=1)) == []
    _undo(settings, store, target, confirmed, NOW + timedelta(minutes=2))
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=3)) == [DECLINED]
    assert _told(store, settings, tmp_path, NOW + timedelta(hours=2)) == [DECLINED]


def test_undo_before_the_on_again_notice_went_withdraws_it_and_confirming_again_plans_one_anew(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    settings, target = _declined_by_sms(store, reminder_settings)
    assert _told(store, settings, tmp_path, NOW) == [DECLINED]
    first = _desk(settings, store, target, "confirmed_by_phone", NOW + timedelta(minutes=1))
    _undo(settings, store, target, first, NOW + timedelta(minutes=2))
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=3)) == [DECLINED]  # withdrawn, unsent
    second = _desk(settings, store, target, "confirmed_by_phone", NOW + timedelta(minutes=4))
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=5)) == [DECLINED, ON_AGAIN]
    keys = {r.key: r.status for r in _doctor_rows(store) if r.kind == "confirmation"}
    assert keys == {f"a{target}:practitioner:confirmation:desk{first}:v1": "cancelled",
                    f"a{target}:practitioner:confirmation:desk{second}:v1": "sent"}


def test_undo_after_the_on_again_notice_went_tells_the_doctor_the_decline_stands(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    settings, target = _declined_by_sms(store, reminder_settings)
    assert _told(store, settings, tmp_path, NOW) == [DECLINED]
    confirmed = _desk(settings, store, target, "confirmed_by_phone", NOW + timedelta(minutes=1))
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=2)) == [DECLINED, ON_AGAIN]
    _undo(settings, store, target, confirmed, NOW + timedelta(minutes=3))
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=4)) == [DECLINED, ON_AGAIN, DECLINED]
    assert _told(store, settings, tmp_path, NOW + timedelta(hours=2)) == [DECLINED, ON_AGAIN, DECLINED]


def test_a_cancel_before_the_on_again_notice_went_leaves_the_doctor_with_the_decline_they_heard(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    """Confirmed by phone, then cancelled at the desk before the dispatcher ran: the doctor
    heard "off" and it is off; the unsent "on again" is withdrawn and no second "off" planned.
    The cancel's undo then tells them it is on (the phone confirmation stands again)."""
    settings, target = _declined_by_sms(store, reminder_settings)
    assert _told(store, settings, tmp_path, NOW) == [DECLINED]
    _desk(settings, store, target, "confirmed_by_phone", NOW + timedelta(minutes=1))
    cancel = _desk(settings, store, target, "cancel", NOW + timedelta(minutes=2))
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=3)) == [DECLINED]
    _undo(settings, store, target, cancel, NOW + timedelta(minutes=4))
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=5)) == [DECLINED, ON_AGAIN]
    [*_, mail] = [m for m in read_log(tmp_path / "mails.jsonl") if m["to"] == DOCTOR]
    assert "The front desk took back its cancel: the visit is on again." in mail["body"]


def test_a_phone_confirmation_of_a_visit_nobody_declined_tells_the_doctor_nothing(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    with store.engine.connect() as connection:
        target = int(connection.execute(select(A.c.id)).scalar_one())
    _desk(settings, store, target, "confirmed_by_phone", NOW)
    assert _doctor_rows(store) == []
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=1)) == []


def test_the_spanish_on_again_notice() -> None:
    clinic = ClinicSettings(name="Clínica Sur", timezone="America/New_York", default_region="US", language="es")
    visit = Visit("csv", "A1", START, START + timedelta(minutes=30), "America/New_York", 1, doctor="Dr. Hart")
    composer = Composer(RemindersSettings(), clinic, Renderer())
    shown = composer.render(Draft("k", "confirmation", "practitioner", "es", visit=visit,
                                  note=ON_AGAIN_NOTES["phone"]), "email", NOW)
    assert shown.subject is not None and shown.subject.endswith(": de nuevo en pie")
    assert "Una cita vuelve a estar en pie" in shown.text
    assert "El paciente llamó a la recepción y confirmó" in shown.text
    assert shown.html is not None and "la cita vuelve a estar en pie" in shown.html
    booked = composer.render(Draft("k", "confirmation", "practitioner", "es", visit=visit), "email", NOW)
    assert "Se reservó una nueva cita" in booked.text and "en pie" not in booked.text


def test_a_phone_confirmation_after_a_decline_notice_that_failed_tells_the_doctor_nothing(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    """The doctor's mailbox refused the "declined" notice for good: they never heard the visit
    was off, so "on again" would announce the return of a visit they never knew had gone."""
    settings = reminder_settings(BASE, outcomes=f"{{{DOCTOR}: permanent}}")
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    assert handle_reply(settings, store, "sms", "+12125550101", "NO", "SM1", NOW).outcome == "applied"
    assert _told(store, settings, tmp_path, NOW) == []
    [decline] = _doctor_rows(store)
    assert (decline.kind, decline.status) == ("declined", "failed")
    with store.engine.connect() as connection:
        target = int(connection.execute(select(A.c.id)).scalar_one())
    confirmed = _desk(settings, store, target, "confirmed_by_phone", NOW + timedelta(minutes=5))
    assert [(r.kind, r.status) for r in _doctor_rows(store)] == [("declined", "failed")]
    _told(store, settings, tmp_path, NOW + timedelta(minutes=6))
    _undo(settings, store, target, confirmed, NOW + timedelta(minutes=7))  # and its undo has nothing to take back
    _told(store, settings, tmp_path, NOW + timedelta(minutes=8))
    assert [(r.kind, r.status) for r in _doctor_rows(store)] == [("declined", "failed")]


def test_a_cancel_undone_after_its_notice_to_the_doctor_failed_tells_the_doctor_nothing(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    """The desk's cancel never reached the doctor (their mailbox refused the notice for good):
    the cancel's undo must not tell them the visit is "on again"."""
    settings = reminder_settings(BASE, outcomes=f"{{{DOCTOR}: permanent}}")
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    with store.engine.connect() as connection:
        target = int(connection.execute(select(A.c.id)).scalar_one())
    cancel = _desk(settings, store, target, "cancel", NOW)
    _told(store, settings, tmp_path, NOW + timedelta(minutes=1))
    assert [(r.kind, r.status) for r in _doctor_rows(store)] == [("declined", "failed")]
    _undo(settings, store, target, cancel, NOW + timedelta(minutes=2))
    _told(store, settings, tmp_path, NOW + timedelta(minutes=3))
    assert [(r.kind, r.status) for r in _doctor_rows(store)] == [("declined", "failed")]


CANCELLED_BY_DESK = "cancelled by the front desk"
REFUSED = f"{{{DOCTOR}: permanent}}"  # the doctor's mailbox refuses every notice for good


def test_a_desk_cancel_after_a_decline_notice_that_failed_tells_the_doctor(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    """The patient's "declined" notice failed, so the doctor never heard the visit is off: it is
    not their last word, and the desk's cancel of the same visit is news to them (one notice,
    through the dispatcher, once their mailbox takes mail again)."""
    refused = reminder_settings(BASE, outcomes=REFUSED)
    put(store, appointment("A1", START))
    plan(refused, store, NOW)
    assert handle_reply(refused, store, "sms", "+12125550101", "NO", "SM1", NOW).outcome == "applied"
    assert _told(store, refused, tmp_path, NOW) == []
    with store.engine.connect() as connection:
        target = int(connection.execute(select(A.c.id)).scalar_one())
    settings = reminder_settings(BASE)
    cancel = _desk(settings, store, target, "cancel", NOW + timedelta(minutes=5))
    assert [(r.kind, r.status, r.key) for r in _doctor_rows(store)][1:] == [
        ("declined", "pending", f"a{target}:practitioner:declined:desk{cancel}:v1")]
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=6)) == [CANCELLED_BY_DESK]
    assert _told(store, settings, tmp_path, NOW + timedelta(hours=2)) == [CANCELLED_BY_DESK]  # once


def test_undoing_a_confirmation_whose_on_again_notice_failed_tells_the_doctor_nothing(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    """The doctor heard "declined"; the "on again" of the phone confirmation failed, so their
    last word is still "off": the confirmation's undo has nothing to correct."""
    settings, target = _declined_by_sms(store, reminder_settings)
    assert _told(store, settings, tmp_path, NOW) == [DECLINED]
    confirmed = _desk(settings, store, target, "confirmed_by_phone", NOW + timedelta(minutes=1))
    _told(store, reminder_settings(BASE, outcomes=REFUSED), tmp_path, NOW + timedelta(minutes=2))
    assert [(r.kind, r.status) for r in _doctor_rows(store)] == [("declined", "sent"), ("confirmation", "failed")]
    _undo(settings, store, target, confirmed, NOW + timedelta(minutes=3))
    assert _told(store, settings, tmp_path, NOW + timedelta(minutes=4)) == [DECLINED]
    assert [(r.kind, r.status) for r in _doctor_rows(store)] == [("declined", "sent"), ("confirmation", "failed")]
