"""Reading the event outbox: each consumer (calendar, planner, …) keeps its own offset,
advanced in the same transaction as the work the events caused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select, update

from clinicsync.common.types import utcnow
from clinicsync.sync.db import insert_ignoring_duplicates
from clinicsync.sync.model import Event, EventConsumer

EVENTS = Event.__table__  # type: ignore[attr-defined]
CONSUMERS = EventConsumer.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class OutboxEvent:
    id: int
    appointment_id: int
    kind: str
    version: int
    payload: dict[str, Any]
    created_at: datetime


def claim_offset(connection: Connection, consumer: str) -> int:
    """The consumer's offset, row-locked on PostgreSQL so two workers never consume twice."""
    query = select(CONSUMERS.c.last_event_id).where(CONSUMERS.c.consumer == consumer)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    offset = connection.execute(query).scalar_one_or_none()
    if offset is None:  # first use; two workers may get here at once: one row, then the lock
        connection.execute(insert_ignoring_duplicates(connection, CONSUMERS).values(
            consumer=consumer, last_event_id=0, updated_at=utcnow()))
        offset = connection.execute(query).scalar_one()
    return int(offset)


def read_events(connection: Connection, after: int, limit: int = 1000) -> list[OutboxEvent]:
    rows = connection.execute(
        select(EVENTS).where(EVENTS.c.id > after).order_by(EVENTS.c.id).limit(limit)).all()
    return [OutboxEvent(r.id, r.appointment_id, r.kind, r.version, orjson.loads(r.payload), r.created_at)
            for r in rows]


def advance(connection: Connection, consumer: str, last_event_id: int) -> None:
    connection.execute(update(CONSUMERS).where(CONSUMERS.c.consumer == consumer)
                       .values(last_event_id=last_event_id, updated_at=utcnow()))
