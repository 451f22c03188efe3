"""Booking at a FHIR source: a conditional Appointment create through the connector's real
client (faked at the HTTP boundary with respx), exactly once across a retry after a lost
answer, and the created Appointment in the store and in the doctor's calendar at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from icalendar import Calendar
from sqlalchemy import select

from clinicsync.common.timeutil import iso_z
from clinicsync.connectors.fhir.client import FhirClient
from clinicsync.sync.calendar.ics import IcsCalendar
from clinicsync.sync.calendar.push import push
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.responses import WRITEBACKS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.book import book_slot, run_booking
from clinicsync.sync.waitlist.book_status import booking_status
from clinicsync.sync.waitlist.book_tasks import tasks
from tests.connectors.fhir_fake import patient, practitioner
from tests.waitlist.book_rows import NOW, SLOT_START, entry_row, seed, slot_row, with_booking

BASE = "https://ehr.example.org/fhir"
A = Appointment.__table__  # type: ignore[attr-defined]


class FakeEhr:
    """Appointment create with If-None-Exist on identifier (200 with the match, 201 new), and
    reads of the people the created Appointment names."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.created: dict[str, dict[str, Any]] = {}  # identifier value -> resource
        self.made: list[dict[str, Any]] = []  # every Appointment the server created
        self.posts: list[httpx.Request] = []
        self.lose_next_answer = False
        self.refuse: int | None = None
        self.router = router
        self.honours_condition = True  # False: a server that ignores If-None-Exist
        self.searches: list[httpx.Request] = []
        router.post(f"{BASE}/Appointment").mock(side_effect=self.create)
        router.get(f"{BASE}/Appointment").mock(side_effect=self.search)
        router.get(f"{BASE}/Patient/p2").mock(return_value=httpx.Response(200, json=patient("p2", "+12125550142")))
        router.get(f"{BASE}/Practitioner/d1").mock(return_value=httpx.Response(200, json=practitioner("d1")))
        router.get(f"{BASE}/Location/room-1").mock(return_value=httpx.Response(
            200, json={"resourceType": "Location", "id": "room-1", "name": "Room 1"}))
        # the cancelled Appointment that freed the slot (seed's freed-<entry id>): its Location is
        # the one the booking references (the store keeps the place by name)
        router.get(url__regex=rf"^{BASE}/Appointment/freed-[\w-]+$").mock(side_effect=lambda request: httpx.Response(
            200, json={"resourceType": "Appointment", "id": request.url.path.rsplit("/", 1)[1], "status": "cancelled",
                       "participant": [{"actor": {"reference": "Location/room-1"}, "status": "accepted"}]}))

    def search(self, request: httpx.Request) -> httpx.Response:
        """A search by our identifier (recorded), or the poll's search (nothing new there)."""
        found = []
        if "identifier" in request.url.params:
            self.searches.append(request)
            value = request.url.params["identifier"].split("|", 1)[1]
            found = [{"resource": self.created[value]}] if value in self.created else []
        return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset", "entry": found})

    def create(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(request)
        if self.refuse:
            return httpx.Response(self.refuse, json={"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "business-rule", "diagnostics": "Mara Quint already booked"}]})
        condition = request.headers["If-None-Exist"]
        assert condition.startswith("identifier=urn:clinicsync:waitlist-slot|")
        value = condition.split("|", 1)[1]
        if value in self.created and self.honours_condition:
            return httpx.Response(200, json=self.created[value])
        resource = json.loads(request.content)
        resource.update(id=f"new{len(self.made) + 1}",
                        meta={"versionId": "1", "lastUpdated": "2026-03-02T15:00:01Z"})
        self.created[value] = resource
        self.made.append(resource)
        if self.lose_next_answer:  # the server booked it; the answer never arrives
            self.lose_next_answer = False
            raise httpx.ReadTimeout("lost")
        location = f"{BASE}/Appointment/{resource['id']}/_history/1"
        return httpx.Response(201, json=resource, headers={"Location": location})


@pytest.fixture
def ehr() -> Any:
    with respx.mock(assert_all_called=False) as router:
        yield FakeEhr(router)


@pytest.fixture
def settings(write_settings: Callable[..., Path], tmp_path: Path) -> Settings:
    return load_settings(write_settings(connectors=f"""
        - name: ehr
          kind: fhir
          base_url: {BASE}
          waitlist_book: true
          writeback: true
          retry: {{attempts: 1}}
        """, extra="""
        calendar:
          provider: ics
          ics: {directory: calendars}
        """))


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FhirClient, "sleep", staticmethod(lambda seconds: None))


def test_the_accepted_patient_is_booked_once_and_lands_in_the_doctors_calendar(
        ehr: FakeEhr, settings: Settings, store: Store, tmp_path: Path) -> None:
    seeded = seed(store, "ehr")
    assert run_booking(settings, store, NOW)["written"] == 1

    [post] = ehr.posts
    body = json.loads(post.content)
    assert post.headers["If-None-Exist"] == f"identifier=urn:clinicsync:waitlist-slot|waitlist-slot-{seeded.slot_id}"
    assert body["status"] == "booked"
    assert (body["start"], body["end"]) == (iso_z(SLOT_START), iso_z(SLOT_START + timedelta(minutes=30)))
    actors = [p["actor"]["reference"] for p in body["participant"]]
    assert actors == ["Patient/p2", "Practitioner/d1", "Location/room-1"]
    key = f"waitlist-slot-{seeded.slot_id}"
    assert body["identifier"] == [{"system": "urn:clinicsync:waitlist-slot", "value": key}]
    assert body["supportingInformation"][0]["reference"] == "Appointment/wl-1"  # the waitlist entry, same server
    assert body["serviceType"] == [{"text": "Check-up"}]

    slot = slot_row(store, seeded.slot_id)
    assert (slot.booking_status, slot.booked_external_id, slot.booking_error, slot.booking_attempts) == (
        "written", "new1", None, 1)
    assert entry_row(store, seeded.entry_id).status == "booked"
    with store.engine.connect() as connection:
        stored = connection.execute(select(A).where(A.c.connector == "ehr", A.c.external_id == "new1")).one()
    assert (stored.status, stored.patient_ref, stored.practitioner_ref, stored.start_utc) == (
        "booked", "p2", "d1", SLOT_START)

    # the doctor's calendar shows the new patient's appointment
    push(settings.calendar, store.engine, IcsCalendar(settings.calendar.ics))
    files = list((tmp_path / "calendars").glob("*.ics"))
    assert [f.name for f in files] == ["doctor-d1@clinic.example.ics"]
    events = Calendar.from_ical(files[0].read_bytes()).walk("VEVENT")
    assert [e.decoded("dtstart") for e in events if str(e["status"]) == "CONFIRMED"] == [SLOT_START]

    # a second pass has nothing to do: never twice
    assert run_booking(settings, store, NOW)["written"] == 0
    assert len(ehr.posts) == 1


def test_a_lost_answer_is_retried_under_the_same_key_and_finds_the_first_booking(
        ehr: FakeEhr, settings: Settings, store: Store) -> None:
    seeded = seed(store, "ehr")
    ehr.lose_next_answer = True
    assert run_booking(settings, store, NOW)["retrying"] == 1
    slot = slot_row(store, seeded.slot_id)
    assert (slot.booking_status, slot.booking_attempts) == ("pending", 1)
    assert "timed out" in slot.booking_error
    assert booking_status(store)["failing"][0]["slot"] == seeded.slot_id

    assert run_booking(settings, store, NOW)["written"] == 1
    assert len(ehr.posts) == 1 and len(ehr.made) == 1  # found by its identifier: not posted again
    assert slot_row(store, seeded.slot_id).booked_external_id == "new1"


def test_a_server_that_ignores_if_none_exist_is_searched_before_a_retry(
        ehr: FakeEhr, settings: Settings, store: Store) -> None:
    seeded = seed(store, "ehr")
    ehr.honours_condition = False
    ehr.lose_next_answer = True
    assert run_booking(settings, store, NOW)["retrying"] == 1
    assert ehr.searches == []  # a first attempt has nothing to find
    assert run_booking(settings, store, NOW)["written"] == 1
    [search] = ehr.searches
    assert search.url.params["identifier"] == f"urn:clinicsync:waitlist-slot|waitlist-slot-{seeded.slot_id}"
    assert len(ehr.posts) == 1 and len(ehr.made) == 1  # found, not booked again
    assert slot_row(store, seeded.slot_id).booked_external_id == "new1"


def test_a_refusal_fails_the_booking_without_patient_data(ehr: FakeEhr, settings: Settings, store: Store) -> None:
    seeded = seed(store, "ehr")
    ehr.refuse = 422
    assert run_booking(settings, store, NOW)["failed"] == 1
    slot = slot_row(store, seeded.slot_id)
    assert slot.booking_status == "failed"
    # the source's words, for the desk, without the patient's name it echoed (issue 58)
    assert slot.booking_error == ("connector ehr: POST Appointment answered HTTP 422; the source said: "
                                  "error: [redacted] already booked")
    assert "Mara" not in slot.booking_error
    assert entry_row(store, seeded.entry_id).status == "waiting"  # still waiting: the desk calls them
    assert run_booking(settings, store, NOW) == dict.fromkeys(
        ("written", "desk_task", "failed", "retrying", "busy", "set_aside"), 0)
    assert booking_status(store)["failed"] == 1


def test_a_slot_whose_time_passed_is_not_booked(ehr: FakeEhr, settings: Settings, store: Store) -> None:
    seeded = seed(store, "ehr")
    assert run_booking(settings, store, SLOT_START + timedelta(minutes=1))["failed"] == 1
    assert ehr.posts == []
    assert slot_row(store, seeded.slot_id).booking_error == "the slot's time passed before it could be booked"
    [task] = tasks(settings, store, SLOT_START + timedelta(minutes=1), full=True)
    assert task.kind == "call"  # the patient was told it was theirs: someone calls them


def test_a_slot_another_worker_holds_is_left_alone(ehr: FakeEhr, settings: Settings, store: Store) -> None:
    from clinicsync.sync.store.locks import try_lock

    seeded = seed(store, "ehr")
    with try_lock(store.engine, "waitlist-book", str(seeded.slot_id)) as held:
        assert held is not None
        assert run_booking(settings, store, NOW)["busy"] == 1
    assert ehr.posts == []
    assert book_slot(settings, store, seeded.slot_id, NOW) == "written"
    assert book_slot(settings, store, seeded.slot_id, NOW) is None  # no longer pending


def test_auto_release_cancels_the_later_appointment_through_the_writeback_outbox(
        ehr: FakeEhr, write_settings: Callable[..., Path], store: Store) -> None:
    settings = load_settings(write_settings(connectors=f"""
        - name: ehr
          kind: fhir
          base_url: {BASE}
          waitlist_book: true
          writeback: true
        """))
    settings = with_booking(settings, release_later="auto")
    seeded = seed(store, "ehr", later=True)
    assert run_booking(settings, store, NOW)["written"] == 1
    with store.engine.connect() as connection:
        [queued] = connection.execute(select(WRITEBACKS)).all()
        later = connection.execute(select(A).where(A.c.id == seeded.later_appointment_id)).one()
    assert (queued.appointment_id, queued.appointment_status, queued.participant_status) == (
        seeded.later_appointment_id, "cancelled", "declined")
    assert later.participation == "declined"
    assert tasks(settings, store, NOW, full=True) == []  # nothing left for the desk: the outbox cancels it


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_one_sync_run_books_the_slot_and_its_calendar_and_confirmation_follow(
        ehr: FakeEhr, settings: Settings, store: Store, tmp_path: Path) -> None:
    """The pipeline: the booking stage runs before the calendar and the reminders, so the
    created Appointment is in the doctor's calendar and has its messages planned in the same run."""
    from clinicsync.sync.service.pipeline import run_once
    from clinicsync.sync.store.model.reminders import REMINDERS

    seeded = seed(store, "ehr")
    report = run_once(settings, store)
    assert report.extras["waitlist_book"]["written"] == 1
    assert report.extras["calendar"]["inserted"] == 1
    assert slot_row(store, seeded.slot_id).booked_external_id == "new1"
    with store.engine.connect() as connection:
        new_id = connection.execute(select(A.c.id).where(A.c.external_id == "new1")).scalar_one()
        planned = connection.execute(select(REMINDERS.c.kind).where(REMINDERS.c.appointment_id == new_id)).all()
    assert {kind for (kind,) in planned} >= {"confirmation"}, planned


def test_workers_racing_for_one_slot_book_it_once(ehr: FakeEhr, settings: Settings, store: Store) -> None:
    """Eight workers run the booking pass at once (a slow server widens the race): one POST."""
    import threading
    import time

    seeded = seed(store, "ehr")
    create = ehr.create

    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.3)
        return create(request)

    ehr.router.post(f"{BASE}/Appointment").mock(side_effect=slow)
    start = threading.Barrier(8)
    reports: list[dict[str, int]] = []

    def worker() -> None:
        start.wait()
        reports.append(run_booking(settings, store, NOW))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ehr.posts) == 1
    assert sum(r["written"] for r in reports) == 1
    assert sum(r["set_aside"] for r in reports) == 0
    assert slot_row(store, seeded.slot_id).booking_attempts == 1


