"""Store-side bookkeeping of the booking-tool webhooks: which bodies were already applied
(replays of a vendor whose signature has no timestamp) and which booking ids stand for
another appointment (Cal.com's reschedule gives the booking a new uid).

Reschedule chains, in any order: each alias row is an edge "this uid is a later
booking of that one" (a reschedule's ``uid`` → its ``rescheduleUid``; rows written before
chains were followed point at the first uid, an earlier one too). The appointment is keyed
by the chain's first uid, whatever order the webhooks came in: when an edge joins two parts
of a chain that were stored apart, they are merged (``merge_chain``). A uid that was
rescheduled into another is old news: its record does not apply once the chain has an
appointment (``BookingChain.stale``), so a create delivered after its reschedule, even with
the same ``createdAt``, never moves the appointment back (the tie-break: a later booking of
the chain beats an earlier one, whatever the times say).

Both are written inside the push's own transaction (``PushReceiver.receive`` ``within``),
so a body is marked applied exactly when its changes commit, and a crash loses neither."""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, delete, select, text, update
from sqlalchemy.engine import Dialect

from clinicsync.common.types import utcnow
from clinicsync.sync.ingest.push import PushReceiver, Withdrawn, Within, load_appointment
from clinicsync.sync.store.bulk import Processor
from clinicsync.sync.store.db import at_cursor, insert_ignoring_duplicates
from clinicsync.sync.store.model import Appointment, table_of
from clinicsync.sync.store.model.push_hooks import ALIASES, RECEIPTS
from clinicsync.sync.store.store import FoldedRead, Store

APPOINTMENTS = table_of(Appointment)
_LONGEST_CHAIN = 1_000  # a guard against a cycle of aliases, far beyond any real reschedule chain


def already_received(store: Store, connector: str, digest: str) -> bool:
    """Was a body with this digest applied for ``connector`` (and not yet pruned)?"""
    with store.engine.connect() as connection:
        return connection.execute(select(RECEIPTS.c.digest).where(
            RECEIPTS.c.connector == connector, RECEIPTS.c.digest == digest)).first() is not None


def claim_receipt(connection: Connection, connector: str, digest: str, keep: timedelta,
                  now: datetime | None = None, *, prune: bool = True) -> bool:
    """Record the body's digest; False if a concurrent copy recorded it first. Receipts older
    than ``keep`` are pruned (``prune``): a body that old is refused as stale before it gets here."""
    now = now or utcnow()
    if prune:
        connection.execute(_PRUNE, {"connector": connector, "before": now - keep})
    result = connection.execute(_claim(connection), {"connector": connector, "digest": digest, "received_at": now})
    return result.rowcount > 0


# A process prunes a source's receipts at most this often, not on every webhook (a statement
# per push). An expired receipt left a little longer changes nothing: the body it
# stands for is refused as stale (createdAt outside max_age_seconds) before its digest is read.
PRUNE_EVERY_SECONDS = 60.0
_pruned_at: dict[tuple[int, str], float] = {}


def _prune_due(connection: Connection, connector: str) -> bool:
    key, now = (id(connection.engine), connector), time.monotonic()
    if now - _pruned_at.get(key, -PRUNE_EVERY_SECONDS) < PRUNE_EVERY_SECONDS:
        return False
    _pruned_at[key] = now
    return True


# Built once (per dialect), not per webhook: building and keying a statement cost more than running it.
_PRUNE = delete(RECEIPTS).where(RECEIPTS.c.connector == bindparam("connector"),
                                RECEIPTS.c.received_at < bindparam("before"))
_CLAIMS: dict[str, Insert] = {}


def _claim(connection: Connection) -> Insert:
    """The receipt's INSERT, skipped when the digest is there. ``preserve_rowcount``: without it
    SQLAlchemy 2.1 gives -1 for an INSERT on PostgreSQL (psycopg), and ``bool(-1)`` made every
    claim a success, so a replay racing past the first check was applied again."""
    statement = _CLAIMS.get(connection.dialect.name)
    if statement is None:
        statement = _CLAIMS[connection.dialect.name] = insert_ignoring_duplicates(
            connection, RECEIPTS).execution_options(preserve_rowcount=True)
    return statement


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
        if digest is not None and not claim_receipt(connection, connector, digest, keep,
                                                    prune=_prune_due(connection, connector)):
            return {position}
        if alias is not None:
            add_alias(connection, connector, *alias)
        return None

    return within


