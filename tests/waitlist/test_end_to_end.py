"""The waitlist end to end, as a clinic would run it (issue 33's first "Done when"), on SQLite
and PostgreSQL, through real code paths only: `run_once` with a FHIR R4 server faked at the
HTTP boundary (respx, the connector's real client) or a real SQL source, a patient's "cancel"
through the signed Twilio webhook of the real app, offers read from a scripted notifier
plugin, acceptance through the /w/ page (GET, then the page's own POST), the booking written
to the source, the doctor's .ics file, and the "just been taken" message to the other patient.
The clock is moved with time-machine."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
import time_machine
from icalendar import Calendar
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from clinicsync.common.timeutil import iso_z
from clinicsync.connectors.fhir.client import FhirClient
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.service.pipeline import run_once
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from tests.connectors.fhir_fake import appointment, patient, practitioner
from tests.sync.reminders.fakes import read_log

BASE = "https://ehr.example.org/fhir/r4"
PUBLIC = "https://clinic.example.org"
TOKEN = "0123456789abcdef0123456789abcdef"
A = Appointment.__table__  # type: ignore[attr-defined]

DAY1 = datetime(2030, 6, 2, 16, tzinfo=UTC)  # Sun 12:00 in New York
START = datetime(2030, 6, 12, 14, tzinfo=UTC)  # Wed 10:00 in New York: the slot P1 frees
CANCELLER = "+12125550101"
SOON = {"p3": "+12125550103", "p4": "+12125550104"}  # patients of two later-added appointments
PHONES = {"p1": CANCELLER, "w1": "+12125550201", "w2": "+12125550202", "w3": "+12125550203"}


def notifiers(tmp_path: Path) -> str:
    """Scripted SMS/email notifiers (the messages the test reads), Twilio for the inbound webhook's
    signature, the public URL and secret of the offer links, reminders with quiet hours."""
    scripted = "".join(f"  - name: {name}\n    kind: scripted\n    log: {tmp_path / (name + '.jsonl')}\n"
                       f"    rate_per_second: 1000\n" for name in ("texts", "mails"))
    return (f"notifiers:\n{scripted}"
            f"  - name: twilio\n    kind: twilio_sms\n    account_sid: AC{'a' * 32}\n    auth_token: {TOKEN}\n"
            f"    from_number: \"+12125550100\"\n"
            f"server:\n  public_url: {PUBLIC}\n  secret_key: test-secret-not-for-production\n"
            "reminders:\n  enabled: true\n  quiet_hours: {start: \"21:00\", end: \"08:00\"}\n"
            "  agenda: {enabled: false}\n  offsets: [1d]\n  channels: [sms, email]\n"
            "  routes: {sms: texts, email: mails}\n"
            "waitlist:\n  enabled: true\n  lead_time: 4h\n  strategy: batch\n  batch_size: 2\n"
            "calendar:\n  provider: ics\n  ics: {directory: calendars}\n")


class AppClient:
    """The real app over its ASGI interface, called synchronously between the runs."""

    def __init__(self, app: Any, base_url: str) -> None:
        self.app, self.base_url = app, base_url

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=self.base_url) as client:
                return await client.request(method, path, **kwargs)

        return anyio.run(call)

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


def texts(tmp_path: Path, kind: str = "waitlist:") -> list[dict[str, str]]:
    """The SMS the scripted notifier accepted whose idempotency key starts with ``kind``."""
    path = tmp_path / "texts.jsonl"
    return [m for m in read_log(path) if m["key"].startswith(kind)] if path.exists() else []


def rows(store: Store, table: Any) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(table).order_by(table.c.id)))


def entries(store: Store) -> dict[str, str]:
    """patient ref -> entry status."""
    return {e.patient_ref: e.status for e in rows(store, WAITLIST_ENTRIES)}


def cancel_by_sms(client: AppClient, sid: str = "SM1", sender: str = CANCELLER, body: str = "cancel") -> httpx.Response:
    """The patient's "cancel" (or another text) as Twilio posts it, signed over the public URL."""
    path = "/webhooks/twilio/inbound"
    form = {"MessageSid": sid, "From": sender, "To": "+12125550100", "Body": body, "AccountSid": "AC" + "a" * 32}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
    response = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200, response.text
    return response


