"""The REST API for appointments end to end through the real app: create, a retried create,
update, reschedule, cancel and read, each through the connector's mapping, change detection
and the outbox (the planner then plans what a polled record would get); keys scoped to one
source; RFC 9457 problems that name the field and store nothing; a rate limit per source."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.connectors.rest_api import holder, key_digest, new_key
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Appointment, Event, SyncRun
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store

pytestmark = pytest.mark.anyio
# Fixed keys (parametrized ids must match across xdist workers); new_key() is tested below.
KEY, OTHER_KEY, SLOW_KEY = (f"csk_test-{name}-0123456789abcdefghijklmnopq" for name in ("website", "other", "slow"))
DIGEST, OTHER_DIGEST, SLOW_DIGEST = (key_digest(key) for key in (KEY, OTHER_KEY, SLOW_KEY))
A = Appointment.__table__  # type: ignore[attr-defined]
BOOKING: dict[str, Any] = {
    "id": "B-1001", "status": "booked", "start": "2030-03-12T09:30:00-04:00", "duration_minutes": 30,
    "timezone": "America/New_York", "type": "New patient",
    "patient": {"id": "P-77", "name": "Ana María Ruiz", "phone": "(212) 555-0101", "email": "ana@example.org",
                "language": "es"},
    "practitioner": {"id": "D-1", "name": "Dr. Amelia Hart", "email": "hart@clinic.example.org"},
}


@pytest.fixture
def settings(write_settings: Callable[..., Path]) -> Settings:
    return load_settings(write_settings(connectors=f"""
- name: website
  kind: rest_api
  api_keys: [{{name: booking-site, sha256: {DIGEST}}}]
- name: slow
  kind: rest_api
  api_keys: [{{name: slow-tool, sha256: {SLOW_DIGEST}}}]
  rate_per_second: 0.01
  burst: 3
- name: other
  kind: rest_api
  api_keys: [{{name: other-tool, sha256: {OTHER_DIGEST}}}]