@dataclass(frozen=True)
class BookingChain:
    """Where one webhook's booking stands in its reschedule chain."""

    root: str  # the chain's first known uid: the appointment's external id
    stale: bool  # the uid was rescheduled into a later booking and the chain is stored
    fragments: tuple[str, ...]  # other uids of the chain keyed a stored appointment, latest in the chain last


def booking_chain(store: Store, connector: str, uid: str, previous: str | None = None) -> BookingChain:
    """Follow ``uid`` (and its new edge to ``previous``, not yet written) back to the chain's
    first uid, then forward to every uid of the chain, to find the parts stored apart."""
    with store.engine.connect() as connection:
        return chain_on(connection, connector, uid, previous)


# A webhook's first read: was its body applied, and is its uid in any reschedule chain (an
# alias of another booking, or one a later booking stands for)? Three indexed probes, one statement.
_RECEIVED_OR_CHAINED = text(
    "SELECT EXISTS (SELECT 1 FROM webhookreceipt WHERE connector = :connector AND digest = :digest), "
    "EXISTS (SELECT 1 FROM bookingalias WHERE connector = :connector AND alias = :uid), "
    "EXISTS (SELECT 1 FROM bookingalias WHERE connector = :connector AND external_id = :uid)")


def received_or_chain(store: Store, connector: str, digest: str, uid: str,
                      previous: str | None = None) -> BookingChain | None:
    """One read for a Cal.com webhook: None if a body with this digest was applied
    (:func:`already_received`), else the booking's chain (:func:`booking_chain`). A new
    booking (no ``previous``) whose uid no alias names is a chain of its own, and nothing
    else is read: one statement instead of four for most webhooks."""
    with store.engine.connect() as connection:
        received, aliased, superseded = connection.execute(
            _RECEIVED_OR_CHAINED, {"connector": connector, "digest": digest, "uid": uid}).one()
        if received:
            return None
        if previous is None and not aliased and not superseded:
            return BookingChain(uid, False, ())  # what chain_on finds for it, without the walk
        return chain_on(connection, connector, uid, previous)


DUPLICATE, CHAINED = "duplicate", "chained"


def unchained(connector: str, position: str, digest: str, uid: str, keep: timedelta) -> Unchained:
    """The first read of a webhook that names no earlier booking, done first inside its push's
    transaction, after its turn, instead of on a connection of its own before it (one
    statement and one connection checkout fewer per webhook): a body already applied, or a uid
    that is in a reschedule chain, takes the push back (:class:`Withdrawn`, reason
    ``DUPLICATE`` or ``CHAINED``: the caller answers the duplicate, or goes the chain's way,
    :func:`received_or_chain`); otherwise the body's receipt is claimed
    (:func:`receipt_and_alias`, kept ``keep``), as for any webhook. On PostgreSQL the read and
    the claim are one statement (:func:`claimed_unchained`), read in the push's own one read
    when it makes one (:class:`Unchained`, ``PushOptions.folded``); on SQLite the
    claim comes first and the read only when nothing was claimed (:func:`claim_then_read`)."""
    return Unchained(connector, position, digest, uid, keep)


@dataclass(frozen=True)
class Unchained(FoldedRead):
    """:func:`unchained`'s ``within``. On PostgreSQL its claim and read are terms of the push's
    one read (a round trip fewer per webhook), decided as :func:`claimed_unchained`
    decides them: the terms read the statement's snapshot, the claim's CTE is not in it."""

    connector: str
    position: str
    digest: str
    uid: str
    keep: timedelta

    def __call__(self, connection: Connection) -> Collection[str] | None:
        dialect = connection.dialect.name
        first = claimed_unchained if dialect == "postgresql" else claim_then_read if dialect == "sqlite" \
            else read_then_claim
        return first(connection, self.connector, self.position, self.digest, self.uid, self.keep)

    def terms(self, connection: Connection) -> tuple[str, str, dict[str, Any]]:
        return _CLAIM_CTE, _CLAIM_COLUMNS, {
            "hook_connector": self.connector, "hook_digest": self.digest, "hook_uid": self.uid,
            "hook_received_at": _received_at(connection, utcnow())}

    def decide(self, connection: Connection, values: Sequence[Any]) -> Collection[str] | None:
        received, aliased, superseded, claimed = values
        return _claimed_or_withdrawn(connection, self.connector, self.position, self.keep,
                                     received, aliased or superseded, claimed)


