"""Today's Earlier today strip over HTTP, on SQLite and PostgreSQL: folded under its count
(in the header's counts too) so the calls come first, "All came in" with one Undo for all it
recorded, a visit changed meanwhile left on the strip, and a source that records arrivals
itself closing its own started visits instead of the strip growing all day."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from clinicsync.sync.desk.actions import record_action, seen_of
from clinicsync.sync.store.model import Appointment, Patient
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.store import Store
from tests.ui.seed import NOW, _appointment
from tests.ui.test_desk import DESK, csrf_of

pytestmark = pytest.mark.anyio
A, P = Appointment.__table__, Patient.__table__  # type: ignore[attr-defined]
Desk = tuple[httpx.AsyncClient, dict[str, int]]
NOON = NOW + timedelta(hours=2, minutes=10)  # 12:10 PM in New York


def started_visits(store: Store, count: int, connector: str = "front", first: datetime | None = None,
                   status: str = "booked") -> list[int]:
    """``count`` visits of today from 8:00 AM New York (13:00 UTC), one every 20 minutes, of a
    source whose patients are the seed's. The seed's own "csv" source records outcomes (its past
    visits are fulfilled); "front" is a CSV export in which only the desk says who came."""
    first = first or datetime(2026, 11, 18, 13, tzinfo=UTC)
    with store.engine.begin() as connection:
        known = set(connection.execute(select(P.c.external_id).where(P.c.connector == connector)).scalars())
        people = [{**{k: v for k, v in row._mapping.items() if k != "id"}, "connector": connector}
                  for row in connection.execute(select(P).where(P.c.connector == "csv"))
                  if row.external_id not in known]
        if people:
            connection.execute(insert(P), people)
    rows = [_appointment(f"E{connector}{first:%d%H%M}-{i}", first + timedelta(minutes=20 * i), "D1",
                         f"P{1 + i % 3}", status, connector=connector) for i in range(count)]
    with store.engine.begin() as connection:
        connection.execute(insert(A), rows)
        return [r.id for r in connection.execute(select(A.c.id).where(
            A.c.external_id.in_([r["external_id"] for r in rows])).order_by(A.c.start_utc))]


def _clock(client: httpx.AsyncClient, at: datetime) -> None:
    client._transport.app.state.ui_clock = lambda: at  # type: ignore[attr-defined]


def _strip(html: str) -> str:
    return html.split('id="earlier-today"', 1)[1].split("</details>", 1)[0]


def _strip_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'class="work-row earlier-row" data-id="(\d+)"', html)]


def _actions(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(DESK_ACTIONS).order_by(DESK_ACTIONS.c.id)))


async def test_the_strip_is_folded_under_its_count_and_counted_in_the_header(desk: Desk, store: Store) -> None:
    client, _ = desk
    started = started_visits(store, 12)
    _clock(client, NOON)
    page = (await client.get("/ui/", headers=DESK)).text
    opening = re.search(r'<details class="group earlier" id="earlier-today"([^>]*)>', page)
    assert opening is not None and "open" not in opening.group(1)  # folded: the calls come first
    assert re.search(r'<summary><h2>Earlier today \(12\)</h2>', page)
    assert _strip_ids(page) == started  # all there, one click away
    chip = re.search(r'id="earlier-count">Earlier today <strong>(\d+)</strong>', page)
    assert chip is not None and chip.group(1) == "12"
    total = re.search(r"<h1>Today and tomorrow: (\d+) to act on</h1>", page)
    chips = [int(n) for n in re.findall(r'class="group-link[^"]*"[^>]*>[^<]*<strong>(\d+)</strong>', page)]
    assert total is not None and int(total.group(1)) == sum(chips)  # the header's figures add up
    assert page.index('id="earlier-today"') < page.index('id="group-no-answer"')
    opened = (await client.get("/ui/?earlier=open", headers=DESK)).text
    assert re.search(r'<details class="group earlier" id="earlier-today" open>', opened)


async def test_all_came_in_records_each_seen_visit_and_one_undo_takes_them_back(desk: Desk, store: Store) -> None:
    client, _ = desk
    started = started_visits(store, 5)
    _clock(client, NOON)
    page = (await client.get("/ui/", headers=DESK)).text
    visits = re.findall(r'name="visit" value="([^"]+)"', _strip(page))
    assert [int(v.split(":")[0]) for v in visits] == started
    # another desk marks the second a no-show after this page was drawn: it is left alone
    record_action(client._transport.app.state.settings, store, started[1], "no_show",  # type: ignore[attr-defined]
                  "desk2", "front_desk", NOON, seen=seen_of(store, [started[1]])[started[1]].digest)
    posted = await client.post("/ui/earlier-today/arrived", headers=DESK,
                               data={"csrf": csrf_of(page), "visit": visits})
    assert posted.status_code == 303 and "left=1" in posted.headers["location"]
    recorded = [a for a in _actions(store) if a.action == "arrived"]
    assert sorted(a.appointment_id for a in recorded) == sorted(set(started) - {started[1]})
    assert {a.user for a in recorded} == {"desk"}
    after = (await client.get(posted.headers["location"], headers=DESK)).text
    assert "Recorded: came in, for 4 visits." in after and 'id="undo"' in after
    assert 'id="left"' in after and "1 not recorded" in after
    assert 'id="earlier-today"' not in after  # the no-show and the four who came in: all closed
    undo = re.findall(r'name="action" value="([^"]+)"', after.split('id="undo-form"')[1].split("</form>")[0])
    assert len(undo) == 4
    undone = await client.post("/ui/desk-actions/undo-all", headers=DESK, data={"csrf": csrf_of(after),
                                                                                 "action": undo})
    assert undone.status_code == 303 and "left" not in undone.headers["location"]
    assert all(a.undone_at is not None for a in _actions(store) if a.action == "arrived")
    back = (await client.get("/ui/", headers=DESK)).text
    assert _strip_ids(back) == [i for i in started if i != started[1]]


async def test_a_forged_visit_field_is_refused_with_its_position(desk: Desk, store: Store) -> None:
    client, _ = desk
    started_visits(store, 1)
    _clock(client, NOON)
    page = (await client.get("/ui/", headers=DESK)).text
    posted = await client.post("/ui/earlier-today/arrived", headers=DESK,
                               data={"csrf": csrf_of(page), "visit": ["Umar Nguyen"]})
    assert posted.status_code == 422 and "visit #1" in posted.text and "Umar" not in posted.text
    assert _actions(store) == []


async def test_a_source_that_records_arrivals_closes_its_own_started_visits(desk: Desk, store: Store) -> None:
    client, _ = desk
    own = started_visits(store, 12, connector="sql")  # 8:00 AM to 11:40 AM, still booked at the source
    started_visits(store, 1, connector="sql", first=datetime(2026, 11, 17, 14, tzinfo=UTC), status="fulfilled")
    by_desk = started_visits(store, 2)
    _clock(client, NOON)
    page = (await client.get("/ui/", headers=DESK)).text
    # 11:20 and 11:40 AM are late (within the hour): the desk may still mark them; the source closes the rest
    assert _strip_ids(page) == by_desk + own[-2:]
    chip = re.search(r'id="earlier-count">Earlier today <strong>(\d+)</strong>', page)
    assert chip is not None and chip.group(1) == "4"
