"""Every way a visit stops happening reaches the doctor's calendar (issue 30, obs 13): a
patient's cancellation by SMS reply — recorded through the real answer path
(sync/responses/record.py) for a CSV source whose write-back is unsupported, so the source
still holds it booked — and the source's own cancel, explicit delete (tombstone) and
snapshot sweep. Both providers: the .ics file parsed with icalendar, and Google through the
real google-api-python-client against the loopback fake of the Calendar API (the client
speaks httplib2, which respx cannot intercept: the fake is its HTTP boundary)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from clinicsync.connectors.csv_drop import CsvDropSettings
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.calendar.google import GoogleCalendar
from clinicsync.sync.calendar.ics import IcsCalendar
from clinicsync.sync.calendar.provider import CalendarProvider, event_id
from clinicsync.sync.calendar.push import push
from clinicsync.sync.calendar.status import calendar_status
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.responses.writeback import process_writebacks
from clinicsync.sync.store.store import BatchOptions, Mapped, SnapshotEnd, Store
from tests.sync.calendar.fake_google import FakeGoogle
from tests.sync.calendar.helpers import DOCTORS, PATIENT, apply, appointment, base_time

AMELIA = DOCTORS["D01"][1]
CSV = CsvDropSettings(name="csv", kind="csv", mapping="csv_default", drop_dir=Path("."))


class Doctor:
    """One doctor's calendar as each provider holds it: (status, summary, description) by
    appointment, or None when the calendar has no (live) event for it."""

    def __init__(self, kind: str, calendar: CalendarSettings, store: Store, fake: FakeGoogle | None) -> None:
        self.kind, self.calendar, self.store, self.fake = kind, calendar, store, fake
        self.settings = Settings(calendar=calendar, connectors=[CSV])

    def provider(self) -> CalendarProvider:
        if self.kind == "google":
            return GoogleCalendar(self.calendar.google, sleep=lambda _: None)
        return IcsCalendar(self.calendar.ics, self.store.engine)

    def push(self) -> dict[str, int]:
        provider = self.provider()
        try:
            return push(self.calendar, self.store.engine, provider).as_dict()
        finally:
            provider.close()

    def event(self, external_id: str) -> tuple[str, str, str] | None:
        wanted = event_id("csv", external_id)
        if self.kind == "google":
            assert self.fake is not None
            found = self.fake.calendars[AMELIA].get(wanted)
            if found is None:
                return None
            return found["status"], found["summary"], found.get("description", "")
        path = self.calendar.ics.directory / f"{AMELIA}.ics"
        for vevent in Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
            if str(vevent["uid"]) == f"{wanted}@clinicsync":
                return str(vevent["status"]).lower(), str(vevent["summary"]), str(vevent.get("description", ""))
        return None

    def calendar_name(self) -> str:
        path = self.calendar.ics.directory / f"{AMELIA}.ics"
        return str(Calendar.from_ical(path.read_bytes())["x-wr-calname"])


@pytest.fixture(params=["ics", "google"])
def doctor(request: pytest.FixtureRequest, store: Store, tmp_path: Path) -> Callable[..., Doctor]:
    def make(**calendar: Any) -> Doctor:
        if request.param == "google":
            maker = request.getfixturevalue("google_calendar_settings")
            return Doctor("google", maker(**calendar), store, request.getfixturevalue("fake_google"))
        settings = CalendarSettings.model_validate(
            {"provider": "ics", "ics": {"directory": str(tmp_path / "calendars")}, **calendar},
            context={"base_dir": tmp_path})
        return Doctor("ics", settings, store, None)

    return make


def cancel_by_sms(doctor: Doctor) -> None:
    """The patient answers "Cancel" to their SMS; the CSV source cannot take the answer back."""
    result = handle_reply(doctor.settings, doctor.store, "sms", PATIENT.phone or "", "Cancel", "SM-cancel")
    assert (result.action, result.outcome) == ("decline", "applied")
    assert process_writebacks(doctor.settings, doctor.store)["unsupported"] == 1  # still booked in the CSV


# What the doctor's calendar shows for a patient's cancellation, per calendar.patient_cancelled
# (and cancelled_action, which "cancel" follows like a source cancellation does).
EXPECTED = {
    ("mark", "delete"): "tentative",
    ("cancel", "delete"): "cancelled",
    ("cancel", "mark_cancelled"): "kept cancelled",
    ("keep", "delete"): "confirmed",
}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the store's part: both stores below
@pytest.mark.parametrize(("mode", "action"), list(EXPECTED))
def test_a_patients_cancellation_of_a_csv_visit_shows_on_the_doctors_event(
        doctor: Callable[..., Doctor], mode: str, action: str) -> None:
    cal = doctor(patient_cancelled=mode, cancelled_action=action)
    apply(cal.store, appointment("A1"), appointment("A2", start=base_time() + timedelta(hours=1)))
    assert cal.push()["inserted"] == 2
    assert cal.event("A1") == ("confirmed", "Follow-up (J.W.)", cal.event("A1")[2])  # type: ignore[index]

    cancel_by_sms(cal)
    report = cal.push()
    assert report["failed"] == 0 and report["inserted"] == 0
    shown = cal.event("A1")
    expected = EXPECTED[(mode, action)]
    if expected == "tentative":
        assert shown is not None and shown[0] == "tentative"
        assert shown[1] == "Cancelled by patient: Follow-up (J.W.)"
        assert shown[2].startswith("Cancelled by patient — still booked in csv:")
    elif expected == "cancelled":  # Google keeps a deleted event with status cancelled; .ics says CANCELLED
        assert shown is not None and shown[0] == "cancelled"
    elif expected == "kept cancelled":
        assert shown is not None and shown[1] == "Cancelled: Follow-up (J.W.)"
        assert shown[0] == ("confirmed" if cal.kind == "google" else "cancelled")  # Google: kept, free time
    else:
        assert shown is not None and shown[:2] == ("confirmed", "Follow-up (J.W.)")
    assert cal.event("A2") is not None and cal.event("A2")[0] == "confirmed"  # type: ignore[index]
    again = cal.push()  # converged: nothing more to send
    assert again["patched"] == again["deleted"] == again["inserted"] == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_cancellation_before_the_first_push_creates_no_booked_event(doctor: Callable[..., Doctor]) -> None:
    cal = doctor(patient_cancelled="cancel")
    apply(cal.store, appointment("A1"), appointment("A2", start=base_time() + timedelta(hours=1)))
    cancel_by_sms(cal)
    cal.push()
    assert cal.event("A1") is None and cal.event("A2") is not None


def test_a_marked_cancellation_leaves_when_the_source_cancels_it(doctor: Callable[..., Doctor]) -> None:
    """The desk cancels it in the CSV at last: the event goes as any source cancellation does."""
    cal = doctor()
    visit = appointment("A1")
    apply(cal.store, visit)
    cal.push()
    assert _marked(cal) == {AMELIA: 0}
    cancel_by_sms(cal)
    cal.push()
    assert cal.event("A1")[0] == "tentative"  # type: ignore[index]
    assert _marked(cal) == {AMELIA: 1}  # `calendar status` counts the slot still booked in the CSV
    apply(cal.store, _with(visit, status="cancelled"))
    assert cal.push()["deleted"] == 1
    assert cal.event("A1")[0] == "cancelled"  # type: ignore[index]
    assert _marked(cal) == {AMELIA: 0}


def _marked(cal: Doctor) -> dict[str, int]:
    """`calendar status`'s cancelled-by-patient count per calendar (its --json and its table)."""
    return {c["calendar"]: c["patient_cancelled"] for c in calendar_status(cal.calendar, cal.store.engine)["calendars"]}