def _withdraw_if_seen(connection: Connection, read: str, values: dict[str, str]) -> None:
    """:func:`unchained`'s read at the driver: raises :class:`Withdrawn` for a body already
    received (DUPLICATE) or a uid in a chain (CHAINED); returns when neither."""
    cursor = at_cursor(connection, read, values)
    try:
        received, aliased, superseded = cursor.fetchone()
    finally:
        cursor.close()
    if received:
        raise Withdrawn(DUPLICATE)
    if aliased or superseded:
        raise Withdrawn(CHAINED)


def read_then_claim(connection: Connection, connector: str, position: str, digest: str, uid: str,
                    keep: timedelta) -> Collection[str] | None:
    """:func:`unchained`'s read, then the receipt's claim as :func:`receipt_and_alias` claims it
    (pruned first when due; ``{position}`` when a racing copy claimed it first), both at the driver
    (~30-50 us less each than a SQLAlchemy construct, inside SQLite's write lock)."""
    sqlite = connection.dialect.name == "sqlite"
    values = {"connector": connector, "digest": digest, "uid": uid}
    _withdraw_if_seen(connection, _READ_NAMED if sqlite else _READ_PYFORMAT, values)
    now = utcnow()
    if _prune_due(connection, connector):
        connection.execute(_PRUNE, {"connector": connector, "before": now - keep})
    claim = _CLAIM_NAMED if sqlite else _CLAIM_IGNORE if connection.dialect.name in ("mysql", "mariadb") \
        else _CLAIM_PYFORMAT
    cursor = at_cursor(connection, claim, {**values, "received_at": _received_at(connection, now)})
    try:
        claimed = cursor.rowcount > 0
    finally:
        cursor.close()
    return None if claimed else {position}


def claim_then_read(connection: Connection, connector: str, position: str, digest: str, uid: str,
                    keep: timedelta) -> Collection[str] | None:
    """:func:`read_then_claim` on SQLite, where the push already holds the database's write lock
    (``BEGIN IMMEDIATE``, sync/ingest/push.py): the receipt is claimed only if the uid is in no chain, in
    one statement, and a body claimed so is what the read would have let through — so the read
    runs only when nothing was claimed, to say why (a duplicate or a chain, as before; neither
    means a copy claimed it first, which the write lock rules out, answered as a replay anyway).
    Expired receipts are pruned when due after the claim, as :func:`claimed_unchained` does:
    before it, an expired copy of this body would be claimed again where the read said duplicate.
    One statement inside the write lock instead of two for every new webhook (measured in W8: each
    statement hands the GIL to another request and waits to get it back, with eight in flight)."""
    now = utcnow()
    values = {"connector": connector, "digest": digest, "uid": uid}
    cursor = at_cursor(connection, _CLAIM_UNCHAINED, {**values, "received_at": _received_at(connection, now)})
    try:
        claimed = cursor.rowcount > 0
    finally:
        cursor.close()
    if claimed:
        if _prune_due(connection, connector):
            connection.execute(_PRUNE, {"connector": connector, "before": now - keep})
        return None
    _withdraw_if_seen(connection, _READ_NAMED, values)
    return {position}


# read_then_claim's statements in each driver's named style (sqlite3 ``:name``, the others ``%(name)s``).
_READ_NAMED = str(_RECEIVED_OR_CHAINED)
_READ_PYFORMAT = re.sub(r":(\w+)", r"%(\1)s", _READ_NAMED)
_CLAIM_NAMED = ("INSERT INTO webhookreceipt (connector, digest, received_at) "
                "VALUES (:connector, :digest, :received_at) ON CONFLICT DO NOTHING")
