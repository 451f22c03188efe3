"""A push source refreshes PostgreSQL's planner statistics of the tables its pushes read by key
(sync/ingest/push.py ``_Statistics``, issue 32). Until a table is first analyzed, the planner thinks its
indexes are empty and may read a pushed appointment through ix_appointment_practitioner, every
row of the source, instead of its unique key: on a store with autovacuum off, forever. Each
source's pushes analyze those tables when they created 32, 64, 128, … appointments in this process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest import push
from clinicsync.sync.ingest.push import PushReceiver
from clinicsync.sync.store.store import Store

pytestmark = pytest.mark.parametrize("store_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                                     indirect=True)


@pytest.fixture
def settings(write_settings: Callable[..., Path]) -> Settings:
    key = key_digest("csk_test-statistics-0123456789abcdefghijklmn")
    return load_settings(write_settings(connectors=f"""
- name: website
  kind: rest_api
  api_keys: [{{name: site, sha256: {key}}}]
- name: kiosk
  kind: rest_api
  api_keys: [{{name: desk, sha256: {key}}}]
"""))


def booking(external_id: str) -> dict[str, Any]:
    return {"id": external_id, "status": "booked", "start": "2030-03-12T09:30:00", "duration_minutes": 30,
            "timezone": "America/New_York", "patient": {"id": f"P-{external_id}", "name": "Ana Ruiz"},
            "practitioner": {"id": "D-1", "name": "Dr. Amelia Hart"}}


def estimated_rows(store: Store, table: str) -> float:
    """pg_class.reltuples of the test's own table: -1 until it is first analyzed."""
    with store.engine.connect() as connection:
        return float(connection.execute(text(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(current_schema() || '.' || :table)"),
            {"table": table}).scalar_one())


def push_new(receiver: PushReceiver, prefix: str, count: int) -> None:
    for number in range(count):
        assert receiver.receive(booking(f"{prefix}-{number}"), "test", quarantine_bad=False).outcome == "created"


def test_a_sources_pushes_analyze_the_tables_they_read_at_each_doubling(settings: Settings, store: Store) -> None:
    website = PushReceiver(settings, store, settings.connectors[0])
    push_new(website, "W", push.ANALYZE_FIRST - 1)
    # Not analyzed yet (autovacuum is off on the test server): -1, or 0 as some schemas come.
    assert estimated_rows(store, "appointment") in (-1, 0)
    push_new(website, "W-last", 1)
    assert estimated_rows(store, "appointment") == push.ANALYZE_FIRST
    assert estimated_rows(store, "patient") == push.ANALYZE_FIRST
    assert estimated_rows(store, "webhookreceipt") == 0  # every table a push reads by key, grown or not
    push_new(website, "W-more", push.ANALYZE_FIRST - 1)
    assert estimated_rows(store, "appointment") == push.ANALYZE_FIRST  # the next one at twice as many
    push_new(website, "W-twice", 1)
    assert estimated_rows(store, "appointment") == 2 * push.ANALYZE_FIRST
    # A source new to the store counts its own: the others' statistics do not know its rows.
    push_new(PushReceiver(settings, store, settings.connectors[1]), "K", push.ANALYZE_FIRST)
    assert estimated_rows(store, "appointment") == 3 * push.ANALYZE_FIRST


def test_a_refused_analyze_leaves_the_committed_push_as_it_is(settings: Settings, store: Store,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push, "PUSH_TABLES", ("appointment", "no_such_table"))
    website = PushReceiver(settings, store, settings.connectors[0])
    push_new(website, "W", push.ANALYZE_FIRST - 1)
    before = estimated_rows(store, "appointment")  # -1 (never analyzed) or 0: as the schema came
    push_new(website, "W-last", 1)  # its ANALYZE fails after its commit
    with store.engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM appointment")).scalar_one()
    assert stored == push.ANALYZE_FIRST
    assert estimated_rows(store, "appointment") == before != push.ANALYZE_FIRST
