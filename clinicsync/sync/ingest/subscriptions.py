"""The state of a connector's FHIR Subscription, kept from its notifications, and the rule
that turns a missed notification into a reconcile poll.

Notifications are hints; the FHIR server is the truth, and the regular poll the safety
net. A topic-based Subscription numbers its events (``events-since-subscription-start``,
each event's ``event-number``). When a number skips ahead, an event was lost on the way;
when it goes down, the server restarted its counter (HAPI keeps it in memory) or the
Subscription was re-created, and what happened in between is unknown. Either way a
reconcile poll is asked for: the connector's own incremental poll (``_lastUpdated``),
which re-reads everything changed since its cursor. A classic R4 rest-hook carries no
numbers; there the scheduled poll alone catches a lost notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from clinicsync.common.types import utcnow
from clinicsync.sync.store.tables import FHIR_SUBSCRIPTIONS

T = FHIR_SUBSCRIPTIONS.c
_REASON_MAX = 255


@dataclass(frozen=True)
class Heard:
    """What one notification said about the Subscription (no patient data)."""

    type: str
    subscription: str | None = None
    status: str | None = None
    events_since_start: int | None = None
    event_numbers: tuple[int, ...] = ()


def counter_gap(last: int | None, heard: Heard) -> tuple[str | None, int | None]:
    """Why the events seen so far (``last``) and this notification's numbers leave a hole
    (or None), and the count to remember from now on (None: keep ``last``)."""
    numbers = sorted(heard.event_numbers)
    counts = [*numbers, *([heard.events_since_start] if heard.events_since_start is not None else [])]
    if not counts:
        return None, None
    top = max(counts)
    if last is None:  # first contact: fine if it starts the count (a handshake says 0)
        first = numbers[0] if numbers else top + 1
        if first <= 1 or top == 0:
            return None, top
        return f"the first notification received is at event {top}; earlier events never arrived", top
    if top < last:
        return (f"the event counter went down from {last} to {top} (the server restarted it or the "
                "subscription was re-created)"), top
    if numbers and numbers[0] > last + 1:
        return f"events {last + 1}..{numbers[0] - 1} never arrived", top
    if top > max([last, *numbers]):
        return f"events {max([last, *numbers]) + 1}..{top} were counted by the server but never arrived", top
    return None, top


def note_heard(engine: Engine, connector: str, heard: Heard) -> str | None:
    """Record a notification (last seen, the counter); a gap also asks for a reconcile
    poll. Returns the gap's reason, or None."""
    now = utcnow()
    with engine.begin() as connection:
        row = _row(connection, connector)
        reason, count = counter_gap(row.events_seen if row is not None else None, heard)
        values: dict[str, Any] = {"last_type": heard.type, "last_seen_at": now, "updated_at": now,
                                  "notifications": (row.notifications if row is not None else 0) + 1}
        if heard.subscription:
            values["subscription"] = heard.subscription[:255]
        if heard.status:
            values["status"] = heard.status[:16]
        if count is not None:
            values["events_seen"] = count
        if reason:
            values["reconcile_at"], values["reconcile_reason"] = now, reason[:_REASON_MAX]
        _write(connection, connector, row is not None, values)
    return reason


def note_subscribed(engine: Engine, connector: str, subscription: str | None, status: str | None) -> None:
    """`clinicsync fhir subscribe` created or updated the Subscription: remember which, and
    start the watch on it from now (``last_seen_at``: the stall check of sync/checks/stalls.py waits
    a heartbeat period from here for the handshake). Its event counter starts afresh."""
    now = utcnow()
    with engine.begin() as connection:
        row = _row(connection, connector)
        _write(connection, connector, row is not None,
               {"subscription": f"Subscription/{subscription}"[:255] if subscription else None,
                "status": (status or "requested")[:16], "last_type": "subscribe", "last_seen_at": now,
                "events_seen": None, "updated_at": now})


def note_server_status(engine: Engine, connector: str, status: str) -> None:
    """What the server said of the Subscription when the poll read it (``GET
    Subscription/<id>``: ``deleted`` for 404/410, ``off`` once its end passed)."""
    with engine.begin() as connection:
        connection.execute(update(FHIR_SUBSCRIPTIONS).where(T.connector == connector)
                           .values(status=status[:16], updated_at=utcnow()))


def request_reconcile(engine: Engine, connector: str, reason: str) -> None:
    """Ask for a reconcile poll (e.g. a notified Appointment could not be read)."""
    now = utcnow()
    with engine.begin() as connection:
        row = _row(connection, connector)
        _write(connection, connector, row is not None,
               {"reconcile_at": now, "reconcile_reason": reason[:_REASON_MAX], "updated_at": now})


def note_reconciled(engine: Engine, connector: str, started: datetime) -> None:
    """A poll that began at ``started`` finished: it covers every request made before then."""
    with engine.begin() as connection:
        row = _row(connection, connector)
        if row is None:
            return
        values: dict[str, Any] = {"reconciled_at": utcnow(), "updated_at": utcnow()}
        if row.reconcile_at is not None and row.reconcile_at <= started:
            values["reconcile_at"] = values["reconcile_reason"] = None
        connection.execute(update(FHIR_SUBSCRIPTIONS).where(T.connector == connector).values(**values))


def subscription_state(engine: Engine, connector: str) -> dict[str, Any] | None:
    """The row as a dict (status output and tests), or None before any notification."""
    with engine.connect() as connection:
        row = _row(connection, connector)
    return dict(row._mapping) if row is not None else None


def _row(connection: Connection, connector: str) -> Any:
    return connection.execute(select(FHIR_SUBSCRIPTIONS).where(T.connector == connector)).first()


def _write(connection: Connection, connector: str, exists: bool, values: dict[str, Any]) -> None:
    if exists:
        connection.execute(update(FHIR_SUBSCRIPTIONS).where(T.connector == connector).values(**values))
    else:
        connection.execute(insert(FHIR_SUBSCRIPTIONS).values(connector=connector, **{"notifications": 0, **values}))
