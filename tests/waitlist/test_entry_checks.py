"""Issue 58: what comes onto the waiting list, on SQLite and PostgreSQL. An entry no offer can
ever reach (no phone and no email, a junk phone, an unknown doctor, only past periods) is refused
by the REST API (422 naming the field) and quarantined once by a source (field named, never the
value); a second live entry for the same patient and need is a 409 naming the first; the
patient's later visit named by a CSV row or the API is the one released when they take an
earlier slot (``release_later: ask``: the desk's task names it)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, update

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.service.pipeline import run_once
from clinicsync.sync.store.model import Appointment, Patient, Quarantine
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.book import run_booking
from clinicsync.sync.waitlist.book_tasks import answer_task, tasks
from tests.waitlist.test_api import known_doctor

A = Appointment.__table__  # type: ignore[attr-defined]
KEY = "csk_test-website-0123456789abcdefghijklmnopq"
SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)
LATER = SOON + timedelta(days=30)
ENTRY: dict[str, Any] = {"id": "W-1", "patient": {"id": "P-77", "phone": "(212) 555-0101"}, "doctor_id": "D-1",
                         "visit_type": "New patient", "timezone": "America/New_York"}


def quarantined(store: Store) -> dict[tuple[str, str], Any]:
    with store.engine.connect() as connection:
        return {(r.record_id, r.field): r for r in connection.execute(select(Quarantine.__table__))}  # type: ignore[attr-defined]


def entries(store: Store) -> dict[str, Any]:
    with store.engine.connect() as connection:
        return {r.external_id: r for r in connection.execute(select(WAITLIST_ENTRIES))}


def appointment_id(store: Store, connector: str, external_id: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(A.c.id).where(A.c.connector == connector,
                                                           A.c.external_id == external_id)).scalar_one())


def accepted(store: Store, entry_id: int, freed_id: int) -> int:
    """A slot freed by ``freed_id`` that the entry's patient took (what detection, offers and the
    acceptance do; other tests cover them): its id."""
    with store.engine.begin() as connection:
        freed = connection.execute(select(A).where(A.c.id == freed_id)).one()
        connection.execute(update(A).where(A.c.id == freed_id).values(status="cancelled"))
        slot = connection.execute(insert(FREED_SLOTS).values(
            appointment_id=freed_id, appointment_version=freed.version, connector=freed.connector,
            practitioner_ref=freed.practitioner_ref, location_ref=None, visit_type=freed.type,
            start_utc=freed.start_utc, end_utc=freed.end_utc, timezone=freed.timezone, freed_by="source",
            freed_at=datetime.now(UTC), status="open")).inserted_primary_key
        assert slot is not None
        offer = connection.execute(insert(WAITLIST_OFFERS).values(
            slot_id=slot[0], entry_id=entry_id, rank=1, channel="sms", status="accepted",
            created_at=datetime.now(UTC))).inserted_primary_key
        assert offer is not None
        connection.execute(update(FREED_SLOTS).where(FREED_SLOTS.c.id == slot[0]).values(
            status="taken", taken_offer_id=offer[0], taken_at=datetime.now(UTC), booking_status="pending"))
    return int(slot[0])


def released_on_acceptance(settings: Settings, store: Store, entry_id: int, freed_id: int) -> int | None:
    """Book the taken slot (a desk task for these sources), the desk books it: the later visit
    the release task names."""
    slot_id = accepted(store, entry_id, freed_id)
    assert run_booking(settings, store, datetime.now(UTC))["desk_task"] == 1
    assert answer_task(settings, store, "book", slot_id, "booked", "desk", "front_desk", datetime.now(UTC))
    [release] = tasks(settings, store, datetime.now(UTC), full=True)
    assert release.kind == "release"
    return release.later_appointment_id


def visits_csv(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "visits.csv").write_text(textwrap.dedent(f"""\
        appointment_id,start,duration_minutes,timezone,status,type,patient_id,patient_name,patient_phone,doctor_id
        F1,{SOON.isoformat()},30,America/New_York,booked,Check-up,p9,Cy Doe,+12125550109,dr-k
        L1,{LATER.isoformat()},30,America/New_York,booked,Check-up,p1,Bo Chen,+12125550101,dr-k
        L2,{LATER.isoformat()},30,America/New_York,booked,Check-up,p2,Di Roe,+12125550102,dr-k
        """), encoding="utf-8")


def test_a_csv_list_refuses_unreachable_rows_once_and_its_later_visit_is_released(
        drop_dir: Path, tmp_path: Path, write_settings: Callable[..., Path], store: Store) -> None:
    visits_csv(tmp_path / "visits")
    settings = load_settings(write_settings(f"""
        - name: office
          kind: csv
          mapping: csv_default
          drop_dir: {tmp_path / "visits"}
          settle_seconds: 0
        - name: wl
          kind: csv
          mapping: csv_waitlist
          waitlist_of: office
          drop_dir: {drop_dir}
          mode: snapshot
          settle_seconds: 0
        """))
    listing = textwrap.dedent("""\
        id,patient_id,patient_name,phone,email,practitioner_id,available_until,later_appointment_id
        ok,p1,,,,dr-k,,L1
        nobody,p5,Eve Ng,,,,,
        junk,p6,Flo Ma,12,,,,
        ghost,p1,,,,dr-nobody,,
        past,p1,,,,,2020-01-31,
        theirs,p1,,,,,,L2
        """)
    (drop_dir / "waitlist.csv").write_text(listing, encoding="utf-8")
    counts = run_once(settings, store).extras["waitlist_sources"]["sources"]["wl"]
    assert (counts["created"], counts["quarantined"]) == (1, 5), counts
    items = quarantined(store)
    assert set(items) == {("nobody", "patient.phone"), ("junk", "patient.phone"),
                          ("ghost", "practitioner.external_id"), ("past", "available_until"),
                          ("theirs", "later_appointment.external_id")}
    assert "no phone and no email" in items[("nobody", "patient.phone")].reason
    assert "not a usable phone" in items[("junk", "patient.phone")].reason
    assert "another patient" in items[("theirs", "later_appointment.external_id")].reason
    for item in items.values():  # never the value, never the patient
        assert not any(word in item.reason for word in ("Eve", "Flo", "dr-nobody", "2020", "L2", " 12"))

    # The next export lists them again: one item each, seen twice, nothing stored
    (drop_dir / "waitlist-2.csv").write_text(listing, encoding="utf-8")
    run_once(settings, store)
    assert set(quarantined(store)) == set(items)
    assert {item.seen_count for item in quarantined(store).values()} == {2}
    assert set(entries(store)) == {"ok"}

    entry = entries(store)["ok"]
    assert entry.current_appointment_id == appointment_id(store, "office", "L1")
    assert released_on_acceptance(settings, store, entry.id, appointment_id(store, "office", "F1")) == \
        appointment_id(store, "office", "L1")


@pytest.fixture
def api_settings(write_settings: Callable[..., Path]) -> Settings:
    return load_settings(write_settings(connectors=f"""
