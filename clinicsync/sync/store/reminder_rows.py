"""The reminder rows as the dispatcher moves them through their life (pending -> sending ->
sent | failed | skipped | cancelled | unknown): claiming the due ones, handing one over,
recording its outcome and its delivery attempts, and putting back what a stopped sender left.

A step object the store exposes (``Store.reminder_rows``), not a mixin: it needs only the
engine, and each method is one transaction that says what it does. The statements and their
locking are the dispatcher's own (a claim is ``FOR UPDATE SKIP LOCKED`` beyond SQLite, where
``BEGIN IMMEDIATE`` serializes the writers, txn.py); what to write (which status, which
reason) stays the dispatcher's decision (sync/reminders/dispatch.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from clinicsync.common.vocabulary import ReminderStatus
from clinicsync.sync.store.tables import DELIVERIES, OPT_OUTS, RETRYING
from clinicsync.sync.store.tables import REMINDERS as R
from clinicsync.sync.store.txn import writer

LOST_IN_SEND = "the sender stopped during the send (its lease ran out); it may or may not have gone out"


class ReminderRows:
    """The dispatcher's reads and writes of reminder rows, one named transaction each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def due_query(now: datetime) -> Select[Any]:
        """The ids of the pending rows due by ``now``, the soonest first (ties by id)."""
        return (select(R.c.id).where(R.c.status == ReminderStatus.PENDING, R.c.due_at <= now)
                .order_by(R.c.due_at, R.c.id))

    def due_ids(self, now: datetime) -> list[int]:
        """Every row due by ``now``, unclaimed (a dry run's look)."""
        with self.engine.connect() as connection:
            return list(connection.execute(self.due_query(now)).scalars())

    def claim_due(self, now: datetime, limit: int, token: str, lease: timedelta,
                  clock: Callable[[], datetime]) -> list[int]:
        """Claim up to ``limit`` due rows for ``token`` (sending, with a lease of ``lease`` from
        ``clock``'s time once they are locked): skipped by any other dispatcher's claim at the
        same moment."""
        with writer(self.engine) as connection:
            query = self.due_query(now).limit(limit)
            if connection.dialect.name != "sqlite":
                query = query.with_for_update(skip_locked=True)
            ids = list(connection.execute(query).scalars())
            if ids:
                connection.execute(update(R).where(R.c.id.in_(ids)).values(
                    status=ReminderStatus.SENDING, claimed_by=token, send_started_at=None,
                    lease_until=clock() + lease, updated_at=clock()))
        return ids

    def recover_expired(self, now: datetime) -> int:
        """Claims whose lease ran out: handed over -> unknown (how many); never handed over -> pending."""
        with writer(self.engine) as connection:
            expired = and_(R.c.status == ReminderStatus.SENDING, R.c.lease_until < now)
            lost = connection.execute(update(R).where(expired, R.c.send_started_at.is_not(None)).values(
                status=ReminderStatus.UNKNOWN, reason=LOST_IN_SEND, updated_at=now)).rowcount
            connection.execute(update(R).where(expired, R.c.send_started_at.is_(None)).values(
                status=ReminderStatus.PENDING, claimed_by=None, lease_until=None, updated_at=now))
        return int(lost or 0)

    def reroute_waiting(self, routes: dict[str, str], now: datetime, at: datetime) -> int:
        """Rows waiting out a refusal (``will retry: …``) by a notifier that no longer sends their
        channel (``routes``: channel -> notifier) due ``now``, their notifier cleared; how many."""
        waiting = and_(R.c.status == ReminderStatus.PENDING, R.c.reason.startswith(RETRYING, autoescape=True),
                       R.c.due_at > now, R.c.notifier.is_not(None))
        elsewhere = or_(R.c.channel.not_in(list(routes)),
                        *(and_(R.c.channel == channel, R.c.notifier != name) for channel, name in routes.items()))
        with writer(self.engine) as connection:
            return int(connection.execute(update(R).where(waiting, R.c.channel.is_not(None), elsewhere).values(
                due_at=now, notifier=None, updated_at=at)).rowcount or 0)

    def requeue_unknown(self, due: datetime, at: datetime) -> None:
        """Every unknown row pending again, due at ``due`` (sending them again was asked for)."""
        with writer(self.engine) as connection:
            connection.execute(update(R).where(R.c.status == ReminderStatus.UNKNOWN).values(
                status=ReminderStatus.PENDING, reason="resend requested", due_at=due, claimed_by=None,
                lease_until=None, send_started_at=None, updated_at=at))

    def release_unstarted(self, token: str, at: datetime) -> None:
        """``token``'s claims that were never handed over: pending again."""
        with writer(self.engine) as connection:
            connection.execute(update(R).where(
                R.c.status == ReminderStatus.SENDING, R.c.claimed_by == token,
                R.c.send_started_at.is_(None)).values(
                status=ReminderStatus.PENDING, claimed_by=None, lease_until=None, updated_at=at))

    @staticmethod
    def retry_failed(connection: Connection, ids: list[int], at: datetime) -> None:
        """The failed rows among ``ids`` pending again (staff asked to retry them after a fix),
        in the caller's transaction (the one that took the retries)."""
        connection.execute(update(R).where(R.c.id.in_(ids), R.c.status == ReminderStatus.FAILED).values(
            status=ReminderStatus.PENDING, reason=None, claimed_by=None, lease_until=None, send_started_at=None,
            updated_at=at))

    @staticmethod
    def fail_set_aside(connection: Connection, reminder_id: int, token: str, reason: str, at: datetime) -> None:
        """A row ``token`` holds failed with ``reason`` (its work was set aside), in the caller's transaction."""
        connection.execute(update(R).where(R.c.id == reminder_id, R.c.claimed_by == token).values(
            status=ReminderStatus.FAILED, reason=f"set aside: {reason}", claimed_by=None, lease_until=None,
            updated_at=at))

    @contextmanager
    def _own(self, reminder_id: int, token: str) -> Iterator[tuple[Connection, Any]]:
        """A transaction and a WHERE clause matching the row only while ``token`` holds it."""
        with self.engine.begin() as connection:
            yield connection, and_(R.c.id == reminder_id, R.c.claimed_by == token,
                                   R.c.status.in_((ReminderStatus.SENDING, ReminderStatus.UNKNOWN)))

    def mark_handed_over(self, reminder_id: int, token: str, channel: str, notifier: str, now: datetime,
                         lease_until: datetime) -> bool:
        """Mark the row as handed to ``notifier`` (one attempt more, the lease renewed); False
        when ``token`` no longer holds it."""
        with self._own(reminder_id, token) as (connection, mine):
            changed = connection.execute(update(R).where(mine, R.c.status == ReminderStatus.SENDING).values(
                send_started_at=now, channel=channel, notifier=notifier, attempts=R.c.attempts + 1,
                lease_until=lease_until, updated_at=now)).rowcount
        return bool(changed)

    def record_outcome(self, reminder_id: int, token: str, values: dict[str, Any],
                       delivery: dict[str, Any] | None = None) -> None:
        """Write the row's outcome ``values`` while ``token`` holds it, and the delivery
        attempt that led to it, in one transaction."""
        with self._own(reminder_id, token) as (connection, mine):
            connection.execute(update(R).where(mine).values(values))
            if delivery is not None:
                connection.execute(insert(DELIVERIES).values(delivery))

    def record_delivery(self, attempt: dict[str, Any]) -> None:
        """A delivery attempt on its own (a refusal that moves on to the next channel)."""
        with self.engine.begin() as connection:
            connection.execute(insert(DELIVERIES).values(attempt))

    def record_opt_out(self, channel: str, address: str, source: str, at: datetime) -> None:
        """The address opted out on ``channel`` (as ``source`` reported it); once is enough."""
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(OPT_OUTS).values(channel=channel, address=address, source=source,
                                                           created_at=at))
        except IntegrityError:
            pass  # already recorded (another worker, same address)

    @staticmethod
    def lift_opt_out_in(connection: Connection, channel: str, address: str) -> bool:
        """Lift an opt-out in the caller's transaction; False when there was none."""
        return bool(connection.execute(OPT_OUTS.delete().where(
            OPT_OUTS.c.channel == channel, OPT_OUTS.c.address == address)).rowcount)

    def lift_opt_out(self, channel: str, address: str) -> bool:
        """Lift an opt-out (the patient asked again for messages on this channel)."""
        with self.engine.begin() as connection:
            return self.lift_opt_out_in(connection, channel, address)

    def oldest_unknown_since(self) -> datetime | None:
        """When the oldest row still `unknown` became so (its updated_at), None without one:
        the (status, due_at) index finds the few unknown rows."""
        with self.engine.connect() as connection:
            since: datetime | None = connection.execute(
                select(func.min(R.c.updated_at)).where(R.c.status == ReminderStatus.UNKNOWN)).scalar_one()
        return since