_CLAIM_PYFORMAT = re.sub(r":(\w+)", r"%(\1)s", _CLAIM_NAMED)
# claim_then_read's claim (SQLite): no row when the uid is in a chain, none when the body is there.
# SQLite reads ``INSERT … SELECT … ON CONFLICT`` as an upsert only when the SELECT has a WHERE.
_CLAIM_UNCHAINED = (
    "INSERT INTO webhookreceipt (connector, digest, received_at) SELECT :connector, :digest, :received_at "
    "WHERE NOT EXISTS (SELECT 1 FROM bookingalias WHERE connector = :connector AND alias = :uid) "
    "AND NOT EXISTS (SELECT 1 FROM bookingalias WHERE connector = :connector AND external_id = :uid) "
    "ON CONFLICT DO NOTHING")
_CLAIM_IGNORE = ("INSERT IGNORE INTO webhookreceipt (connector, digest, received_at) "
                 "VALUES (%(connector)s, %(digest)s, %(received_at)s)")


def _received_at(connection: Connection, now: datetime) -> Any:
    """``now`` as the driver takes it for ``received_at`` (UtcDateTime's bind processing)."""
    process = _receipt_time(connection.dialect)
    return process(now) if process is not None else now


@lru_cache(maxsize=32)
def _receipt_time(dialect: Dialect) -> Processor:
    """``received_at``'s bind processor on ``dialect``, looked up once (not per webhook)."""
    return RECEIPTS.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)


# PostgreSQL: the first read and the receipt's claim in one statement, on the DB-API cursor
# (a round trip and ~50 us of SQLAlchemy fewer per webhook). The EXISTS terms read the statement's
# snapshot, which the CTE's own INSERT is not in: ``received`` is what the read alone said. A
# claim that conflicts with a receipt committed since (a copy racing past the read) is not
# ``claimed``; a push withdrawn for a chain rolls its claim back with it.
# Its parts (``hook_`` parameters) are also terms of the push's one read (:class:`Unchained`).
_CLAIM_CTE = (
    "claim AS (INSERT INTO webhookreceipt (connector, digest, received_at) "
    "VALUES (%(hook_connector)s, %(hook_digest)s, %(hook_received_at)s) ON CONFLICT DO NOTHING RETURNING 1)")
_CLAIM_COLUMNS = (
    "EXISTS (SELECT 1 FROM webhookreceipt WHERE connector = %(hook_connector)s AND digest = %(hook_digest)s), "
    "EXISTS (SELECT 1 FROM bookingalias WHERE connector = %(hook_connector)s AND alias = %(hook_uid)s), "
    "EXISTS (SELECT 1 FROM bookingalias WHERE connector = %(hook_connector)s AND external_id = %(hook_uid)s), "
    "EXISTS (SELECT 1 FROM claim)")
_CLAIM_AND_READ = f"WITH {_CLAIM_CTE} SELECT {_CLAIM_COLUMNS}"


def claimed_unchained(connection: Connection, connector: str, position: str, digest: str, uid: str,
                      keep: timedelta) -> Collection[str] | None:
    """:func:`unchained`'s read and claim on PostgreSQL, decided as :func:`read_then_claim`
    decides them: :class:`Withdrawn` for a body already applied or a uid in a chain;
    ``{position}`` when a racing copy claimed the body first (left out as a replay); else None.
    Expired receipts are pruned as :func:`claim_receipt` prunes them (after the claim here: the
    read saw them either way, and the new receipt is not expired)."""
    cursor = at_cursor(connection, _CLAIM_AND_READ, {
        "hook_connector": connector, "hook_digest": digest, "hook_uid": uid,
        "hook_received_at": _received_at(connection, utcnow())})
    try:
        received, aliased, superseded, claimed = cursor.fetchone()
    finally:
        cursor.close()
    return _claimed_or_withdrawn(connection, connector, position, keep, received, aliased or superseded, claimed)


