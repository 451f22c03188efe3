"""The patients' answer page behind a link: what it shows (clinic, time in the visit's zone,
doctor, place, phone), the choices the clinic allows, the cancel confirmation step, asking
for another time, and the used/expired pages that give the clinic's phone."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from clinicsync.sync.config.clinic import ClinicSettings, Place
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.links import make_token
from clinicsync.sync.responses.page_text import TEXT
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.store.store import Store
from tests.responses.test_links import SERVER, booked, links
from tests.responses.test_record import BASE, participation, rows
from tests.sync.reminders.conftest import SettingsMaker

pytestmark = pytest.mark.anyio
LOGO = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48"><rect width="48" height="48" rx="10" '
        b'fill="#1f6f43"/><path d="M20 10h8v10h10v8H28v10h-8V28H10v-8h10z" fill="#fff"/></svg>')


def clinic_settings(settings: Settings, tmp_path: Path, **update: Any) -> Settings:
    (tmp_path / "logo.svg").write_bytes(LOGO)
    clinic = ClinicSettings(
        name="Demo Family Practice", timezone="America/New_York", phone="+1 212 555 0100",
        address="1 Main Street, Springfield", logo_file=tmp_path / "logo.svg",
        places={"Main Street Clinic": Place(address="12 Main Street, Springfield NY 10001")})
    responses = settings.responses.model_copy(update=update)
    return settings.model_copy(update={"clinic": clinic, "responses": responses})


@pytest.fixture
def settings(reminder_settings: SettingsMaker, tmp_path: Path) -> Settings:
    return clinic_settings(reminder_settings(BASE, extra_notifiers=SERVER), tmp_path)


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, store)),
                                 base_url="https://clinic.example.org") as client:
        yield client


def text(page: httpx.Response) -> str:
    """The page as a person reads it: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page.text).split())


async def test_the_page_shows_the_visit_in_its_zone_and_the_choices(
        client: httpx.AsyncClient, settings: Settings, store: Store, tmp_path: Path) -> None:
    url = links(booked(settings, store, tmp_path, language="en"))["confirm"]
    page = await client.get(url)
    assert page.status_code == 200 and '<html lang="en">' in page.text and "<script" not in page.text
    seen = text(page)
    # 2030-06-12 14:00 UTC is 10:00 in New York (daylight time), labelled as such.
    for expected in ("Demo Family Practice", "Wed, Jun 12, 2030", "10:00 AM",
                     "Time shown in: Eastern Daylight Time", "Dr. Amelia Hart", "Follow-up",
                     "Main Street Clinic", "12 Main Street, Springfield NY 10001", "Hello Ana,",
                     "Yes, I will come", "Ask for another time", "I cannot come: cancel the appointment",
                     "(212) 555-0100"):
        assert expected in seen, expected
    assert 'href="tel:+12125550100"' in page.text
    assert 'href="https://www.openstreetmap.org/search?query=12+Main+Street%2C+Springfield+NY+10001"' in page.text
    assert 'title="America/New_York"' in page.text and 'datetime="2030-06-12T14:00:00+00:00"' in page.text
    assert "Ruiz" not in seen and "ana@example.org" not in page.text  # minimum necessary: first name only
    assert '<img class="logo" src="/r/_/logo" alt=""' in page.text
    logo = await client.get("/r/_/logo")
    assert logo.content == LOGO and logo.headers["content-type"] == "image/svg+xml"
    css = await client.get("/r/_/answer.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_spanish_with_babel_dates(client: httpx.AsyncClient, settings: Settings, store: Store,
                                        tmp_path: Path) -> None:
    page = await client.get(links(booked(settings, store, tmp_path, language="es"))["confirm"])
    seen = text(page)
    assert '<html lang="es">' in page.text
    for expected in ("mié, 12 jun 2030", "10:00", "hora de verano oriental", "Médico",
                     "Sí, iré", "Pedir otra hora", "No puedo ir: cancelar la cita", "llame a la clínica"):
        assert expected in seen, expected


