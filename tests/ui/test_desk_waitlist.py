"""Waitlist tasks come first on Today and are counted (issue 58, obs 4): the patient's name, a
phone formatted for dialling with a tap-to-call link, and the clinic's name for its system."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, select

from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.reminders.compose import shown_number
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Location
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.book import run_booking
from tests.ui.seed import NOW, seed, seed_desk
from tests.ui.test_desk import DESK, csrf_of, row_ids, settings_text
from tests.waitlist import book_rows

pytestmark = pytest.mark.anyio
LABEL = "Front Desk EHR"
SLOT = (NOW + timedelta(days=1)).replace(hour=19, minute=0)  # tomorrow 2:00 PM in New York


def waitlist_settings(tmp_path: Path, store_url: str, *, clinic_name: str | None = None,
                      more_connectors: str = "") -> Settings:
    """The waiting list's labelled source; ``more_connectors``: further entries of the list
    (tests.ui.seed.seed_source), ``clinic_name`` the name the page's header shows."""
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    connectors = (f"connectors:\n  - name: clinic\n    kind: csv\n    label: {LABEL}\n    drop_dir: {drop}\n"
                  "    mapping: csv_default\n" + more_connectors)
    text = settings_text(store_url, connectors)
    if clinic_name:
        text = text.replace("clinic:\n", f"clinic:\n  name: {clinic_name}\n", 1)
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


