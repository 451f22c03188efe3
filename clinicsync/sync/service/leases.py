"""The shared poll schedule's SQL: enrol sources, claim the due ones by lease, renew the leases
of the polls in flight, release a poll's lease with its next due time (table ``poll_schedule``,
sync/store/model/polls.py; its Core twin in sync/store/tables.py). The loop that uses them is sync/service/polls.py.

A claim is one transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` of the due rows whose lease is
free or ran out, then their holder and lease set, as the PostgreSQL job queues claim jobs
(procrastinate, pgqueuer, Oban, graphile-worker): two workers claiming at once take different
rows and neither waits for the other. MySQL and MariaDB (InnoDB) lock every row a locking read
scans, so there the due rows are read first, then locked by key (:func:`_lock_due_by_key`). SQLite has
one writer: the same statements run in one ``BEGIN IMMEDIATE`` transaction (``writer``), where
``with_for_update`` renders nothing and the write lock does the job. On PostgreSQL the claim and
the read of the next wake-up are one statement, and the release another, each in autocommit: an
idle poll costs the scheduler two round trips (:func:`claim_due`). Times are given by the
caller (its clock: tests simulate one), never the database's ``now()``.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from clinicsync.common.types import UtcDateTime
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.store.db import insert_ignoring_duplicates, one_statement
from clinicsync.sync.store.tables import POLL_SCHEDULE as T


def worker_id() -> str:
    """Who holds a lease: host and pid for a person reading the table, and a random part so
    that a restarted process that got the same pid is not taken for the one that died."""
    return f"{socket.gethostname()[:200]}:{os.getpid()}:{secrets.token_hex(4)}"


def _among(engine: Engine, connectors: Collection[str], key: str = "names") -> ColumnElement[bool]:
    """``connector`` is one of ``connectors``: on PostgreSQL one array parameter (``= ANY``),
    elsewhere ``IN``. A worker asks for its own sources at every claim, and binding a
    thousand names one by one cost more CPU than the claim itself (5 ms a poll at 1,000
    sources)."""
    names = sorted(connectors)
    if engine.dialect.name == "postgresql":
        return T.c.connector == any_(bindparam(key, names, type_=ARRAY(String())))
    return T.c.connector.in_(names)


@dataclass(frozen=True)
class Claim:
    connector: str
    due: datetime  # the slot it was claimed for: its next due time counts from this one


def enrol(engine: Engine, latest: Mapping[str, datetime], now: datetime,
          first: Mapping[str, datetime] | None = None) -> None:
    """A row for each source (``latest``: name -> the latest due time its schedule allows from
    now) that has none yet, due at ``first[name]`` (its first slot: polls.py spreads a cold
    start's) or else at once. Existing
    rows keep their due time, so a worker that starts or restarts does not poll early what
    another just polled, unless it is further away than the schedule allows now (the schedule
    was shortened, say from 1h to 5m). A removed source's row is left alone: no worker claims
    it (claims ask for their own sources by name), and a rollback that brings it back finds its
    slot."""
    if not latest:
        return
    with engine.begin() as connection:
        connection.execute(insert_ignoring_duplicates(connection, T),
                           [{"connector": name, "next_due": (first or {}).get(name, now)} for name in sorted(latest)])
        connection.execute(update(T).where(T.c.connector == bindparam("name"), T.c.holder.is_(None),
                                           T.c.next_due > bindparam("bound", type_=UtcDateTime()))
                           .values(next_due=bindparam("bound", type_=UtcDateTime())),
                           [{"name": name, "bound": bound} for name, bound in sorted(latest.items())])


def claim(engine: Engine, worker: str, connectors: Collection[str], now: datetime, limit: int,
          lease: Callable[[str], timedelta]) -> list[Claim]:
    """Take up to ``limit`` of ``connectors`` that are due and free (or whose lease ran out),
    earliest due first, and lease each to ``worker`` for ``lease(name)``."""
    return claim_due(engine, worker, connectors, now, limit, lease).claims


@dataclass(frozen=True)
class Claimed:
    claims: list[Claim]
    # When another of the connectors may be claimed, as the claim left them: the earliest due
    # time or lease expiry of those ``worker`` does not hold (what :func:`next_wake` would say,
    # less this worker's own polls in flight, whose next due time it learns at their release).
    wake: datetime | None


def claim_due(engine: Engine, worker: str, connectors: Collection[str], now: datetime, limit: int,
              lease: Callable[[str], timedelta], roster: Roster | None = None) -> Claimed:
    """:func:`claim`, and the next wake-up in the same statement. On PostgreSQL one statement in
    autocommit (its own transaction: one round trip where the claim's transaction and the
    wake-up's read took seven): the due rows picked ``FOR UPDATE SKIP LOCKED`` in a CTE, leased
    by an ``UPDATE … FROM`` it, the wake-up read over the rows it did not pick (one snapshot: a
    picked row still shows its old times there). Elsewhere one transaction: the claim as before,
    then the read. ``roster``: ``Roster.of(connectors, lease)``, when the caller keeps it."""
    if limit <= 0 or not connectors:
        return Claimed([], None)
    if engine.dialect.name == "postgresql":
        return _claim_postgres(engine, worker, connectors, now, limit, lease, roster)
    with writer(engine) as connection:
        if engine.dialect.name in ("mysql", "mariadb"):
            due = _lock_due_by_key(connection, engine, connectors, now, limit)
        else:
            due = [(name, next_due) for name, next_due in connection.execute(_due(engine, connectors, now, limit))]
        for name, _ in due:
            connection.execute(update(T).where(T.c.connector == name).values(
                holder=worker, lease_expires=now + lease(name), last_started=now))
        wake = connection.execute(_wake(engine, connectors, worker, [name for name, _ in due])).scalar()
    return Claimed([Claim(name, next_due) for name, next_due in due], wake)


def _due(engine: Engine, connectors: Collection[str], now: datetime, limit: int) -> Select[Any]:
    return (select(T.c.connector, T.c.next_due)
            .where(_among(engine, connectors), _free(now))
            .order_by(T.c.next_due, T.c.connector).limit(limit)
            .with_for_update(skip_locked=True))


def _free(now: datetime) -> ColumnElement[bool]:
    """Due at ``now`` and free, or held by a lease that ran out."""
    return and_(T.c.next_due <= now, or_(T.c.holder.is_(None), T.c.lease_expires < now))


def _lock_due_by_key(connection: Connection, engine: Engine, connectors: Collection[str], now: datetime,
                     limit: int) -> list[tuple[str, datetime]]:
    """The MySQL/MariaDB pick of :func:`claim_due`: up to ``limit`` due, free rows that no
    concurrent claim holds, locked in this transaction (earliest due first).

    InnoDB locks every row a locking read scans, not the ones it returns: ``ORDER BY … LIMIT n
    FOR UPDATE SKIP LOCKED`` over the due rows sorts them all, so it locks them all, and two
    other workers claiming at the same moment skip every one and claim nothing while rows are
    left. So the candidates are read first without a lock (the transaction's snapshot, ordered,
    twice the limit), then locked by primary key ``FOR UPDATE SKIP LOCKED``, no more at a time
    than are still wanted (a read by key locks only the rows it finds; ``FORCE INDEX``, because
    on a small table the optimizer prefers a full scan, which locks every row): the rows another claim
    holds are skipped, and the condition is checked again on the row as committed (a claim that
    committed since the snapshot has taken it). When every candidate was skipped or taken, the
    next ones of the snapshot are read, until ``limit`` rows are locked or none is left. Still
    one transaction: the leases are set on the locked rows before it commits. Usually two round
    trips."""
    order = (T.c.next_due, T.c.connector)
    taken: list[tuple[str, datetime]] = []
    seen: list[str] = []
    while len(taken) < limit:
        candidates = list(connection.execute(
            select(T.c.connector).where(_among(engine, connectors), _free(now), T.c.connector.not_in(seen))
            .order_by(*order).limit(2 * limit)).scalars())
        if not candidates:
            break
        seen += candidates
        while candidates and len(taken) < limit:
            wanted = limit - len(taken)
            batch, candidates = candidates[:wanted], candidates[wanted:]
            taken += [(name, due) for name, due in connection.execute(
                select(T.c.connector, T.c.next_due).with_hint(T, "FORCE INDEX (PRIMARY)")
                .where(T.c.connector.in_(batch), _free(now))
                .order_by(*order).with_for_update(skip_locked=True))]
    return sorted(taken, key=lambda row: (row[1], row[0]))


def _wake(engine: Engine, connectors: Collection[str], worker: str,
          picked: Collection[str] | Select[Any]) -> Select[Any]:
    """The earliest due time or lease expiry of ``connectors`` but ``picked`` and the ones
    ``worker`` holds."""
    return (select(func.min(func.coalesce(T.c.lease_expires, T.c.next_due), type_=UtcDateTime()))
            .where(_among(engine, connectors), T.c.holder.is_distinct_from(worker), T.c.connector.not_in(picked)))


@dataclass(frozen=True)
class Roster:
    """Sources as a PostgreSQL claim sends them: their names joined (see ``_SEPARATOR``) and, per
    lease length, the names of that length. The poll pool keeps one per set of sources while
    their schedules stay (polls.py): worked out at every claim, asking each source's lease cost a
    worker of 1,000 sources more CPU per poll than the claim's round trip."""

    names: str
    leases: tuple[tuple[timedelta, str], ...]

    @classmethod
    def of(cls, connectors: Collection[str], lease: Callable[[str], timedelta]) -> Roster:
        groups: dict[timedelta, list[str]] = {}
        for name in connectors:
            groups.setdefault(lease(name), []).append(name)
        return cls(_joined(connectors), tuple((length, _joined(names)) for length, names in sorted(groups.items())))


def _claim_postgres(engine: Engine, worker: str, connectors: Collection[str], now: datetime, limit: int,
                    lease: Callable[[str], timedelta], roster: Roster | None) -> Claimed:
    roster = roster or Roster.of(connectors, lease)
    params: dict[str, Any] = {"names": roster.names, "now": now, "limit": limit, "worker": worker}
    for n, (length, names) in enumerate(roster.leases):
        params[f"expires{n}"] = now + length
        if len(roster.leases) > 1:
            params[f"lease{n}"] = names
    with one_statement(engine) as connection:
        rows = connection.execute(_postgres_claim(len(roster.leases)), params).all()
    claims = sorted((Claim(name, due) for name, due in rows if name is not None), key=lambda c: (c.due, c.connector))
    return Claimed(claims, next((due for name, due in rows if name is None), None))


# The worker's sources go to the claim as one text the server splits (string_to_array): psycopg
# dumps a list parameter element by element at every claim, a cost per poll that grows with the
# sources. A source's name is letters, digits, ``_`` and ``-`` (connectors/base.py): never a comma.
_SEPARATOR = ","


def _joined(names: Collection[str]) -> str:
    return _SEPARATOR.join(sorted(names))


def _split(joined: Any) -> Any:
    return func.string_to_array(joined, literal(_SEPARATOR), type_=ARRAY(String()))


@lru_cache(maxsize=16)
def _postgres_claim(groups: int) -> Any:
    """The PostgreSQL claim of :func:`claim_due`, built once per number of lease lengths among
    the worker's sources (one, usually), every value a parameter: built at each claim, its
    construction and cache key cost SQLAlchemy more CPU than the statement's round trip, at every
    poll. Parameters: ``names`` (the worker's sources), ``now``, ``limit``, ``worker`` and
    ``expires{n}`` (with ``lease{n}``, the sources of each lease length, when there are several)."""
    names = _split(bindparam("names", type_=String()))
    now, worker = bindparam("now", type_=UtcDateTime()), bindparam("worker", type_=String())
    picked = (select(T.c.connector, T.c.next_due)
              .where(T.c.connector == any_(names), T.c.next_due <= now,
                     or_(T.c.holder.is_(None), T.c.lease_expires < now))
              .order_by(T.c.next_due, T.c.connector).limit(bindparam("limit", type_=Integer()))
              .with_for_update(skip_locked=True)).cte("picked")
    expires: Any = bindparam("expires0", type_=UtcDateTime())
    if groups > 1:
        expires = case(*((T.c.connector == any_(_split(bindparam(f"lease{n}", type_=String()))),
                          bindparam(f"expires{n}", type_=UtcDateTime())) for n in range(groups)),
                       else_=T.c.lease_expires)
    taken = (update(T).where(T.c.connector == picked.c.connector)
             .values(holder=worker, lease_expires=expires, last_started=now)
             .returning(T.c.connector, T.c.next_due).cte("taken"))
    wake = (select(func.min(func.coalesce(T.c.lease_expires, T.c.next_due), type_=UtcDateTime()))
            .where(T.c.connector == any_(names), T.c.holder.is_distinct_from(worker),
                   T.c.connector.not_in(select(picked.c.connector)))).scalar_subquery()
    # one row per claim, and one with no connector: the wake-up (NULL when there is no row)
    return union_all(select(taken.c.connector, taken.c.next_due), select(null(), wake))


def renew(engine: Engine, worker: str, expiries: Mapping[str, datetime]) -> set[str]:
    """Extend the leases ``worker`` holds to the given expiries; the names it no longer holds
    (its lease ran out and another worker claimed the source) are returned."""
    lost: set[str] = set()
    if not expiries:
        return lost
    with writer(engine) as connection:
        for name, until in sorted(expiries.items()):
            done = connection.execute(_RENEWED, {"name": name, "worker": worker, "until": until})
            if done.rowcount == 0:
                lost.add(name)
    return lost


# A lease's renewal and release, built once (a release ends every poll): see _postgres_claim.
_RENEWED = update(T).where(T.c.connector == bindparam("name"), T.c.holder == bindparam("worker")) \
    .values(lease_expires=bindparam("until", type_=UtcDateTime()))
_RELEASED = update(T).where(T.c.connector == bindparam("name"), T.c.holder == bindparam("worker")).values(
    holder=None, lease_expires=None, next_due=bindparam("due", type_=UtcDateTime()),
    last_finished=bindparam("ended", type_=UtcDateTime()))


def release(engine: Engine, worker: str, connector: str, next_due: datetime, now: datetime) -> bool:
    """The poll is over: the source is due again at ``next_due`` and free. False when ``worker``
    no longer held it: the row is another worker's now and keeps its schedule."""
    with one_statement(engine) as connection:  # its own transaction: one round trip
        done = connection.execute(_RELEASED, {"name": connector, "worker": worker, "due": next_due, "ended": now})
    return bool(done.rowcount)


def next_wake(engine: Engine, connectors: Collection[str]) -> datetime | None:
    """When one of ``connectors`` may next be claimed: the earliest due time of the free ones
    and lease expiry of the held ones (a lease is set only on a due source, so its expiry is
    never before its due time). None when there is no row."""
    if not connectors:
        return None
    with engine.connect() as connection:
        return connection.execute(
            select(func.min(func.coalesce(T.c.lease_expires, T.c.next_due), type_=UtcDateTime()))
            .where(_among(engine, connectors))).scalar()


def due_times(engine: Engine, connectors: Collection[str]) -> dict[str, datetime]:
    """Each source's next due time (for the job board's ``next_due``, whichever worker polls it)."""
    if not connectors:
        return {}
    with engine.connect() as connection:
        return dict(connection.execute(select(T.c.connector, T.c.next_due)
                                       .where(_among(engine, connectors))).all())