async def test_cancel_asks_first_then_the_other_link_explains_itself_with_the_phone(
        client: httpx.AsyncClient, settings: Settings, store: Store, tmp_path: Path) -> None:
    urls = links(booked(settings, store, tmp_path, language="en"))
    step = await client.get(urls["confirm"], params={"step": "cancel"})
    assert "Cancel this appointment?" in text(step) and "No, keep my appointment" in text(step)
    assert participation(store) == {"A1": None}  # the confirmation step changes nothing
    also = await client.get(urls["decline"])  # the email's Cancel link lands on the same step
    assert "Cancel this appointment?" in text(also) and 'value="decline"' in also.text
    done = await client.post(urls["decline"], data={"choice": "decline"})
    assert done.status_code == 200 and "Your appointment is cancelled. The clinic has been told." in text(done)
    assert participation(store) == {"A1": "declined"}
    used = await client.get(urls["confirm"])
    seen = text(used)
    assert used.status_code == 200  # the cancelled page names the visit it cancelled
    assert "This appointment is cancelled." in seen and "Wed, Jun 12, 2030" in seen and "10:00 AM" in seen
    assert "Dr. Amelia Hart" in seen and "12 Main Street, Springfield NY 10001" in seen
    assert "To book another time, please call the clinic." in seen and "(212) 555-0100" in seen
    assert 'id="confirm"' not in used.text and "visit.ics" not in used.text  # final online: nothing to answer


async def test_asking_for_another_time_records_the_request_for_the_front_desk(
        client: httpx.AsyncClient, settings: Settings, store: Store, tmp_path: Path) -> None:
    url = links(booked(settings, store, tmp_path, language="en"))["confirm"]
    form = await client.get(url, params={"step": "reschedule"})
    assert '<label for="note">' in form.text and 'aria-describedby="note-hint"' in form.text
    too_long = await client.post(url, data={"choice": "reschedule", "note": "x" * 501})
    assert too_long.status_code == 422 and 'aria-invalid="true"' in too_long.text
    assert rows(store, RESPONSES) == []
    done = await client.post(url, data={"choice": "reschedule", "note": "  Mornings, after the 20th  "})
    assert done.status_code == 200 and "The front desk will call you" in text(done)
    [response] = rows(store, RESPONSES)
    assert (response.action, response.outcome, response.body) == ("reschedule", "requested", "Mornings, after the 20th")
    assert participation(store) == {"A1": None} and rows(store, WRITEBACKS) == []  # still booked, nothing written
    assert "You asked for another time." in text(await client.get(url))


async def test_only_the_choices_the_clinic_allows(reminder_settings: SettingsMaker, store: Store,
                                                  tmp_path: Path) -> None:
    settings = clinic_settings(reminder_settings(BASE, extra_notifiers=SERVER), tmp_path, choices=["confirm"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, store)),
                                 base_url="https://clinic.example.org") as client:
        url = links(booked(settings, store, tmp_path, language="en"))["confirm"]
        page = await client.get(url)
        assert "Yes, I will come" in text(page) and "cancel the appointment" not in text(page)
        assert "Ask for another time" not in text(page)
        refused = await client.post(url, data={"choice": "decline"})
        assert refused.status_code == 403 and participation(store) == {"A1": None}


