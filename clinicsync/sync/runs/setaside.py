"""One fault stays one fault: the mechanism every post-sync stage shares for an item it
cannot handle. ``isolated`` runs one item's work in a savepoint; an exception
rolls back that item's writes only, records the item on the set-aside list with its reason
(the error's kind and scrubbed text: never patient data) and lets the stage go on, so the
rest of its work — and the outbox offset it advances — commit as usual.

Staff see the list in `status`, on the status page and as a metric; after a fix,
`clinicsync set-aside retry` marks items for the stage to try again on its next run
(``retry_items``); an item handled then is resolved, one that fails again stays open."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select, update

from clinicsync.common.logs import get_logger, scrub_text
from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.sync.store.db import insert_ignoring_duplicates
from clinicsync.sync.store.tables import APPOINTMENTS, SET_ASIDE, HasEngine

# SET_ASIDE: the Core table (sync/store/tables.py), so `status` reads this list without the model.
S = SET_ASIDE.c
OPEN, RETRY, RESOLVED = "open", "retry", "resolved"
STAGES = ("reminders", "calendar", "dispatch", "agenda", "writeback", "waitlist", "waitlist_book")
REASON_LIMIT = 500
log = get_logger("clinicsync.setaside")  # imports structlog when it first logs, not with `status`


@dataclass(frozen=True)
class Item:
    """What a stage handles, named so staff can find it: ``key`` is unique within the stage."""

    stage: str
    key: str
    appointment_id: int | None = None
    connector: str | None = None
    external_id: str | None = None


@dataclass
class Outcome:
    failed: bool = False
    reason: str | None = None


def reason_of(exc: BaseException) -> str:
    """The error's kind and its text, scrubbed of emails, phones, links and secrets and
    clipped: an exception's message may quote the value it choked on."""
    text = scrub_text(str(exc)).strip()
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return reason if len(reason) <= REASON_LIMIT else reason[:REASON_LIMIT - 1] + "…"


@contextmanager
def isolated_parts(connection: Connection, item: Item, owner: Any, parts: tuple[str, ...],
                   now: datetime | None = None) -> Iterator[Outcome]:
    """``isolated`` for a stage that collects an item's work in memory first (dicts on
    ``owner`` named by ``parts``, written in bulk afterwards): the item collects into fresh
    dicts, merged into the stage's only when the item succeeded, so a failure half-way
    leaves nothing of it behind. No savepoint: the item writes nothing itself, and a
    savepoint per appointment would cost two round trips each on a 100,000-row first import."""
    saved = {name: getattr(owner, name) for name in parts}
    for name in parts:
        setattr(owner, name, {})
    outcome = Outcome()
    try:
        with isolated(connection, item, now, savepoint=False) as outcome:
            yield outcome
    finally:
        for name in parts:
            collected = getattr(owner, name)
            setattr(owner, name, saved[name])
            if not outcome.failed:
                saved[name].update(collected)


@contextmanager
def isolated(connection: Connection, item: Item, now: datetime | None = None,
             savepoint: bool = True) -> Iterator[Outcome]:
    """Run one item's work in a savepoint of ``connection``'s transaction. An ``Exception``
    (never a KeyboardInterrupt or a shutdown) rolls back the item's writes, sets it aside (in
    the same transaction, so it commits with the stage's other work and offset) and is
    swallowed: ``outcome.failed`` tells the caller to drop what it built for the item."""
    outcome = Outcome()
    nested = connection.begin_nested() if savepoint else None
    try:
        yield outcome
    except Exception as exc:
        if nested is not None:
            nested.rollback()
        outcome.failed, outcome.reason = True, reason_of(exc)
        set_aside(connection, item, outcome.reason, now)
        log.warning("stage.item_set_aside", stage=item.stage, item=item.key, connector=item.connector,
                    error=type(exc).__name__)
    else:
        if nested is not None:
            nested.commit()


def run_isolated(engine: Engine, item: Item, work: Callable[[], None],
                 on_failure: Callable[[Connection, str], None] | None = None,
                 now: datetime | None = None) -> Outcome:
    """``isolated`` for work that makes its own transactions (a send: hand-over, call,
    outcome, each committed on its own): run it; on an ``Exception`` record the set-aside,
    and ``on_failure(connection, reason)`` (e.g. mark the reminder failed), in one
    transaction of their own."""
    outcome = Outcome()
    try:
        work()
    except Exception as exc:
        outcome.failed, outcome.reason = True, reason_of(exc)
        with engine.begin() as connection:
            set_aside(connection, item, outcome.reason, now)
            if on_failure is not None:
                on_failure(connection, outcome.reason)
        log.warning("stage.item_set_aside", stage=item.stage, item=item.key, connector=item.connector,
                    error=type(exc).__name__)
    return outcome