def _with(a: NormalizedAppointment, **changes: Any) -> NormalizedAppointment:
    from dataclasses import replace

    return replace(a, **changes)


def _delete(store: Store, a: NormalizedAppointment) -> None:
    """The source says it is gone (an HL7 S17, a FHIR DELETE): an explicit delete and its tombstone."""
    _counts, error = store.apply_batch("csv", "run", [Mapped(a.external_id, a, delete=True)], [], None)
    assert error is None


REMOVALS = ("cancelled", "entered-in-error", "delete", "sweep")


@pytest.mark.parametrize("action", ["delete", "mark_cancelled"])
def test_every_source_removal_takes_the_event_off_the_doctors_time(doctor: Callable[..., Doctor], action: str) -> None:
    """A source cancel, an entered-in-error, an explicit delete (tombstone) and a snapshot sweep,
    one visit each, in one run; a visit the source still lists stays."""
    cal = doctor(cancelled_action=action)
    visits = {how: appointment(f"A{i}", start=base_time() + timedelta(hours=i)) for i, how in enumerate(REMOVALS)}
    kept = appointment("K1", start=base_time() + timedelta(hours=9))
    apply(cal.store, *visits.values(), kept)
    assert cal.push()["inserted"] == 5
    apply(cal.store, _with(visits["cancelled"], status="cancelled"),
          _with(visits["entered-in-error"], status="entered-in-error"))
    _delete(cal.store, visits["delete"])
    listed = {a.external_id for how, a in visits.items() if how != "sweep"} | {kept.external_id}
    _counts, error = cal.store.apply_batch("csv", "run", [], [], None,
                                           BatchOptions(snapshot_end=SnapshotEnd(seen=listed, max_share=1.0)))
    assert error is None  # the CSV file no longer lists the swept one: the snapshot deletes it
    report = cal.push()
    assert report["failed"] == 0 and report["deleted" if action == "delete" else "patched"] == 4
    for how, visit in visits.items():
        status, summary, _ = cal.event(visit.external_id) or ("gone", "", "")
        if action == "delete" or cal.kind == "ics":
            assert status == "cancelled", how  # Google's deleted event; STATUS:CANCELLED in the file
        else:  # kept, marked, free time
            assert (status, summary) == ("confirmed", "Cancelled: Follow-up (J.W.)"), how
    assert cal.event("K1")[0] == "confirmed"  # type: ignore[index]
    again = cal.push()
    assert again["patched"] == again["deleted"] == again["inserted"] == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_ics_calendar_is_named_after_its_doctor(store: Store, tmp_path: Path) -> None:
    """Obs 14: a subscribed file showed up in the doctor's app as their email address."""
    settings = CalendarSettings.model_validate({"provider": "ics", "ics": {"directory": str(tmp_path / "cal")}},
                                               context={"base_dir": tmp_path})
    cal = Doctor("ics", settings, store, None)
    apply(store, appointment("A1"))
    cal.push()
    assert cal.calendar_name() == "Dr. Amelia Hart"
    # a later process that writes the file without an event of this doctor keeps the name
    assert IcsCalendar(settings.ics, store.engine).calendar_name(AMELIA) == "Dr. Amelia Hart"
    assert IcsCalendar(settings.ics, store.engine).calendar_name("nobody@clinic.example.org") == \
        "nobody@clinic.example.org"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", ["mark", "cancel"])