async def test_expired_and_foreign_links_explain_themselves(client: httpx.AsyncClient, settings: Settings,
                                                            store: Store, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    booked(settings, store, tmp_path)
    with store.engine.connect() as connection:
        key = connection.execute(select(REMINDERS.c.key).order_by(REMINDERS.c.id)).scalars().first()
    real = time.time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real() - 40 * 86400)
    old = make_token(settings, str(key), "confirm")
    monkeypatch.setattr("itsdangerous.timed.time.time", real)
    with store.engine.begin() as connection:  # a link lives until its visit; link_max_age bounds one without
        connection.execute(update(REMINDERS).values(appointment_id=None))
    expired = await client.get(f"/r/{old}")
    assert expired.status_code == 410
    assert "This link has expired." in text(expired) and "(212) 555-0100" in text(expired)
    assert "Dr. Amelia Hart" not in text(expired)  # an expired link shows nothing of the visit
    spanish = await client.get("/r/not-a-token", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    assert spanish.status_code == 404 and '<html lang="es">' in spanish.text
    assert "Este enlace no es válido." in text(spanish)


def test_every_language_has_every_phrase() -> None:
    for language, phrases in TEXT.items():
        assert phrases.keys() == TEXT["en"].keys(), language
        assert all(p.strip() for p in phrases.values()), language


# -- a link answers the time its message gave ---------------------------------------------------
@pytest.mark.parametrize(("history", "status", "newer"), [
    ("sent", 200, False),  # nothing changed: the link answers
    ("sent, moved", 410, False),  # moved since: 410, nothing newer to offer yet
    ("sent, moved, told", 410, True),  # moved and the patient was told: 410 points to the newer message
    ("moved, sent", 200, False),  # moved before the confirmation went: it told the new time, so it answers
])
async def test_a_link_answers_only_the_time_its_message_gave(
        client: httpx.AsyncClient, settings: Settings, store: Store, tmp_path: Path, history: str, status: int,
        newer: bool) -> None:
    from datetime import timedelta

    from clinicsync.sync.reminders.dispatch import Dispatcher
    from clinicsync.sync.reminders.stage import plan
    from tests.responses.test_links import START
    from tests.sync.reminders.conftest import appointment, put
    from tests.sync.reminders.fakes import read_log

    moved = START + timedelta(hours=3)  # 13:00 in New York instead of 10:00
    now = START - timedelta(days=10)
    put(store, appointment("A1", START, channel="email", language="en"))
    plan(settings, store, now)
    for step in history.split(", "):
        if step == "moved":
            put(store, appointment("A1", moved, channel="email", language="en"))
            plan(settings, store, now)
        else:  # sent, told: the dispatcher sends what is due
            Dispatcher(settings, store, now).run()
    first = read_log(tmp_path / "mails.jsonl")[0]
    url = links(str(first["body"]))["confirm"]
    page = await client.get(url)
    assert page.status_code == status, text(page)
    if status == 200:
        assert "1:00 PM" in text(page) if history.startswith("moved") else "10:00 AM" in text(page)
        return
    seen = text(page)
    assert "This appointment has changed since this message was sent." in seen and "(212) 555-0100" in seen
    assert "10:00 AM" not in seen and "1:00 PM" not in seen  # nothing of the visit on a closed link
    assert (await client.post(url)).status_code == 410 and participation(store) == {"A1": None}
    offered = re.findall(r'id="newer" href="(/a/\w+)"', page.text)
    assert bool(offered) == newer
    if newer:
        again = await client.get(offered[0])
        assert again.status_code == 200 and "1:00 PM" in text(again)
        assert (await client.post(offered[0])).status_code == 200 and participation(store) == {"A1": "accepted"}


async def test_a_link_of_a_patient_whose_visit_went_to_another_patient_is_closed(
        client: httpx.AsyncClient, settings: Settings, store: Store, tmp_path: Path) -> None:
    """The source gave the visit to another patient (a booking under the wrong patient,
    corrected): the first patient's link neither shows the visit nor answers for the patient
    who has it now (docs/reminders.md, *What planning does*)."""
    from dataclasses import replace

    from clinicsync.mappings.model import NormalizedPatient
    from tests.responses.test_links import START
    from tests.sync.reminders.conftest import appointment, put

    url = links(booked(settings, store, tmp_path, language="en"))["decline"]
    put(store, replace(appointment("A1", START, channel="email", language="en"),
                       patient=NormalizedPatient("P2", "Luis Ortega", "+12125550199", "luis@example.org", "en")))
    page = await client.get(url)
    assert page.status_code == 410, text(page)
    seen = text(page)
    assert "This appointment can no longer be answered online." in seen
    assert "10:00 AM" not in seen and "Luis" not in seen and "Ana" not in seen
    assert (await client.post(url, data={"choice": "decline"})).status_code == 410
    assert participation(store) == {"A1": None}