def set_aside(connection: Connection, item: Item, reason: str, now: datetime | None = None) -> None:
    """Record (or count again) ``item`` on the list, open, with its newest reason."""
    now = now or utcnow()
    if item.appointment_id is not None and item.external_id is None:  # named as staff know it
        found = connection.execute(select(APPOINTMENTS.c.connector, APPOINTMENTS.c.external_id)
                                   .where(APPOINTMENTS.c.id == item.appointment_id)).first()
        if found is not None:
            item = Item(item.stage, item.key, item.appointment_id, found.connector, found.external_id)
    connection.execute(insert_ignoring_duplicates(connection, SET_ASIDE).values(
        stage=item.stage, item=item.key, appointment_id=item.appointment_id, connector=item.connector,
        external_id=item.external_id, reason=reason, status=OPEN, attempts=0, first_at=now, last_at=now))
    connection.execute(update(SET_ASIDE).where(S.stage == item.stage, S.item == item.key).values(
        reason=reason, status=OPEN, attempts=S.attempts + 1, last_at=now, resolved_at=None))


def resolve(connection: Connection, stage: str, keys: list[str], now: datetime | None = None) -> int:
    """Items of ``stage`` handled after all: resolved (kept for the record, off the list)."""
    if not keys:
        return 0
    result = connection.execute(update(SET_ASIDE).where(
        S.stage == stage, S.item.in_(keys), S.status != RESOLVED).values(
        status=RESOLVED, resolved_at=now or utcnow()))
    return int(result.rowcount or 0)


def take_retries(connection: Connection, stage: str, now: datetime | None = None) -> list[Any]:
    """For stages whose retry is "do it again from scratch" (a send): the items staff asked
    to retry, resolved now; one that fails again is set aside again (attempts grow)."""
    items = retry_items(connection, stage)
    resolve(connection, stage, [r.item for r in items], now)
    return items


def retry_items(connection: Connection, stage: str) -> list[Any]:
    """The items of ``stage`` staff asked to retry, oldest first."""
    return list(connection.execute(select(SET_ASIDE).where(S.stage == stage, S.status == RETRY)
                                   .order_by(S.id)))


def request_retry(engine: Engine, stage: str | None = None, ids: list[int] | None = None) -> int:
    """Mark open items (of a stage, or by id, or all) for their stage's next run."""
    condition = and_(S.status == OPEN, *([S.stage == stage] if stage else []), *([S.id.in_(ids)] if ids else []))
    with engine.begin() as connection:
        return int(connection.execute(update(SET_ASIDE).where(condition).values(status=RETRY)).rowcount or 0)


def open_keys(engine: Engine, stage: str) -> set[str]:
    """The keys of ``stage``'s items not resolved yet (few: read once per pass)."""
    with engine.connect() as connection:
        return set(connection.execute(select(S.item).where(S.stage == stage, S.status != RESOLVED)).scalars())


def open_items(connection: Connection, limit: int | None = 50,
               connectors: Collection[str] | None = None) -> list[dict[str, Any]]:
    """What `status`, the status page and `set-aside list` show: newest first (``connectors``:
    one site's sources; an item of no source is then left out)."""
    query = select(SET_ASIDE).where(S.status != RESOLVED)
    if connectors is not None:
        query = query.where(S.connector.in_(sorted(connectors)))
    rows = connection.execute(query.order_by(S.last_at.desc(), S.id.desc()).limit(limit)).all()
    return [{"id": r.id, "stage": r.stage, "item": r.item, "appointment_id": r.appointment_id,
             "connector": r.connector, "appointment": f"{r.connector}:{r.external_id}" if r.connector else None,
             "reason": r.reason, "status": r.status, "attempts": r.attempts,
             "first_at": r.first_at, "last_at": r.last_at} for r in rows]


def open_counts(connection: Connection) -> dict[str, int]:
    """Open (or retry-requested) items per stage, every stage named (0 when none)."""
    counts: dict[str, int] = dict(connection.execute(select(S.stage, func.count()).where(S.status != RESOLVED)
                                     .group_by(S.stage)).all())
    return {stage: int(counts.get(stage, 0)) for stage in sorted({*STAGES, *counts})}


def set_aside_status(store: HasEngine) -> dict[str, Any]:
    """The `set_aside` section of `status`: open items per stage and the newest of them."""
    with store.engine.connect() as connection:
        items = open_items(connection, limit=20)
        counts = open_counts(connection)
    return {"open": counts, "items": [{**i, "first_at": iso_z(i["first_at"]), "last_at": iso_z(i["last_at"])}
                                      for i in items]}
