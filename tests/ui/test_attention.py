"""The front desk's work list and the reminders queue: who needs a call and why, full
names and phones for the front_desk role (with an access-log row per view), masked for the
viewer role and the bearer token; times as shown_time shows them (the clinic's locale clock)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, select

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.runs.access_log import ACCESS_LOG
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Patient
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.responses import RESPONSES
from clinicsync.sync.store.store import Store
from tests.ui.seed import NOW, ask_to_reschedule, seed
from tests.ui.test_desk import csrf_of, seen_in
from tests.ui.test_pages import HASH, PASSWORD, basic

pytestmark = pytest.mark.anyio


TOKEN = "tok-Vx7qL2mNp9Rb4Kw8Zt3Yh6J"  # strong enough for ui.token (issue 16)

@pytest.fixture
async def client(tmp_path: Path, store_url: str, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    path = tmp_path / "settings.yaml"
    path.write_text(
        f'clinic:\n  timezone: America/New_York\nstore:\n  url: "{store_url}"\nui:\n  token: {TOKEN}\n  users:\n'
        f'    - name: desk\n      password_hash: "{HASH}"\n      role: front_desk\n'
        f'    - name: manager\n      password_hash: "{HASH}"\n', encoding="utf-8")
    ids = seed(store)
    with store.engine.begin() as connection:
        connection.execute(insert(Patient.__table__).values(  # type: ignore[attr-defined]
            connector="sql", external_id="P2", name="Yara García", phone="+17185550163", content_hash="h",
            updated_at=NOW))  # A6 comes from the sql connector
    ask_to_reschedule(store, ids["A5"])
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


def access_rows(store: Store) -> list[tuple[str, str, str, int]]:
    with store.engine.connect() as connection:
        return [(r.user, r.role, r.view, r.patients) for r in connection.execute(select(ACCESS_LOG))]


async def test_the_front_desk_sees_who_to_call_and_the_view_is_logged(client: httpx.AsyncClient,
                                                                      store: Store) -> None:
    page = await client.get("/ui/attention", headers=basic("desk", PASSWORD))
    assert page.status_code == 200
    html = page.text
    # A5 (Jamal, confirmed) asked for another time; A6 (Yara, not confirmed, within 48 h) had a failed SMS.
    assert "Jamal Weber" in html and "+1 201-555-0165" in html and "Mornings please" in html
    assert "Yara García" in html and 'href="tel:+17185550163"' in html
    assert html.index("Jamal Weber") < html.index("Yara García")  # soonest first
    row_a6 = html[html.index("Yara García"):]
    assert "failed delivery" in row_a6[:600] and "unconfirmed" in row_a6[:600]
    assert "reschedule request" in html[html.index("Jamal Weber"):html.index("Yara García")]
    assert "Umar" not in html and "Ann Lee" not in html  # past visits need nothing
    assert access_rows(store) == [("desk", "front_desk", "/ui/attention", 2)]


@pytest.mark.parametrize("headers", [basic("manager", PASSWORD), {"Authorization": f"Bearer {TOKEN}"}])
async def test_a_viewer_sees_the_same_list_masked_and_nothing_is_logged(
        client: httpx.AsyncClient, store: Store, headers: dict[str, str]) -> None:
    html = (await client.get("/ui/attention", headers=headers)).text
    assert "J.W." in html and "Y.G." in html and "+1 ••• ••• 0163" in html
    assert "Jamal" not in html and "Yara" not in html and "5550163" not in html and "Mornings" not in html
    assert "reschedule request" in html and "failed delivery" in html
    assert access_rows(store) == []


async def test_the_reminders_queue_and_the_time_convention(client: httpx.AsyncClient) -> None:
    html = (await client.get("/ui/?refresh=60", headers=basic("manager", PASSWORD))).text
    assert '<meta http-equiv="refresh" content="60">' in html
    assert 'id="due-now">0<' in html and 'id="in-flight">0<' in html
    assert 'id="failed">1<' in html and 'id="unknown">1<' in html
    # r6 is due 2026-11-19 13:00 UTC: 8:00 AM in New York (en-US: a 12-hour clock), ISO UTC in the markup.
    assert '<time datetime="2026-11-19T13:00:00+00:00">Thu, Nov 19, 2026, 8:00\u202fAM</time>' in html
    assert "Times in America/New_York (EST, UTC-05:00), unless a zone follows the time" in html
    assert "hover" not in html
    assert " UTC</td>" not in html  # no second convention left in the tables
    assert "<meta http-equiv" not in (await client.get("/ui/?refresh=7", headers=basic("manager", PASSWORD))).text


def attention_rows(html: str) -> list[str]:
    """The action forms' targets on the page: one per row the desk can act on."""
    return re.findall(r'<form method="post" action="/ui/appointments/(\d+)/actions"', html)


async def test_the_desk_acts_from_the_attention_page_and_the_row_leaves(client: httpx.AsyncClient,
                                                                        store: Store) -> None:
    desk = basic("desk", PASSWORD)
    page = (await client.get("/ui/attention", headers=desk)).text
    shown = attention_rows(page)
    assert len(shown) == 2 and "2 appointments to act on" in page  # A5 and A6, each with the work list's buttons
    before_start = ("confirmed_by_phone", "left_message", "cancel")  # upcoming: no no-show, no came-in yet
    assert all(f'value="{key}"' in page for key in before_start) and 'name="back" value="/ui/attention"' in page
    assert 'value="no_show"' not in page and 'value="arrived"' not in page
    target = shown[1]  # A6: not confirmed, a failed SMS
    refused = await client.post(f"/ui/appointments/{target}/actions", headers=desk,
                                data={"action": "confirmed_by_phone", "back": "/ui/attention"})
    assert refused.status_code == 403 and attention_rows((await client.get("/ui/attention", headers=desk)).text) \
        == shown
    posted = await client.post(f"/ui/appointments/{target}/actions", headers=desk, data={
        "csrf": csrf_of(page), "action": "left_message", "back": "/ui/attention", "seen": seen_in(page, int(target))})
    assert posted.status_code == 303 and posted.headers["location"].startswith("/ui/attention?done=a")
    after = (await client.get(posted.headers["location"], headers=desk)).text
    assert attention_rows(after) == [shown[0]] and "1 appointment to act on" in after and "Recorded:" in after
    status, rest = after.split('id="undo-form"')[1].split("</form>", 1)
    assert "Yara García" in status  # the line says whose visit was recorded
    assert "Yara García" not in rest  # handled: gone from the list, as from the work list
    with store.engine.connect() as connection:
        assert [(r.appointment_id, r.action, r.user) for r in connection.execute(select(DESK_ACTIONS))] == [
            (int(target), "left_message", "desk")]
    with store.engine.begin() as connection:  # the patient writes again: the row comes back, as on the work list
        connection.execute(insert(RESPONSES).values(
            channel="sms", sender="+17185550163", body=None, language="en", action="confirm", outcome="unmatched",
            appointment_id=int(target), provider_id="SM-again", received_at=NOW + timedelta(minutes=1)))
    again = (await client.get("/ui/attention", headers=desk)).text
    assert attention_rows(again) == shown


@pytest.mark.parametrize("headers", [basic("manager", PASSWORD), {"Authorization": f"Bearer {TOKEN}"}])
async def test_a_viewer_gets_no_buttons(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    html = (await client.get("/ui/attention", headers=headers)).text
    assert "2 appointments to act on" in html and attention_rows(html) == [] and 'name="csrf"' not in html
