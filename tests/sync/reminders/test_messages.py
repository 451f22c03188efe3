"""What patients read in the shipped templates: every SMS in one GSM-7 segment with the
STOP line, a reply asked for only when one can be received, readable plain-text email (one
link per line, sentences start uppercase) and the place (address, map, how to join)."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.config.clinic import ClinicSettings, Place
from clinicsync.sync.config.settings.reminders import RemindersSettings
from clinicsync.sync.reminders.compose import Composer, Draft, Visit
from clinicsync.sync.reminders.render import Renderer
from clinicsync.sync.waitlist.compose import OfferDraft
from clinicsync.sync.waitlist.compose import render as render_offer

START = datetime(2026, 11, 23, 19, 15, tzinfo=UTC)
CLINIC = ClinicSettings(name="Demo Family Practice", timezone="America/New_York", phone="+1 212 555 0100",
                        address="1 Main Street, Springfield",
                        places={"Main Street Clinic": Place(address="12 Main Street, Springfield NY 10001"),
                                "Video": Place(instructions="The join link arrives by email 15 minutes before.")})
KINDS = ("confirmation", "reminder", "rescheduled", "cancelled", "confirmed", "followup")
TELLING = ("cancelled", "confirmed", "followup")  # notices that ask for no answer


def visit(location: str = "Main Street Clinic") -> Visit:
    return Visit("c1", "A1", START, START.replace(minute=45), "America/New_York", 3, "Follow-up", location,
                 "Dr. Priya Natarajan", "Alexandra Kowalski")


def render(kind: str, channel: str, language: str, replies: bool = True, location: str = "Main Street Clinic",
           **config: Any) -> Any:
    composer = Composer(RemindersSettings(**config), CLINIC, Renderer(), replies=replies)
    return composer.render(Draft(f"a1:patient:{kind}:v3", kind, "patient", language, visit=visit(location)),
                           channel, START)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_templates_check_counts_one_gsm7_segment_for_every_shipped_sms(tmp_path: Path, store_url: str,
                                                                        cli: Any) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(
        "clinic:\n  name: Demo Family Practice\n  timezone: America/New_York\n  phone: '+1 212 555 0100'\n"
        f"store:\n  url: \"{store_url}\"\n"
        "server:\n  public_url: https://clinic.example.org\n  secret_key: test-only\n", encoding="utf-8")
    _, out, _ = cli(config)("templates", "check", "--json")
    sms = [r for r in json.loads(out) if r["channel"] == "sms" and not r["template"].startswith("waitlist_")]
    waitlist = [r for r in json.loads(out) if r["channel"] == "sms" and r["template"].startswith("waitlist_")]
    assert {(r["language"], r["template"]) for r in waitlist} == {  # issue 33: the offers, checked alike
        (lang, k) for lang in ("en", "es") for k in ("waitlist_offer", "waitlist_taken")}
    assert all((r["segments"], r["encoding"]) == (1, "GSM-7") and not r["problems"] for r in waitlist), waitlist
    # the offers are checked as the default `sequential` strategy sends them: with their 30-minute hold
    # ending on another day than the send (its weekday shown), at the costly clock
    offers = {r["language"]: r for r in waitlist if r["template"] == "waitlist_offer"}
    assert {lang: (r["units"], r["sample"]) for lang, r in offers.items()} == {
        "en": (159, "Mon, Jan 11, 10:45\u202fAM, Lucía, video, held 30m"),
        "es": (160, "sáb, 11 sept, 10:45, Lucía, video, held 30m")}, offers
    assert {(r["language"], r["template"]) for r in sms} == {
        (lang, k + mode) for lang in ("en", "es") for k in KINDS
        for mode in ("", " (video)", " (phone)", " (phone, dial-in)")}
    assert all((r["segments"], r["encoding"]) == (1, "GSM-7") and r["units"] <= 160 for r in sms), sms
    # the short answer link fits every in-person SMS that asks for an answer, in one segment still; a video
    # or phone visit's text is longer (the join link, the number to call), so it keeps the reply line instead
    # (the notices that ask for no answer — cancelled, confirmed by the clinic, follow-up — carry none)
    asks = ("confirmation", "reminder", "rescheduled")
    in_person = [r for r in sms if "(" not in r["template"]]
    assert all(r["answer_link"] is (True if r["template"] in asks else None) for r in in_person), sms
    other = [r for r in sms if r not in in_person]
    assert all((r["answer_link"] is not None) == r["template"].startswith(asks) for r in other), sms
    _, table, _ = cli(config)("templates", "check")
    assert "1 (GSM-7," in table and "chars)" in table and "short link" in table


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_sms_carries_the_stop_line_and_asks_for_a_reply_only_when_one_can_arrive(language: str) -> None:
    stop = {"en": "Reply STOP to opt out.", "es": "STOP para darse de baja."}[language]
    ask = {"en": "Reply C to confirm, X to cancel.", "es": "Responda C (confirmar) o X (anular)."}[language]
    for kind in KINDS:
        with_replies, without = render(kind, "sms", language), render(kind, "sms", language, replies=False)
        assert with_replies.text.endswith(stop) and without.text.endswith(stop), kind
        assert (ask in with_replies.text) == (kind not in TELLING) and ask not in without.text, kind
        assert "  " not in without.text and with_replies.segments == 1, with_replies.text
    assert "STOP" not in render("reminder", "whatsapp", "en").text  # WhatsApp has its own opt-out


@pytest.mark.parametrize("language", ["en", "es"])
def test_plain_text_email_reads_as_sentences_with_one_link_per_line(language: str) -> None:
    links = {"confirm_url": "https://c.example/r/{key}/yes", "decline_url": "https://c.example/r/{key}/no"}
    for kind in KINDS:
        text = render(kind, "email", language, **links).text
        for paragraph in text.split("\n\n"):
            first = paragraph.lstrip()[0]
            assert not first.isalpha() or first.isupper(), (kind, paragraph)
        for line in text.splitlines():
            assert len(re.findall(r"https?://", line)) <= 1, (kind, line)


def test_the_place_address_map_and_video_instructions() -> None:
    email = render("confirmation", "email", "en")
    assert "  Where:  Main Street Clinic, 12 Main Street, Springfield NY 10001\n" in email.text
    assert "  Map:    https://www.openstreetmap.org/search?query=12+Main+Street%2C+Springfield+NY+10001" in email.text
    assert "Demo Family Practice · (212) 555-0100\n1 Main Street, Springfield" in email.text
    assert 'href="https://www.openstreetmap.org/search?query=12+Main+Street' in email.html
    assert "Open in a map" in email.html
    video = render("reminder", "email", "es", location="Video")
    assert "Indicaciones: The join link arrives by email 15 minutes before." in video.text  # a place without address
    assert "Mapa:" not in video.text
    assert render("cancelled", "email", "es").text.endswith("\n\nDemo Family Practice\n1 Main Street, Springfield")
    cancelled = render("cancelled", "sms", "en")
    assert "To rebook call (212) 555-0100." in cancelled.text


# -- telehealth (issue 22) ---------------------------------------------------------------------

LINK = "https://vc.example.org/j/58210"


def remote(kind: str, channel: str, language: str, replies: bool = True, **changes: Any) -> Any:
    from dataclasses import replace

    composer = Composer(RemindersSettings(), CLINIC, Renderer(), replies=replies)
    shown = replace(visit(), **changes)
    return composer.render(Draft(f"a1:patient:{kind}:v3", kind, "patient", language, visit=shown), channel, START)


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_video_visit_carries_its_link_and_a_device_hint_instead_of_the_address(language: str) -> None:
    hint = {"en": "Test your device.", "es": "Pruebe su equipo."}[language]
    for kind in ("confirmation", "reminder", "rescheduled"):
        for replies in (True, False):
            sms = remote(kind, "sms", language, replies, visit_mode="video", join_url=LINK)
            assert f": {LINK}" in sms.text and "Main Street" not in sms.text, sms.text
            assert sms.segments == 1 and sms.encoding == "GSM-7", sms.text
            # the hint always in the reminder; elsewhere when no reply prompt takes its room
            assert (hint in sms.text) == (kind == "reminder" or not replies), sms.text
        email = remote(kind, "email", language, visit_mode="video", join_url=LINK)
        assert f"  Video:  {LINK}\n" in email.text or f"  Video:    {LINK}\n" in email.text
        assert ("Before: test your camera" in email.text) or ("Antes:    pruebe la cámara" in email.text)
        assert "Main Street Clinic" not in email.text and "12 Main Street" not in email.text
        assert "Map" not in email.text
        assert f'<a href="{LINK}"' in email.html and "12 Main Street" not in email.html
    without_link = remote("confirmation", "sms", language, visit_mode="video")
    assert "https://" not in without_link.text and without_link.segments == 1


def test_a_video_visits_invite_carries_the_link_as_url_and_location() -> None:
    from icalendar import Calendar

    email = remote("confirmation", "email", "en", visit_mode="video", join_url=LINK)
    [attachment] = email.attachments
    [event] = Calendar.from_ical(attachment.data).walk("VEVENT")
    assert str(event["url"]) == LINK and str(event["location"]) == LINK
    in_person = render("confirmation", "email", "en")
    [event] = Calendar.from_ical(in_person.attachments[0].data).walk("VEVENT")
    assert "url" not in event and str(event["location"]).startswith("Main Street Clinic, 12 Main Street")


@pytest.mark.parametrize(("language", "we_call", "call_in"), [
    ("en", "We'll call you at (312) 555-0144.", "call (312) 555-0188."),
    ("es", "Le llamamos al (312) 555-0144.", "llame al (312) 555-0188."),
])
def test_a_phone_visit_says_who_calls_which_number(language: str, we_call: str, call_in: str) -> None:
    for kind in ("confirmation", "reminder", "rescheduled"):
        sms = remote(kind, "sms", language, visit_mode="phone", patient_phone="+13125550144")
        assert we_call in sms.text and "Main Street" not in sms.text and sms.segments == 1, sms.text
        dial = remote(kind, "sms", language, visit_mode="phone", patient_phone="+13125550144", dial_in="+13125550188")
        assert call_in in dial.text and "555-0144" not in dial.text, dial.text
    email = remote("reminder", "email", language, visit_mode="phone", patient_phone="+13125550144")
    assert we_call[0].lower() + we_call[1:] in email.text and "Main Street Clinic" not in email.text


def test_an_in_person_visit_reads_as_before() -> None:
    assert remote("reminder", "sms", "en", visit_mode="in_person").text == render("reminder", "sms", "en").text
    assert remote("reminder", "email", "en", visit_mode=None).text == render("reminder", "email", "en").text


@pytest.mark.parametrize(("language", "type_shown", "instructions"), [
    ("es", "Revisión anual", "Entre por la puerta lateral."),
    ("es-MX", "Chequeo anual", "Entre por la puerta lateral."),
    ("en", "Annual physical", "Use the side door."),
    ("fr", "Annual physical", "Use the side door."),  # no French: the type as stored, the default text
])
def test_visit_types_and_place_instructions_in_the_patients_language(
        language: str, type_shown: str, instructions: str) -> None:
    """Spanish emails showed English visit types and `places` instructions (issue 30, obs 12)."""
    from dataclasses import replace

    config = RemindersSettings()
    # One text per language, in the clinic section the answer page reads too (sync/config/clinic.py).
    clinic = ClinicSettings(
        name="Demo", visit_types={"Annual physical": {"es": "Revisión anual", "es-MX": "Chequeo anual"}},
        places={"Main Street Clinic": Place(address="12 Main Street",
                                            instructions={"en": "Use the side door.",
                                                          "es": "Entre por la puerta lateral."})})
    composer = Composer(config, clinic, Renderer())
    shown = replace(visit(), type="Annual physical", location="Main Street Clinic")
    email = composer.render(Draft("a1:patient:confirmation:v3", "confirmation", "patient", language, visit=shown),
                            "email", START)
    assert type_shown in email.text and instructions in email.text, email.text
    assert (type_shown in email.html) and ("Annual physical" not in email.html or type_shown == "Annual physical")
    [ics] = email.attachments
    assert f"SUMMARY:{type_shown} · Demo" in ics.data.decode("utf-8")
    object.__setattr__(clinic.places["Main Street Clinic"], "instructions", "Use the side door.")
    plain = composer.render(Draft("a1:patient:confirmation:v3", "confirmation", "patient", "es", visit=shown),
                            "email", START)
    assert "Use the side door." in plain.text


@pytest.mark.parametrize(("language", "directions", "calendar"), [
    ("en", "Directions", "Or add it to"), ("es", "Cómo llegar", "O añádala a")])
def test_an_in_person_visits_instructions_are_directions_and_a_booking_offers_web_calendars(
        language: str, directions: str, calendar: str) -> None:
    """In-person instructions were labelled "How to join" (issue 58, obs 8: 32 of 32 emails)."""
    from urllib.parse import parse_qs, urlsplit

    clinic = ClinicSettings(name="Demo", timezone="America/New_York", places={"Main Street Clinic": Place(
        address="12 Main Street", instructions={"en": "Use the side door.", "es": "Entre por la puerta lateral."})})
    composer = Composer(RemindersSettings(confirm_url="https://c.example.org/y/{key}",
                                          decline_url="https://c.example.org/n/{key}"), clinic, Renderer())
    email = composer.render(Draft("a1:patient:confirmation:v3", "confirmation", "patient", language, visit=visit()),
                            "email", START)
    assert f"  {directions}: " in email.text and f">{directions}</td>" in email.html
    assert "How to join" not in email.html + email.text and "Cómo conectarse" not in email.html + email.text
    # Confirm and Cancel: blocks with a finger's width between them, not one space apart
    confirm = re.search(r'<a href="https://c.example.org/y/[^"]*" style="([^"]*)"', email.html)
    cancel = re.search(r'<a href="https://c.example.org/n/[^"]*" style="([^"]*)"', email.html)
    assert confirm and cancel and "margin: 0 24px 12px 0" in confirm[1] and "display: inline-block" in cancel[1]
    # Google and Outlook beside the .ics, for the same event (UTC times, the .ics's title and place)
    assert calendar in email.html
    google = next(line.split(": ", 1)[1] for line in email.text.splitlines() if line.startswith("Google Calendar:"))
    query = parse_qs(urlsplit(google).query)
    assert query["dates"] == ["20261123T191500Z/20261123T194500Z"] and query["location"] == [
        "Main Street Clinic, 12 Main Street"]
    outlook = next(line.split(": ", 1)[1] for line in email.text.splitlines() if line.startswith("Outlook:"))
    assert parse_qs(urlsplit(outlook).query)["startdt"] == ["2026-11-23T19:15:00Z"]
    [ics] = email.attachments
    assert f"SUMMARY:{query['text'][0]}" in ics.data.decode("utf-8")
    # a move or a cancellation updates the event the .ics made: no links that would add a copy
    moved = composer.render(Draft("a1:patient:rescheduled:v4", "rescheduled", "patient", language, visit=visit()),
                            "email", START)
    assert "calendar.google.com" not in moved.html + moved.text


# -- the waitlist offer's SMS states its hold ------------------------------------------

OFFER_URL = "https://clinic.example.org/w/3LkaBcDeFgHiJk"  # a four-character id and its 10-character MAC
SLOT = datetime(2030, 11, 5, 15, tzinfo=UTC)  # Tue Nov 5, 10:00 EST: after the autumn change
SENT = datetime(2030, 11, 1, 16, tzinfo=UTC)  # Fri Nov 1, 12:00 EDT


def offer_sms(language: str, hold: timedelta | None, mode: str = "in_person", clinic: ClinicSettings = CLINIC) -> Any:
    draft = OfferDraft("waitlist_offer", language, SLOT, SLOT + timedelta(minutes=30), "America/New_York",
                       "Alexandra Kowalski", "Dr. Priya Natarajan", "Follow-up", "Main Street Clinic", mode,
                       OFFER_URL, SENT + hold if hold is not None else None, SENT)
    return render_offer(Renderer(), draft, "sms", clinic, "(212) 555-0100")


@pytest.mark.parametrize(("language", "hold", "expected"), [
    ("en", timedelta(minutes=30), "Demo Family Practice: earlier slot Tue, Nov 5 10:00 AM, held till 12:30 PM EDT: "
                                  f"{OFFER_URL} Reply STOP to opt out."),
    ("en", timedelta(hours=20), "Demo Family Practice: earlier slot Tue, Nov 5 10:00 AM, held till Sat 8:00 AM EDT: "
                                f"{OFFER_URL} Reply STOP to opt out."),
    ("en", timedelta(days=7), "Demo Family Practice: earlier slot Tue, Nov 5 10:00 AM, held till Fri, Nov 8 "
                              f"11:00 AM EST: {OFFER_URL} Reply STOP to opt out."),
    ("en", None, f"Demo Family Practice: an earlier slot is free, Tue, Nov 5 10:00 AM. Take it: {OFFER_URL} "
                 "Reply STOP to opt out."),
    ("es", timedelta(minutes=30), "Demo Family Practice: hay cita antes: mar, 5 nov 10:00, suya hasta 12:30 EDT: "
                                  f"{OFFER_URL} STOP para darse de baja."),
    ("es", timedelta(hours=20), "Demo Family Practice: hay cita antes: mar, 5 nov 10:00, suya hasta sab 8:00 EDT: "
                                f"{OFFER_URL} STOP para darse de baja."),
    ("es", None, f"Demo Family Practice: cita libre antes, mar, 5 nov 10:00. Tomela: {OFFER_URL} "
                 "STOP para darse de baja."),
])
def test_the_offer_sms_says_until_when_the_slot_is_held_in_its_own_zone_and_day(
        language: str, hold: timedelta | None, expected: str) -> None:
    """As the email: the hold only when the offer has one (sequential), its time in the slot's zone
    labelled with the hold's own abbreviation (EDT before the change, the slot's EST after), its
    weekday when it ends on another day within six days, its short date when later."""
    sms = offer_sms(language, hold)
    assert sms.text == expected
    assert (sms.segments, sms.encoding) == (1, "GSM-7"), (sms.units, sms.text)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_offer_sms_with_its_hold_fits_one_segment_in_every_mode_with_a_two_digit_clock(language: str) -> None:
    """A hold ending the next evening at 10:45 PM (or 22:45), a video visit: the longest the
    hold makes the English and Spanish SMS with the reference clinic's name."""
    late = datetime(2030, 11, 3, 3, 45, tzinfo=UTC) - SENT  # Sat Nov 2, 11:45 PM EDT -> shown in EDT
    for mode in ("in_person", "video", "phone"):
        sms = offer_sms(language, late, mode)
        assert (sms.segments, sms.encoding) == (1, "GSM-7") and sms.units <= 160, (sms.units, sms.text)
        held = {"en": "Sat 11:45 PM EDT", "es": "sab 23:45 EDT"}[language]
        assert OFFER_URL in sms.text and "STOP" in sms.text and held in sms.text, sms.text


@pytest.mark.parametrize("stored", ["Kowalski, Alexandra", "KOWALSKI^ALEXANDRA^M", "Mrs Alexandra Kowalski",
                                    "ALEXANDRA KOWALSKI", "Ms. alexandra kowalski"])
def test_a_patient_is_greeted_by_the_given_name_however_the_source_writes_the_name(stored: str) -> None:
    """Registers keep a name family first ('Kowalski, Alexandra'), HL7 as family^given, with a
    title, in capitals or in lower case: the greeting is the given name, never 'Kowalski,',
    'Mrs' or 'ALEXANDRA'."""
    named = dataclasses.replace(visit(), patient_name=stored)
    composer = Composer(RemindersSettings(), CLINIC, Renderer(), replies=True)
    sms = composer.render(Draft("a1:patient:reminder:v3", "reminder", "patient", "en", visit=named), "sms", START)
    assert sms.text.startswith("Demo Family Practice: Alexandra, see you"), sms.text
