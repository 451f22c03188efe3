"""The figures in a doctor's daily agenda on a known day with known numbers (issue 22):
booked, confirmed, unconfirmed, declined, yesterday's no-shows and the changes to the day
since the previous agenda, in English and in Spanish, through the real planner, dispatcher
and templates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from clinicsync.sync.reminders.agenda_stats import day_stats
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model import Appointment, Event
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import read_log

A = Appointment.__table__  # type: ignore[attr-defined]
E = Event.__table__  # type: ignore[attr-defined]
NY = "America/New_York"
DAY = datetime(2026, 6, 10, tzinfo=UTC).date()  # a Wednesday; the clinic is in New York (UTC-4)
WRITTEN = datetime(2026, 7, 1, tzinfo=UTC)  # events the store stamps with the real clock come after this
SETTINGS = ("quiet_hours: null\noffsets: []\nconfirmation: false\nchannels: [email]\n"
            "routes: {sms: texts, email: mails}\nagenda: {enabled: true, at: '07:00'%s}")


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC)


def stamped(store: Store, at: datetime) -> None:
    """Date the events just written (the store stamps them with the real clock) as if they
    had been recorded ``at``."""
    with store.engine.begin() as connection:
        connection.execute(update(E).where(E.c.created_at > WRITTEN).values(created_at=at))


def answered(store: Store, external_id: str, answer: str) -> None:
    """The patient's answer, as a reply or the source's own answer records it."""
    with store.engine.begin() as connection:
        connection.execute(update(A).where(A.c.external_id == external_id).values(participation=answer))


def held_as(store: Store, external_id: str, mode: str) -> None:
    """How the visit takes place, as a source's telehealth fields set it (issue 22)."""
    with store.engine.begin() as connection:
        connection.execute(update(A).where(A.c.external_id == external_id).values(visit_mode=mode))


def known_day(store: Store) -> None:
    """Dr. Hart's Wednesday, June 10 2026 (all times New York):
    on the schedule: 09:00 accepted, 10:00 no answer, 11:00 declined (still booked),
    14:00 booked yesterday afternoon (new), 15:00 moved in from Thursday yesterday (moved);
    off it: 12:00 declined and cancelled last week, 16:00 cancelled yesterday evening,
    17:00 booked and cancelled yesterday (never on a schedule the doctor saw).
    Tuesday: a no-show at 15:00 and a visit that took place at 16:00; Monday: a no-show.
    Dr. Ortiz had a no-show on Tuesday too (not Dr. Hart's). The 10:00 visit is by video, the
    14:00 one by phone; the 12:00 one (off the schedule) was by video too."""
    put(store, appointment("A1", utc(10, 13)), appointment("A2", utc(10, 14)), appointment("A3", utc(10, 15)),
        appointment("A4", utc(10, 16)), appointment("A9", utc(11, 19)), appointment("A10", utc(10, 20)),
        appointment("A5", utc(9, 19), status="noshow"), appointment("A6", utc(9, 20), status="fulfilled"),
        appointment("A7", utc(8, 19), status="noshow"),
        appointment("B1", utc(9, 19), status="noshow", doctor="D2", doctor_email="ortiz@clinic.example.org"))
    stamped(store, utc(1, 12))
    put(store, appointment("A4", utc(10, 16), status="cancelled"))
    stamped(store, utc(3, 12))
    put(store, appointment("A8", utc(10, 18)), appointment("A9", utc(10, 19)), appointment("A11", utc(10, 21)))
    stamped(store, utc(9, 19))  # 15:00 on Tuesday: after Tuesday's 07:00 agenda
    put(store, appointment("A10", utc(10, 20), status="cancelled"), appointment("A11", utc(10, 21), status="cancelled"))
    stamped(store, utc(10, 2))  # 22:00 on Tuesday
    answered(store, "A1", "accepted")
    answered(store, "A3", "declined")
    answered(store, "A4", "declined")
    held_as(store, "A2", "video")
    held_as(store, "A8", "phone")
    held_as(store, "A4", "video")


def test_the_figures_of_a_known_day(store: Store) -> None:
    known_day(store)
    with store.engine.connect() as connection:
        stats = day_stats(connection, "c1", "D1", DAY, NY, since=utc(9, 11), until=utc(10, 11, 1))
        before = day_stats(connection, "c1", "D1", DAY, NY, since=utc(9, 20), until=utc(10, 11, 1))
    assert stats.as_dict() == {"booked": 5, "confirmed": 1, "unconfirmed": 3, "declined": 2,
                               "noshows_yesterday": 1, "new": 1, "moved": 1, "cancelled": 1, "changes": 3,
                               "video": 1, "phone": 1, "in_person": 3}
    # A window that starts after the afternoon's bookings sees only the evening's cancellations,
    # and both count: for that window, the 17:00 booking was on the schedule before it.
    assert (before.new, before.moved, before.cancelled) == (0, 0, 2)


@pytest.mark.parametrize(("language", "subject", "figures"), [
    (None, "Your agenda for Wed, Jun 10, 2026: 5 appointments", [
        "Booked: 5 · confirmed 1 · unconfirmed 3 · declined 2", "Visits: in person 3 · video 1 · phone 1",
        "No-shows yesterday: 1",
        "Since the last agenda: 1 new · 1 moved · 1 cancelled"]),
    ("es", "Su agenda del mié, 10 jun 2026: 5 citas", [
        "Citas: 5 · confirmadas 1 · sin confirmar 3 · rechazadas 2",
        "Modalidad: presenciales 3 · por video 1 · por teléfono 1", "Ausencias de ayer: 1",
        "Desde la última agenda: 1 nuevas · 1 cambiadas · 1 canceladas"]),
])
def test_the_agenda_email_carries_the_figures(store: Store, reminder_settings: SettingsMaker, tmp_path: Path,
                                              language: str | None, subject: str, figures: list[str]) -> None:
    settings = reminder_settings(SETTINGS % (f", language: {language}" if language else ""))
    known_day(store)
    plan(settings, store, utc(10, 10))  # 06:00 on the day: the agenda is due at 07:00
    report = Dispatcher(settings, store, utc(10, 11, 1)).run()
    assert report.failed == 0 and report.unknown == 0
    [mail] = [m for m in read_log(tmp_path / "mails.jsonl") if m["key"] == "agenda:c1:D1:2026-06-10"]
    assert mail["to"] == "hart@clinic.example.org" and mail["subject"] == subject
    body = mail["body"]
    for line in figures:
        assert line in body, body
    # The list shows each patient's answer next to the visit.
    marks = {None: ("· confirmed", "· declined"), "es": ("· confirmada", "· rechazada")}[language]
    assert all(mark in body for mark in marks)
    assert body.index(figures[0]) < body.index("9:00")
