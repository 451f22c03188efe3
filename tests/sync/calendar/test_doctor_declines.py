"""A doctor who declines an appointment's event in Google Calendar (issue 22): read by
`calendar reconcile` through the real google-api-python-client from the loopback fake,
recorded once as the doctor's answer, shown on the needs-attention list, and emailed to
the front desk when configured — through the real reminders dispatcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.common.shown_time import shown_moment
from clinicsync.connectors.csv_drop import CsvDropSettings
from clinicsync.sync.calendar.google import GoogleCalendar
from clinicsync.sync.calendar.provider import event_id
from clinicsync.sync.calendar.push import push
from clinicsync.sync.calendar.reconcile import reconcile
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import DOCTOR_ANSWERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui.attention import needs_attention
from tests.sync.calendar.fake_google import FakeGoogle
from tests.sync.calendar.helpers import DOCTORS, apply, appointment, base_time
from tests.sync.reminders.conftest import SettingsMaker, reminder_settings, scripted  # noqa: F401 - fixtures
from tests.sync.reminders.fakes import read_log

AMELIA = DOCTORS["D01"][1]
DESK = "frontdesk@clinic.example.org"
PATIENT_EMAIL = "jamal.weber@mail.example.com"


@pytest.fixture
def settings(google_calendar_settings) -> Settings:  # type: ignore[no-untyped-def]
    csv = CsvDropSettings(name="csv", kind="csv", mapping="csv_default", drop_dir=Path("."))
    return Settings(calendar=google_calendar_settings(front_desk_email=DESK, invite_patient=True), connectors=[csv])


def provider(settings: Settings) -> GoogleCalendar:
    return GoogleCalendar(settings.calendar.google, sleep=lambda _: None)


def answer_in_google(fake: FakeGoogle, external_id: str, **answers: str) -> None:
    """What Google holds once people answer in their calendar: the organizer's own entry
    (the doctor, whose calendar it is) and the invited patient, each with a responseStatus."""
    event = fake.calendars[AMELIA][event_id("csv", external_id)]
    people = {"doctor": {"email": AMELIA, "organizer": True, "self": True},
              "patient": {"email": PATIENT_EMAIL}}
    event["attendees"] = [{**people[who], "responseStatus": status} for who, status in answers.items()]


def doctor_answers(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(DOCTOR_ANSWERS).order_by(DOCTOR_ANSWERS.c.id)))


def front_desk_rows(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(REMINDERS).where(REMINDERS.c.recipient == "frontdesk")))


def test_a_doctors_decline_is_recorded_shown_and_sent_to_the_front_desk_once(
        settings: Settings, store: Store, fake_google: FakeGoogle, reminder_settings: SettingsMaker,  # noqa: F811
        tmp_path: Path) -> None:
    start = base_time()
    apply(store, appointment("A1", start=start), appointment("A2", start=start + timedelta(days=1)))
    push(settings.calendar, store.engine, provider(settings))
    answer_in_google(fake_google, "A1", doctor="declined", patient="accepted")
    answer_in_google(fake_google, "A2", doctor="accepted", patient="declined")  # a patient's no is not the doctor's
    fake_google.reset_counts()

    report = reconcile(settings, store.engine, provider(settings))
    assert report.declines.as_dict() == {"recorded": 1, "cleared": 0, "notified": 1}
    assert report.as_dict()["doctor_declines"]["recorded"] == 1
    assert report.findings == []  # a decline is no hand edit: the event itself is as pushed
    assert fake_google.calls and all(c.method == "GET" for c in fake_google.calls)  # only read
    [row] = doctor_answers(store)
    assert (row.practitioner_ref, row.answer, row.source, row.calendar, row.cleared_at) == (
        "D01", "declined", "google", AMELIA, None)
    # Reconciling again records and sends nothing more.
    assert reconcile(settings, store.engine, provider(settings)).declines.as_dict() == {
        "recorded": 0, "cleared": 0, "notified": 0}
    [notice] = front_desk_rows(store)
    assert (notice.key, notice.recipient_ref, notice.status) == ("a1:frontdesk:doctor_declined:v1", DESK, "pending")

    # The status page's work list shows it, first among the reasons.
    now = datetime.now(UTC)
    items = {i.appointment_id: i for i in needs_attention(store, now, full=False)}
    assert items[row.appointment_id].reasons[0] == "doctor declined"
    assert all("doctor declined" not in i.reasons for k, i in items.items() if k != row.appointment_id)

    # The dispatcher emails the front desk (English template), once.
    mail_settings = reminder_settings("agenda: {enabled: false}\noffsets: []\nconfirmation: false\n"
                                      "routes: {email: mails}")
    assert Dispatcher(mail_settings, store, now).run().sent == 1
    assert Dispatcher(mail_settings, store, now).run().sent == 0
    [mail] = read_log(tmp_path / "mails.jsonl")
    assert mail["to"] == DESK and mail["subject"].startswith("Dr. Amelia Hart declined the appointment on ")
    assert "Jamal Weber" in mail["body"] and "Needs attention" in mail["body"]
    clinic = mail_settings.clinic  # the visit's own date and time, the zone named when not the clinic's
    when = shown_moment(start, "America/New_York", "en", home_zone=clinic.timezone)
    assert f"When:    {when}" in mail["body"]


def test_a_decline_withdrawn_in_the_calendar_leaves_the_work_list(settings: Settings, store: Store,
                                                                  fake_google: FakeGoogle) -> None:
    apply(store, appointment("A1"))
    push(settings.calendar, store.engine, provider(settings))
    answer_in_google(fake_google, "A1", doctor="declined")
    reconcile(settings, store.engine, provider(settings))
    # A push that rewrites the attendees (the doctor's entry gone) is no change of mind.
    answer_in_google(fake_google, "A1", patient="needsAction")
    assert reconcile(settings, store.engine, provider(settings)).declines.cleared == 0
    answer_in_google(fake_google, "A1", doctor="accepted")
    assert reconcile(settings, store.engine, provider(settings)).declines.cleared == 1
    [row] = doctor_answers(store)
    assert row.cleared_at is not None
    assert not any("doctor declined" in i.reasons for i in needs_attention(store, datetime.now(UTC), full=True))
    # Declining again puts it back, without a second front desk notice.
    answer_in_google(fake_google, "A1", doctor="declined")
    assert reconcile(settings, store.engine, provider(settings)).declines.as_dict() == {
        "recorded": 1, "cleared": 0, "notified": 0}
    assert len(front_desk_rows(store)) == 1 and doctor_answers(store)[0].cleared_at is None


def test_without_a_front_desk_address_the_decline_is_recorded_and_not_emailed(
        google_calendar_settings, store: Store, fake_google: FakeGoogle) -> None:  # type: ignore[no-untyped-def]
    csv = CsvDropSettings(name="csv", kind="csv", mapping="csv_default", drop_dir=Path("."))
    settings = Settings(calendar=google_calendar_settings(), connectors=[csv])
    apply(store, appointment("A1"))
    push(settings.calendar, store.engine, provider(settings))
    answer_in_google(fake_google, "A1", doctor="declined")
    assert reconcile(settings, store.engine, provider(settings)).declines.as_dict() == {
        "recorded": 1, "cleared": 0, "notified": 0}
    assert front_desk_rows(store) == []
