"""Reading the event outbox: each consumer (reminder planner, waiting list, …) keeps its own
offset, advanced in the same transaction as the work the events caused.

An event's id is drawn when it is inserted, not when its transaction commits: on PostgreSQL an
import that began first and commits last leaves an id below ids already readable, and a
consumer that read past it would advance its offset over it for good (two runs overlapping:
two replicas, cron's `sync --once` beside `run`, two poll jobs of one `run`, a push beside a
poll). So every transaction that writes events holds a shared advisory lock from before its
first event until it ends (:func:`writing_events`; a push takes it in the message that begins
its transaction, sync/ingest/push.py), and a consumer reads only up to :func:`settled`: the newest id
read while holding that lock exclusively, when no writer is between its insert and its
commit. SQLite has one writer at a time: ids commit in order there."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, select, update

from clinicsync.common.types import utcnow
from clinicsync.sync.store.db import insert_ignoring_duplicates, is_rehearsal
from clinicsync.sync.store.locks import postgres_key
from clinicsync.sync.store.tables import CONSUMERS, EVENTS

# The outbox writers' lock, per store: PostgreSQL's advisory locks are per database, so its key
# is scoped by the store's schema, as every lock of sync/store/locks.py (two deployments, or two test
# workers, in schemas of one database wait for none of each other's imports). One per engine.
_WRITERS_KEYS: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()
# How long a consumer waits for the imports writing events now to commit: longer means a writer
# stuck inside its transaction, and the consumer's stage fails (saying so) rather than wait on.
SETTLE_WAIT = "60s"
_HOLDING: weakref.WeakSet[Any] = weakref.WeakSet()  # transactions that took the writers' lock in their BEGIN


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


def writers_key(engine: Engine) -> int:
    """The writers' lock's key for this store (its schema read once per engine, on a connection
    of its own: a caller may be about to begin its transaction with the lock)."""
    key = _WRITERS_KEYS.get(engine)
    if key is None:
        with engine.connect() as connection:
            key = _WRITERS_KEYS[engine] = postgres_key(connection, ("outbox", "writers"))
    return key


def writing_events_sql(engine: Engine) -> str:
    """The statement that takes the writers' shared lock until the transaction ends."""
    return f"SELECT pg_advisory_xact_lock_shared({writers_key(engine):d})"


def writing_events(connection: Connection) -> None:
    """On PostgreSQL, before a transaction's first event: the writers' shared lock, held until it
    ends (writers never wait for one another, only a consumer's :func:`settled` for them). Once
    per transaction: a push took it already in its BEGIN's message (:func:`took_writers_lock`)."""
    if (connection.dialect.name == "postgresql" and connection.get_transaction() not in _HOLDING
            and not is_rehearsal(connection.engine)):
        connection.exec_driver_sql(writing_events_sql(connection.engine))


def took_writers_lock(connection: Connection) -> None:
    """The caller sent :func:`writing_events_sql` itself in this transaction (with other statements)."""
    transaction = connection.get_transaction()
    if transaction is not None:
        _HOLDING.add(transaction)


def settled(connection: Connection) -> int | None:
    """The newest event id below which every event is committed (None: any, on SQLite and MySQL):
    read on a connection of its own while it holds the writers' lock exclusively, so after every
    writer that drew an id before it has committed (or rolled back), and before any other draws
    one. Waits up to SETTLE_WAIT for them. A dry run (sync.db.make_rehearsal_engine) neither
    takes nor waits for the lock: it commits nothing, and would hold it to its end (its one
    transaction), the service's imports or consumers waiting behind it."""
    if connection.dialect.name != "postgresql" or is_rehearsal(connection.engine):
        return None
    with connection.engine.connect() as barrier:
        barrier.exec_driver_sql(f"SET LOCAL lock_timeout = '{SETTLE_WAIT}'")
        barrier.exec_driver_sql(f"SELECT pg_advisory_xact_lock({writers_key(connection.engine):d})")
        newest = barrier.execute(select(func.max(EVENTS.c.id))).scalar()
        barrier.rollback()  # the lock goes with the transaction
    return int(newest or 0)


def read_events(connection: Connection, after: int, limit: int = 1000, upto: int | None = None) -> list[OutboxEvent]:
    """The events after ``after``, oldest first, up to ``upto`` (:func:`settled`) when given."""
    query = select(EVENTS).where(EVENTS.c.id > after)
    if upto is not None:
        query = query.where(EVENTS.c.id <= upto)
    rows = connection.execute(query.order_by(EVENTS.c.id).limit(limit)).all()
    return [OutboxEvent(r.id, r.appointment_id, r.kind, r.version, orjson.loads(r.payload), r.created_at)
            for r in rows]


def advance(connection: Connection, consumer: str, last_event_id: int) -> None:
    connection.execute(update(CONSUMERS).where(CONSUMERS.c.consumer == consumer)
                       .values(last_event_id=last_event_id, updated_at=utcnow()))