def test_a_patient_who_confirms_again_gets_the_booked_event_back(doctor: Callable[..., Doctor], mode: str) -> None:
    """The latest answer stands: a confirmation after the cancellation restores the event as booked."""
    from sqlalchemy import select

    from clinicsync.common.types import utcnow
    from clinicsync.sync.reminders.answers import apply_answer
    from clinicsync.sync.reminders.txn import writer
    from clinicsync.sync.store.model import Appointment

    cal = doctor(patient_cancelled=mode)
    apply(cal.store, appointment("A1"))
    cal.push()
    cancel_by_sms(cal)
    cal.push()
    assert cal.event("A1")[0] == ("tentative" if mode == "mark" else "cancelled")  # type: ignore[index]
    table = Appointment.__table__  # type: ignore[attr-defined]
    with writer(cal.store.engine) as connection:
        row = connection.execute(select(table)).one()
        apply_answer(connection, cal.settings, row, "confirm", utcnow())
    cal.push()
    assert cal.event("A1") is not None and cal.event("A1")[:2] == ("confirmed", "Follow-up (J.W.)")  # type: ignore[index]


def test_a_visit_the_desk_rebooks_after_the_patients_cancel_is_booked_again(doctor: Callable[..., Doctor]) -> None:
    """The desk calls the patient who cancelled and moves the visit to another time in the CSV:
    the event is an ordinary booked visit at the new time, not "Cancelled by patient" (the "no"
    was for the old time), and `calendar status` no longer counts it as a slot to free."""
    cal = doctor()
    visit = appointment("A1")
    apply(cal.store, visit)
    cal.push()
    cancel_by_sms(cal)
    cal.push()
    assert cal.event("A1")[0] == "tentative"  # type: ignore[index]
    apply(cal.store, _with(visit, start=visit.start + timedelta(days=1), end=visit.end + timedelta(days=1)))
    assert cal.push()["patched"] == 1
    assert cal.event("A1")[:2] == ("confirmed", "Follow-up (J.W.)")  # type: ignore[index]
    assert _marked(cal) == {AMELIA: 0}


def test_the_doctors_event_names_the_system_by_the_clinics_label(doctor: Callable[..., Doctor]) -> None:
    """One name for each system where a person reads it: the doctor's event said "still booked
    in csv" (the connector's name) where the desk's pages say the connector's `label:`."""
    cal = doctor(patient_cancelled="mark")
    cal.settings = Settings(calendar=cal.calendar, connectors=[CSV.model_copy(update={"label": "Practice Manager"})])
    apply(cal.store, appointment("A1"))
    assert cal.push()["inserted"] == 1
    cancel_by_sms(cal)
    cal.push()
    shown = cal.event("A1")
    assert shown is not None and shown[2].startswith("Cancelled by patient — still booked in Practice Manager:"), shown
