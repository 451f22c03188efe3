"""Answer links in emails: signed by the dispatcher into the email (an SMS gets a short one), the page
asks first (GET has no effect), the POST answers once; used, expired and forged links say so."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import update

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.links import SALT, make_token
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.store.store import Store
from tests.responses.test_record import BASE, participation, rows
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import read_log

pytestmark = pytest.mark.anyio
SERVER = "server:\n  public_url: https://clinic.example.org\n  secret_key: test-secret-not-for-production\n"
START = datetime(2030, 6, 12, 14, tzinfo=UTC)


@pytest.fixture
def settings(reminder_settings: SettingsMaker) -> Settings:
    return reminder_settings(BASE, extra_notifiers=SERVER)


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, store)),
                                 base_url="https://clinic.example.org") as client:
        yield client


def booked(settings: Settings, store: Store, tmp_path: Any, channel: str = "email", language: str = "es") -> str:
    """Books an appointment, sends its confirmation, returns the message body."""
    put(store, appointment("A1", START, channel=channel, language=language))
    plan(settings, store, START - timedelta(days=10))
    Dispatcher(settings, store, START - timedelta(days=10)).run()
    [message] = read_log(tmp_path / ("mails.jsonl" if channel == "email" else "texts.jsonl"))
    return str(message["body"])


def links(body: str) -> dict[str, str]:
    # distinct: "ask for another time" is the confirm link's page at ?step=reschedule
    found = list(dict.fromkeys(re.findall(r"https://clinic\.example\.org(/r/[\w.\-]+)", body)))
    assert len(found) == 2, body
    return {"confirm": found[0], "decline": found[1]}


async def test_an_email_link_confirms_once(client: httpx.AsyncClient, store: Store, settings: Settings,
                                           tmp_path: Any) -> None:
    url = links(booked(settings, store, tmp_path))["confirm"]
    page = await client.get(url)
    assert page.status_code == 200 and '<html lang="es">' in page.text and "¿Vendrá a su cita?" in page.text
    assert '<form method="post"' in page.text and "<script" not in page.text
    assert participation(store) == {"A1": None} and rows(store, RESPONSES) == []  # looking changes nothing
    answered = await client.post(url)
    assert answered.status_code == 200 and "su cita está confirmada" in answered.text
    assert participation(store) == {"A1": "accepted"}
    [response] = rows(store, RESPONSES)
    assert (response.channel, response.action, response.outcome, response.sender) == (
        "email", "confirm", "applied", "ana@example.org")
    assert [w.participant_status for w in rows(store, WRITEBACKS)] == ["accepted"]
    again = await client.get(url)  # the link stays usable: it says what stands and offers the rest
    assert again.status_code == 200 and "Usted confirmó esta cita." in again.text and 'id="confirm"' not in again.text
    assert 'id="cancel"' in again.text and "¿Ha cambiado de idea?" in again.text
    assert (await client.post(url)).status_code == 200  # the same answer again (a reload) records nothing
    assert len(rows(store, RESPONSES)) == 1 and len(rows(store, WRITEBACKS)) == 1


async def test_the_decline_link_and_a_used_pair(client: httpx.AsyncClient, store: Store, settings: Settings,
                                                tmp_path: Any) -> None:
    urls = links(booked(settings, store, tmp_path, language="en"))
    assert "Cancel this appointment?" in (await client.get(urls["decline"])).text
    assert "Your appointment is cancelled" in (await client.post(urls["decline"])).text
    assert participation(store) == {"A1": "declined"}
    assert (await client.post(urls["confirm"])).status_code == 409  # cancelled is final online
    assert participation(store) == {"A1": "declined"}


async def test_sms_carries_the_short_link_not_the_long_ones(store: Store, settings: Settings,
                                                             tmp_path: Any) -> None:
    body = booked(settings, store, tmp_path, channel="sms", language="en")
    assert re.search(r"Confirm: https://clinic\.example\.org/a/\w+ Reply STOP to opt out\.$", body), body
    assert "/r/" not in body  # the long email links stay out of SMS (tests/responses/test_short_links.py)


async def test_expired_forged_and_foreign_links(client: httpx.AsyncClient, store: Store, settings: Settings,
                                                tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    booked(settings, store, tmp_path)
    key = rows(store, REMINDERS)[0].key
    real = time.time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real() - 40 * 86400)
    old = make_token(settings, key, "confirm")
    monkeypatch.setattr("itsdangerous.timed.time.time", real)
    assert (await client.get(f"/r/{old}")).status_code == 200  # older than link_max_age: lives until the visit
    with store.engine.begin() as connection:  # without an appointment, link_max_age bounds it
        connection.execute(update(REMINDERS).values(appointment_id=None))
    expired = await client.post(f"/r/{old}")
    assert expired.status_code == 410 and "This link has expired" in expired.text
    good = make_token(settings, key, "confirm")
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    assert (await client.post(f"/r/{forged}")).status_code == 404
    foreign = URLSafeTimedSerializer("another-secret", salt=SALT).dumps({"k": key, "a": "confirm"})
    assert (await client.get(f"/r/{foreign}")).status_code == 404
    unknown = make_token(settings, "a999:patient:reminder:1d:v1", "confirm")
    assert (await client.get(f"/r/{unknown}")).status_code == 404
    assert participation(store) == {"A1": None} and rows(store, RESPONSES) == []
