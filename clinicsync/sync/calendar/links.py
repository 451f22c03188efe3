"""Reading and writing the link table (sync/store/model/calendar.py) in bulk."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select, update

from clinicsync.common.types import utcnow
from clinicsync.sync.calendar.provider import Op, Outcome, Target
from clinicsync.sync.store import bulk
from clinicsync.sync.store.db import upsert_statement
from clinicsync.sync.store.tables import APPOINTMENTS, HOUSEKEEPING, LINKS

A = APPOINTMENTS.c
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
    rendered_from: str | None = None  # what the pushed content was rendered from (desired.source_digest)


def _link(row: Any) -> Link:
    return Link(row.id, row.appointment_id, Target(row.provider, row.account, row.calendar_id), row.event_id,
                row.pushed_hash, row.state, row.attempts, row.last_error, row.rendered_from)


def load_links(engine: Engine, provider: str, since: datetime) -> dict[int, list[Link]]:
    """The provider's links of appointments ending after ``since``, by appointment id."""
    query = (select(LINKS).join(APPOINTMENTS, A.id == LINKS.c.appointment_id)
             .where(LINKS.c.provider == provider, A.end_utc >= since))
    out: dict[int, list[Link]] = defaultdict(list)
    with engine.connect() as connection:
        for row in connection.execute(query):
            out[row.appointment_id].append(_link(row))
    return out


def left_behind(engine: Engine, provider: str, since: datetime, limit: int | None = None,
                now_in: str | None = None) -> list[Link]:
    """The provider's links whose event is (or may be) in a calendar: pending or present, of
    appointments ending after ``since``, by link id (``limit`` of them). ``now_in``: the provider
    in use; an appointment whose event there is not confirmed yet (a pending link: its first push
    failed, or is still to come) is left out, so it stays where the doctor still sees it."""
    query = select(LINKS).where(*_live(provider, since, now_in)).order_by(LINKS.c.id).limit(limit)
    with engine.connect() as connection:
        return [_link(row) for row in connection.execute(query)]


# While one provider is in use, no other provider's link is ever made live: once a look found
# nothing left behind, none appears until the provider changes. The look (a join of the link
# table with the window: ~50 ms each at 60,000 links on SQLite) is then skipped, and made again
# once a day, or at once after a switch (another provider's row). model/housekeeping.py.
_RETIRED = "calendar: nothing left behind while using "


def nothing_left_known(engine: Engine, provider: str, day: datetime) -> bool:
    """Whether a look on ``day`` while using ``provider`` found no other provider's event left."""
    with engine.connect() as connection:
        done = connection.execute(select(HOUSEKEEPING.c.done_for)
                                  .where(HOUSEKEEPING.c.task == _RETIRED + provider)).scalar_one_or_none()
    return done is not None and done >= day


def nothing_left(engine: Engine, provider: str, day: datetime | None) -> None:
    """Record what the look found while using ``provider``: nothing left (``day``), or something
    (None). Either way the other providers' records go: back on one of them, look again."""
    with engine.begin() as connection:
        connection.execute(delete(HOUSEKEEPING).where(HOUSEKEEPING.c.task.like(_RETIRED + "%"),
                                                      HOUSEKEEPING.c.task != _RETIRED + provider))
        if day is None:
            connection.execute(delete(HOUSEKEEPING).where(HOUSEKEEPING.c.task == _RETIRED + provider))
        else:
            connection.execute(upsert_statement(connection, HOUSEKEEPING, ("task",), ("done_for",)),
                               {"task": _RETIRED + provider, "done_for": day})


def count_left_behind(engine: Engine, provider: str, since: datetime, now_in: str | None = None) -> int:
    """How many links :func:`left_behind` would give without a limit."""
    query = select(func.count()).select_from(LINKS).where(*_live(provider, since, now_in))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _live(provider: str, since: datetime, now_in: str | None) -> tuple[Any, ...]:
    where = [LINKS.c.provider == provider, LINKS.c.state.in_(("pending", "present")),
             LINKS.c.appointment_id.in_(select(A.id).where(A.end_utc >= since))]
    if now_in is not None:
        waiting = LINKS.alias("waiting")
        where.append(LINKS.c.appointment_id.not_in(
            select(waiting.c.appointment_id).where(waiting.c.provider == now_in, waiting.c.state == "pending")))
    return tuple(where)


