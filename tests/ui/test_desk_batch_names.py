"""After "All came in" the desk reads which visits it recorded, not only how many, and its
Undo says what it takes back; after that Undo, which visits are back on Earlier today. Over
HTTP, on SQLite and PostgreSQL, with the seed's patients (tests/ui/seed.py)."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from clinicsync.sync.desk.actions import record_action, seen_of
from tests.ui.test_desk import DESK, csrf_of
from tests.ui.test_desk_earlier import NOON, _clock, _strip, started_visits

pytestmark = pytest.mark.anyio
Desk = tuple[httpx.AsyncClient, dict[str, int]]
NAMES = ["Jamal Weber, 8:00 AM", "Yara García, 8:20 AM", "Umar Nguyen, 8:40 AM"]  # started_visits' order


def _named(html: str, form: str) -> list[str]:
    """The visits a status line names, as read: 'Jamal Weber, 8:00 AM'."""
    part = html.split(form, 1)[1].split("</ul>", 1)[0].split('<ul class="batch-visits">', 1)[1]
    return [re.sub(r"<[^>]+>", "", li).replace("\u202f", " ").strip() for li in re.findall(r"<li>(.*?)</li>", part)]


async def test_all_came_in_names_each_visit_and_its_undo_says_what_it_takes_back(desk: Desk) -> None:
    client, _ = desk
    store = client._transport.app.state.store  # type: ignore[attr-defined]
    started = started_visits(store, 3)
    _clock(client, NOON)
    page = (await client.get("/ui/", headers=DESK)).text
    visits = re.findall(r'name="visit" value="([^"]+)"', _strip(page))
    posted = await client.post("/ui/earlier-today/arrived", headers=DESK, data={"csrf": csrf_of(page), "visit": visits})
    after = (await client.get(posted.headers["location"], headers=DESK)).text
    assert "Recorded: came in, for 3 visits." in after
    assert _named(after, 'id="undo-form"') == NAMES
    links = re.findall(r'<ul class="batch-visits">.*?</ul>', after, re.S)[0]
    assert re.findall(r'href="/ui/appointments/(\d+)"', links) == [str(i) for i in started]
    assert re.search(r'<button type="submit" id="undo">Undo came in for these 3</button>', after)
    undo = re.findall(r'name="action" value="([^"]+)"', after.split('id="undo-form"')[1].split("</form>")[0])
    undone = await client.post("/ui/desk-actions/undo-all", headers=DESK, data={"csrf": csrf_of(after), "action": undo})
    assert undone.status_code == 303
    back = (await client.get(undone.headers["location"], headers=DESK)).text
    assert "Undone: came in, for 3 visits; they are on Earlier today again." in back
    assert _named(back, 'id="undone"') == NAMES
    assert "back as it was before that action" not in back  # the single action's words named no visit here


async def test_only_the_visits_recorded_are_named_and_one_undo_says_this_visit(desk: Desk) -> None:
    """Another desk marks the second a no-show after the page was drawn: it is left out, and
    the line names the one visit recorded."""
    client, _ = desk
    store = client._transport.app.state.store  # type: ignore[attr-defined]
    started = started_visits(store, 2)
    _clock(client, NOON)
    page = (await client.get("/ui/", headers=DESK)).text
    visits = re.findall(r'name="visit" value="([^"]+)"', _strip(page))
    settings = client._transport.app.state.settings  # type: ignore[attr-defined]
    record_action(settings, store, started[1], "no_show", "desk2", "front_desk", NOON,
                  seen=seen_of(store, [started[1]])[started[1]].digest)
    posted = await client.post("/ui/earlier-today/arrived", headers=DESK, data={"csrf": csrf_of(page), "visit": visits})
    assert "left=1" in posted.headers["location"]
    after = (await client.get(posted.headers["location"], headers=DESK)).text
    assert "Recorded: came in, for 1 visit." in after and _named(after, 'id="undo-form"') == NAMES[:1]
    assert "Undo came in for this visit</button>" in after


async def test_a_hand_made_link_names_no_visit_it_did_not_record(desk: Desk) -> None:
    """``done=m<ids>`` names the visits of those came-in actions only: nothing for an action
    that does not exist, nor for another kind of action (a cancel's id put in by hand)."""
    client, _ = desk
    store = client._transport.app.state.store  # type: ignore[attr-defined]
    settings = client._transport.app.state.settings  # type: ignore[attr-defined]
    [visit] = started_visits(store, 1, first=NOON + timedelta(hours=3))  # later today: a cancel fits
    row = record_action(settings, store, visit, "cancel", "desk2", "front_desk", NOON,
                        seen=seen_of(store, [visit])[visit].digest, reason="patient_asked")
    assert row is not None
    _clock(client, NOON)
    page = (await client.get(f"/ui/?done=m999999.abc.{row['id']}", headers=DESK)).text
    assert "Recorded: came in, for 0 visits." in page and "<li>" not in page.split('id="undo-form"')[1][:400]
