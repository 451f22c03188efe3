"""Building store content for the calendar tests, through the store's own apply_batch."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner
from clinicsync.sync.calendar.ics import IcsCalendar
from clinicsync.sync.calendar.push import push
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.store.store import Mapped, Store

DOCTORS = {
    "D01": ("Dr. Amelia Hart", "amelia.hart@clinic.example.org"),
    "D02": ("Dr. Rafael Ortiz", "rafael.ortiz@clinic.example.org"),
    "D03": ("Dr. Priya Natarajan", "priya.natarajan@clinic.example.org"),
    "D04": ("Dr. Tomasz Nowak", "tomasz.nowak@clinic.example.org"),
    "D09": ("Dr. No Email", None),
}
PATIENT = NormalizedPatient("P1", name="Jamal Weber", phone="+12015550165", email="jamal.weber@mail.example.com")


def base_time() -> datetime:
    """Tomorrow 14:00 UTC: always ahead of the push window, whatever day the tests run."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, 14, tzinfo=UTC)


def appointment(external_id: str, start: datetime | None = None, doctor: str | None = "D01", status: str = "booked",
                minutes: int = 30, timezone: str = "America/New_York", kind: str = "Follow-up",
                patient: NormalizedPatient | None = PATIENT) -> NormalizedAppointment:
    start = start or base_time()
    practitioner = None
    if doctor is not None:
        name, email = DOCTORS[doctor]
        practitioner = NormalizedPractitioner(doctor, name=name, email=email)
    return NormalizedAppointment(
        external_id=external_id, status=status, start=start, end=start + timedelta(minutes=minutes),
        timezone=timezone, type=kind, location="Main Street Clinic", patient=patient, practitioner=practitioner)


def apply(store: Store, *appointments: NormalizedAppointment, connector: str = "csv") -> None:
    _counts, error = store.apply_batch(connector, "run", [Mapped(a.external_id, a) for a in appointments], [], None)
    assert error is None


def moved(a: NormalizedAppointment, minutes: int) -> NormalizedAppointment:
    delta = timedelta(minutes=minutes)
    return replace(a, start=a.start + delta, end=a.end + delta)


def push_ics(calendar: CalendarSettings, store: Store) -> dict[str, int]:
    """One calendar pass into the .ics provider over the store's engine; its counts."""
    provider = IcsCalendar(calendar.ics, store.engine)
    try:
        return push(calendar, store.engine, provider).as_dict()
    finally:
        provider.close()
