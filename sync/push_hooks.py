"""Store-side bookkeeping of the booking-tool webhooks: which bodies were already applied
(replays of a vendor whose signature has no timestamp) and which booking ids stand for
another appointment (Cal.com's reschedule gives the booking a new uid).

Both are written inside the push's own transaction (``PushReceiver.receive`` ``within``),
so a body is marked applied exactly when its changes commit, and a crash loses neither."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select

from clinicsync.common.types import utcnow
from clinicsync.sync.db import insert_ignoring_duplicates
from clinicsync.sync.model.push_hooks import ALIASES, RECEIPTS
from clinicsync.sync.push import Within
from clinicsync.sync.store import Store


def already_received(store: Store, connector: str, digest: str) -> bool:
    """Was a body with this digest applied for ``connector`` (and not yet pruned)?"""
    with store.engine.connect() as connection:
        return connection.execute(select(RECEIPTS.c.digest).where(
            RECEIPTS.c.connector == connector, RECEIPTS.c.digest == digest)).first() is not None


def claim_receipt(connection: Connection, connector: str, digest: str, keep: timedelta,
                  now: datetime | None = None) -> bool:
    """Record the body's digest; False if a concurrent copy recorded it first. Receipts older
    than ``keep`` are pruned: a body that old is refused as stale before it gets here."""
    now = now or utcnow()
    connection.execute(delete(RECEIPTS).where(RECEIPTS.c.connector == connector,
                                              RECEIPTS.c.received_at < now - keep))
    result = connection.execute(insert_ignoring_duplicates(connection, RECEIPTS).values(
        connector=connector, digest=digest, received_at=now))
    return bool(result.rowcount)


def resolve_alias(store: Store, connector: str, booking_id: str) -> str:
    """The appointment's external id that ``booking_id`` stands for (itself if none)."""
    with store.engine.connect() as connection:
        found = connection.execute(select(ALIASES.c.external_id).where(
            ALIASES.c.connector == connector, ALIASES.c.alias == booking_id)).first()
    return str(found[0]) if found else booking_id


def add_alias(connection: Connection, connector: str, alias: str, external_id: str) -> None:
    """Let ``alias`` stand for ``external_id`` from now on (a repeat is a no-op)."""
    if alias != external_id:
        connection.execute(insert_ignoring_duplicates(connection, ALIASES).values(
            connector=connector, alias=alias, external_id=external_id, created_at=utcnow()))


def receipt_and_alias(connector: str, position: str, digest: str | None, keep: timedelta,
                      alias: tuple[str, str] | None = None) -> Within:
    """The ``within`` hook of one webhook push: claims the body's digest (a replay that raced
    past the first check is then left out as a replay) and records the alias."""

    def within(connection: Connection) -> Collection[str] | None:
        if digest is not None and not claim_receipt(connection, connector, digest, keep):
            return {position}
        if alias is not None:
            add_alias(connection, connector, *alias)
        return None

    return within
