"""The status page's figures that are plain reads of the store: each notifier's delivery
attempts, the calendar links waiting or failing, the choices of the page's filters, the
messages handed over per channel, and the patient messages due in a window with those a
provider receipt says were delivered.

A step object the store exposes (``Store.status_rows``): each method one read, the
statements the page ran, moved here unchanged (each through the index its comment names).
Masking what a row says and the page's words stay the page's (sync/ui/queries.py). The page's
reads that join a feature's own (the desk's states, a visit's history) still open their
connection there.

Every table is the sync path's Core description (tables.py): this module is imported with the
store, and the SQLModel classes cost a cron run's start (tables.py says why)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from clinicsync.common.vocabulary import ReminderStatus
from clinicsync.sync.store.tables import (
    APPOINTMENTS,
    DELIVERIES,
    LINKS,
    PRACTITIONERS,
    REMINDERS,
    delivery_notifiers,
    of_sources,
)

A, D, DL, RM = APPOINTMENTS.c, PRACTITIONERS.c, DELIVERIES.c, REMINDERS.c
DELIVERED = ("delivered", "read")  # provider receipts that mean the message reached the patient


class StatusRows:
    """The status page's plain reads, one connection each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def delivered_ids(connection: Connection, reminder_ids: list[int]) -> set[int]:
        """Of ``reminder_ids``, those a provider receipt says reached the patient. Read by the
        ids (the delivery table's reminder index), 500 a statement: a chart's window can hold
        more sent messages than a statement takes parameters, and the table holds every message
        ever sent, so it is never read whole."""
        found: set[int] = set()
        for at in range(0, len(reminder_ids), 500):
            found.update(row[0] for row in connection.execute(
                select(DL.reminder_id).where(DL.reminder_id.in_(reminder_ids[at:at + 500]),
                                             DL.provider_status.in_(DELIVERED)).distinct()))
        return found

    def notifier_attempts(self, since: datetime) -> dict[str, tuple[dict[str, int], Any]]:
        """Per notifier: its delivery attempts since ``since`` by outcome, and its latest
        attempt's row. Each read goes through ``(notifier, created_at)``: the notifiers by a
        skip scan (one probe each), then per notifier the window and its newest row."""
        found: dict[str, tuple[dict[str, int], Any]] = {}
        with self.engine.connect() as connection:
            for name in delivery_notifiers(connection):
                outcomes = {outcome: int(count) for outcome, count in connection.execute(
                    select(DL.outcome, func.count()).where(DL.notifier == name, DL.created_at >= since)
                    .group_by(DL.outcome))}
                latest = connection.execute(select(DELIVERIES).where(DL.notifier == name)
                                            .order_by(DL.created_at.desc(), DL.id.desc()).limit(1)).one()
                found[name] = (outcomes, latest)
        return found

    def calendar_links_waiting(self) -> dict[str, int]:
        """How many calendar links wait to be pushed and how many keep failing, each through its partial index."""
        with self.engine.connect() as connection:
            pending = connection.execute(select(func.count()).where(LINKS.c.state == "pending")).scalar_one()
            failing = connection.execute(select(func.count()).where(LINKS.c.attempts > 0)).scalar_one()
        return {"pending": int(pending), "failing": int(failing)}

    def filter_choices(self, sources: Collection[str] | None = None) -> tuple[list[Any], list[str]]:
        """The doctors (id, a name) by name and the sources with appointments, of ``sources`` (None: all)."""
        with self.engine.connect() as connection:
            doctors = connection.execute(select(D.external_id, func.min(D.name)).where(of_sources(D.connector, sources))
                                         .group_by(D.external_id).order_by(func.min(D.name))).all()
            connectors = [r[0] for r in connection.execute(select(A.connector).where(of_sources(A.connector, sources))
                                                           .distinct().order_by(A.connector))]
        return list(doctors), connectors

    def patient_messages_due(self, start: datetime, end: datetime, statuses: Collection[str],
                             sources: Collection[str] | None = None) -> tuple[list[Any], set[int]]:
        """The patient messages in ``statuses`` due in [start, end) (id, status, their visit's
        participation) and which of the sent ones a provider receipt says were delivered."""
        with self.engine.connect() as connection:
            rows = list(connection.execute(
                select(RM.id, RM.status, A.participation)
                .select_from(REMINDERS.outerjoin(APPOINTMENTS, A.id == RM.appointment_id))
                .where(RM.recipient == "patient", RM.status.in_(list(statuses)),
                       RM.due_at >= start, RM.due_at < end, of_sources(A.connector, sources))).all())
            delivered = self.delivered_ids(connection, [r.id for r in rows if r.status == ReminderStatus.SENT])
        return rows, delivered

    def messages_handed_over(self, start: datetime, end: datetime) -> list[Any]:
        """(channel, when) of each message handed to a notifier (outcome ``sent``) in [start, end)."""
        with self.engine.connect() as connection:
            return list(connection.execute(select(DL.channel, DL.created_at)
                                           .where(DL.outcome == "sent", DL.created_at >= start,
                                                  DL.created_at < end)).all())