def link(message: dict[str, str]) -> str:
    found = re.search(re.escape(PUBLIC) + r"(/w/\w+)", message["body"])
    assert found, "the offer carries its link"
    return found.group(1)


def take(client: AppClient, path: str) -> httpx.Response:
    """What a patient's phone does: open the link, then submit the page's "Take this slot" form."""
    page = client.get(path)
    assert page.status_code == 200 and "Take this slot" in page.text
    form = re.search(r'<form method="post" action="([^"]+)"><input type="hidden" name="choice" value="take">',
                     page.text)
    assert form is not None
    return client.post(form.group(1), data={"choice": "take"})


def ics_starts(tmp_path: Path) -> dict[str, list[datetime]]:
    """The doctor's calendar: file name -> confirmed events' starts."""
    found = {}
    for file in sorted((tmp_path / "calendars").glob("*.ics")):
        events = Calendar.from_ical(file.read_bytes()).walk("VEVENT")
        found[file.name] = sorted(e.decoded("dtstart") for e in events if str(e.get("status")) == "CONFIRMED")
    return found


# -- FHIR ---------------------------------------------------------------------------------------
class FakeEhr:
    """The EHR's FHIR API at the HTTP boundary: the appointment poll, the waitlist search
    (`status=waitlist`), reads of the people, and the conditional create of a booking."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.booked = [appointment("a1", START, "p1", "d1"),
                       appointment("a2", START + timedelta(days=1), "p2", "d1")]
        waiting = [appointment("wl1", None, "w1", "d1", status="waitlist"),
                   appointment("wl2", None, "w2", "d1", status="waitlist"),
                   appointment("wl3", None, "w3", "d1", status="waitlist")]
        waiting[0]["priority"] = 1  # iCal: the highest
        waiting[1]["created"] = "2030-01-05T10:00:00Z"  # waits longer than w3
        waiting[2]["created"] = "2030-03-05T10:00:00Z"
        self.waiting = waiting
        self.people: dict[str, dict[str, Any]] = {
            **{f"Patient/{p}": patient(p, phone, language="en")
               for p, phone in {**PHONES, "p2": "+12125550102", **SOON}.items()},
            "Practitioner/d1": practitioner("d1")}
        self.posts: list[httpx.Request] = []
        self.puts: list[dict[str, Any]] = []  # the write-back's updates, as sent
        router.get(url__regex=rf"{re.escape(BASE)}/Appointment(\?.*)?$").mock(side_effect=self.search)
        router.get(url__regex=rf"{re.escape(BASE)}/Appointment/[\w-]+$").mock(side_effect=self.read_appointment)
        router.put(url__regex=rf"{re.escape(BASE)}/Appointment/[\w-]+$").mock(side_effect=self.update)
        router.post(f"{BASE}/Appointment").mock(side_effect=self.create)
        router.get(url__regex=rf"{re.escape(BASE)}/(Patient|Practitioner)/[\w-]+$").mock(side_effect=self.read)

    def _bundle(self, matches: list[dict[str, Any]]) -> dict[str, Any]:
        stamped = [{**r, "meta": r.get("meta") or {"versionId": "1", "lastUpdated": "2030-01-10T09:00:00Z"}}
                   for r in matches]
        refs = {p["actor"]["reference"] for r in matches for p in r["participant"]}
        included = [self.people[ref] for ref in sorted(refs) if ref in self.people]
        return {"resourceType": "Bundle", "type": "searchset",
                "entry": [{"resource": r, "search": {"mode": "match"}} for r in stamped]
                + [{"resource": r, "search": {"mode": "include"}} for r in included]}

    def search(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if "identifier" in params:  # a booking's retry looks for its own first attempt
            value = params["identifier"].split("|", 1)[1]
            found = [r for r in self.booked if any(i.get("value") == value for i in r.get("identifier", []))]
            return httpx.Response(200, json=self._bundle(found))
        if params.get("status") == "waitlist":
            return httpx.Response(200, json=self._bundle(self.waiting))
        return httpx.Response(200, json=self._bundle(self.booked))

    def read(self, request: httpx.Request) -> httpx.Response:
        key = request.url.path.split("/r4/", 1)[1]
        return httpx.Response(200, json=self.people[key]) if key in self.people else httpx.Response(404)

    def _find(self, request: httpx.Request) -> dict[str, Any] | None:
        wanted = request.url.path.rsplit("/", 1)[1]
        return next((r for r in self.booked if r["id"] == wanted), None)

    def read_appointment(self, request: httpx.Request) -> httpx.Response:
        found = self._find(request)
        if found is None:
            return httpx.Response(404)
        return httpx.Response(200, json={**found, "meta": found.get("meta") or {"versionId": "1"}})

    def update(self, request: httpx.Request) -> httpx.Response:
        """The write-back of a patient's answer: a new version, listed by the next poll."""
        found = self._find(request)
        if found is None:
            return httpx.Response(404)
        resource = json.loads(request.content)
        version = int((found.get("meta") or {}).get("versionId", "1")) + 1
        resource["meta"] = {"versionId": str(version), "lastUpdated": iso_z(datetime.now(UTC))}
        self.puts.append(resource)
        self.booked[self.booked.index(found)] = resource
        return httpx.Response(200, json=resource)

    def create(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(request)
        resource = json.loads(request.content)
        resource.update(id=f"new{len(self.posts)}", meta={"versionId": "1", "lastUpdated": "2030-06-02T16:10:00Z"})
        self.booked.append(resource)  # the next poll lists it, as the EHR would
        location = f"{BASE}/Appointment/{resource['id']}/_history/1"
        return httpx.Response(201, json=resource, headers={"Location": location})


@pytest.fixture
def ehr() -> Iterator[FakeEhr]:
    with respx.mock(assert_all_called=False) as router:
        yield FakeEhr(router)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FhirClient, "sleep", staticmethod(lambda seconds: None))