"""))


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal",
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


def stored(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(A).order_by(A.c.id)))


def events(store: Store) -> list[str]:
    table = Event.__table__  # type: ignore[attr-defined]
    with store.engine.connect() as connection:
        return [r.kind for r in connection.execute(select(table).order_by(table.c.id))]


async def test_create_retry_update_reschedule_cancel_and_read(client: httpx.AsyncClient, store: Store,
                                                              settings: Settings) -> None:
    created = await client.post("/api/v1/appointments", json=BOOKING)
    assert (created.status_code, created.json()) == (201, {"id": "B-1001", "result": "created", "notes": []})
    [row] = stored(store)
    assert (row.connector, row.external_id, row.status, row.timezone) == ("website", "B-1001", "booked",
                                                                          "America/New_York")
    assert row.start_utc.isoformat().startswith("2030-03-12T13:30")  # EDT: UTC-4

    retried = await client.post("/api/v1/appointments", json=BOOKING)  # the caller's retry after a timeout
    assert (retried.status_code, retried.json()["result"]) == (200, "unchanged")
    assert len(stored(store)) == 1 and events(store) == ["created"]

    moved = await client.put("/api/v1/appointments/B-1001", json={
        **{k: v for k, v in BOOKING.items() if k != "id"}, "start": "2030-03-13T10:00:00-04:00"})
    assert (moved.status_code, moved.json()["result"]) == (200, "rescheduled")
    cancelled = await client.post("/api/v1/appointments/B-1001/cancel")
    assert (cancelled.status_code, cancelled.json()["result"]) == (200, "cancelled")
    assert events(store) == ["created", "rescheduled", "cancelled"]

    read = await client.get("/api/v1/appointments/B-1001")
    assert read.status_code == 200
    assert read.json() | {"reminders": {}} == {
        "id": "B-1001", "status": "cancelled", "start": "2030-03-13T14:00:00Z", "timezone": "America/New_York",
        "type": "New patient", "doctor": "Dr. Amelia Hart", "answer": None, "reminders": {}, "calendar": "none"}
    with store.engine.connect() as connection:
        runs = connection.execute(select(func.count()).select_from(SyncRun.__table__)  # type: ignore[attr-defined]
                                  .where(SyncRun.__table__.c.status == "ok")).scalar()  # type: ignore[attr-defined]
    assert runs == 4  # each write is a run in the history, as a poll is


async def test_a_pushed_booking_is_planned_like_a_polled_one(client: httpx.AsyncClient, store: Store,
                                                             settings: Settings) -> None:
    await client.put("/api/v1/appointments/B-2", json={k: v for k, v in BOOKING.items() if k != "id"})
    plan(settings, store)
    with store.engine.connect() as connection:
        kinds = {r.kind for r in connection.execute(select(REMINDERS))}
    assert "confirmation" in kinds


async def test_an_older_update_never_overwrites_newer_data(client: httpx.AsyncClient, store: Store) -> None:
    newer = {**BOOKING, "updated_at": "2025-01-02T10:00:00Z", "start": "2030-03-12T11:00:00-04:00"}
    await client.post("/api/v1/appointments", json=newer)
    older = {**BOOKING, "updated_at": "2025-01-01T10:00:00Z"}
    answer = await client.put("/api/v1/appointments/B-1001", json={k: v for k, v in older.items() if k != "id"})
    assert answer.json()["result"] == "unchanged"
    assert stored(store)[0].start_utc.isoformat().startswith("2030-03-12T15:00")


async def test_docs_example_round_trips_as_written(client: httpx.AsyncClient, store: Store) -> None:
    """docs/api.md's body, as printed: created by POST, the same body (with its id) accepted by
    PUT to its path, a different id refused naming `id`, and /cancel cancels (issue 29 obs 5)."""
    text = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    body = json.loads(re.search(r"The body \(`rest_api_v1`\):\n\n```json\n(.*?)```", text, re.S).group(1))  # type: ignore[union-attr]
    assert (await client.post("/api/v1/appointments", json=body)).status_code == 201
    again = await client.put(f"/api/v1/appointments/{body['id']}", json=body)
    assert (again.status_code, again.json()["result"]) == (200, "unchanged")
    other = await client.put("/api/v1/appointments/B-other", json=body)
    assert other.status_code == 422 and [e["field"] for e in other.json()["errors"]] == ["id"]
    cancelled = await client.post(f"/api/v1/appointments/{body['id']}/cancel")
    assert cancelled.json()["result"] == "cancelled" and stored(store)[0].status == "cancelled"


async def test_a_clock_ahead_is_refused_and_cancel_always_wins(client: httpx.AsyncClient, store: Store) -> None:
    """An updated_at a year ahead would freeze the appointment (every later update older):
    refused with 422 naming the field, nothing stored. One just ahead (inside the tolerance)
    is taken; a cancel after it still cancels."""
    year_ahead = iso_z(utcnow() + timedelta(days=365))
    ahead = await client.post("/api/v1/appointments", json={**BOOKING, "updated_at": year_ahead})
    assert ahead.status_code == 422 and ahead.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in ahead.json()["errors"]] == ["updated_at"] and stored(store) == []
    near = iso_z(utcnow() + timedelta(seconds=120))
    assert (await client.post("/api/v1/appointments", json={**BOOKING, "updated_at": near})).status_code == 201
    cancelled = await client.post("/api/v1/appointments/B-1001/cancel")
    assert cancelled.json()["result"] == "cancelled" and stored(store)[0].status == "cancelled"


@pytest.mark.parametrize(("change", "field"), [
    ({"start": "next tuesday"}, "start"),
    ({"start": "0001-01-01T00:00:00Z"}, "start"),  # .NET's empty date: outside clinic.plausible_dates
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"status": "maybe"}, "status"),
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"surprise": 1}, "surprise"),
    ({"id": ""}, "id"),
])
async def test_bad_input_is_a_problem_naming_the_field_and_stores_nothing(
        client: httpx.AsyncClient, store: Store, change: dict[str, Any], field: str) -> None:
    response = await client.post("/api/v1/appointments", json={**BOOKING, **change})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422 and field in [e["field"] for e in problem["errors"]]
    assert "555-12" not in response.text and "next tuesday" not in response.text  # the input is never echoed
    assert stored(store) == []


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer csk_wrong", f"Basic {KEY}", "Bearer " + "x" * 5000])
async def test_no_valid_key_is_401_and_stores_nothing(client: httpx.AsyncClient, store: Store,
                                                      authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    client.headers.pop("Authorization")
    response = await client.post("/api/v1/appointments", json=BOOKING, headers=headers)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored(store) == []


async def test_an_unusable_optional_value_is_left_out_with_a_note(client: httpx.AsyncClient, store: Store) -> None:
    """Issue 18's rule for optional data holds for pushed records too: the booking is stored
    without the phone, and the answer says which field was left out (never its value)."""
    response = await client.post("/api/v1/appointments", json={**BOOKING, "patient": {**BOOKING["patient"],
                                                                                       "phone": "555-12"}})
    assert response.status_code == 201
    [note] = response.json()["notes"]
    assert note.startswith("patient.phone: dropped") and "555-12" not in response.text
    assert stored(store)[0].quality_notes == note


async def test_a_key_reaches_only_its_own_source(client: httpx.AsyncClient, store: Store) -> None:
    await client.post("/api/v1/appointments", json=BOOKING)
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    assert (await client.get("/api/v1/appointments/B-1001", headers=other)).status_code == 404
    assert (await client.post("/api/v1/appointments/B-1001/cancel", headers=other)).status_code == 404
    await client.post("/api/v1/appointments", json=BOOKING, headers=other)
    assert sorted((r.connector, r.status) for r in stored(store)) == [("other", "booked"), ("website", "booked")]


async def test_each_source_is_rate_limited(client: httpx.AsyncClient) -> None:
    slow = {"Authorization": f"Bearer {SLOW_KEY}"}
    answers = [(await client.get("/api/v1/appointments/none", headers=slow)).status_code for _ in range(4)]
    assert answers == [404, 404, 404, 429]  # a burst of 3, then one per 100 s
    limited = await client.get("/api/v1/appointments/none", headers=slow)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 90
    assert (await client.get("/api/v1/appointments/none")).status_code == 404  # other sources are not held up


async def test_the_api_is_in_the_openapi_schema(settings: Settings, store: Store) -> None:
    paths = create_app(settings, store).openapi()["paths"]  # served only to status-page users
    assert {"/api/v1/appointments", "/api/v1/appointments/{external_id}",
            "/api/v1/appointments/{external_id}/cancel"} <= set(paths)


def test_a_push_source_is_never_polled(settings: Settings, store: Store) -> None:
    """`sync --once` and `run` leave a rest_api source alone: no empty run every minute."""
    report = sync_once(settings, store)
    assert report.connectors == {}


def test_new_keys_are_long_random_and_only_their_digest_matches(settings: Settings) -> None:
    key, digest = new_key()
    assert key.startswith("csk_") and len(key) >= 40 and key != new_key()[0]
    assert digest == key_digest(key) and key not in digest
    [website] = [c for c in settings.connectors if c.name == "website"]
    assert holder(website, KEY) == "booking-site"  # type: ignore[arg-type]
    assert holder(website, key) is None and holder(website, DIGEST) is None  # type: ignore[arg-type]


async def test_a_video_visit_with_its_link_and_a_changed_link(client: httpx.AsyncClient, store: Store) -> None:
    """Telehealth through the REST API (issue 22): the mode and link are stored, a link that is
    not https is left out with a note, and a changed link is an update."""
    video = {**BOOKING, "visit_mode": "video", "join_url": "https://vc.example.org/j/58210"}
    created = await client.post("/api/v1/appointments", json=video)
    assert (created.status_code, created.json()["notes"]) == (201, [])
    [row] = stored(store)
    assert (row.visit_mode, row.join_url) == ("video", "https://vc.example.org/j/58210")
    body = {k: v for k, v in video.items() if k != "id"}
    changed = await client.put("/api/v1/appointments/B-1001", json={**body, "join_url": "https://vc.example.org/j/9"})
    assert changed.json()["result"] == "updated" and stored(store)[0].join_url == "https://vc.example.org/j/9"
    insecure = await client.put("/api/v1/appointments/B-1001", json={**body, "join_url": "http://vc.example.org/j/9"})
    assert insecure.json()["notes"] == ["join_url: dropped (not an https link)"]
    assert stored(store)[0].join_url is None and stored(store)[0].visit_mode == "video"
    refused = await client.put("/api/v1/appointments/B-1001", json={**body, "visit_mode": "hologram"})
    assert refused.status_code == 422


@pytest.mark.parametrize("path", ["/api/v1/appointments", "/api/v1/appointments/B-1001", "/api/v1/waitlist"])
@pytest.mark.parametrize("body", [b"{not json", b"[" * 5000, b"\xff\xfe", b'{"id": ' + b"9" * 5000 + b"}"])
async def test_the_key_is_checked_before_the_body_is_read(client: httpx.AsyncClient, store: Store, path: str,
                                                          body: bytes) -> None:
    """Authenticated before parsed: a body the parser would refuse, sent without a key, is a
    401 (FastAPI alone parses the JSON before it solves the key's dependency: 400 or 422)."""
    client.headers.pop("Authorization")
    method = "PUT" if path.endswith("B-1001") else "POST"
    response = await client.request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    with_key = await client.request(method, path, content=body, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    assert with_key.status_code in (400, 422)  # with the key, the body's own problem
    assert stored(store) == []


async def test_a_source_over_its_rate_is_refused_before_its_body_is_read(client: httpx.AsyncClient) -> None:
    slow = {"Authorization": f"Bearer {SLOW_KEY}", "Content-Type": "application/json"}
    answers = [(await client.post("/api/v1/appointments", content=b"{not json", headers=slow)).status_code
               for _ in range(4)]
    assert answers[3] == 429 and set(answers[:3]) <= {400, 422}
