"""Reading and writing the link table (sync/model/calendar.py) in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from clinicsync.common.types import utcnow
from clinicsync.sync import bulk
from clinicsync.sync.calendar.provider import Op, Outcome, Target
from clinicsync.sync.model import Appointment
from clinicsync.sync.model.calendar import LINKS

A = Appointment.__table__.c  # type: ignore[attr-defined]
_CHUNK = 500


@dataclass(frozen=True)
class Link:
    id: int
    appointment_id: int
    target: Target
    event_id: str
    pushed_hash: str | None
    state: str
    attempts: int
    last_error: str | None


def _link(row: Any) -> Link:
    return Link(row.id, row.appointment_id, Target(row.provider, row.account, row.calendar_id), row.event_id,
                row.pushed_hash, row.state, row.attempts, row.last_error)


def load_links(engine: Engine, provider: str, since: datetime) -> dict[int, list[Link]]:
    """The provider's links of appointments ending after ``since``, by appointment id."""
    query = (select(LINKS).join(Appointment.__table__, A.id == LINKS.c.appointment_id)  # type: ignore[attr-defined]
             .where(LINKS.c.provider == provider, A.end_utc >= since))
    out: dict[int, list[Link]] = defaultdict(list)
    with engine.connect() as connection:
        for row in connection.execute(query):
            out[row.appointment_id].append(_link(row))
    return out


def links_of(engine: Engine, provider: str, appointment_ids: Sequence[int]) -> dict[int, list[Link]]:
    """The provider's links of these appointments (a page of the truth), by appointment id."""
    out: dict[int, list[Link]] = defaultdict(list)
    with engine.connect() as connection:
        for start in range(0, len(appointment_ids), _CHUNK):
            query = select(LINKS).where(LINKS.c.provider == provider,
                                        LINKS.c.appointment_id.in_(appointment_ids[start:start + _CHUNK]))
            for row in connection.execute(query):
                out[row.appointment_id].append(_link(row))
    return out


def all_links(engine: Engine, provider: str) -> list[Link]:
    with engine.connect() as connection:
        return [_link(r) for r in connection.execute(select(LINKS).where(LINKS.c.provider == provider))]


def ensure_pending(engine: Engine, wanted: Sequence[tuple[int, Target, str]]) -> dict[tuple[int, Target], int]:
    """Write a ``pending`` row for each (appointment, target, event id) before its first push,
    so a crash between the call and the bookkeeping is settled by the next run."""
    ids: dict[tuple[int, Target], int] = {}
    if not wanted:
        return ids
    targets = {(t.provider, t.account, t.calendar_id): t for _, t, _ in wanted}  # read back as the same objects
    with engine.begin() as connection:
        now = bulk.bind_value(connection, LINKS.c.updated_at, utcnow())
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            bulk.insert_ignoring(connection, LINKS, _PENDING, [
                (a, t.provider, t.account, t.calendar_id, e, "pending", 0, now) for a, t, e in chunk])
            appointment_ids = sorted({a for a, _, _ in chunk})
            for id_, appointment_id, provider, account, calendar_id in bulk.select_where_in(
                    connection, LINKS, _READ_BACK, "appointment_id", appointment_ids):
                key = (provider, account, calendar_id)
                found = targets.get(key)
                ids[(appointment_id, found if found is not None else Target(*key))] = id_
    return ids


_PENDING = ("appointment_id", "provider", "account", "calendar_id", "event_id", "state", "attempts", "updated_at")
_READ_BACK = ("id", "appointment_id", "provider", "account", "calendar_id")


def record_outcomes(engine: Engine, ops: Iterable[Op], outcomes: Iterable[Outcome]) -> None:
    """What each calendar now holds: confirmed content hashes, or the error and a retry next run."""
    by_key = {op.key: op for op in ops}
    with engine.begin() as connection:
        now = bulk.bind_value(connection, LINKS.c.updated_at, utcnow())
        done, failed = [], []
        for outcome in outcomes:
            op = by_key.get(outcome.key)
            if op is None or outcome.key < 0:  # a one-off operation (reconcile) without a link row
                continue
            if outcome.ok:
                done.append((outcome.state, outcome.etag, op.content_hash if outcome.state == "present" else None,
                             now, outcome.key))
            else:
                failed.append(((outcome.error or "failed")[:255], now, outcome.key))
        bulk.update_by_id(connection, LINKS, ("state", "etag", "pushed_hash", "updated_at"), done,
                          constants="attempts = 0, last_error = NULL")
        bulk.update_by_id(connection, LINKS, ("last_error", "updated_at"), failed, constants="attempts = attempts + 1")


def force(engine: Engine, link_ids: Sequence[int], state: str | None = None) -> None:
    """Forget what was pushed (reconcile --fix): the next push sends the truth again."""
    if not link_ids:
        return
    values: dict[str, Any] = {"pushed_hash": None, "updated_at": utcnow()}
    if state is not None:
        values["state"] = state
    with engine.begin() as connection:
        for start in range(0, len(link_ids), _CHUNK):
            connection.execute(update(LINKS).where(LINKS.c.id.in_(link_ids[start:start + _CHUNK])).values(values))