@pytest.fixture
def fhir_settings(write_settings: Callable[..., Path], tmp_path: Path, scripted: Path) -> Settings:
    return load_settings(write_settings(connectors=f"""
        - name: ehr
          kind: fhir
          base_url: {BASE}
          delete_sweep: off
          waitlist: true
          waitlist_book: true
          writeback: true
          retry: {{attempts: 1}}
        """, extra=notifiers(tmp_path)))


def test_fhir_a_cancel_by_sms_is_offered_taken_by_link_booked_at_the_source_and_in_the_calendar(
        ehr: FakeEhr, fhir_settings: Settings, store: Store, tmp_path: Path) -> None:
    settings = fhir_settings
    with time_machine.travel(DAY1, tick=False) as clock:
        first = run_once(settings, store)
        assert not [k for k, v in first.extras.items() if isinstance(v, dict) and "error" in v], first.extras
        assert entries(store) == {"w1": "waiting", "w2": "waiting", "w3": "waiting"}
        assert ics_starts(tmp_path)["doctor-d1@clinic.example.ics"] == [START, START + timedelta(days=1)]
        assert texts(tmp_path) == []  # nothing freed yet

        clock.move_to(DAY1 + timedelta(minutes=5))
        with AppClient(create_app(settings, store), base_url=PUBLIC) as client:
            assert "you will not come" in cancel_by_sms(client).text

            # ONE cycle: the slot is freed and the best two waiting patients are offered it
            clock.move_to(DAY1 + timedelta(minutes=6))
            cycle = run_once(settings, store)
            assert cycle.extras["waitlist"]["freed"] == 1 and cycle.extras["waitlist"]["sent"] == 2, cycle.extras
            offers = texts(tmp_path)
            assert sorted(m["to"] for m in offers) == [PHONES["w1"], PHONES["w2"]]  # w1 first, w2 waits longer than w3
            [slot] = rows(store, FREED_SLOTS)
            assert (slot.freed_by, slot.start_utc, slot.practitioner_ref) == ("patient", START, "d1")
            # the patient's answer was written back to the EHR in the same run
            [put] = ehr.puts
            assert put["id"] == "a1" and [p["status"] for p in put["participant"]
                                          if p["actor"]["reference"] == "Patient/p1"] == ["declined"]
            # the cancelled appointment has left the doctor's calendar
            assert ics_starts(tmp_path)["doctor-d1@clinic.example.ics"] == [START + timedelta(days=1)]

            # w1 answers the text with "YES": pointed to the link, nothing taken
            yes = cancel_by_sms(client, "SM9", PHONES["w1"], "YES")
            assert "tap the link in our message" in yes.text
            assert [(s.status, s.taken_offer_id) for s in rows(store, FREED_SLOTS)] == [("open", None)]

            # w2 takes it by the link
            clock.move_to(DAY1 + timedelta(minutes=8))
            by_phone = {m["to"]: link(m) for m in offers}
            won = take(client, by_phone[PHONES["w2"]])
            assert won.status_code == 200 and "This slot is yours" in won.text

        # the next cycle books it at the source, puts it in the calendar and tells w1
        clock.move_to(DAY1 + timedelta(minutes=9))
        booked = run_once(settings, store)
        assert booked.extras["waitlist_book"]["written"] == 1, booked.extras
        [post] = ehr.posts
        body = json.loads(post.content)
        assert body["start"] == iso_z(START) and body["status"] == "booked"
        assert {p["actor"]["reference"] for p in body["participant"]} >= {"Patient/w2", "Practitioner/d1"}
        with store.engine.connect() as connection:
            stored = connection.execute(select(A).where(A.c.external_id == "new1")).one()
        assert (stored.patient_ref, stored.start_utc) == ("w2", START)
        with store.engine.connect() as connection:  # and the new patient's confirmation is planned
            planned = connection.execute(select(REMINDERS.c.kind).where(REMINDERS.c.appointment_id == stored.id))
            kinds = {kind for (kind,) in planned}
        assert "confirmation" in kinds, kinds
        assert ics_starts(tmp_path)["doctor-d1@clinic.example.ics"] == [START, START + timedelta(days=1)]
        told = texts(tmp_path, "waitlist:taken:")
        assert [m["to"] for m in told] == [PHONES["w1"]] and "has just been taken" in told[0]["body"]
        assert entries(store) == {"w1": "waiting", "w2": "booked", "w3": "waiting"}
        assert len(rows(store, WAITLIST_OFFERS)) == 2  # never w3

        # and nothing more: the booking is not repeated, nobody is offered or told twice
        clock.move_to(DAY1 + timedelta(minutes=15))
        again = run_once(settings, store)
        assert again.extras["waitlist_book"]["written"] == 0
        assert len(ehr.posts) == 1 and len(texts(tmp_path)) == 3
        # the EHR's own cancel (the write-back, polled back) freed no second slot
        assert [(s.start_utc, s.status) for s in rows(store, FREED_SLOTS)] == [(START, "taken")]
        assert entries(store)["w2"] == "booked"

        # the EHR cancels a2 itself: the poll's cancel frees it, offered to those still waiting
        a2 = next(r for r in ehr.booked if r["id"] == "a2")
        ehr.booked[ehr.booked.index(a2)] = {**a2, "status": "cancelled",
                                            "meta": {"versionId": "2", "lastUpdated": "2030-06-02T16:20:00Z"}}
        clock.move_to(DAY1 + timedelta(minutes=20))
        source_cancel = run_once(settings, store).extras["waitlist"]
        assert (source_cancel["freed"], source_cancel["sent"]) == (1, 2), source_cancel
        second = texts(tmp_path, "waitlist:offer:")[2:]
        assert sorted(m["to"] for m in second) == [PHONES["w1"], PHONES["w3"]]  # w2 is booked: no more offers
        assert all("Thu, Jun 13" in m["body"] for m in second)
        assert {s.freed_by for s in rows(store, FREED_SLOTS)} == {"patient", "source"}