@pytest.fixture
async def today(tmp_path: Path, store_url: str, store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """The desk's Today with its visit rows and one promised slot the desk must book by hand."""
    settings = waitlist_settings(tmp_path, store_url)
    seed_desk(store, seed(store))
    seeded = book_rows.seed(store, "clinic", start=SLOT)
    with store.engine.begin() as connection:  # the source names its room
        connection.execute(insert(Location.__table__).values(connector="clinic", external_id="room-1",
                                                             name="Main Street Clinic"))
    assert run_booking(settings, store, NOW)["desk_task"] == 1
    app = create_app(settings, store)
    app.state.ui_clock = lambda: NOW
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client, seeded.slot_id


async def test_the_waitlist_task_is_first_counted_and_in_the_desks_words(
        today: tuple[httpx.AsyncClient, int]) -> None:
    client, slot_id = today
    html = (await client.get("/ui/", headers=DESK)).text
    visits = len(row_ids(html))
    assert visits > 0
    count = re.search(r"<h1>Today and tomorrow: (\d+) to act on</h1>", html)
    assert count and int(count.group(1)) == visits + 1
    assert re.search(r'id="waitlist-count">Waitlist <strong>1</strong>', html)
    task = html.index(f'data-slot="{slot_id}"')
    assert task < html.index('<li class="work-row" data-id=') and task < html.index('id="day-counts"') + 5000
    section = html[html.index('id="waitlist"'):html.index("</section>", task)]
    assert "Book this patient into this slot" in section and "Mara Quint" in section
    assert '<a href="tel:+12125550142" class="phone">(212) 555-0142</a>' in section
    assert f"at Main Street Clinic, in {LABEL}" in section and "room-1" not in section
    assert f"in {LABEL}" in section and "book the patient there by hand" in section
    text = re.sub(r"<[^>]+>", " ", section)
    for raw in ("+12125550142", "clinic p2", "(clinic", "csv source", "by hand in clinic"):
        assert raw not in text, raw
    assert 'class="primary"' in section


async def test_a_filter_by_group_leaves_the_count_and_hides_the_section(today: tuple[httpx.AsyncClient, int]) -> None:
    client, slot_id = today
    html = (await client.get("/ui/?need=no-answer", headers=DESK)).text
    assert f'data-slot="{slot_id}"' not in html and 'id="waitlist-count"' in html


def test_phones_are_national_at_home_and_international_abroad() -> None:
    assert shown_number("+12125550142", "US") == "(212) 555-0142"  # the helper the reminders use too
    assert shown_number("+442079460958", "US") == "+44 20 7946 0958"
    assert shown_number("not a phone", "US") == "not a phone"


def test_a_refusal_names_the_system_not_the_connector() -> None:
    from clinicsync.sync.ui.desk_waitlist import _why
    from clinicsync.sync.waitlist.book_tasks import WaitlistTask

    task = WaitlistTask(kind="call", slot_id=1, start_utc=NOW, timezone="America/New_York", connector="a",
                        doctor="Dr Ana Doc", location=None, visit_type=None, patient_connector="a", patient_ref="p2",
                        patient="Mara Quint", phone=None, reason="connector a: POST Appointment answered HTTP 422")
    assert _why(task, "OpenEMR") == "OpenEMR: POST Appointment answered HTTP 422"


async def test_an_accepted_offer_is_on_today_at_once_before_the_booking_stage_runs(
        tmp_path: Path, store_url: str, store: Store) -> None:
    """The patient pressed "Take this slot" a moment ago: Today says so at once (the Waitlist
    page already counts it), with nothing to press and outside the counts, and the booking
    stage's next run turns it into the task the desk acts on."""
    settings = waitlist_settings(tmp_path, store_url)
    seed_desk(store, seed(store))
    seeded = book_rows.seed(store, "clinic", start=SLOT)
    app = create_app(settings, store)
    app.state.ui_clock = lambda: NOW
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        html = (await client.get("/ui/", headers=DESK)).text
        row = html.split(f'data-slot="{seeded.slot_id}"')[1].split("</li>")[0]
        assert "Taken from the waitlist: booking under way" in row and "Mara Quint" in row
        assert f"writes it to {LABEL} at its next run" in row and "<form" not in row
        count = re.search(r"<h1>Today and tomorrow: (\d+) to act on</h1>", html)
        assert count and int(count.group(1)) == len(row_ids(html))  # nothing to act on yet
        assert 'id="waitlist-count"' not in html
        assert run_booking(settings, store, NOW)["desk_task"] == 1
        after = (await client.get("/ui/", headers=DESK)).text
        task = after.split(f'data-slot="{seeded.slot_id}"')[1].split("</li>")[0]
        assert "Book this patient into this slot" in task and 'value="booked"' in task
        assert re.search(r'id="waitlist-count">Waitlist <strong>1</strong>', after)


async def test_booked_by_hand_names_the_patient_and_can_be_undone(
        today: tuple[httpx.AsyncClient, int], store: Store) -> None:
    client, slot_id = today
    entry_before = _entry_status(store, slot_id)
    page = (await client.get("/ui/", headers=DESK)).text
    booked = await client.post(f"/ui/waitlist/slots/{slot_id}/book", headers=DESK,
                               data={"csrf": csrf_of(page), "answer": "booked"})
    assert booked.status_code == 303 and "done=w" in booked.headers["location"]
    assert (book_rows.slot_row(store, slot_id).booking_status, _entry_status(store, slot_id)) == ("written", "booked")
    after = (await client.get(booked.headers["location"], headers=DESK)).text
    line = re.sub(r"<[^>]+>", "", after.split('id="undo-form"')[1].split("</form>")[0])
    assert "Recorded: booked by hand, Mara Quint at Thu, Nov 19, 2026, 2:00" in line and "Undo" in line
    assert f'data-slot="{slot_id}"' not in after
    undo = after.split('id="undo-form"')[0].rsplit("<form", 1)[1] + after.split('id="undo-form"')[1]
    action = re.search(r'action="(/ui/waitlist/booked/\d+/undo)"', "<form" + undo)
    assert action is not None
    undone = await client.post(action.group(1), headers=DESK, data={"csrf": csrf_of(after)})
    assert undone.status_code == 303
    back = (await client.get(undone.headers["location"], headers=DESK)).text
    assert "Undone: the booking is a task on Today again." in back and f'data-slot="{slot_id}"' in back
    assert (book_rows.slot_row(store, slot_id).booking_status, _entry_status(store, slot_id)) == \
        ("desk_task", entry_before)  # the task as it was, the entry as it was
    with store.engine.connect() as connection:
        [row] = connection.execute(select(DESK_ACTIONS).where(DESK_ACTIONS.c.action == "waitlist_booked")).all()
    assert row.undone_by == "desk"
    again = await client.post(action.group(1), headers=DESK, data={"csrf": csrf_of(back)})
    assert again.status_code == 409 and "already undone" in again.text


async def test_booked_by_hand_is_not_undone_after_the_window(
        today: tuple[httpx.AsyncClient, int], store: Store) -> None:
    client, slot_id = today
    page = (await client.get("/ui/", headers=DESK)).text
    booked = await client.post(f"/ui/waitlist/slots/{slot_id}/book", headers=DESK,
                               data={"csrf": csrf_of(page), "answer": "booked"})
    action_id = booked.headers["location"].split("done=w")[1]
    client._transport.app.state.ui_clock = lambda: NOW + timedelta(minutes=11)  # type: ignore[attr-defined]
    later = (await client.get(booked.headers["location"], headers=DESK)).text
    assert 'id="undo-form"' not in later
    refused = await client.post(f"/ui/waitlist/booked/{action_id}/undo", headers=DESK, data={"csrf": csrf_of(later)})
    assert refused.status_code == 409 and "10 minutes" in refused.text
    assert book_rows.slot_row(store, slot_id).booking_status == "written"


def _entry_status(store: Store, slot_id: int) -> str:
    with store.engine.connect() as connection:
        return str(connection.execute(select(WAITLIST_ENTRIES.c.status).join(
            WAITLIST_OFFERS, WAITLIST_OFFERS.c.entry_id == WAITLIST_ENTRIES.c.id).join(
            FREED_SLOTS, FREED_SLOTS.c.taken_offer_id == WAITLIST_OFFERS.c.id).where(
            FREED_SLOTS.c.id == slot_id)).scalar())
