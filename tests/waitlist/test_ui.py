"""The Waitlist page over HTTP on SQLite and PostgreSQL: open slots, offers out, accepted,
expired and waiting, names for the front desk (the view in the access log) and initials for
IT; the desk adds a patient from an appointment's row or by id and removes one, CSRF and the
role checked on every post; a bad form names its field and stores nothing; the health
page's chart counts refills."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from clinicsync.mappings.model import NormalizedPatient
from clinicsync.mappings.waitlist import NormalizedWaitlistEntry
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.runs.access_log import ACCESS_LOG
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.entries import apply_entries
from tests.ui.seed import NOW, seed
from tests.ui.test_desk import DESK, MANAGER, csrf_of, settings_text

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(tmp_path: Path, store_url: str,
                 store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, int]]]:
    path = tmp_path / "settings.yaml"
    connectors = "connectors:\n  - {name: csv, kind: csv, mapping: csv_default, drop_dir: drop}\n"
    path.write_text(settings_text(store_url, connectors), encoding="utf-8")
    (tmp_path / "drop").mkdir()
    ids = seed_waitlist(store)
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http, ids


def seed_waitlist(store: Store) -> dict[str, int]:
    """The status page's seed (tests/ui/seed.py), two waiting entries, three freed slots (open,
    taken and written, expired) and two offers (one out, one accepted)."""
    ids = seed(store)
    with store.engine.begin() as connection:
        apply_entries(connection, "csv", [
            NormalizedWaitlistEntry("w1", NormalizedPatient("P2"), "America/New_York", practitioner_ref="D1",
                                    visit_type="Check-up", priority=2,
                                    windows=({"days": ["mon", "tue"], "from": "09:00", "to": "12:00"},)),
            NormalizedWaitlistEntry("w2", NormalizedPatient("P3"), "America/New_York")], NOW - timedelta(days=9))
        start = NOW + timedelta(days=3)
        for slot_id, status, booking in ((1, "open", None), (2, "taken", "written"), (3, "expired", None)):
            connection.execute(insert(FREED_SLOTS).values(
                id=slot_id, appointment_id=ids["A5"], appointment_version=slot_id, connector="csv",
                practitioner_ref="D1", visit_type="Check-up", start_utc=start + timedelta(hours=slot_id),
                end_utc=start + timedelta(hours=slot_id, minutes=45), timezone="America/New_York",
                freed_by="patient", freed_at=NOW - timedelta(days=1), status=status, booking_status=booking,
                taken_at=NOW - timedelta(hours=2) if status == "taken" else None))
        connection.execute(insert(WAITLIST_OFFERS), [
            {"slot_id": 1, "entry_id": 2, "rank": 1, "status": "sent", "created_at": NOW, "sent_at": NOW,
             "hold_until": NOW + timedelta(minutes=30)},
            {"slot_id": 2, "entry_id": 1, "rank": 1, "status": "accepted", "created_at": NOW, "sent_at": NOW,
             "hold_until": None}])
    return ids


def section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}">')[1].split("</section>")[0]


def entries(store: Store) -> dict[str, Any]:
    with store.engine.connect() as connection:
        return {r.external_id: r for r in connection.execute(select(WAITLIST_ENTRIES))}


async def test_the_page_shows_slots_offers_and_who_waits(client: tuple[httpx.AsyncClient, dict[str, int]],
                                                         store: Store) -> None:
    http, _ = client
    html = (await http.get("/ui/waitlist", headers=DESK)).text
    counts = dict(re.findall(r'<strong id="(count-[a-z]+|hours-recovered)">([^<]+)</strong>', html))
    assert counts == {"count-waiting": "2", "count-open": "1", "count-offers": "1", "count-accepted": "1",
                      "count-expired": "1", "count-refilled": "1", "hours-recovered": "0.75"}
    summary = re.sub(r"<[^>]+>", "", section(html, "waitlist-summary"))
    assert "1 open slot\n" in summary and "1 offer out" in summary and "1 slot refilled, 0.75 hours" in summary
    waiting = section(html, "waiting")
    assert waiting.index("Yara García") < waiting.index("Umar Nguyen")  # priority 2 first
    assert "Dr. Amelia Hart" in waiting and "mon,tue 09:00-12:00" in waiting and "any doctor" in waiting
    assert "Umar Nguyen" in section(html, "offers-out") and "Yara García" in section(html, "accepted")
    assert "Dr. Amelia Hart" in section(html, "open-slots") and "written" in section(html, "accepted")
    assert "<svg" in section(html, "refills")  # the weekly chart: one slot refilled
    with store.engine.connect() as connection:
        logged = [(r.user, r.view, r.patients) for r in connection.execute(select(ACCESS_LOG))]
    assert logged == [("desk", "/ui/waitlist", 3)]  # two entries and the one offer out

    health = (await http.get("/ui/health", headers=MANAGER)).text
    chart = health.split('id="chart-waitlist"')[1].split("</figure>")[0]
    assert "slots refilled: 1" in chart and "hours recovered: 0.75" in chart

    it = (await http.get("/ui/waitlist", headers=MANAGER)).text
    assert "Yara García" not in it and "Umar Nguyen" not in it and "Y.G." in it
    assert 'action="/ui/waitlist"' not in it and "/remove" not in it  # IT sees, never changes
    with store.engine.connect() as connection:
        assert len(connection.execute(select(ACCESS_LOG)).all()) == 1  # masked views are not logged


async def test_desk_adds_from_an_appointment_and_by_id_and_removes(
        client: tuple[httpx.AsyncClient, dict[str, int]], store: Store) -> None:
    http, ids = client
    form = (await http.get(f"/ui/waitlist?appointment={ids['A5']}", headers=DESK)).text
    assert 'name="patient_id" value="P1"' in form and '<option value="D1" selected>' in form
    who = re.sub(r"<[^>]+>", "", form.split('id="add-who"')[1].split("</div>")[0])
    assert "Jamal Weber · +1 201-555-0165 · from csv" in who  # by name and phone, not "Patient id P1"
    assert "later visit, released when they take an earlier slot: Thu, Nov 19, 2026, 9:00" in who
    assert "Checkup with Dr. Amelia Hart" in who and "Patient id" not in section(form, "add")
    with store.engine.connect() as connection:
        logged = [(r.view, r.patients) for r in connection.execute(select(ACCESS_LOG))]
    assert ("/ui/waitlist#add", 1) in logged  # the name and phone shown: a view like any other
    timeline = (await http.get(f"/ui/appointments/{ids['A5']}", headers=DESK)).text
    assert f'href="/ui/waitlist?appointment={ids["A5"]}#add"' in timeline
    added = await http.post("/ui/waitlist", headers=DESK, data={
        "csrf": csrf_of(form), "connector": "csv", "patient_id": "P1", "doctor_id": "D1", "visit_type": "Check-up",
        "windows": "mon-fri 08:00-10:00", "priority": "4", "expires": "2026-12-31",
        "appointment_id": str(ids["A5"])})
    assert added.status_code == 303 and "done=added-" in added.headers["location"]
    told = (await http.get(added.headers["location"], headers=DESK)).text
    assert "Added Jamal Weber to the waitlist." in told
    [new] = [e for key, e in entries(store).items() if key.startswith("desk-")]
    assert (new.patient_ref, new.practitioner_ref, new.priority, new.added_by, new.current_appointment_id) == \
        ("P1", "D1", 4, "desk", ids["A5"])
    assert new.expires_at.isoformat() == "2027-01-01T05:00:00+00:00"  # the end of Dec 31 in New York
    any_doctor = await http.post("/ui/waitlist", headers=DESK, data={
        "csrf": csrf_of(form), "connector": "csv", "patient_id": "P4", "doctor_id": "", "windows": ""})
    assert any_doctor.status_code == 303
    assert [e.practitioner_ref for e in entries(store).values() if e.patient_ref == "P4"] == [None]

    listed = (await http.get("/ui/waitlist", headers=DESK)).text
    assert f'action="/ui/waitlist/{new.id}/remove"' in listed
    assert 'aria-label="Remove Jamal Weber from the waitlist"' in listed
    removed = await http.post(f"/ui/waitlist/{new.id}/remove", headers=DESK, data={"csrf": csrf_of(form)})
    assert removed.status_code == 303 and entries(store)[new.external_id].status == "removed"
    assert "Took Jamal Weber off the waitlist." in (await http.get(removed.headers["location"], headers=DESK)).text
    it = (await http.get(removed.headers["location"], headers=MANAGER)).text
    assert "Jamal" not in it and "Took the patient off the waitlist." in it  # IT is not told who
    assert (await http.post(f"/ui/waitlist/{new.id}/remove", headers=DESK,
                            data={"csrf": csrf_of(form)})).status_code == 404


async def test_the_desk_form_keeps_one_entry_per_need_and_refuses_one_nobody_can_offer(
        client: tuple[httpx.AsyncClient, dict[str, int]], store: Store) -> None:
    """The form answers with the patient's live entry for the same need instead of adding a
    second (two offers for one slot, two "just taken" texts), and refuses an entry whose doctor
    the source never named (issue 58 obs 6), by field, storing nothing."""
    http, _ = client
    page = (await http.get("/ui/waitlist", headers=DESK)).text
    data = {"csrf": csrf_of(page), "connector": "csv", "patient_id": "P4", "doctor_id": "D1",
            "visit_type": "Check-up", "windows": ""}
    first = await http.post("/ui/waitlist", headers=DESK, data=data)
    again = await http.post("/ui/waitlist", headers=DESK, data=data)
    assert first.status_code == again.status_code == 303
    assert "done=added-" in first.headers["location"] and "done=exists-" in again.headers["location"]
    assert [e.practitioner_ref for e in entries(store).values() if e.patient_ref == "P4"] == ["D1"]
    shown = (await http.get(again.headers["location"], headers=DESK)).text
    assert "already waits for the same visit" in shown
    unknown = await http.post("/ui/waitlist", headers=DESK, data={**data, "patient_id": "P1", "doctor_id": "D404"})
    assert unknown.status_code == 422 and 'id="doctor_id-error"' in unknown.text
    assert not [e for e in entries(store).values() if e.patient_ref == "P1" and e.practitioner_ref == "D404"]


@pytest.mark.parametrize(("change", "field"), [
    ({"patient_id": "P404"}, "patient_id"), ({"windows": "someday 9-10"}, "windows"),
    ({"priority": "high"}, "priority"), ({"expires": "31/12/2026"}, "expires")])
async def test_a_bad_form_names_its_field_and_stores_nothing(
        client: tuple[httpx.AsyncClient, dict[str, int]], store: Store, change: dict[str, str], field: str) -> None:
    http, _ = client
    page = (await http.get("/ui/waitlist", headers=DESK)).text
    answer = await http.post("/ui/waitlist", headers=DESK, data={
        "csrf": csrf_of(page), "connector": "csv", "patient_id": "P1", **change})
    assert answer.status_code == 422 and f'id="{field}-error"' in answer.text
    assert len(entries(store)) == 2


async def test_posts_need_the_token_and_the_front_desk(client: tuple[httpx.AsyncClient, dict[str, int]],
                                                      store: Store) -> None:
    http, _ = client
    data = {"connector": "csv", "patient_id": "P1"}
    for token in ({}, {"csrf": "forged"}):
        assert (await http.post("/ui/waitlist", headers=DESK, data={**data, **token})).status_code == 403
    manager_token = http._transport.app.state.ui_sessions.basic_csrf("manager")  # type: ignore[attr-defined]
    viewer = await http.post("/ui/waitlist", headers=MANAGER, data={**data, "csrf": manager_token})
    assert viewer.status_code == 403
    w1 = entries(store)["w1"].id
    assert (await http.post(f"/ui/waitlist/{w1}/remove", headers=MANAGER,
                            data={"csrf": manager_token})).status_code == 403
    assert len(entries(store)) == 2 and entries(store)["w1"].status == "waiting"
