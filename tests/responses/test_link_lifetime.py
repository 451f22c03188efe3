"""How long an answer link lives (issue 30): until the visit it names is over, whatever its age;
``responses.link_max_age`` bounds only a link whose appointment cannot be found. Email links
(/r/) and SMS short links (/a/) alike, on SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.links import make_token
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.responses.test_links import booked, client, links, settings
from tests.responses.test_record import participation, rows
from tests.responses.test_short_links import short_link

pytestmark = pytest.mark.anyio
__all__ = ["client", "settings"]  # fixtures
A = Appointment.__table__  # type: ignore[attr-defined]
DAY = timedelta(days=1)

# (case, link age in days, visit start from now (None: the appointment cannot be found),
#  visit moved after the message, expected status, expected heading)
CASES = [
    ("45-day-old link, visit tomorrow", 45, DAY, False, 200, "Will you come?"),
    ("visit ended yesterday", 3, -DAY, False, 410, "can no longer be answered online"),
    ("unknown appointment, older than link_max_age", 45, None, False, 410, "This link has expired"),
    ("unknown appointment, younger than link_max_age", 3, None, False, 404, "This link is not valid"),
    ("45-day-old link, visit moved", 45, 2 * DAY, True, 410, "has changed since this message was sent"),
]


def aged_link(settings: Settings, store: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, short: bool,
              age_days: int) -> str:
    """A link to the booked visit, sent ``age_days`` ago."""
    body = booked(settings, store, tmp_path, channel="sms" if short else "email", language="en")
    sent = utcnow() - timedelta(days=age_days)
    with store.engine.begin() as connection:
        connection.execute(update(REMINDERS).values(sent_at=sent, created_at=sent))
    if short:
        return short_link(body)
    key = next(r.key for r in rows(store, REMINDERS) if r.status == "sent")
    real = time.time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real() - age_days * 86400)
    token = make_token(settings, key, "confirm")
    monkeypatch.setattr("itsdangerous.timed.time.time", real)
    assert token != links(body)["confirm"][3:]  # signed at another moment than the email's link
    return f"/r/{token}"


def set_visit(store: Store, start_in: timedelta | None, moved: bool) -> None:
    """Puts the visit ``start_in`` from now (the message told that time unless ``moved``), or
    unlinks the reminders from it (``None``: the appointment cannot be found)."""
    with store.engine.begin() as connection:
        if start_in is None:
            connection.execute(update(REMINDERS).values(appointment_id=None))
            return
        start = (utcnow() + start_in).replace(microsecond=0)
        connection.execute(update(A).values(start_utc=start, end_utc=start + timedelta(minutes=30)))
        told = start - DAY if moved else start
        connection.execute(update(REMINDERS).values(starts_at=told))


@pytest.mark.parametrize("short", [False, True], ids=["email /r/", "sms /a/"])
@pytest.mark.parametrize(("case", "age", "start_in", "moved", "status", "heading"), CASES, ids=[c[0] for c in CASES])
async def test_a_link_lives_until_its_visit(client: httpx.AsyncClient, store: Store, settings: Settings,
                                            tmp_path: Any, monkeypatch: pytest.MonkeyPatch, short: bool, case: str,
                                            age: int, start_in: timedelta | None, moved: bool, status: int,
                                            heading: str) -> None:
    assert settings.responses.link_max_age == "30d"
    path = aged_link(settings, store, tmp_path, monkeypatch, short, age)
    set_visit(store, start_in, moved)
    page = await client.get(path)
    assert page.status_code == status and heading in page.text, (case, page.text)
    answered = await client.post(path, data={"choice": "confirm"})
    assert answered.status_code == status, (case, answered.text)
    assert participation(store) == {"A1": "accepted" if status == 200 else None}, case


@pytest.mark.parametrize("short", [False, True], ids=["email /r/", "sms /a/"])
async def test_a_tampered_old_link_to_a_coming_visit_is_the_uniform_404(
        client: httpx.AsyncClient, store: Store, settings: Settings, tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch, short: bool) -> None:
    path = aged_link(settings, store, tmp_path, monkeypatch, short, 45)
    set_visit(store, DAY, False)
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    refused = await client.post(tampered, data={"choice": "confirm"})
    assert refused.status_code == 404 and "This link is not valid" in refused.text
    assert participation(store) == {"A1": None}
