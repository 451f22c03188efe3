"""The truth: which calendar an appointment belongs in, and what its event says."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from clinicsync.sync.calendar.desired import Renderer, Router, initials
from clinicsync.sync.calendar.provider import Target
from clinicsync.sync.config.settings.calendar import TEMPLATE_SAMPLE, CalendarSettings


@pytest.mark.parametrize(("name", "expected"), [
    ("Jamal Weber", "J.W."),
    ("ana maría garcía lópez", "A.L."),
    ("Weber, Jamal", "W.J."),
    ("Cher", "C."),
    ("  ", ""),
    (None, ""),
    ("Émile Zola-Durand", "É.Z."),
    ("O'Brien Mary", "O.M."),
])
def test_initials(name: str | None, expected: str) -> None:
    assert initials(name) == expected


def google(**data: Any) -> Router:
    """A router for provider google (routing needs no key file, so validation is done as ics)."""
    base = CalendarSettings.model_validate({"provider": "ics", **data})
    return Router(base.model_copy(update={"provider": "google"}))


def test_router_default_delegates_to_the_practitioners_email() -> None:
    router = google()
    assert router.target("csv", "D01", " Amelia.Hart@Clinic.org ") == Target("google", "amelia.hart@clinic.org",
                                                                              "primary")
    assert router.target("csv", "D01", None) is None
    assert router.target("csv", None, "x@y.org") is None
    assert google(default="skip").target("csv", "D01", "a@b.org") is None


def test_router_rules_first_match_wins() -> None:
    router = google(calendars=[
        {"practitioner": "D02", "connector": "sql", "skip": True},
        {"practitioner": "D02", "calendar_id": "c_shared@group.calendar.google.com"},
        {"email": "LOCUM@clinic.org", "user": "frontdesk@clinic.org"},
        {"email": "amelia@clinic.org", "calendar_id": "c_team@group", "user": "Boss@clinic.org"},
    ])
    assert router.target("sql", "D02", "r@clinic.org") is None
    assert router.target("csv", "D02", "r@clinic.org") == Target("google", "", "c_shared@group.calendar.google.com")
    assert router.target("csv", "D07", "locum@clinic.org") == Target("google", "frontdesk@clinic.org", "primary")
    assert router.target("csv", "D01", "amelia@clinic.org") == Target("google", "boss@clinic.org", "c_team@group")


def test_router_names_ics_files_safely() -> None:
    router = Router(CalendarSettings.model_validate({"provider": "ics", "calendars": [
        {"practitioner": "D02", "calendar_id": "../Team Calendar"}]}))
    assert router.target("csv", "D01", "Amelia@Clinic.org") == Target("ics", "", "amelia@clinic.org")
    assert router.target("csv", "D02", None) == Target("ics", "", ".._team_calendar")


def row(**overrides: Any) -> SimpleNamespace:
    start = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # the day New York springs forward
    data = {"id": 1, "connector": "csv", "external_id": "A1", "status": "booked", "start_utc": start,
            "end_utc": start.replace(hour=15), "timezone": "America/New_York", "type": "Vaccination",
            "deleted_at": None, "p_name": "Jamal Weber", "p_phone": "+12015550165",
            "p_email": "Jamal@Mail.example.com", "allow_email": True, "d_name": "Dr. Hart",
            "location": "Main Street", "visit_mode": None, "join_url": None, "provider_join_url": None,
            "dial_in": None, "participation": None}
    return SimpleNamespace(**{**data, **overrides})


def test_default_content_is_private() -> None:
    content = Renderer(CalendarSettings()).content(row())
    assert content is not None
    assert content.summary == "Vaccination (J.W.)"
    assert "Jamal" not in content.description and "+1201" not in content.description
    assert content.attendees == () and not content.cancelled
    assert content.timezone == "America/New_York" and content.location == "Main Street"


@pytest.mark.parametrize(("status", "deleted", "action", "summary"), [
    ("noshow", False, "delete", "No-show: Vaccination (J.W.)"),
    ("cancelled", False, "delete", None),
    ("entered-in-error", False, "delete", None),
    ("booked", True, "delete", None),
    ("waitlist", False, "delete", None),
    ("cancelled", False, "mark_cancelled", "Cancelled: Vaccination (J.W.)"),
    ("booked", True, "mark_cancelled", "Cancelled: Vaccination (J.W.)"),
    ("fulfilled", False, "delete", "Vaccination (J.W.)"),
])
def test_status_decides_presence(status: str, deleted: bool, action: str, summary: str | None) -> None:
    renderer = Renderer(CalendarSettings(cancelled_action=action))  # type: ignore[arg-type]
    content = renderer.content(row(status=status, deleted_at=datetime.now(UTC) if deleted else None))
    assert (content.summary if content else None) == summary


def test_templates_see_local_times_and_may_opt_in_to_names() -> None:
    renderer = Renderer(CalendarSettings(summary="{{ patient_name }} at {{ start_local }} {{ timezone }}",
                                         invite_patient=True))
    content = renderer.content(row())
    assert content is not None
    assert content.summary == "Jamal Weber at 2026-03-08 10:00 America/New_York"  # EDT already
    assert content.attendees == ("jamal@mail.example.com",)
    no_email = renderer.content(row(allow_email=False))
    assert no_email is not None and no_email.attendees == ()


def test_the_sample_context_matches_the_real_one() -> None:
    renderer = Renderer(CalendarSettings(summary="{{ " + " ~ ".join(
        f"({name} | string)" for name in sorted(TEMPLATE_SAMPLE)) + " }}"))
    assert renderer.content(row()) is not None  # every documented name renders with real data


def test_one_renderer_keeps_each_appointment_its_own_text() -> None:
    """Renders are memoized per run on the names a template uses: never shared across values."""
    renderer = Renderer(CalendarSettings(summary="{% if cancelled %}X {% endif %}{{ start_local }} {{ type }}",
                                         cancelled_action="mark_cancelled"))
    texts = []
    for hour, kind, status in [(14, "Vaccination", "booked"), (15, "Vaccination", "booked"),
                               (14, "Follow-up", "booked"), (14, "Vaccination", "cancelled"),
                               (14, "Vaccination", "booked")]:
        start = datetime(2026, 3, 9, hour, 0, tzinfo=UTC)
        content = renderer.content(row(start_utc=start, end_utc=start.replace(hour=hour + 1), type=kind,
                                       status=status))
        assert content is not None
        texts.append(content.summary)
    assert texts == ["2026-03-09 10:00 Vaccination", "2026-03-09 11:00 Vaccination", "2026-03-09 10:00 Follow-up",
                     "X 2026-03-09 10:00 Vaccination", "2026-03-09 10:00 Vaccination"]
    # The default description uses only the type and the initials: other patients' initials differ.
    other = Renderer(CalendarSettings())
    first, second = other.content(row()), other.content(row(p_name="Ana Lopez"))
    assert first is not None and second is not None
    assert "J.W." in first.description and "A.L." in second.description


def test_a_video_visit_carries_the_doctors_link_unless_the_patient_is_invited() -> None:
    video = row(visit_mode="video", join_url="https://vc.example.org/p", provider_join_url="https://vc.example.org/d")
    content = Renderer(CalendarSettings()).content(video)
    assert content is not None and (content.visit_mode, content.join_url) == ("video", "https://vc.example.org/d")
    assert content.where == "https://vc.example.org/d" and not content.create_meet
    invited = Renderer(CalendarSettings(invite_patient=True)).content(video)
    assert invited is not None and invited.join_url == "https://vc.example.org/p"


def test_an_in_person_event_hashes_as_before_telehealth() -> None:
    """An upgrade must not push every event again: an in-person event's digest is what
    EventContent's digest was before issue 22 (content_hash of the dataclass as it was)."""
    from dataclasses import dataclass

    from clinicsync.common.hashing import content_hash

    @dataclass(frozen=True)
    class EventContentBefore:  # sync/calendar/provider.py before issue 22
        connector: str
        external_id: str
        summary: str
        description: str
        location: str | None
        start: datetime
        end: datetime
        timezone: str
        cancelled: bool = False
        attendees: tuple[str, ...] = ()

    content = Renderer(CalendarSettings()).content(row(visit_mode="in_person"))
    assert content is not None and content.visit_mode is None
    before = EventContentBefore(content.connector, content.external_id, content.summary, content.description,
                                content.location, content.start, content.end, content.timezone, content.cancelled,
                                content.attendees)
    assert content.digest() == content_hash(before)


