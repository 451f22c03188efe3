"""A push source whose mapping reads `replaces` stores a move by successor rows as a poll does
(sync/ingest/supersede.py): the new row that names the old one is the old visit moved, told
once; the old row, marked `rescheduled` afterwards, is old news. Whichever order the two rows
arrive in, the store holds one visit at the new time and no second visit; in the usual order
(the new row first) its outbox holds one `rescheduled` event for the move."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.push import PushReceiver, load_appointment
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import APPOINTMENTS, EVENTS

MAPPING = """\
name: moves
extends: rest_api_v1
status_map: {rescheduled: cancelled}
fields:
  replaces: {from: replaces}
"""


@pytest.fixture
def settings(write_settings: Callable[..., Path], tmp_path: Path) -> Settings:
    (tmp_path / "moves.yaml").write_text(MAPPING, encoding="utf-8")
    key = key_digest("csk_test-successors-0123456789abcdefghijklmn")
    return load_settings(write_settings(connectors=f"""
- name: booking
  kind: rest_api
  mapping: moves.yaml
  announce_existing: true
  api_keys: [{{name: site, sha256: {key}}}]
"""))


def visit(external_id: str, start: str, status: str = "booked", **more: Any) -> dict[str, Any]:
    return {"id": external_id, "status": status, "start": start, "duration_minutes": 30,
            "timezone": "America/New_York", "patient": {"id": "P-1", "name": "Ana Ruiz", "phone": "+12125550142"},
            "practitioner": {"id": "D-1", "name": "Dr. Amelia Hart"}, **more}


def events(store: Store) -> list[tuple[str, str]]:
    """(the visit's id, the event's kind), in order."""
    query = (select(APPOINTMENTS.c.external_id, EVENTS.c.kind)
             .join(APPOINTMENTS, APPOINTMENTS.c.id == EVENTS.c.appointment_id).order_by(EVENTS.c.id))
    with store.engine.connect() as connection:
        return [(row[0], row[1]) for row in connection.execute(query)]


@pytest.mark.parametrize("new_row_first", [True, False], ids=["new row first", "old row first"])
def test_a_move_by_a_successor_row_is_one_moved_visit(settings: Settings, store: Store, new_row_first: bool) -> None:
    receiver = PushReceiver(settings, store, settings.connectors[0])
    assert receiver.receive(visit("V1", "2030-03-12T09:30:00"), "1", quarantine_bad=False).outcome == "created"
    new_row = visit("V2", "2030-03-14T11:00:00", replaces="V1")
    old_row = visit("V1", "2030-03-12T09:30:00", status="rescheduled")
    outcomes = [receiver.receive(body, str(n), quarantine_bad=False).outcome
                for n, body in enumerate([new_row, old_row] if new_row_first else [old_row, new_row], start=2)]
    stored = load_appointment(store, "booking", "V1")
    assert stored is not None and load_appointment(store, "booking", "V2") is None
    if new_row_first:  # the move, then the old row's word: old news
        assert outcomes == ["rescheduled", "unchanged"]
        assert (stored.status, stored.start.isoformat()) == ("booked", "2030-03-14T15:00:00+00:00")
        assert [kind for _, kind in events(store)] == ["created", "rescheduled"]
    else:  # the old row's word came first (a cancel); its successor brings the same visit back, moved
        assert outcomes[0] == "cancelled"
        assert (stored.status, stored.start.isoformat()) == ("booked", "2030-03-14T15:00:00+00:00")
        assert {visit_id for visit_id, _ in events(store)} == {"V1"}  # never a second visit