def links_of(engine: Engine, provider: str, appointment_ids: Sequence[int]) -> dict[int, list[Link]]:
    """The provider's links of these appointments (a page of the truth), by appointment id.
    Read as the driver's tuples, without the time column (every run reads every link in the
    window: a SQLAlchemy row and a date-time conversion each were most of a run with nothing new)."""
    out: dict[int, list[Link]] = defaultdict(list)
    targets: dict[tuple[str, str, str], Target] = {}
    with engine.connect() as connection:
        found = bulk.select_where_in(connection, LINKS, _READ, "appointment_id", appointment_ids,
                                     where={"provider": provider}, chunk=_CHUNK)
    for id_, appointment_id, account, calendar_id, *rest in found:
        where = (provider, account, calendar_id)
        target = targets.get(where)
        if target is None:
            target = targets[where] = Target(*where)
        out[appointment_id].append(Link(id_, appointment_id, target, *rest))
    return out


_READ = ("id", "appointment_id", "account", "calendar_id", "event_id", "pushed_hash", "state", "attempts",
         "last_error", "rendered_from")


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


def mark_in_flight(engine: Engine, patched: Sequence[int], others: Sequence[int]) -> None:
    """Before the calls of a round, forget what the links of its known events say was pushed,
    as :func:`ensure_pending` does for first pushes: a crash between a call and its bookkeeping
    must not leave a link that still vouches for the old event. Else, when the truth comes back
    to what the link holds before the next run (cancelled, pushed as a delete, the crash, booked
    again), that run finds the link equal to the truth and never brings the event back.
    ``patched``: links whose event stays (a patch: patched again next run); ``others``: a delete
    or a restore (state ``pending``: next run deletes it, or inserts it and a 409 updates it)."""
    if not patched and not others:
        return
    with engine.begin() as connection:
        for ids, state in ((patched, None), (others, "pending")):
            for start in range(0, len(ids), _CHUNK):
                values: dict[str, Any] = {"pushed_hash": None, "rendered_from": None}
                if state is not None:
                    values["state"] = state
                connection.execute(update(LINKS).where(LINKS.c.id.in_(ids[start:start + _CHUNK])).values(values))
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
                done.append(_settled(op, outcome, now))
            else:
                failed.append(((outcome.error or "failed")[:255], now, outcome.key))
        bulk.update_by_id(connection, LINKS, _SETTLED, done, constants="attempts = 0, last_error = NULL")
        bulk.update_by_id(connection, LINKS, ("last_error", "updated_at"), failed, constants="attempts = attempts + 1")


_SETTLED = ("state", "etag", "pushed_hash", "rendered_from", "updated_at")


def _settled(op: Op, outcome: Outcome, now: Any) -> tuple[Any, ...]:
    """An existing link's row after a successful call (``_SETTLED`` columns, then its id): the
    pushed hash and what it was rendered from while the event is there, neither once deleted."""
    present = outcome.state == "present"
    return (outcome.state, outcome.etag, op.content_hash if present else None, op.source if present else None, now,
            outcome.key)


_FULL = ("appointment_id", "provider", "account", "calendar_id", "event_id", "state", "etag", "pushed_hash",
         "rendered_from", "attempts", "last_error", "updated_at")


def record_with_events(connection: Connection, ops: Iterable[Op], outcomes: Iterable[Outcome],
                       new: dict[int, int]) -> None:
    """A provider that keeps its events in the store (ics) settles its links in the same
    transaction as the events: a new link is written once, already in its final state (no
    ``pending`` row first: nothing outside the store was touched, so a crash before the
    commit leaves nothing to settle), and a known link is updated as :func:`record_outcomes`
    does. ``new``: the provisional (negative) key of each operation without a link row ->
    its appointment id."""
    by_key = {op.key: op for op in ops}
    now = bulk.bind_value(connection, LINKS.c.updated_at, utcnow())
    rows, done, failed = [], [], []
    for outcome in outcomes:
        op = by_key[outcome.key]
        target = op.target
        if outcome.key in new:
            present = outcome.ok and outcome.state == "present"
            rows.append((new[outcome.key], target.provider, target.account, target.calendar_id, op.event_id,
                         outcome.state if outcome.ok else "pending", outcome.etag if outcome.ok else None,
                         op.content_hash if present else None, op.source if present else None,
                         0 if outcome.ok else 1, None if outcome.ok else (outcome.error or "failed")[:255], now))
        elif outcome.ok:
            done.append(_settled(op, outcome, now))
        else:
            failed.append(((outcome.error or "failed")[:255], now, outcome.key))
    bulk.insert_ignoring(connection, LINKS, _FULL, rows)
    bulk.update_by_id(connection, LINKS, _SETTLED, done, constants="attempts = 0, last_error = NULL")
    bulk.update_by_id(connection, LINKS, ("last_error", "updated_at"), failed, constants="attempts = attempts + 1")