# -- SQL ----------------------------------------------------------------------------------------
PMS_SCHEMA = [
    "CREATE TABLE patients (id VARCHAR(16) PRIMARY KEY, name VARCHAR(80), phone VARCHAR(20))",
    """CREATE TABLE visits (appointment_id INT AUTO_INCREMENT PRIMARY KEY, patient_id VARCHAR(16) NOT NULL,
       doctor_id VARCHAR(16), type VARCHAR(40), location VARCHAR(40), start_at DATETIME NOT NULL,
       end_at DATETIME NOT NULL, status VARCHAR(16) NOT NULL DEFAULT 'booked', waitlist_slot INT UNIQUE)""",
    """CREATE TABLE waiting_list (id VARCHAR(16) PRIMARY KEY, patient_id VARCHAR(16) NOT NULL,
       practitioner_id VARCHAR(16), priority INT, waiting_since VARCHAR(20), status VARCHAR(16))""",
    "INSERT INTO patients VALUES ('p1', 'Ana Ruiz', '+12125550101'), ('p2', 'Bo Chen', '+12125550102'),"
    " ('w1', 'Cy Diaz', '+12125550201'), ('w2', 'Di Eng', '+12125550202'), ('w3', 'Ed Fox', '+12125550203')",
    # local wall-clock times (the connector's timezone): START is 10:00 in New York
    "INSERT INTO visits (patient_id, doctor_id, type, location, start_at, end_at) VALUES"
    " ('p1', 'd1', 'Check-up', 'Room 1', '2030-06-12 10:00', '2030-06-12 10:30'),"
    " ('p2', 'd1', 'Check-up', 'Room 1', '2030-06-13 10:00', '2030-06-13 10:30')",
    "INSERT INTO waiting_list VALUES ('wl1', 'w1', 'd1', 5, '2030-02-01 09:00', 'waiting'),"
    " ('wl2', 'w2', 'd1', 0, '2030-01-05 09:00', 'waiting'), ('wl3', 'w3', 'd1', 0, '2030-03-05 09:00', 'waiting')",
]
VISITS = ("SELECT v.appointment_id, v.start_at AS start,"
          " TIMESTAMPDIFF(MINUTE, v.start_at, v.end_at) AS duration_minutes, v.status, v.type, v.location,"
          " v.patient_id, p.name AS patient_name, p.phone AS patient_phone, v.doctor_id,"
          " 'Dr Amelia Hart' AS doctor_name, 'doctor-d1@clinic.example' AS doctor_email"
          " FROM visits v JOIN patients p ON p.id = v.patient_id")
