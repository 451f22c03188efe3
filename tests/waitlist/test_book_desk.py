"""Sources that cannot be written, refused bookings and later appointments become front-desk
tasks on the status page's work list; the desk answers them there (CSRF, front_desk role),
and each answer is recorded with who and when, and changes the slot, the entry or nothing
more. Also `clinicsync status --json` shows a refused booking."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.runs.access_log import ACCESS_LOG
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.book import run_booking
from clinicsync.sync.waitlist.book_tasks import answer_task, tasks
from tests.ui.test_pages import HASH, PASSWORD, basic
from tests.waitlist.book_rows import NOW, entry_row, seed, slot_row, with_booking

DESK = basic("desk", PASSWORD)


@pytest.fixture
def settings_path(write_settings: Callable[..., Path], drop_dir: Path) -> Path:
    return write_settings(connectors=f"""
        - name: clinic
          kind: csv
          drop_dir: {drop_dir}
          mapping: csv_default
        """, extra=f"""
        ui:
          users:
            - name: desk
              password_hash: "{HASH}"
              role: front_desk
        """)


@pytest.fixture
def settings(settings_path: Path) -> Settings:
    return load_settings(settings_path)


def test_a_csv_slot_is_a_desk_task_then_the_later_appointment_is_released(settings: Settings, store: Store) -> None:
    seeded = seed(store, "clinic", later=True)
    assert run_booking(settings, store, NOW)["desk_task"] == 1
    slot = slot_row(store, seeded.slot_id)
    assert (slot.booking_status, slot.booking_error) == ("desk_task", "csv source clinic is not written to: book it "
                                                                      "by hand")
    assert entry_row(store, seeded.entry_id).status == "booked"  # no more offers: the desk books this one
    [task] = tasks(settings, store, NOW, full=True)
    assert (task.kind, task.slot_id, task.patient, task.phone, task.doctor) == (
        "book", seeded.slot_id, "Mara Quint", "+12125550142", "Dr Ana Doc")
    [masked] = tasks(settings, store, NOW, full=False)
    assert (masked.patient, masked.phone, masked.patient_ref) == ("M.Q.", None, "…")

    assert answer_task(settings, store, "book", seeded.slot_id, "booked", "desk", "front_desk", NOW)
    assert slot_row(store, seeded.slot_id).booking_status == "written"
    assert not answer_task(settings, store, "book", seeded.slot_id, "booked", "desk", "front_desk", NOW)  # once
    [release] = tasks(settings, store, NOW, full=True)
    assert (release.kind, release.later_appointment_id) == ("release", seeded.later_appointment_id)

    assert answer_task(settings, store, "release", seeded.slot_id, "released", "desk", "front_desk", NOW)
    assert tasks(settings, store, NOW, full=True) == []
    with store.engine.connect() as connection:
        done = connection.execute(select(DESK_ACTIONS.c.appointment_id, DESK_ACTIONS.c.action, DESK_ACTIONS.c.user)
                                  .order_by(DESK_ACTIONS.c.id)).all()
    assert [tuple(d) for d in done] == [(seeded.freed_appointment_id, "waitlist_booked", "desk"),
                                        (seeded.later_appointment_id, "waitlist_released", "desk")]


def test_auto_on_a_source_without_write_back_asks_the_desk(settings: Settings, store: Store) -> None:
    settings = with_booking(settings, release_later="auto")
    seeded = seed(store, "clinic", later=True)
    run_booking(settings, store, NOW)
    answer_task(settings, store, "book", seeded.slot_id, "booked", "desk", "front_desk", NOW)
    assert [t.kind for t in tasks(settings, store, NOW, full=True)] == ["release"]


def test_keep_shows_no_release_task(settings: Settings, store: Store) -> None:
    settings = with_booking(settings, release_later="keep")
    seeded = seed(store, "clinic", later=True)
    run_booking(settings, store, NOW)
    answer_task(settings, store, "book", seeded.slot_id, "booked", "desk", "front_desk", NOW)
    assert tasks(settings, store, NOW, full=True) == []


def test_a_refused_booking_is_a_call_task_and_shows_in_status(settings: Settings, settings_path: Path, store: Store,
                                                             cli: Any) -> None:
    seeded = seed(store, "clinic")
    with store.engine.begin() as connection:  # what a refusal leaves (tests/waitlist/test_book_fhir.py)
        from clinicsync.sync.store.model.waitlist import FREED_SLOTS

        connection.execute(FREED_SLOTS.update().where(FREED_SLOTS.c.id == seeded.slot_id).values(
            booking_status="failed", booking_error="connector clinic: POST Appointment answered HTTP 422"))
    [task] = tasks(settings, store, NOW, full=True)
    assert (task.kind, task.reason) == ("call", "connector clinic: POST Appointment answered HTTP 422")
    with pytest.raises(ValueError):
        answer_task(settings, store, "call", seeded.slot_id, "released", "desk", "front_desk", NOW)
    _, out, _ = cli(settings_path)("status", "--json", expect=None)
    booking = json.loads(out)["waitlist_booking"]
    assert booking["failed"] == 1
    assert booking["failing"][0]["error"] == "connector clinic: POST Appointment answered HTTP 422"
    assert answer_task(settings, store, "call", seeded.slot_id, "dropped", "desk", "front_desk", NOW)
    assert tasks(settings, store, NOW, full=True) == []
    assert entry_row(store, seeded.entry_id).status == "waiting"  # stays on the list


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store)
    app.state.ui_clock = lambda: NOW
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


@pytest.mark.anyio
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_the_desk_sees_and_answers_the_task_on_its_work_list(client: httpx.AsyncClient, settings: Settings,
                                                                   store: Store) -> None:
    seeded = seed(store, "clinic")
    run_booking(settings, store, NOW)
    page = await client.get("/ui/", headers=DESK)
    assert page.status_code == 200
    assert "Book this patient into this slot" in page.text and "Mara Quint" in page.text
    with store.engine.connect() as connection:
        logged = connection.execute(select(ACCESS_LOG.c.view, ACCESS_LOG.c.appointment_ids)).all()
    assert ("/ui/#waitlist", str(seeded.freed_appointment_id)) in [tuple(row) for row in logged]
    assert f'action="/ui/waitlist/slots/{seeded.slot_id}/book"' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    refused = await client.post(f"/ui/waitlist/slots/{seeded.slot_id}/book", headers=DESK,
                                data={"answer": "booked"})
    assert refused.status_code == 403  # no CSRF token
    answered = await client.post(f"/ui/waitlist/slots/{seeded.slot_id}/book", headers=DESK,
                                 data={"answer": "booked", "csrf": csrf.group(1)})
    assert answered.status_code == 303
    assert slot_row(store, seeded.slot_id).booking_status == "written"
    page = await client.get("/ui/", headers=DESK)
    assert "Book this patient into this slot" not in page.text
