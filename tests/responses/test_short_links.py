"""Short signed answer links in SMS (/a/<id><mac>): the dispatcher puts one in the text when
the message stays one segment, the same answer page opens from it and confirms the
appointment; an altered, foreign or expired link is refused, and a used one says so."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import update

from clinicsync.common.types import utcnow
from clinicsync.sync.config.clinic import ClinicSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.reminders import RemindersSettings
from clinicsync.sync.reminders.compose import Composer, Draft
from clinicsync.sync.reminders.links import BASE62, MAC_CHARS, make_short_token, short_token
from clinicsync.sync.reminders.render import Renderer
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.store.store import Store
from tests.responses.test_links import booked, client, settings
from tests.responses.test_record import participation, rows
from tests.sync.reminders.test_messages import visit

pytestmark = pytest.mark.anyio
__all__ = ["client", "settings"]  # fixtures


def short_link(body: str) -> str:
    [path] = re.findall(r"https://clinic\.example\.org(/a/\w+)", body)
    return path


async def test_an_sms_short_link_confirms_the_appointment(client: httpx.AsyncClient, store: Store,
                                                          settings: Settings, tmp_path: Any) -> None:
    body = booked(settings, store, tmp_path, channel="sms", language="en")
    path = short_link(body)
    [reminder] = [r for r in rows(store, REMINDERS) if r.status == "sent"]
    assert len(path) - len("/a/") <= MAC_CHARS + 2 and str(reminder.segments) == "1", body
    page = await client.get(path)
    assert page.status_code == 200 and "Will you come?" in page.text and "Dr. Amelia Hart" in page.text
    assert f'action="{path}"' in page.text and "<script" not in page.text
    assert participation(store) == {"A1": None}  # looking changes nothing
    answered = await client.post(path, data={"choice": "confirm"})
    assert answered.status_code == 200 and "your appointment is confirmed" in answered.text, answered.text
    assert participation(store) == {"A1": "accepted"}
    [response] = rows(store, RESPONSES)
    assert (response.channel, response.action, response.outcome) == ("sms", "confirm", "applied")
    assert [w.participant_status for w in rows(store, WRITEBACKS)] == ["accepted"]
    again = await client.get(path)  # usable until the visit: the latest answer stands
    assert again.status_code == 200 and "You confirmed this appointment." in again.text
    assert (await client.post(path, data={"choice": "decline"})).status_code == 200  # changed their mind
    assert participation(store) == {"A1": "declined"}
    assert [w.participant_status for w in rows(store, WRITEBACKS)] == ["accepted", "declined"]
    assert (await client.post(path, data={"choice": "confirm"})).status_code == 409  # cancelled is final online


async def test_the_short_link_offers_cancel_with_its_confirmation_step(client: httpx.AsyncClient, store: Store,
                                                                       settings: Settings, tmp_path: Any) -> None:
    path = short_link(booked(settings, store, tmp_path, channel="sms", language="es"))
    step = await client.get(f"{path}?step=cancel")
    assert step.status_code == 200 and '<html lang="es">' in step.text and f'action="{path}"' in step.text
    assert participation(store) == {"A1": None}
    done = await client.post(path, data={"choice": "decline"})
    assert done.status_code == 200 and participation(store) == {"A1": "declined"}


async def test_altered_foreign_and_expired_short_links_are_refused(client: httpx.AsyncClient, store: Store,
                                                                   settings: Settings, tmp_path: Any) -> None:
    path = short_link(booked(settings, store, tmp_path, channel="sms", language="en"))
    token = path.removeprefix("/a/")
    [reminder] = [r for r in rows(store, REMINDERS) if r.status == "sent"]
    flip = token[:-1] + ("A" if token[-1] != "A" else "B")  # the MAC altered
    other_id = BASE62[(BASE62.index(token[0]) + 1) % 62] + token[1:]  # pointed at another reminder
    assert {flip, other_id}.isdisjoint({token})
    assert settings.server is not None
    foreign = settings.model_copy(update={"server": settings.server.model_copy(
        update={"secret_key": SecretStr("another-secret")})})
    for bad in (flip, other_id, make_short_token(foreign, reminder.id, reminder.key), "0" + token, token[:-1],
                "x" * 40, "abc$def1234567", "z" * 11 + token[-MAC_CHARS:], "B" + "0" * 10 + token[-MAC_CHARS:],
                short_token(2**31, token[-MAC_CHARS:])):
        # the last three name ids beyond 64 bits, or beyond PostgreSQL's INTEGER (found by the
        # OpenAPI fuzz: a 503 there): no row, and no store error either
        refused = await client.post(f"/a/{bad}", data={"choice": "confirm"})
        assert refused.status_code == 404 and "clinic" in refused.text.lower(), bad
    assert participation(store) == {"A1": None} and rows(store, RESPONSES) == []

    with store.engine.begin() as connection:  # sent longer ago than responses.link_max_age: still its visit's
        connection.execute(update(REMINDERS).values(sent_at=utcnow() - timedelta(days=40)))
    assert (await client.get(path)).status_code == 200
    with store.engine.begin() as connection:  # and no appointment to bound it: link_max_age does
        connection.execute(update(REMINDERS).values(appointment_id=None))
    expired = await client.post(path, data={"choice": "confirm"})
    assert expired.status_code == 410 and "This link has expired" in expired.text
    assert participation(store) == {"A1": None}


def test_no_room_in_one_segment_means_no_link_and_the_reply_line_instead() -> None:
    def render(host: str) -> Any:
        composer = Composer(RemindersSettings(), ClinicSettings(name="Demo Family Practice",
                                                                timezone="America/New_York"),
                            Renderer(), replies=True, short_links=lambda rid, key: f"{host}/a/{rid}K3x9QpZ2aB")
        return composer.render(Draft("a1:patient:reminder:v3", "reminder", "patient", "en", visit=visit(),
                                     reminder_id=77), "sms", visit().start)

    short = render("https://c.example")
    assert "Confirm: https://c.example/a/77K3x9QpZ2aB" in short.text and short.segments == 1, short.text
    assert "Dr. Priya Natarajan" not in short.text  # the page behind the link names the doctor
    long = render("https://appointments.springfield-family-medicine.example.org")
    assert "/a/" not in long.text and "Reply C to confirm, X to cancel." in long.text and long.segments == 1
    assert "Dr. Priya Natarajan" in long.text