# -- no patient phone or email in an event, whichever field the source put it in ------------------
_PHONE_FORMS = ("+12015550165", "+1 201-555-0165", "(201) 555-0165", "tel:+12015550165", "Call 201.555.0165")
_EMAIL_FORMS = ("Jamal@Mail.example.com", "jamal@mail.example.com", "mailto:JAMAL@mail.example.com")


@pytest.mark.parametrize("provider", ["ics", "google"])
@pytest.mark.parametrize("mode", [None, "phone", "video"])
@pytest.mark.parametrize("field", ["location", "dial_in", "type"])
@pytest.mark.parametrize("value", [*_PHONE_FORMS, *_EMAIL_FORMS])
def test_no_patient_phone_or_email_in_any_event_field(provider: str, mode: str | None, field: str,
                                                      value: str) -> None:
    """The sweep: every field an event is built from, every form the contact may take, both
    providers' rendering: the default templates never show the patient's phone or email."""
    from clinicsync.sync.calendar.google import event_body
    from clinicsync.sync.calendar.ics import _vevent
    from clinicsync.sync.calendar.provider import Op

    source = row(**{"visit_mode": mode, "join_url": "https://vc.example.org/p" if mode == "video" else None,
                    "dial_in": "+13125550188", field: value})
    content = Renderer(CalendarSettings()).content(source)
    assert content is not None
    op = Op(1, "insert", Target(provider, "", "cal"), "e1", content)
    shown = (_vevent(op, "uid", 0, source.start_utc) if provider == "ics"
             else json.dumps(event_body(op, "insert"))).lower()
    digits = re.sub(r"\D", "", shown)
    assert "2015550165" not in digits and "jamal@mail.example.com" not in shown, shown