- name: website
  kind: rest_api
  api_keys: [{{name: booking-site, sha256: {key_digest(KEY)}}}]
  burst: 100
"""))


@pytest.fixture
async def client(api_settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(api_settings, store)),
                                 base_url="http://internal", headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


async def visit(client: httpx.AsyncClient, external_id: str, start: datetime, patient: str = "P-77") -> None:
    answer = await client.post("/api/v1/appointments", json={
        "id": external_id, "start": start.isoformat(), "duration_minutes": 30, "timezone": "America/New_York",
        "type": "New patient", "patient": {"id": patient, "phone": "(212) 555-0101"},
        "practitioner": {"id": "D-1", "name": "Dr One"}})
    assert answer.status_code == 201, answer.text


@pytest.mark.anyio
@pytest.mark.parametrize(("change", "field"), [
    ({"patient": {"id": "P-9"}}, "patient.phone"),
    ({"patient": {"id": "P-9", "phone": "12"}}, "patient.phone"),
    ({"patient": {"id": "P-9", "email": "not-an-email"}}, "patient.email"),
    ({"doctor_id": "D-404"}, "doctor_id"),
    ({"periods": [{"start": "2020-01-01T08:00", "end": "2020-01-31T18:00"}]}, "periods"),
    ({"later_appointment_id": "nope"}, "later_appointment_id"),
])
async def test_the_api_refuses_an_entry_no_offer_can_reach(client: httpx.AsyncClient, store: Store,
                                                           change: dict[str, Any], field: str) -> None:
    known_doctor(store)
    answer = await client.post("/api/v1/waitlist", json={**ENTRY, **change})
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert "D-404" not in answer.text and "2020" not in answer.text and "nope" not in answer.text
    assert entries(store) == {}


@pytest.mark.anyio
async def test_the_api_answers_a_second_entry_for_the_same_need_with_the_first(
        client: httpx.AsyncClient, store: Store) -> None:
    known_doctor(store)
    assert (await client.post("/api/v1/waitlist", json=ENTRY)).status_code == 201
    again = await client.post("/api/v1/waitlist", json={**ENTRY, "id": "W-2", "visit_type": "new PATIENT"})
    assert again.status_code == 409, again.text
    assert again.headers["location"] == "/api/v1/waitlist/W-1"
    assert again.json()["errors"] == [{"field": "id", "detail": "duplicate of the live entry W-1"}]
    assert set(entries(store)) == {"W-1"}
    # another need (another type) is another entry; once W-1 is off the list, W-2 may wait
    assert (await client.post("/api/v1/waitlist", json={**ENTRY, "id": "W-3", "visit_type": "Check-up"})
            ).status_code == 201
    assert (await client.delete("/api/v1/waitlist/W-1")).status_code == 200
    assert (await client.post("/api/v1/waitlist", json={**ENTRY, "id": "W-2"})).status_code == 201


@pytest.mark.anyio
async def test_an_api_entry_naming_its_later_visit_releases_it_on_acceptance(
        client: httpx.AsyncClient, api_settings: Settings, store: Store) -> None:
    await visit(client, "V-SOON", SOON, patient="P-1")  # another patient's, cancelled: the slot
    await visit(client, "V-LATER", LATER)
    await visit(client, "V-OTHER", LATER, patient="P-2")
    refused = await client.post("/api/v1/waitlist", json={**ENTRY, "later_appointment_id": "V-OTHER"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "later_appointment_id"
    created = await client.post("/api/v1/waitlist", json={**ENTRY, "later_appointment_id": "V-LATER"})
    assert created.status_code == 201, created.text
    entry = entries(store)["W-1"]
    later = appointment_id(store, "website", "V-LATER")
    assert entry.current_appointment_id == later
    assert released_on_acceptance(api_settings, store, entry.id, appointment_id(store, "website", "V-SOON")) == later


def test_the_desk_form_can_ask_the_same_two_questions(store: Store) -> None:
    """The "Add to waitlist" form's server-side checks (sync/ui calls them): a patient nobody
    can reach, an unknown doctor, and a second live entry for the same need."""
    from clinicsync.sync.waitlist.entries import NewEntry, add_entry, duplicate_of
    from clinicsync.sync.waitlist.reach import check_desk_entry

    known_doctor(store, "D-1", "office")
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        nobody = NewEntry("office", "P-NONE", "America/New_York", practitioner_ref="D-1")
        assert check_desk_entry(connection, nobody, now).field == "patient.phone"  # type: ignore[union-attr]
        connection.execute(insert(Patient.__table__).values(  # type: ignore[attr-defined]
            connector="office", external_id="P-1", phone="+12125550101", content_hash="x", updated_at=now))
        ghost = NewEntry("office", "P-1", "America/New_York", practitioner_ref="D-404")
        assert check_desk_entry(connection, ghost, now).field == "practitioner.external_id"  # type: ignore[union-attr]
        fine = NewEntry("office", "P-1", "America/New_York", practitioner_ref="D-1", visit_type="Check-up")
        assert check_desk_entry(connection, fine, now) is None and duplicate_of(connection, fine) is None
        first, _ = add_entry(connection, fine, now, added_by="desk")
        again = NewEntry("office", "P-1", "America/New_York", practitioner_ref="D-1", visit_type="check-up")
        assert duplicate_of(connection, again).id == first  # type: ignore[union-attr]