def _claimed_or_withdrawn(connection: Connection, connector: str, position: str, keep: timedelta,
                          received: bool, chained: bool, claimed: bool) -> Collection[str] | None:
    """:func:`claimed_unchained`'s answer from its read's values (and the prune when due)."""
    if received:
        raise Withdrawn(DUPLICATE)
    if chained:
        raise Withdrawn(CHAINED)
    if _prune_due(connection, connector):
        connection.execute(_PRUNE, {"connector": connector, "before": utcnow() - keep})
    return None if claimed else {position}


def chain_on(connection: Connection, connector: str, uid: str, previous: str | None = None) -> BookingChain:
    """:func:`booking_chain` on an open connection."""

    def earlier(key: str) -> str | None:
        found = connection.execute(select(ALIASES.c.external_id).where(
            ALIASES.c.connector == connector, ALIASES.c.alias == key)).first()
        return str(found[0]) if found else None

    root, seen = previous or uid, {uid}
    while (before := earlier(root)) is not None and before not in seen and len(seen) < _LONGEST_CHAIN:
        seen.add(root)
        root = before
    depth, frontier = {root: 0}, [root]
    walked: set[str] = set()  # the uids whose later bookings were read
    superseded = False
    while frontier and len(depth) < _LONGEST_CHAIN:
        later = connection.execute(select(ALIASES.c.alias, ALIASES.c.external_id).where(
            ALIASES.c.connector == connector, ALIASES.c.external_id.in_(frontier))).all()
        walked.update(frontier)
        edges = [(str(row[0]), str(row[1])) for row in later]
        superseded = superseded or any(before == uid for _, before in edges)  # a stored later booking of uid
        if previous is not None and previous in frontier:
            edges.append((uid, previous))
        frontier = []
        for key, before in edges:
            if key not in depth:
                depth[key] = depth[before] + 1
                frontier.append(key)
    depth.setdefault(uid, depth.get(previous or uid, 0) + (1 if previous else 0))
    stored = {str(row[0]) for row in connection.execute(select(APPOINTMENTS.c.external_id).where(
        APPOINTMENTS.c.connector == connector, APPOINTMENTS.c.external_id.in_(list(depth)),
        APPOINTMENTS.c.deleted_at.is_(None)))}
    if uid not in walked:  # the walk stopped short of uid (a guard): ask directly
        superseded = connection.execute(select(ALIASES.c.alias).where(
            ALIASES.c.connector == connector, ALIASES.c.external_id == uid).limit(1)).first() is not None
    fragments = tuple(sorted((key for key in stored if key != root), key=lambda key: (depth[key], key)))
    return BookingChain(root, superseded and bool(stored), fragments)


def merge_chain(receiver: PushReceiver, chain: BookingChain, position: str) -> None:
    """Make the chain one appointment keyed by its first uid. A part stored apart was keyed by
    a later uid whose link to the first was not known yet, so it holds the later news: the
    latest part becomes the appointment (renamed, keeping its reminders and calendar event,
    when the first uid has no row; else copied onto it), and the others are deleted, their
    reminders and calendar events with them."""
    if not chain.fragments:
        return
    *others, latest = chain.fragments
    store, connector = receiver.store, receiver.name
    with store.engine.begin() as connection:
        taken = connection.execute(select(APPOINTMENTS.c.id).where(
            APPOINTMENTS.c.connector == connector, APPOINTMENTS.c.external_id == chain.root)).first() is not None
        if not taken:
            connection.execute(update(APPOINTMENTS).where(APPOINTMENTS.c.connector == connector,
                                                          APPOINTMENTS.c.external_id == latest)
                               .values(external_id=chain.root))
    if taken:
        content, first = load_appointment(store, connector, latest), load_appointment(store, connector, chain.root)
        if content is not None:
            # Later in the chain is later news, whatever the times say (see the module docstring).
            times = [t for t in (content.source_updated_at, first.source_updated_at if first else None)
                     if t is not None]
            receiver.apply(replace(content, external_id=chain.root, source_updated_at=max(times, default=None)),
                           position)
        others.append(latest)
    for key in others:
        receiver.delete(key, position)