def remember_sources(engine: Engine, sources: Sequence[tuple[str, int]]) -> None:
    """``(source digest, link id)``: links whose event was rendered again and found as pushed
    (its inputs changed in a way the event does not show, or no digest was known yet) keep
    the new digest, so the next run does not render them again."""
    if not sources:
        return
    with engine.begin() as connection:
        bulk.update_by_id(connection, LINKS, ("rendered_from",), sources)


def drop_links(engine: Engine, link_ids: Sequence[int]) -> None:
    """Delete these link rows (their event now belongs to another link: push.plan's ``forget``)."""
    if not link_ids:
        return
    with engine.begin() as connection:
        for start in range(0, len(link_ids), _CHUNK):
            connection.execute(delete(LINKS).where(LINKS.c.id.in_(link_ids[start:start + _CHUNK])))


def force(engine: Engine, link_ids: Sequence[int], state: str | None = None) -> None:
    """Forget what was pushed (reconcile --fix): the next push sends the truth again."""
    if not link_ids:
        return
    values: dict[str, Any] = {"pushed_hash": None, "rendered_from": None, "updated_at": utcnow()}
    if state is not None:
        values["state"] = state
    with engine.begin() as connection:
        for start in range(0, len(link_ids), _CHUNK):
            connection.execute(update(LINKS).where(LINKS.c.id.in_(link_ids[start:start + _CHUNK])).values(values))


# A text written into SQL as it is, quoted: no quote, backslash or control character in it
# (a file's calendar id, a provider, a state, SQLite's date-time text of a bound time).
_LITERAL = re.compile(r"[A-Za-z0-9@._+: -]{0,255}", re.ASCII)


def insert_shared(connection: Connection, table: Table, names: Sequence[str], shared: Mapping[str, Any],
                  rows: Sequence[tuple[Any, ...]]) -> None:
    """:func:`bulk.insert_ignoring` of ``rows`` (tuples in ``names`` order) that all hold the
    same ``shared`` values in the other columns: those written into the statement once, when
    each is ``None``, a ``bool``, an ``int`` or a short text of letters, digits, spaces and
    ``@._+:-`` (a file's calendar id, a provider, a state, the bound time stamp), else bound
    with each row as before. Same rows stored: the driver binds a value per column and row
    (~660 instructions each with SQLite; a bool ~3,000 more, through sqlite3's adapter look-ups),
    and a first push's link shares eight of its twelve columns, its event four of seven.
    A bool is SQL's ``TRUE``/``FALSE``: SQLite's 1/0 (what binding it stores), PostgreSQL's
    boolean, MariaDB's 1/0."""
    literal: dict[str, str] = {}
    bound: dict[str, Any] = {}
    for name, value in shared.items():
        if value is None:
            literal[name] = "NULL"
        elif type(value) is bool:
            literal[name] = "TRUE" if value else "FALSE"
        elif type(value) is int:
            literal[name] = str(value)
        elif type(value) is str and _LITERAL.fullmatch(value):
            literal[name] = f"'{value}'"
        else:
            bound[name] = value
    if not rows:
        return
    mark = bulk.placeholder(connection)
    into = [*names, *bound, *literal]
    columns = ", ".join(bulk.quoted(connection, name) for name in into)
    values = ", ".join([*(mark for _ in names), *(mark for _ in bound), *literal.values()])
    into_table = f"{bulk.quoted(connection, table.name)} ({columns}) VALUES ({values})"
    if connection.dialect.name in ("sqlite", "postgresql"):  # as bulk.insert_ignoring
        sql = f"INSERT INTO {into_table} ON CONFLICT DO NOTHING"
    else:  # MySQL / MariaDB
        sql = f"INSERT IGNORE INTO {into_table}"
    extra = tuple(bound.values())
    connection.exec_driver_sql(sql, [row + extra for row in rows] if extra else list(rows))
