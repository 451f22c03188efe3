"""The offer page behind a waitlist message's link, through the real app: what it shows (the
slot in its zone, labelled, doctor and place, in the patient's language, no script), that GET
changes nothing, that "Take this slot" wins once and a second patient learns it was just taken,
"No thanks", and forged links."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.responses.offer_text import OFFER_TEXT
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Patient
from clinicsync.sync.store.model.waitlist import FREED_SLOTS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.offer_links import make_offer_token, read_offer_token
from clinicsync.sync.waitlist.stage import run_waitlist
from tests.sync.reminders.conftest import SettingsMaker
from tests.waitlist.test_offers import DAY, PHONE, make, offers, rows, texts, token_of, waiting_patients

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(reminder_settings: SettingsMaker) -> Settings:
    return make(reminder_settings)


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, store)),
                                 base_url="https://clinic.example.org") as client:
        yield client


def text(page: httpx.Response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page.text).split())


def offered(settings: Settings, store: Store, tmp_path: Path) -> dict[str, str]:
    """W2 and W1 get an offer for P1's cancelled 10:00 slot; their link paths by patient."""
    from clinicsync.sync.responses.record import handle_reply

    waiting_patients(store)
    with store.engine.begin() as connection:
        patients = Patient.__table__  # type: ignore[attr-defined]
        connection.execute(update(patients).where(patients.c.external_id == "W1").values(language="es"))
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    run_waitlist(settings, store, DAY)
    return {{"+12125550201": "W1", "+12125550202": "W2"}[m["to"]]: f"/w/{token_of(m)}" for m in texts(tmp_path)}


async def test_the_page_shows_the_slot_and_the_first_take_wins(
        client: httpx.AsyncClient, settings: Settings, store: Store, tmp_path: Path) -> None:
    links = offered(settings, store, tmp_path)
    page = await client.get(links["W2"])
    assert page.status_code == 200 and "<script" not in page.text and '<html lang="en">' in page.text
    seen = text(page)
    for expected in ("An earlier appointment is free", "Wed, Jun 12, 2030", "10:00 AM",
                     "Time shown in: Eastern Daylight Time", "Dr. Amelia Hart", "Main Street Clinic",
                     "Take this slot", "No thanks", "It goes to the first patient who takes it."):
        assert expected in seen, expected
    assert 'name="viewport"' in page.text and 'id="take"' in page.text
    assert "Ruiz" not in seen and PHONE not in page.text  # never the cancelling patient, minimum necessary
    assert [s.status for s in rows(store, FREED_SLOTS)] == ["open"]  # GET changes nothing

    spanish = await client.get(links["W1"])
    assert '<html lang="es">' in spanish.text and "Tomar esta cita" in text(spanish)
    assert "mié, 12 jun 2030 10:00" in text(spanish) and "Tomar esta cita" in text(spanish)

    won = await client.post(links["W2"], data={"choice": "take"})
    assert won.status_code == 200 and "This slot is yours" in text(won) and 'id="take"' not in won.text
    again = await client.get(links["W2"])
    assert "This slot is yours" in text(again)
    late = await client.post(links["W1"], data={"choice": "take"})
    assert late.status_code == 409 and OFFER_TEXT["es"]["taken"] in text(late)
    [slot] = rows(store, FREED_SLOTS)
    assert slot.status == "taken" and slot.taken_offer_id == read_offer_token(settings, links["W2"][3:])
    # W1 was told on the page: the next cycle sends nobody a "just been taken" message.
    assert run_waitlist(settings, store, DAY + timedelta(minutes=1))["told_taken"] == 0


async def test_no_thanks_keeps_the_patient_waiting_and_forged_links_say_not_valid(
        client: httpx.AsyncClient, settings: Settings, store: Store, tmp_path: Path) -> None:
    links = offered(settings, store, tmp_path)
    declined = await client.post(links["W2"], data={"choice": "decline"})
    assert declined.status_code == 200 and "You stay on the waiting list" in text(declined)
    assert [o.status for o in offers(store).values()].count("declined") == 1
    assert (await client.post(links["W2"], data={"choice": "take"})).status_code == 200  # shows "no thanks" again
    assert [s.status for s in rows(store, FREED_SLOTS)] == ["open"]
    forged = links["W1"][:-1] + ("A" if links["W1"][-1] != "A" else "B")
    assert (await client.get(forged)).status_code == 404
    assert (await client.get("/w/" + make_offer_token(settings, 999))).status_code == 404


def test_every_language_of_the_offer_page_has_the_english_words() -> None:
    for language, words in OFFER_TEXT.items():
        assert set(words) == set(OFFER_TEXT["en"]), language


@pytest.mark.parametrize(("hold", "shown"), [
    ("30m", {"W2": "We keep it for you until 12:30 PM EDT;",
             "W1": "Se la guardamos hasta las 12:30 EDT;"}),
    ("20h", {"W2": "We keep it for you until Mon, Jun 3, 2030, 8:00 AM EDT;",  # the hold's day: not today
             "W1": "Se la guardamos hasta el lun, 3 jun 2030, a las 8:00 EDT;"}),
])
async def test_the_page_says_until_when_a_sequential_offer_is_held_with_its_zone_and_day(
        reminder_settings: SettingsMaker, store: Store, tmp_path: Path, hold: str, shown: dict[str, str]) -> None:
    """As the SMS and the email, the page states the hold of a `sequential` offer in the
    slot's zone, labelled with the hold's own abbreviation, and its day when that is not today."""
    from tests.waitlist.test_offers import waitlist

    settings = reminder_settings(
        "quiet_hours: {start: \"21:00\", end: \"08:00\"}\nagenda: {enabled: false}\noffsets: [1d]\n"
        "channels: [sms, email]\nroutes: {sms: texts, email: mails}",
        extra_notifiers="server:\n  public_url: https://clinic.example.org\n  secret_key: test-secret-not-for-"
                        "production\n" + waitlist("sequential", hold=hold, batch_size=1))
    waiting_patients(store)
    with store.engine.begin() as connection:
        patients = Patient.__table__  # type: ignore[attr-defined]
        connection.execute(update(patients).where(patients.c.external_id == "W1").values(language="es"))
    from clinicsync.sync.responses.record import handle_reply

    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    run_waitlist(settings, store, DAY)  # W2 first (12:00 EDT); then W1, once W2 says no
    [w2] = [m for m in texts(tmp_path) if m["to"] == "+12125550202"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, store)),
                                 base_url="https://clinic.example.org") as client:
        assert shown["W2"] in text(await client.get(f"/w/{token_of(w2)}")).replace("\u202f", " ")
        await client.post(f"/w/{token_of(w2)}", data={"choice": "decline"})
        run_waitlist(settings, store, DAY)
        [w1] = [m for m in texts(tmp_path) if m["to"] == "+12125550201"]
        assert shown["W1"] in text(await client.get(f"/w/{token_of(w1)}")).replace("\u202f", " ")