WAITING = ("SELECT w.id, w.patient_id, p.name AS patient_name, p.phone, w.practitioner_id, w.priority, w.waiting_since,"
           " w.status FROM waiting_list w JOIN patients p ON p.id = w.patient_id")
BOOK = ("INSERT IGNORE INTO visits (patient_id, doctor_id, type, location, start_at, end_at, waitlist_slot)"
        " VALUES (:patient_id, :doctor_id, :type, :location, :start_local, :end_local, :slot_id)")


@pytest.fixture
def pms(mariadb_database: dict[str, Any]) -> Iterator[Callable[[str], list[tuple[Any, ...]]]]:
    """The practice's MariaDB: patients, visits, a waiting list; returns a query runner."""
    import pymysql

    kwargs = {k: v for k, v in mariadb_database.items() if k != "url"}

    def run(sql: str) -> list[tuple[Any, ...]]:
        with pymysql.connect(**kwargs, autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    for statement in PMS_SCHEMA:
        run(statement)
    yield run


@pytest.fixture
def sql_settings(mariadb_database: dict[str, Any], pms: Any, write_settings: Callable[..., Path], tmp_path: Path,
                 scripted: Path) -> Settings:
    url = mariadb_database["url"]
    return load_settings(write_settings(connectors=f"""
        - name: pms
          kind: sql
          url: "{url}"
          mapping: csv_default
          mode: snapshot
          timezone: America/New_York
          query: "{VISITS}"
          writeback:
            url: "{url}"
            waitlist_book_statement: "{BOOK}"
        - name: pms-waitlist
          kind: sql
          url: "{url}"
          mapping: csv_waitlist
          mode: snapshot
          timezone: America/New_York
          waitlist_of: pms
          query: "{WAITING}"
        """, extra=notifiers(tmp_path)))


@pytest.mark.mariadb
def test_sql_a_cancel_by_sms_is_offered_taken_by_link_and_the_row_written_in_the_source(
        pms: Callable[[str], list[tuple[Any, ...]]], sql_settings: Settings, store: Store, tmp_path: Path) -> None:
    settings = sql_settings
    with time_machine.travel(DAY1, tick=False) as clock:
        first = run_once(settings, store)
        assert not [k for k, v in first.extras.items() if isinstance(v, dict) and "error" in v], first.extras
        assert entries(store) == {"w1": "waiting", "w2": "waiting", "w3": "waiting"}
        assert ics_starts(tmp_path)["doctor-d1@clinic.example.ics"] == [START, START + timedelta(days=1)]

        with AppClient(create_app(settings, store), base_url=PUBLIC) as client:
            clock.move_to(DAY1 + timedelta(minutes=5))
            assert "you will not come" in cancel_by_sms(client).text

            clock.move_to(DAY1 + timedelta(minutes=6))
            cycle = run_once(settings, store)
            assert cycle.extras["waitlist"]["freed"] == 1 and cycle.extras["waitlist"]["sent"] == 2, cycle.extras
            offers = texts(tmp_path)
            assert sorted(m["to"] for m in offers) == [PHONES["w1"], PHONES["w2"]]  # w1 (priority), w2 (longest)

            clock.move_to(DAY1 + timedelta(minutes=8))
            won = take(client, {m["to"]: link(m) for m in offers}[PHONES["w1"]])
            assert won.status_code == 200 and "This slot is yours" in won.text

        clock.move_to(DAY1 + timedelta(minutes=9))
        booked = run_once(settings, store)
        assert booked.extras["waitlist_book"]["written"] == 1, booked.extras
        [slot] = rows(store, FREED_SLOTS)
        written = pms("SELECT patient_id, doctor_id, start_at, end_at, waitlist_slot FROM visits"
                      " WHERE patient_id = 'w1'")
        assert written == [("w1", "d1", datetime(2030, 6, 12, 10), datetime(2030, 6, 12, 10, 30), slot.id)]
        told = texts(tmp_path, "waitlist:taken:")
        assert [m["to"] for m in told] == [PHONES["w2"]] and "has just been taken" in told[0]["body"]
        assert entries(store) == {"w1": "booked", "w2": "waiting", "w3": "waiting"}

        # the source's next poll brings the new visit: the doctor's calendar shows it
        clock.move_to(DAY1 + timedelta(minutes=15))
        run_once(settings, store)
        with store.engine.connect() as connection:
            new = connection.execute(select(A).where(A.c.connector == "pms", A.c.patient_ref == "w1")).one()
        assert new.start_utc == START
        assert ics_starts(tmp_path)["doctor-d1@clinic.example.ics"] == [START, START + timedelta(days=1)]
        assert len(texts(tmp_path, "waitlist:offer:")) == 2 and len(told) == 1


# -- the rules: quiet hours, lead time, never twice -----------------------------------------------
NIGHT = datetime(2030, 6, 3, 3, tzinfo=UTC)  # Sun 23:00 in New York
MORNING = datetime(2030, 6, 3, 12, tzinfo=UTC)  # Mon 08:00 in New York: the quiet hours end


# The rules below are timing choices (quiet hours, lead time, hold, never twice) made in Python;
# the store writes they lead to (freed slots, offers, the locked acceptance, the booking, the
# taken notice) run on PostgreSQL in the FHIR and SQL tests above: SQLite only.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_offers_wait_for_the_morning_never_come_inside_the_lead_time_and_never_twice(
        ehr: FakeEhr, fhir_settings: Settings, store: Store, tmp_path: Path) -> None:
    settings = fhir_settings
    # p3's visit is at 11:00 on Monday: freed at 23:00 the night before, more than 4h ahead, but
    # by the morning it is within the lead time. p4's is at 18:00 today: inside the lead time.
    ehr.booked += [appointment("a3", datetime(2030, 6, 3, 15, tzinfo=UTC), "p3", "d1"),
                   appointment("a4", datetime(2030, 6, 2, 22, tzinfo=UTC), "p4", "d1")]
    with time_machine.travel(DAY1, tick=False) as clock:
        run_once(settings, store)
        with AppClient(create_app(settings, store), base_url=PUBLIC) as client:
            clock.move_to(datetime(2030, 6, 2, 20, tzinfo=UTC))  # 16:00: p4 cancels 2h ahead
            cancel_by_sms(client, "SM0", SOON["p4"])
            assert run_once(settings, store).extras["waitlist"]["freed"] == 0
            assert rows(store, FREED_SLOTS) == []  # inside the lead time: no slot

            clock.move_to(NIGHT)
            cancel_by_sms(client, "SM1", CANCELLER)
            cancel_by_sms(client, "SM2", SOON["p3"])
        night = run_once(settings, store).extras["waitlist"]
        assert (night["freed"], night["sent"]) == (2, 0), night
        assert texts(tmp_path) == []  # quiet hours: nothing goes out

        clock.move_to(MORNING - timedelta(minutes=1))
        assert run_once(settings, store).extras["waitlist"]["sent"] == 0
        assert texts(tmp_path) == []

        clock.move_to(MORNING)
        morning = run_once(settings, store).extras["waitlist"]
        assert morning["sent"] == 2, morning
        sent = texts(tmp_path)
        # only START's slot: p3's 11:00 came within the lead time before the morning
        assert sorted(m["to"] for m in sent) == [PHONES["w1"], PHONES["w2"]]
        assert all("Wed, Jun 12" in m["body"] for m in sent)
        assert {s.start_utc: s.status for s in rows(store, FREED_SLOTS)} == {
            START: "open", datetime(2030, 6, 3, 15, tzinfo=UTC): "expired"}

        # two more cycles: nobody is offered the same slot twice
        for minutes in (1, 2):
            clock.move_to(MORNING + timedelta(minutes=minutes))
            assert run_once(settings, store).extras["waitlist"]["sent"] == 0
        assert len(texts(tmp_path)) == 2
        made = rows(store, WAITLIST_OFFERS)
        pairs = [(o.slot_id, o.entry_id) for o in made]
        assert len(pairs) == len(set(pairs))  # one offer per slot and patient, ever
        slots = {s.id: s.start_utc for s in rows(store, FREED_SLOTS)}
        assert sorted((slots[o.slot_id] == START, o.status, o.sent_at is not None) for o in made) == [
            (False, "expired", False), (False, "expired", False), (True, "sent", True), (True, "sent", True)]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_sequential_one_patient_at_a_time_the_next_after_the_hold(
        ehr: FakeEhr, write_settings: Callable[..., Path], store: Store, tmp_path: Path, scripted: Path) -> None:
    """`strategy: sequential`, hold 30m: w1 alone, then w2 once w1's hold ran out; w1's late tap
    never takes the slot held for w2 (409), w2 takes it, and w1 is told."""
    sequential = notifiers(tmp_path).replace("strategy: batch\n  batch_size: 2", "strategy: sequential\n  hold: 30m")
    settings = load_settings(write_settings(connectors=f"""
        - name: ehr
          kind: fhir
          base_url: {BASE}
          delete_sweep: off
          waitlist: true
          waitlist_book: true
          retry: {{attempts: 1}}
        """, extra=sequential))
    with time_machine.travel(DAY1, tick=False) as clock:
        run_once(settings, store)
        with AppClient(create_app(settings, store), base_url=PUBLIC) as client:
            cancel_by_sms(client)
            clock.move_to(DAY1 + timedelta(minutes=1))
            assert run_once(settings, store).extras["waitlist"]["sent"] == 1
            assert [m["to"] for m in texts(tmp_path)] == [PHONES["w1"]]

            clock.move_to(DAY1 + timedelta(minutes=30))  # still held for w1
            assert run_once(settings, store).extras["waitlist"]["sent"] == 0
            clock.move_to(DAY1 + timedelta(minutes=32))
            after_hold = run_once(settings, store).extras["waitlist"]
            assert (after_hold["hold_expired"], after_hold["sent"]) == (1, 1), after_hold
            assert [m["to"] for m in texts(tmp_path)] == [PHONES["w1"], PHONES["w2"]]

            # w1's late tap, 1 minute into w2's hold: the slot is promised to w2 (issue 58)
            clock.move_to(DAY1 + timedelta(minutes=33))
            late = take(client, link(texts(tmp_path)[0]))
            assert late.status_code == 409 and "held for another patient" in late.text
            held = take(client, link(texts(tmp_path)[1]))
            assert held.status_code == 200 and "This slot is yours" in held.text
        clock.move_to(DAY1 + timedelta(minutes=34))
        booked = run_once(settings, store).extras
        assert booked["waitlist_book"]["written"] == 1
        assert json.loads(ehr.posts[0].content)["participant"][0]["actor"]["reference"] == "Patient/w2"
        assert [m["to"] for m in texts(tmp_path, "waitlist:taken:")] == [PHONES["w1"]]
        assert entries(store) == {"w1": "waiting", "w2": "booked", "w3": "waiting"}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_slot_taken_notice_waits_for_the_morning_too(
        ehr: FakeEhr, fhir_settings: Settings, store: Store, tmp_path: Path) -> None:
    evening = datetime(2030, 6, 3, 0, 45, tzinfo=UTC)  # Sun 20:45 in New York
    with time_machine.travel(evening, tick=False) as clock:
        run_once(fhir_settings, store)
        with AppClient(create_app(fhir_settings, store), base_url=PUBLIC) as client:
            cancel_by_sms(client)
            clock.move_to(evening + timedelta(minutes=5))
            assert run_once(fhir_settings, store).extras["waitlist"]["sent"] == 2  # 20:50: not quiet yet
            clock.move_to(evening + timedelta(minutes=10))
            assert take(client, link(texts(tmp_path)[0])).status_code == 200
        clock.move_to(evening + timedelta(minutes=20))  # 21:05: quiet
        night = run_once(fhir_settings, store).extras
        assert night["waitlist_book"]["written"] == 1 and night["waitlist"]["told_taken"] == 0
        assert texts(tmp_path, "waitlist:taken:") == []
        clock.move_to(MORNING)
        assert run_once(fhir_settings, store).extras["waitlist"]["told_taken"] == 1
        assert len(texts(tmp_path, "waitlist:taken:")) == 1
