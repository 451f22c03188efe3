"""Telehealth end to end (issue 22): a video visit from FHIR (Oracle Health's contained rooms,
R5 virtualService) and from a CSV drop reaches the patient's reminder text and the doctor's
calendar event (.ics parsed with icalendar; Google through google-api-python-client against
the loopback fake); a phone visit says who calls whom; an in-person visit is as before."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import select

from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.calendar.google import GoogleCalendar
from clinicsync.sync.calendar.ics import IcsCalendar
from clinicsync.sync.calendar.provider import event_id
from clinicsync.sync.calendar.push import push
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.ingest.engine import sync_connector
from clinicsync.sync.ingest.reports import new_run_id
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model import Appointment, Event
from clinicsync.sync.store.store import Mapped, Store
from tests.sync.calendar.conftest import fake_google, google_calendar_settings, key_file, rsa_key  # noqa: F401
from tests.sync.calendar.fake_google import FakeGoogle
from tests.sync.hash_support import PatientBefore
from tests.sync.reminders.conftest import scripted  # noqa: F401
from tests.sync.reminders.fakes import read_log

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telehealth"
PATIENT_LINK = "https://telehealth.example.org/visit/join?room=7Q2XK&role=patient&tk=pt-4f9c1e"
PROVIDER_LINK = "https://telehealth.example.org/visit/join?room=7Q2XK&role=host&tk=pr-88a0d2"
ZOOM_LINK = "https://zoom.example.org/j/81234567890?pwd=Q2xpbmljU3luYw"
CSV_LINK = "https://vc.example.org/j/58210"
DOCTOR = "lena@clinic.example.org"
BOOKED_AT = datetime(2027, 2, 1, 16, tzinfo=UTC)
NOTIFIERS = "notifiers:\n" + "".join(
    f"  - name: {name}\n    kind: scripted\n    log: {{log}}/{name}.jsonl\n    outcomes: {{{{}}}}\n"
    f"    rate_per_second: 1000\n" for name in ("texts", "mails"))
REMINDERS = ("reminders:\n  enabled: true\n  quiet_hours: null\n  agenda: {enabled: false}\n  offsets: [1d]\n"
             "  channels: [sms, email]\n  routes: {sms: texts, email: mails}\n")


@pytest.fixture
def settings(write_settings: Any, tmp_path: Path, scripted: Path, drop_dir: Path) -> Settings:  # noqa: F811
    shutil.copy(FIXTURES / "visits.csv", drop_dir / "visits.csv")
    connectors = (f"- name: desk\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n"
                  "  settle_seconds: 0\n  announce_existing: true\n")
    calendar = f"calendar:\n  provider: ics\n  ics: {{directory: {tmp_path / 'calendars'}}}\n"
    path = write_settings(connectors=connectors, timezone="America/Chicago",
                          extra=NOTIFIERS.format(log=tmp_path) + REMINDERS + calendar)
    return load_settings(path)


def fhir_record(name: str) -> dict[str, Any]:
    """A fixture Appointment with the Patient and Practitioner the fhir connector would
    have resolved under `_patient` and `_practitioner`."""
    record: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    record["_patient"] = {"resourceType": "Patient", "id": "900001", "name": [{"text": "Rosa Testpatient"}],
                          "telecom": [{"system": "phone", "use": "mobile", "value": "+13125550144"},
                                      {"system": "email", "value": "rosa@example.org"}]}
    record["_practitioner"] = {"resourceType": "Practitioner", "id": "900002", "name": [{"text": "Dr. Lena Example"}],
                               "telecom": [{"system": "email", "use": "work", "value": DOCTOR}]}
    return record


def import_fhir(store: Store, *names: str) -> None:
    mapping = load_mapping("fhir_r4", "America/Chicago", "US")
    mapped = [Mapped(name, mapping.apply(fhir_record(name))) for name in names]
    _counts, error = store.apply_batch("ehr", "run", mapped, [], None)
    assert error is None


def messages(settings: Settings, store: Store, tmp_path: Path) -> dict[str, dict[str, str]]:
    """Plan and send what is due at booking time (confirmations): the SMS and email bodies by key."""
    plan(settings, store, BOOKED_AT)
    Dispatcher(settings, store, BOOKED_AT).run()
    return {line["key"]: line for name in ("texts", "mails") for line in read_log(tmp_path / f"{name}.jsonl")}


def ics_events(settings: Settings, store: Store) -> dict[str, Any]:
    provider = IcsCalendar(settings.calendar.ics, store.engine)
    push(settings.calendar, store.engine, provider, now=BOOKED_AT)
    provider.close()
    [path] = settings.calendar.ics.directory.glob("*.ics")
    calendar = Calendar.from_ical(path.read_bytes())
    return {str(e["x-clinicsync-external-id"]): e for e in calendar.walk("VEVENT")}


def stored(store: Store, external_id: str) -> Any:
    with store.engine.connect() as connection:
        return connection.execute(select(Appointment.__table__).where(  # type: ignore[attr-defined]
            Appointment.external_id == external_id)).one()


def test_an_oracle_health_video_visit_reaches_the_message_and_the_calendar(
        settings: Settings, store: Store, tmp_path: Path) -> None:
    import_fhir(store, "oracle_health_video_visit_provider_first.json")
    row = stored(store, "700102")
    assert (row.visit_mode, row.join_url, row.provider_join_url) == ("video", PATIENT_LINK, PROVIDER_LINK)
    sent = messages(settings, store, tmp_path)
    [sms] = [line["body"] for line in sent.values() if line.get("to") == "+13125550144"]
    assert sms == (f"clinic: video visit booked Mon, Feb 15, 9:00 AM: {PATIENT_LINK} Test your device. "
                   "Reply STOP to opt out.")
    assert "Example Clinic 2" not in sms  # no address for a video visit
    event = ics_events(settings, store)["700102"]
    assert str(event["url"]) == PROVIDER_LINK  # the doctor's calendar carries the doctor's own room
    assert str(event["location"]) == PROVIDER_LINK


def test_an_r5_virtual_service_video_visit_reaches_the_message_and_the_calendar(
        settings: Settings, store: Store, tmp_path: Path) -> None:
    import_fhir(store, "r5_virtual_service_video.json")
    sent = messages(settings, store, tmp_path)
    [sms] = [line["body"] for line in sent.values() if line.get("to") == "+13125550144"]
    assert sms == (f"clinic: video visit booked Tue, Feb 16, 8:00 AM: {ZOOM_LINK} Test your device. "
                   "Reply STOP to opt out.")
    event = ics_events(settings, store)["r5-video-1"]
    assert str(event["url"]) == ZOOM_LINK and str(event["location"]) == ZOOM_LINK


def test_a_csv_drop_with_video_phone_and_in_person_rows(settings: Settings, store: Store, tmp_path: Path) -> None:
    [config] = settings.connectors
    report = sync_connector(settings, store, config, new_run_id())
    assert report.error is None, report.error
    assert stored(store, "T4").quality_notes == "join_url: dropped (not an https link)"  # kept, not quarantined
    sent = messages(settings, store, tmp_path)
    by_phone = {line["to"]: line["body"] for line in sent.values() if line.get("to", "").startswith("+1")}
    video, phone, in_person = by_phone["+13125550144"], by_phone["+13125550145"], by_phone["+13125550146"]
    assert f"video visit booked Wed, Feb 17, 9:00 AM: {CSV_LINK} Test your device." in video
    assert "Main Street Clinic" not in video
    assert "cita por teléfono: mié, 17 feb, 9:30. Le llamamos al (312) 555-0145." in phone  # the patient's own number
    assert "you're booked Wed, Feb 17 at 10:00 AM with Dr. Lena Example." in in_person  # as before issue 22
    events = ics_events(settings, store)
    assert str(events["T1"]["url"]) == CSV_LINK and str(events["T1"]["location"]) == CSV_LINK
    assert "url" not in events["T3"] and str(events["T3"]["location"]) == "Main Street Clinic"
    assert "url" not in events["T2"]


def test_a_changed_link_is_a_change(store: Store) -> None:
    import_fhir(store, "r5_virtual_service_video.json")
    mapping = load_mapping("fhir_r4", "America/Chicago", "US")
    record = fhir_record("r5_virtual_service_video.json")
    _counts, _ = store.apply_batch("ehr", "run", [Mapped("x", mapping.apply(record))], [], None)
    record["virtualService"][0]["addressUrl"] = "https://zoom.example.org/j/99999999999"
    counts, _ = store.apply_batch("ehr", "run", [Mapped("x", mapping.apply(record))], [], None)
    assert (counts.updated, counts.unchanged) == (1, 0)
    with store.engine.connect() as connection:
        last = connection.execute(select(Event.__table__).order_by(Event.id.desc())).first()  # type: ignore
    assert last is not None and last.kind == "updated" and json.loads(last.payload)["visit"] == ["join_url"]
    assert "zoom.example.org" not in last.payload  # the event names what changed, never the link


def test_appointments_without_telehealth_hash_as_before_issue_22() -> None:
    """An upgrade re-announces nothing: an appointment without a mode or link (or stated
    in person) has the content hash it had before these fields existed, with and without
    the earlier later-fields (notes, answer)."""
    from dataclasses import dataclass

    from clinicsync.common.hashing import content_hash
    from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner
    from clinicsync.sync.store.store import _appointment_hash

    @dataclass(frozen=True)
    class Before:  # mappings/model.py's NormalizedAppointment before issue 22
        external_id: str
        status: str
        start: datetime
        end: datetime
        timezone: str
        type: str | None = None
        location: str | None = None
        patient: PatientBefore | None = None
        practitioner: NormalizedPractitioner | None = None
        source_updated_at: datetime | None = None
        notes: tuple[str, ...] = ()
        answer: str | None = None

    fields = {"external_id": "A1", "status": "booked", "start": BOOKED_AT, "end": BOOKED_AT.replace(hour=17),
              "timezone": "America/Chicago", "type": "Check-up", "patient": NormalizedPatient("P1", name="Ann Lee")}
    before = {**fields, "patient": PatientBefore("P1", name="Ann Lee")}
    assert _appointment_hash(NormalizedAppointment(**fields, answer="accepted")) == content_hash(
        Before(**before, answer="accepted"))
    assert _appointment_hash(NormalizedAppointment(**fields, notes=("x: dropped",), visit_mode="in_person")) == (
        content_hash(Before(**before, notes=("x: dropped",))))
    plain = _appointment_hash(NormalizedAppointment(**fields))
    assert plain == _appointment_hash(NormalizedAppointment(**fields, visit_mode="in_person"))
    assert plain != _appointment_hash(NormalizedAppointment(**fields, visit_mode="video"))
    first, second = (NormalizedAppointment(**fields, visit_mode="video", join_url=f"https://a.example.org/{n}")
                     for n in (1, 2))
    assert _appointment_hash(first) != _appointment_hash(second)


# -- Google: conferenceData through the real client, against the loopback fake ----------------

def google_push(calendar: CalendarSettings, store: Store) -> dict[str, int]:
    provider = GoogleCalendar(calendar.google, sleep=lambda _: None)
    try:
        return push(calendar, store.engine, provider, now=BOOKED_AT).as_dict()
    finally:
        provider.close()


def test_google_event_carries_the_link_as_a_conference_entry_point(
        google_calendar_settings: Any, store: Store, fake_google: FakeGoogle) -> None:  # noqa: F811
    import_fhir(store, "oracle_health_video_visit.json", "r5_virtual_service_phone.json")
    assert google_push(google_calendar_settings(), store)["inserted"] == 2
    video = fake_google.live(DOCTOR)[event_id("ehr", "700101")]
    conference = video["conferenceData"]
    assert conference["conferenceSolution"]["key"] == {"type": "addOn"}
    assert conference["entryPoints"] == [{"entryPointType": "video", "uri": PROVIDER_LINK,
                                          "label": "telehealth.example.org"}]
    [call] = [c for c in fake_google.calls if (c.body or {}).get("id") == event_id("ehr", "700101")]
    assert call.query["conferenceDataVersion"] == ["1"]
    phone = fake_google.live(DOCTOR)[event_id("ehr", "r5-phone-1")]
    assert "conferenceData" not in phone  # no tel: place (issue 30, obs 14): who calls whom, in words
    assert phone["location"] == "Phone: the patient calls you at +13125550188"
    assert phone["summary"].startswith("Phone visit: ")
    assert "Phone: the patient calls you at +13125550188" in phone["description"]

    fake_google.reset_counts()  # a second pass: nothing changed, nothing sent
    assert google_push(google_calendar_settings(), store)["unchanged"] == 2 and fake_google.calls == []

    record = fhir_record("oracle_health_video_visit.json")  # the vendor replaces the links
    record["contained"][1]["telecom"][0]["value"] = "https://telehealth.example.org/visit/join?room=NEW&role=host"
    mapping = load_mapping("fhir_r4", "America/Chicago", "US")
    counts, _ = store.apply_batch("ehr", "run", [Mapped("x", mapping.apply(record))], [], None)
    assert counts.updated == 1
    assert google_push(google_calendar_settings(), store)["patched"] == 1
    video = fake_google.live(DOCTOR)[event_id("ehr", "700101")]
    assert video["conferenceData"]["entryPoints"][0]["uri"].endswith("room=NEW&role=host")


def test_google_invites_see_the_patient_link(google_calendar_settings: Any, store: Store,  # noqa: F811
                                             fake_google: FakeGoogle) -> None:  # noqa: F811
    import_fhir(store, "oracle_health_video_visit.json")
    google_push(google_calendar_settings(invite_patient=True), store)
    event = fake_google.live(DOCTOR)[event_id("ehr", "700101")]
    assert event["conferenceData"]["entryPoints"][0]["uri"] == PATIENT_LINK
    assert event["attendees"] == [{"email": "rosa@example.org"}]


def test_a_meet_link_only_when_asked_for_and_the_source_has_none(
        google_calendar_settings: Any, store: Store, fake_google: FakeGoogle) -> None:  # noqa: F811
    import_fhir(store, "oracle_health_video_visit_no_links.json", "r5_virtual_service_video.json")
    google_push(google_calendar_settings(), store)  # not asked for: no conference for the link-less visit
    assert "conferenceData" not in fake_google.live(DOCTOR)[event_id("ehr", "700103")]

    fake_google.calendars.clear()
    fake_google.reset_counts()
    with store.engine.begin() as connection:  # start over: the calendar forgets, so does the store's link table
        from clinicsync.sync.store.model.calendar import LINKS
        connection.execute(LINKS.delete())
    calendar = google_calendar_settings(google={"create_meet": True})
    google_push(calendar, store)
    events = fake_google.live(DOCTOR)
    meet = events[event_id("ehr", "700103")]
    assert meet["hangoutLink"].startswith("https://meet.google.com/")
    assert meet["conferenceData"]["createRequest"]["requestId"] == f"clinicsync-{event_id('ehr', '700103')}"
    [create] = [c for c in fake_google.calls if (c.body or {}).get("id") == event_id("ehr", "700103")]
    assert create.query["conferenceDataVersion"] == ["1"]
    # the source's own link is used as it is, never replaced by a Meet
    assert events[event_id("ehr", "r5-video-1")]["conferenceData"]["entryPoints"][0]["uri"] == ZOOM_LINK
