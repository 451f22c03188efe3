"""A push source renamed in settings.yaml, through the real app and the
CLI as the admin types it, on SQLite and on PostgreSQL.

On main, a REST API source renamed in the settings (`name: website` -> `name: site`, the same API
key) stored the sender's next update of a visit it already had as a new visit under the new
name: a second appointment row, a `created` event, a second confirmation planned for a patient
who already had one; and then `clinicsync source rename website site` was refused because the
new name had rows. Now the push is answered 503 with Retry-After, as for a store that is down,
nothing is stored, and the sender's retry after `source rename` is an update of the moved visit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Appointment, Event, SyncRun
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.conftest import Cli
from tests.server.test_api import BOOKING  # the API tests' booking: a patient, a doctor, a future visit

pytestmark = pytest.mark.anyio
KEY = "csk_test-website-0123456789abcdefghijklmnopq"
A, EVENTS, RUNS = (t.__table__ for t in (Appointment, Event, SyncRun))  # type: ignore[attr-defined]
MOVED = {**BOOKING, "start": "2030-03-12T11:00:00-04:00"}  # the sender's next update: rescheduled


def source(name: str, key: str = KEY) -> str:
    return f"- name: {name}\n  kind: rest_api\n  api_keys: [{{name: booking-site, sha256: {key_digest(key)}}}]\n"


@asynccontextmanager
async def client(settings: Settings, store: Store, key: str = KEY) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal",
                                 headers={"Authorization": f"Bearer {key}"}) as http:
        yield http


def rows(store: Store) -> list[tuple[str, str, str]]:
    with store.engine.connect() as connection:
        return [(r.connector, r.external_id, r.start_utc.strftime("%H:%M"))
                for r in connection.execute(select(A).order_by(A.c.id))]


def events(store: Store) -> list[str]:
    with store.engine.connect() as connection:
        return [r.kind for r in connection.execute(select(EVENTS).order_by(EVENTS.c.id))]


def confirmations(settings: Settings, store: Store) -> list[str]:
    plan(settings, store)
    with store.engine.connect() as connection:
        return [r.connector for r in connection.execute(select(REMINDERS).where(REMINDERS.c.kind == "confirmation"))]


def refusals(metrics: str) -> float:
    line = next((line for line in metrics.splitlines()
                 if line.startswith('clinicsync_webhook_requests_total{endpoint="api_v1",result="refused_orphan"}')),
                None)
    return 0.0 if line is None else float(line.split()[-1])


async def test_a_renamed_push_source_is_refused_until_source_rename_then_its_retry_is_an_update(
        write_settings: Callable[..., Path], store: Store) -> None:
    before = load_settings(write_settings(connectors=source("website")))
    async with client(before, store) as http:
        assert (await http.post("/api/v1/appointments", json=BOOKING)).status_code == 201
    assert confirmations(before, store) == ["website"]

    renamed_file = write_settings(connectors=source("site"))  # the admin renames it, the same API key
    renamed = load_settings(renamed_file)
    async with client(renamed, store) as http:
        refused = await http.put("/api/v1/appointments/B-1001", json=MOVED)
        again = await http.put("/api/v1/appointments/B-1001", json=MOVED)  # the sender retries
        metrics = (await http.get("/metrics")).text
    # main: 201 "created", a second row under 'site', a second confirmation planned
    assert (refused.status_code, again.status_code) == (503, 503), refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    problem = refused.json()
    assert "'site'" in problem["detail"] and "nothing was stored" in problem["detail"]
    assert "Ana" not in refused.text and "555" not in refused.text
    assert refusals(metrics) == 2
    assert rows(store) == [("website", "B-1001", "13:30")] and events(store) == ["created"]
    assert confirmations(renamed, store) == ["website"]
    with store.engine.connect() as connection:  # the status page shows the refusal as the source's failure
        errors = list(connection.execute(select(RUNS.c.error).where(RUNS.c.connector == "site")).scalars())
    assert len(errors) == 2 and all(e.startswith("refused: first run of source 'site'") for e in errors)
    assert all("clinicsync source rename website site" in e for e in errors)

    Cli(renamed_file)("source", "rename", "website", "site")  # main: refused, 'site' already has rows
    async with client(renamed, store) as http:
        retried = await http.put("/api/v1/appointments/B-1001", json=MOVED)
    assert (retried.status_code, retried.json()["result"]) == (200, "rescheduled")
    assert rows(store) == [("site", "B-1001", "15:00")]
    assert events(store) == ["created", "rescheduled"]  # no second `created`: no second calendar event
    assert confirmations(renamed, store) == ["site"]  # the one confirmation, moved; none planned again


async def test_a_new_push_source_is_refused_only_while_an_orphan_exists(
        write_settings: Callable[..., Path], store: Store) -> None:
    other = "csk_test-other-0123456789abcdefghijklmnopq"
    fresh = load_settings(write_settings(connectors=source("website")))
    async with client(fresh, store) as http:  # nothing orphaned: a brand-new source's first push is stored
        assert (await http.post("/api/v1/appointments", json=BOOKING)).status_code == 201

    # 'website' leaves the settings; a new source comes: refused while 'website' is an orphan ...
    both = write_settings(connectors=source("kiosk", other))
    async with client(load_settings(both), store, other) as http:
        assert (await http.post("/api/v1/appointments", json={**BOOKING, "id": "K-1"})).status_code == 503
    # ... and stored once the admin says 'website' is gone for good
    Cli(both)("source", "retire", "website")
    async with client(load_settings(both), store, other) as http:
        assert (await http.post("/api/v1/appointments", json={**BOOKING, "id": "K-1"})).status_code == 201
    assert sorted(r[:2] for r in rows(store)) == [("kiosk", "K-1"), ("website", "B-1001")]


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", note)


async def test_an_established_push_source_pays_no_statement_for_the_check(
        write_settings: Callable[..., Path], store: Store) -> None:
    """A source with rows pushes in as many statements while another source is orphaned as
    without one: whether it has rows is read in the push's one read, never the orphans."""
    other = "csk_test-other-0123456789abcdefghijklmnopq"
    settings = load_settings(write_settings(connectors=source("website") + source("kiosk", other)))
    async with client(settings, store) as http:
        assert (await http.post("/api/v1/appointments", json=BOOKING)).status_code == 201
    async with client(settings, store, other) as http:
        assert (await http.post("/api/v1/appointments", json={**BOOKING, "id": "K-1"})).status_code == 201
        for kind in ("Check-up", "Follow-up"):  # the first warms what the store reads once (the zone rules)
            with statements(store) as alone:
                assert (await http.put("/api/v1/appointments/K-1", json={**BOOKING, "id": "K-1", "type": kind})
                        ).status_code == 200

    orphaned = load_settings(write_settings(connectors=source("kiosk", other)))  # 'website' is now an orphan
    async with client(orphaned, store, other) as http:
        with statements(store) as beside_an_orphan:
            assert (await http.put("/api/v1/appointments/K-1", json={**BOOKING, "id": "K-1", "type": "Check-up"})
                    ).status_code == 200
    assert len(beside_an_orphan) == len(alone), (alone, beside_an_orphan)
    assert not any("from syncrun" in s.lower() for s in beside_an_orphan)  # the orphans' read is not made