def test_a_template_may_still_ask_for_the_patients_phone() -> None:
    settings = CalendarSettings(description="Call {{ patient_phone }}")
    content = Renderer(settings).content(row(location="+1 201 555 0165"))
    assert content is not None
    assert content.description == "Call +12015550165" and content.location is None


def test_a_phone_visit_without_a_number_to_dial_says_the_doctor_calls_the_patient() -> None:
    content = Renderer(CalendarSettings()).content(row(visit_mode="phone"))
    assert content is not None and content.where == "Phone: you call the patient"
    assert "Phone: you call the patient at the number in the clinic's system." in content.description


def test_other_numbers_and_places_are_kept() -> None:
    content = Renderer(CalendarSettings()).content(row(location="Room 12, 5550 Main St", visit_mode="phone",
                                                       dial_in="+13125550188"))
    assert content is not None
    assert content.location == "Room 12, 5550 Main St" and content.dial_in == "+13125550188"
    assert content.where == "Phone: the patient calls you at +13125550188"  # who calls whom, not a bare tel:
    assert "Phone: the patient calls you at +13125550188" in content.description


# -- the event names the visit's mode and carries what starts it (issue 30, obs 14) ---------------
@pytest.mark.parametrize(("mode", "summary", "lines", "place"), [
    (None, "Vaccination (J.W.)", ["Vaccination with J.W."], "Main Street"),
    ("video", "Video visit: Vaccination (J.W.)",
     ["Video visit. Vaccination with J.W.", "Join: https://vc.example.org/d/42"], "https://vc.example.org/d/42"),
    ("phone", "Phone visit: Vaccination (J.W.)",
     ["Phone visit. Vaccination with J.W.", "Phone: the patient calls you at +13125550188"],
     "Phone: the patient calls you at +13125550188"),
])
def test_the_event_names_the_mode_and_how_to_start_it(mode: str | None, summary: str, lines: list[str],
                                                     place: str | None) -> None:
    from icalendar import Event

    from clinicsync.sync.calendar.google import event_body
    from clinicsync.sync.calendar.ics import _vevent
    from clinicsync.sync.calendar.provider import Op

    source = row(visit_mode=mode, provider_join_url="https://vc.example.org/d/42" if mode == "video" else None,
                 dial_in="+13125550188" if mode == "phone" else None)
    content = Renderer(CalendarSettings()).content(source)
    assert content is not None
    assert content.summary == summary and "J.W.." not in content.description
    assert content.description.splitlines()[:len(lines)] == lines
    op = Op(1, "insert", Target("ics", "", "cal"), "e1", content)
    event = Event.from_ical(_vevent(op, "uid", 0, source.start_utc))
    assert str(event["summary"]) == summary and str(event.get("location")) == str(place)
    assert str(event["description"]).splitlines()[:len(lines)] == lines
    body = event_body(op, "insert")
    assert body["summary"] == summary and body["location"] == (place or "")


def test_no_initials_still_ends_the_sentence_once() -> None:
    content = Renderer(CalendarSettings()).content(row(p_name=None))
    assert content is not None and content.description.splitlines()[0] == "Vaccination."
