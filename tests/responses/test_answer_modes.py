"""The answer page follows how the visit takes place (issue 30, obs 8, 9, 12), in English and
Spanish: in person (the listed place, its address and map, instructions in the page's
language), at a location `clinic.places` does not list (no address at all: ask the clinic),
video before and at its time (the join link only from 15 minutes before), phone (the number
to call, or the last digits of the patient's number the clinic calls). And its
add-to-calendar: the .ics download parsed with icalendar, the Google and Outlook links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from icalendar import Calendar

from clinicsync.sync.config.clinic import Place
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from tests.responses.test_answer_page import clinic_settings, text
from tests.responses.test_links import SERVER, START, links
from tests.responses.test_record import BASE
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import read_log

pytestmark = pytest.mark.anyio
JOIN = "https://meet.example.org/v/4821937765?pwd=k3y"
MAP = "openstreetmap"


@pytest.fixture
def settings(reminder_settings: SettingsMaker, tmp_path: Path) -> Settings:
    settings = clinic_settings(reminder_settings(BASE, extra_notifiers=SERVER), tmp_path)
    clinic = settings.clinic.model_copy(update={
        "places": {"Main Street Clinic": Place(address="12 Main Street, Springfield NY 10001", instructions={
            "en": "Second floor, room 204.", "es": "Segunda planta, sala 204."})},
        "visit_types": {"Follow-up": {"es": "Revisión"}}})
    return settings.model_copy(update={"clinic": clinic})


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, store)),
                                 base_url="https://clinic.example.org") as client:
        yield client


def book(settings: Settings, store: Store, tmp_path: Path, language: str, **changes: Any) -> str:
    """Books A1 as ``changes`` say, sends its confirmation email; returns its Confirm link."""
    put(store, replace(appointment("A1", START, channel="email", language=language), **changes))
    plan(settings, store, START - timedelta(days=10))
    Dispatcher(settings, store, START - timedelta(days=10)).run()
    [message] = read_log(tmp_path / "mails.jsonl")
    return links(str(message["body"]))["confirm"]


EARLY = START - timedelta(days=2)
AT_TIME = START - timedelta(minutes=10)  # the join link shows from 15 minutes before
CASES: dict[str, tuple[dict[str, Any], datetime, dict[str, list[str]], list[str]]] = {
    # case: (appointment changes, now, {language: shown}, never shown in any language)
    "in person": ({}, EARLY, {
        "en": ["Where", "Main Street Clinic", "12 Main Street, Springfield NY 10001", "Open in a map",
               "Second floor, room 204.", "Follow-up"],
        "es": ["Dónde", "12 Main Street, Springfield NY 10001", "Abrir en un mapa", "Segunda planta, sala 204.",
               "Revisión"]}, ["1 Main Street, Springfield"]),
    "unknown place": ({"location": "North Annex"}, EARLY, {
        "en": ["Where", "North Annex", "Please ask the clinic where this visit takes place. (212) 555-0100"],
        "es": ["Dónde", "North Annex", "Pregunte a la clínica dónde es esta consulta. (212) 555-0100"]},
        ["1 Main Street", "12 Main Street", MAP, "Second floor"]),
    "video, before its time": ({"visit_mode": "video", "join_url": JOIN}, EARLY, {
        "en": ["How to join", "Video visit", "The link to join appears here from 9:45 AM."],
        "es": ["Cómo conectarse", "Videoconsulta", "El enlace para entrar aparecerá aquí a partir de las 9:45."]},
        [JOIN, "meet.example.org", MAP, "Main Street", "Second floor"]),
    "video, at its time": ({"visit_mode": "video", "join_url": JOIN}, AT_TIME, {
        "en": ["How to join", "Video visit", "Join the video visit"],
        "es": ["Videoconsulta", "Entrar en la videoconsulta"]}, [MAP, "Main Street", "appears here"]),
    "phone, the patient calls": ({"visit_mode": "phone", "dial_in": "+12125550199"}, EARLY, {
        "en": ["How", "Phone visit", "At the time of your visit, please call (212) 555-0199"],
        "es": ["Consulta por teléfono", "A la hora de su consulta, llame al (212) 555-0199"]},
        [MAP, "Main Street", "Second floor"]),
    "phone, the clinic calls": ({"visit_mode": "phone"}, EARLY, {
        "en": ["Phone visit", "We will call you on your number ending in 0101."],
        "es": ["Consulta por teléfono", "Le llamaremos a su número terminado en 0101."]},
        [MAP, "Main Street", "555-0101", "5550101"]),
}


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("case", list(CASES))
async def test_the_page_follows_the_visit_mode(client: httpx.AsyncClient, settings: Settings, store: Store,
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str,
                                               language: str) -> None:
    changes, now, shown, never = CASES[case]
    url = book(settings, store, tmp_path, language, **changes)
    monkeypatch.setattr("clinicsync.sync.responses.link_page.utcnow", lambda: now)
    page = await client.get(url)
    assert page.status_code == 200 and f'<html lang="{language}">' in page.text
    seen = text(page)
    for expected in shown[language]:
        assert expected in seen, (expected, seen)
    for absent in never + (["Follow-up", "Second floor", "Video visit", "Phone visit"] if language == "es" else []):
        assert absent not in page.text, (absent, seen)
    assert (f'href="{JOIN}"' in page.text) == (case == "video, at its time")


async def test_a_video_visit_keeps_its_page_until_it_ends_but_answers_nothing_once_started(
        client: httpx.AsyncClient, settings: Settings, store: Store, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = book(settings, store, tmp_path, "en", visit_mode="video", join_url=JOIN)
    monkeypatch.setattr("clinicsync.sync.responses.link_page.utcnow", lambda: START + timedelta(minutes=5))
    page = await client.get(url)
    assert page.status_code == 200 and "Your visit has started." in text(page) and f'href="{JOIN}"' in page.text
    assert 'id="confirm"' not in page.text and (await client.post(url)).status_code == 410
    monkeypatch.setattr("clinicsync.sync.responses.link_page.utcnow", lambda: START + timedelta(minutes=31))
    assert (await client.get(url)).status_code == 410  # over: the link and the join link are gone


async def test_the_calendar_file_publishes_the_visit_without_rsvp(client: httpx.AsyncClient, settings: Settings,
                                                                  store: Store, tmp_path: Path) -> None:
    url = book(settings, store, tmp_path, "es")
    page = await client.get(url)
    assert "Añadir a su calendario" in text(page) and f'href="{url}/visit.ics"' in page.text
    download = await client.get(f"{url}/visit.ics")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/calendar")
    assert 'filename="appointment.ics"' in download.headers["content-disposition"]
    calendar = Calendar.from_ical(download.content)
    assert calendar["method"] == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == START and event.decoded("dtend") == START + timedelta(minutes=30)
    assert event.decoded("dtstart").tzinfo is not None and event.decoded("dtstart").utcoffset() == timedelta(0)
    assert b"DTSTART:20300612T140000Z" in download.content  # UTC: no VTIMEZONE needed
    assert "ORGANIZER" not in event and "ATTENDEE" not in event and b"RSVP" not in download.content
    assert str(event["summary"]) == "Revisión · Demo Family Practice"
    assert str(event["location"]) == "Main Street Clinic, 12 Main Street, Springfield NY 10001"
    assert str(event["uid"]) == "c1-A1@clinicsync"  # the emailed invitation's UID: one event, not two
    description = str(event["description"])
    assert "Médico: Dr. Amelia Hart" in description and "Segunda planta, sala 204." in description
    assert f"La página de su cita: https://clinic.example.org{url}" in description
    assert str(event["url"]) == f"https://clinic.example.org{url}" and "Ruiz" not in download.text


async def test_a_video_calendar_entry_points_to_the_page_not_the_join_link(
        client: httpx.AsyncClient, settings: Settings, store: Store, tmp_path: Path) -> None:
    url = book(settings, store, tmp_path, "en", visit_mode="video", join_url=JOIN)
    event = Calendar.from_ical((await client.get(f"{url}/visit.ics")).content).walk("VEVENT")[0]
    assert str(event["location"]) == "Video visit" and JOIN not in event.to_ical().decode()


async def test_google_and_outlook_links_carry_the_visit_in_utc(client: httpx.AsyncClient, settings: Settings,
                                                               store: Store, tmp_path: Path) -> None:
    import html
    import re

    url = book(settings, store, tmp_path, "en", visit_mode="phone")
    page = await client.get(url)
    google = html.unescape(re.findall(r'id="google" href="([^"]+)"', page.text)[0])
    outlook = html.unescape(re.findall(r'id="outlook" href="([^"]+)"', page.text)[0])
    assert urlsplit(google).netloc == "calendar.google.com" and urlsplit(outlook).netloc == "outlook.live.com"
    g, o = parse_qs(urlsplit(google).query), parse_qs(urlsplit(outlook).query)
    assert g["action"] == ["TEMPLATE"] and g["dates"] == ["20300612T140000Z/20300612T143000Z"]
    assert g["text"] == ["Follow-up · Demo Family Practice"] and g["location"] == ["Phone visit"]
    assert "We will call you on your number ending in 0101." in g["details"][0]
    assert o["rru"] == ["addevent"] and o["startdt"] == ["2030-06-12T14:00:00Z"]
    assert o["enddt"] == ["2030-06-12T14:30:00Z"] and o["subject"] == g["text"]


async def test_a_language_without_page_text_gets_the_whole_page_in_english(
        client: httpx.AsyncClient, settings: Settings, store: Store, tmp_path: Path) -> None:
    page = await client.get(book(settings, store, tmp_path, "fr"))
    seen = text(page)
    assert page.status_code == 200 and '<html lang="en">' in page.text  # says what it is: English
    for expected in ("Wed, Jun 12, 2030", "10:00 AM", "Second floor, room 204.", "Follow-up", "Yes, I will come"):
        assert expected in seen, expected
    assert "Segunda" not in seen and "Revisión" not in seen and "mer." not in seen  # one language, not a mix
