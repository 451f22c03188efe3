"""``/api/v1/waitlist`` through the real app on SQLite and PostgreSQL: create, a retried
create, update, read, list, delete; keys scoped to one source; problem+json naming the
field and storing nothing; the appointments API's authentication and rate limit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Patient
from clinicsync.sync.store.model.waitlist import WAITLIST_ENTRIES
from clinicsync.sync.store.store import Store

pytestmark = pytest.mark.anyio
KEY, OTHER_KEY, SLOW_KEY = (f"csk_test-{name}-0123456789abcdefghijklmnopq" for name in ("website", "other", "slow"))
ENTRY: dict[str, Any] = {
    "id": "W-1", "patient": {"id": "P-77", "name": "Ana María Ruiz", "phone": "(212) 555-0101"},
    "doctor_id": "D-1", "visit_type": "New patient", "duration_minutes": 30,
    "windows": "mon-fri 09:00-13:00", "periods": [{"start": "2030-03-01T08:00", "end": "2030-03-31T18:00"}],
    "priority": 3, "expires": "2030-04-01T00:00:00Z", "timezone": "America/New_York",
}


@pytest.fixture
def settings(write_settings: Callable[..., Path]) -> Settings:
    return load_settings(write_settings(connectors=f"""
- name: website
  kind: rest_api
  api_keys: [{{name: booking-site, sha256: {key_digest(KEY)}}}]
  burst: 100
- name: slow
  kind: rest_api
  api_keys: [{{name: slow-tool, sha256: {key_digest(SLOW_KEY)}}}]
  burst: 3
  rate_per_second: 0.01
- name: other
  kind: rest_api
  api_keys: [{{name: other-tool, sha256: {key_digest(OTHER_KEY)}}}]
"""))


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal",
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


def rows(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(WAITLIST_ENTRIES)))


def known_doctor(store: Store, ref: str = "D-1", connector: str = "website") -> None:
    """A doctor whose visits the source sent: an entry naming an unknown one is refused (issue 58)."""
    from clinicsync.sync.store.model import Practitioner
    with store.engine.begin() as connection:
        connection.execute(insert(Practitioner.__table__).values(  # type: ignore[attr-defined]
            connector=connector, external_id=ref, name="Dr One", content_hash="x", updated_at=datetime.now(UTC)))


async def test_create_retry_update_read_list_delete(client: httpx.AsyncClient, store: Store) -> None:
    known_doctor(store)
    created = await client.post("/api/v1/waitlist", json=ENTRY)
    assert (created.status_code, created.json()) == (201, {"id": "W-1", "result": "created"})
    again = await client.post("/api/v1/waitlist", json=ENTRY)
    assert (again.status_code, again.json()["result"]) == (200, "unchanged")
    [row] = rows(store)
    assert (row.connector, row.external_id, row.patient_ref, row.practitioner_ref, row.priority) == \
        ("website", "W-1", "P-77", "D-1", 3)
    assert json.loads(row.windows) == [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "13:00"},
                                       {"start": "2030-03-01T13:00:00Z", "end": "2030-03-31T22:00:00Z"}]
    with store.engine.connect() as connection:
        patient = connection.execute(select(Patient.__table__)).one()  # type: ignore[attr-defined]
    assert (patient.external_id, patient.phone) == ("P-77", "+12125550101")

    changed = await client.post("/api/v1/waitlist", json={**ENTRY, "doctor_id": None, "priority": 5})
    assert changed.json()["result"] == "updated"
    read = await client.get("/api/v1/waitlist/W-1")
    assert read.status_code == 200
    body = read.json()
    assert (body["doctor_id"], body["priority"], body["status"], body["expires_at"]) == \
        (None, 5, "waiting", "2030-04-01T00:00:00Z")
    listed = await client.get("/api/v1/waitlist", params={"status": "waiting"})
    assert [e["id"] for e in listed.json()["entries"]] == ["W-1"]

    removed = await client.delete("/api/v1/waitlist/W-1")
    assert removed.json() == {"id": "W-1", "result": "removed"}
    assert (await client.delete("/api/v1/waitlist/W-1")).json()["result"] == "unchanged"
    assert (await client.get("/api/v1/waitlist/W-1")).json()["status"] == "removed"
    assert (await client.get("/api/v1/waitlist", params={"status": "waiting"})).json() == {"entries": []}


async def test_keys_see_only_their_source(client: httpx.AsyncClient, store: Store) -> None:
    await client.post("/api/v1/waitlist", json=ENTRY)
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    assert (await client.get("/api/v1/waitlist/W-1", headers=other)).status_code == 404
    assert (await client.delete("/api/v1/waitlist/W-1", headers=other)).status_code == 404
    assert (await client.get("/api/v1/waitlist", headers=other)).json() == {"entries": []}
    unauthorized = await client.get("/api/v1/waitlist", headers={"Authorization": "Bearer nope"})
    assert unauthorized.status_code == 401
    assert unauthorized.headers["content-type"].startswith("application/problem+json")
    assert unauthorized.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("change", "field"), [
    ({"windows": "someday 09:00-10:00"}, "windows"),
    ({"periods": [{"start": "2030-03-09T00:00", "end": "2030-03-01T00:00"}]}, "periods"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"priority": -1}, "priority"),
    ({"priority": "high"}, "priority"),
    ({"patient": {"name": "no id"}}, "patient.id"),
    ({"doctor": "D-1"}, "doctor"),
])
async def test_problems_name_the_field_and_store_nothing(client: httpx.AsyncClient, store: Store,
                                                         change: dict[str, Any], field: str) -> None:
    answer = await client.post("/api/v1/waitlist", json={**ENTRY, **change})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert field in [e["field"] for e in problem["errors"]], problem
    assert "someday" not in answer.text and "Mars" not in answer.text
    assert rows(store) == []


async def test_rate_limited_like_the_appointments_api(client: httpx.AsyncClient) -> None:
    slow = {"Authorization": f"Bearer {SLOW_KEY}"}
    answers = [(await client.get("/api/v1/waitlist", headers=slow)).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_the_published_schema_describes_the_waitlist(settings: Settings, store: Store) -> None:
    schema = create_app(settings, store).openapi()
    assert {"/api/v1/waitlist", "/api/v1/waitlist/{external_id}"} <= set(schema["paths"])
    post = schema["paths"]["/api/v1/waitlist"]["post"]
    assert {"201", "401", "422", "429"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["422"]["content"]