def test_a_set_aside_booking_staff_retry_is_booked_once_on_the_next_pass(
        ehr: FakeEhr, settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error nobody foresaw after the source accepted (here: in the release step, inside
    our commit) sets the slot aside; it stays failed until staff ask for a retry, then the next
    pass books it under the same key and finds the first booking: one Appointment made."""
    from clinicsync.sync.runs import setaside
    from clinicsync.sync.waitlist import release  # book.py imports after_booking from it when a slot is booked

    seeded = seed(store, "ehr")
    real_after_booking = release.after_booking

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("release step broke")

    monkeypatch.setattr(release, "after_booking", broken)
    assert run_booking(settings, store, NOW)["set_aside"] == 1
    slot = slot_row(store, seeded.slot_id)
    assert slot.booking_status == "failed" and slot.booking_error.startswith("set aside: RuntimeError")
    assert run_booking(settings, store, NOW)["written"] == 0  # not retried by itself

    monkeypatch.setattr(release, "after_booking", real_after_booking)
    assert setaside.request_retry(store.engine, "waitlist_book") == 1
    assert run_booking(settings, store, NOW)["written"] == 1
    slot = slot_row(store, seeded.slot_id)
    assert (slot.booking_status, slot.booked_external_id, slot.booking_error) == ("written", "new1", None)
    assert len(ehr.made) == 1 and len(ehr.posts) == 1  # a retry searches by the slot's key first: found, not made twice
    assert len(ehr.searches) == 1
    assert entry_row(store, seeded.entry_id).status == "booked"
    with store.engine.connect() as connection:
        assert setaside.open_counts(connection)["waitlist_book"] == 0
