"""What each `.ics` file holds, kept in the store (tables ``icsevent`` and ``icsfile``).

Why: a file is a whole document, but a run changes a few of its events. Parsing and
rewriting the file for every chunk of operations made the first import of a large
practice quadratic (60,000 appointments: 12 minutes in this stage). With each VEVENT
kept as written, a run reads only the rows its operations touch, and the file is the
rows joined, streamed out once per run. A file whose bytes are not the ones last
written (edited by hand, restored from a backup, or written before this table existed)
is adopted once: its events that the store does not know are kept.

Past events leave (retirement): an event whose visit ended more than
``calendar.ics.keep_past_days`` ago is deleted from the table when its file is written, or at
most once a day for a file nothing else writes (``icsevent.ends_at``, indexed with the file).
An adopted event clinicsync does not own (no ``X-CLINICSYNC:1``) has no end here and stays.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from sqlalchemy import Connection, Engine, delete, func, or_, select, update
from sqlalchemy.pool import StaticPool

from clinicsync.common.model_table import table_of
from clinicsync.common.types import utcnow
from clinicsync.sync.calendar.links import insert_shared
from clinicsync.sync.store import bulk
from clinicsync.sync.store.db import insert_ignoring_duplicates
from clinicsync.sync.store.tables import ICS_EVENTS, ICS_FILES

_CHUNK = 500  # uids per IN (…): far below every driver's parameter limit
_READ = ("id", "uid", "sequence", "cancelled", "tzid", "vevent", "ends_at")
_NEW = ("calendar_id", "uid", "sequence", "cancelled", "tzid", "vevent", "ends_at", "updated_at")
# A new event's own values (insert_new), its flag shared by the file's round; its end is added
# by IcsState.insert_new, bound there.
FIRST = ("uid", "tzid", "vevent", "ends_at")
FLAGGED = ("uid", "cancelled", "tzid", "vevent", "ends_at")  # the same with its own flag: a round of both kinds


class IcsRow(NamedTuple):
    """One VEVENT as the file shows it. ``id`` is None until stored. A tuple: a first push
    builds one per event."""

    uid: str
    sequence: int
    cancelled: bool
    tzid: str | None
    vevent: str
    id: int | None = None
    ends_at: datetime | None = None  # when the visit ends (UTC); None: not ours, never retired


def private_engine() -> Engine:
    """State for a provider built without the store (tests, one-off tools): an in-memory
    database that adopts each file on first use, so the same code path serves both."""
    from sqlalchemy import create_engine

    from clinicsync.sync.store.model.calendar import IcsEvent, IcsFile  # the schema (indexes, keys): the model's

    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    table_of(IcsEvent).create(engine)
    table_of(IcsFile).create(engine)
    return engine


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def row_of(component: object, uid: str) -> IcsRow:
    """A parsed VEVENT (icalendar) as a row."""
    from icalendar import Component

    assert isinstance(component, Component)
    start = component.get("dtstart")
    tzid = start.params.get("TZID") if start is not None and hasattr(start, "params") else None
    return IcsRow(uid=uid, sequence=int(component.get("sequence", 0)),
                  cancelled=str(component.get("status", "")).upper() == "CANCELLED",
                  tzid=str(tzid) if tzid else None, vevent=component.to_ical().decode("utf-8"),
                  ends_at=_our_end(component))


def _our_end(component: Any) -> datetime | None:
    """When an adopted event's visit ends, if the event is clinicsync's own (``X-CLINICSYNC:1``:
    from an older version, or a backup restored): it then retires as the others do. None for
    anyone else's event, or one without a time of day (an all-day event added by hand): kept."""
    if str(component.get("x-clinicsync", "")) != "1" or component.get("dtend") is None:
        return None
    end = component.decoded("dtend")
    if not isinstance(end, datetime):
        return None
    return end.astimezone(UTC) if end.tzinfo else end.replace(tzinfo=UTC)


class IcsState:
    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine if engine is not None else private_engine()
        self._checked: set[str] = set()  # files compared with their digest in this run

    def adopt_once(self, calendar_id: str, path: Path) -> None:
        """Once per run and file: if the file is not the one last written, keep the events
        of it the store does not know (someone else's, or ours from before this table)."""
        if calendar_id in self._checked:
            return
        self._checked.add(calendar_id)
        with self.engine.connect() as connection:
            recorded = connection.execute(
                select(ICS_FILES.c.digest).where(ICS_FILES.c.calendar_id == calendar_id)).first()
        data = path.read_bytes() if path.exists() else None
        if recorded is not None and data is not None and recorded.digest == digest(data):
            return
        adopted: list[IcsRow] = []
        if data is not None:
            from icalendar import Calendar  # only a file the store did not write is parsed (not at rest)

            events = Calendar.from_ical(data).walk("VEVENT")
            known = self.existing(calendar_id, [str(e.get("uid")) for e in events])
            adopted = [row_of(e, str(e.get("uid"))) for e in events if str(e.get("uid")) not in known]
        # The file must be written again either way: it is missing or not what the store holds.
        self.save(calendar_id, adopted)

    def empty(self, calendar_id: str) -> bool:
        """The store holds no event of this file."""
        with self.engine.connect() as connection:
            return not bulk.select_where(connection, ICS_EVENTS, ("id",), {"calendar_id": calendar_id}, limit=1)

    def existing(self, calendar_id: str, uids: Sequence[str]) -> dict[str, IcsRow]:
        with self.engine.connect() as connection:
            found = bulk.select_where_in(connection, ICS_EVENTS, _READ, "uid", sorted(set(uids)),
                                   where={"calendar_id": calendar_id}, chunk=_CHUNK)
        return {uid: IcsRow(uid, sequence, cancelled, tzid, vevent, id_, ends_at)
                for id_, uid, sequence, cancelled, tzid, vevent, ends_at in found}

    def save(self, calendar_id: str, events: Iterable[IcsRow],
             also: Callable[[Connection], None] | None = None) -> None:
        """Store new and changed events, and mark the file as owing a write, in one transaction;
        ``also`` writes in it too (the calendar links these events settle: sync/calendar/push.py)."""
        now = utcnow()
        with self.engine.begin() as connection:
            stamp = bulk.bind_value(connection, ICS_EVENTS.c.updated_at, now)
            [end_of] = bulk.bind_processors(connection, [ICS_EVENTS.c.ends_at])
            new, changed = [], []
            for row in events:
                ends = row.ends_at if end_of is None or row.ends_at is None else end_of(row.ends_at)
                if row.id is None:
                    new.append((calendar_id, row.uid, row.sequence, row.cancelled, row.tzid, row.vevent, ends, stamp))
                else:
                    changed.append((row.sequence, row.cancelled, row.tzid, row.vevent, ends, stamp, row.id))
            self._write(connection, calendar_id, new, changed, now, also)

    def insert_new(self, calendar_id: str, rows: Sequence[tuple[Any, ...]], ends: Sequence[datetime],
                   also: Callable[[Connection], None] | None = None, cancelled: bool | None = None) -> None:
        """:meth:`save` of events the file does not hold yet, at their first sequence (0): ``rows``
        are ``(uid, tzid, vevent)`` tuples (``FIRST`` without its end) when every one has the flag
        ``cancelled``, else ``(uid, cancelled, tzid, vevent)`` (``FLAGGED``, ``cancelled`` None);
        ``ends``: each one's visit end, bound here (each distinct slot once) and added to its row. A first push
        writes them from one tuple per event, without an :class:`IcsRow` each; the file's id, the
        sequence, the time stamp and a shared flag go into the statement once
        (:func:`insert_shared`), not bound per row."""
        now = utcnow()
        with self.engine.begin() as connection:
            shared = {"calendar_id": calendar_id, "sequence": 0,
                      "updated_at": bulk.bind_value(connection, ICS_EVENTS.c.updated_at, now)}
            if cancelled is not None:
                shared["cancelled"] = cancelled
            bound = bulk.utc_time_table(connection, ICS_EVENTS.c.ends_at, ends)  # SQLite's text, made cheaply
            insert_shared(connection, ICS_EVENTS, FLAGGED if cancelled is None else FIRST, shared,
                          [(*row, bound[end]) for row, end in zip(rows, ends, strict=True)])
            self._write(connection, calendar_id, [], [], now, also)

    def _write(self, connection: Connection, calendar_id: str, new: Sequence[tuple[Any, ...]],
               changed: Sequence[tuple[Any, ...]], now: Any, also: Callable[[Connection], None] | None) -> None:
        """The writes of :meth:`save`, in its transaction: events, the file marked dirty, ``also``."""
        bulk.insert_ignoring(connection, ICS_EVENTS, _NEW, new)
        bulk.update_by_id(connection, ICS_EVENTS, _NEW[2:], changed)
        connection.execute(insert_ignoring_duplicates(connection, ICS_FILES),
                           [{"calendar_id": calendar_id, "dirty": True, "updated_at": now}])
        connection.execute(update(ICS_FILES).where(ICS_FILES.c.calendar_id == calendar_id)
                           .values(dirty=True, updated_at=now))
        if also is not None:
            also(connection)

    def dirty(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(
                select(ICS_FILES.c.calendar_id).where(ICS_FILES.c.dirty.is_(True)).order_by(ICS_FILES.c.calendar_id)
            ).scalars())

    def due(self, checked_before: datetime) -> list[tuple[str, bool]]:
        """``(calendar id, dirty)`` of the files to write or to retire past events from: those
        owing a write, and those whose past events were not retired since ``checked_before``
        (a day ago: a file nothing writes, a doctor who stopped working, still loses them)."""
        f = ICS_FILES.c
        with self.engine.connect() as connection:
            return [(calendar_id, bool(dirty)) for calendar_id, dirty in connection.execute(
                select(f.calendar_id, f.dirty)
                .where(or_(f.dirty.is_(True), f.retired_at.is_(None), f.retired_at < checked_before))
                .order_by(f.calendar_id))]

    def holds_past(self, calendar_id: str, ended_before: datetime) -> bool:
        """Whether the file holds an event whose visit ended before ``ended_before`` (indexed)."""
        e = ICS_EVENTS.c
        with self.engine.connect() as connection:
            return connection.execute(select(e.id).where(
                e.calendar_id == calendar_id, e.ends_at < ended_before).limit(1)).first() is not None

    def retire(self, calendar_id: str, ended_before: datetime, now: datetime) -> int:
        """Delete the file's events whose visit ended before ``ended_before`` (through the index
        on ``(calendar_id, ends_at)``: no scan of its events), and note when; if any went, the
        file owes a write (marked dirty in the same transaction: a run that stops before the
        write leaves it for the next, as :meth:`save` does). Their links stay as they are:
        their appointments are outside the stage's window (keep_past_days >= past_days). The
        number of events deleted."""
        e = ICS_EVENTS.c
        with self.engine.begin() as connection:
            gone = connection.execute(delete(ICS_EVENTS).where(
                e.calendar_id == calendar_id, e.ends_at < ended_before)).rowcount or 0
            values: dict[str, Any] = {"retired_at": now}
            if gone:
                values |= {"dirty": True, "updated_at": now}  # a write that read before this is stale
            connection.execute(update(ICS_FILES).where(ICS_FILES.c.calendar_id == calendar_id).values(values))
        return gone

    def scan(self, calendar_id: str) -> bool:
        """Whether the file's events are best read by reading the table in order (:func:`_mostly`):
        worked out once per file written, for :meth:`tzids` and :meth:`vevents` both."""
        with self.engine.connect() as connection:
            return _mostly(connection, calendar_id)

    def tzids(self, calendar_id: str, scan: bool | None = None) -> list[str]:
        """The file's zones, sorted. ``scan`` (:meth:`scan`, SQLite): read in table order, not
        through the ``(calendar_id, uid)`` index and a table lookup per event (~3,100
        instructions an event of a practice's file, against ~2,200 for the scan)."""
        c = ICS_EVENTS.c
        with self.engine.connect() as connection:
            if scan is None:
                scan = _mostly(connection, calendar_id)
            if scan and connection.dialect.name == "sqlite":
                tzid = bulk.quoted(connection, "tzid")
                sql = (f"SELECT DISTINCT {tzid} FROM {bulk.quoted(connection, ICS_EVENTS.name)} NOT INDEXED "
                       f"WHERE {bulk.quoted(connection, 'calendar_id')} = ? AND {tzid} IS NOT NULL")
                return sorted(t for (t,) in connection.exec_driver_sql(sql, (calendar_id,)))
            return sorted(t for t in connection.execute(
                select(c.tzid).where(c.calendar_id == calendar_id, c.tzid.is_not(None)).distinct()).scalars())

    def vevents(self, calendar_id: str, chunk: int = 1000, scan: bool | None = None) -> Iterator[list[tuple[str]]]:
        """The file's events in the order they were first written, streamed ``chunk`` at a time
        as the driver's one-element tuples (a SQLAlchemy row per event cost a 20,000-event
        file more than reading it). ``scan``: :meth:`scan`, when the caller worked it out."""
        with self.engine.connect() as connection:
            if scan is None:
                scan = _mostly(connection, calendar_id)
            yield from bulk.select_where_chunks(connection, ICS_EVENTS, ("vevent",), {"calendar_id": calendar_id},
                                                order="id", chunk=chunk, scan=scan)

    def version(self, calendar_id: str) -> tuple[Any, str | None] | None:
        """What the file's row says before its events are read for a write (``updated_at``,
        ``digest``): every save, retirement and write changes one of them, so :meth:`written`
        can tell whether the file it wrote is still the store's view."""
        f = ICS_FILES.c
        with self.engine.connect() as connection:
            found = connection.execute(select(f.updated_at, f.digest).where(f.calendar_id == calendar_id)).first()
        return None if found is None else (found.updated_at, found.digest)

    def written(self, calendar_id: str, file_digest: str, seen: tuple[Any, str | None] | None = None) -> bool:
        """The file was written with ``file_digest``: it no longer owes a write. ``seen``: its
        :meth:`version` read before its events were: if another writer saved, retired or wrote
        since (two calendar stages overlapping), the file just written may be older than the
        store (or than the other's file, replaced by this one): it stays owed, written again by
        the next run, rather than recorded as written (its digest would then match, and nothing
        would write it until the doctor's next change). False then."""
        f = ICS_FILES.c
        with self.engine.begin() as connection:
            query = update(ICS_FILES).where(f.calendar_id == calendar_id)
            if seen is not None:
                query = query.where(f.updated_at == seen[0], f.digest.is_not_distinct_from(seen[1]))
            done = connection.execute(query.values(dirty=False, digest=file_digest, updated_at=utcnow())).rowcount
            if seen is not None and not done:
                connection.execute(update(ICS_FILES).where(f.calendar_id == calendar_id)
                                   .values(dirty=True, updated_at=utcnow()))
                return False
        self._checked.add(calendar_id)  # the file on disk is now the store's
        return True


_SCAN_SHARE = 4  # SQLite: read a file's events in table order when they are at least a quarter of its span


def _mostly(connection: Connection, calendar_id: str) -> bool:
    """SQLite: whether the file's events are enough of the table that reading the table in id
    order (``NOT INDEXED``, the file's order) is cheaper than the unique index on
    ``(calendar_id, uid)``: that index gives them in uid order, one table lookup each, and then
    sorts them (the whole VEVENT text) by id — measured ~3-5 µs per event against ~0.5 µs per
    row scanned, so a scan wins above about a sixth of the table; a quarter keeps a margin (a
    practice's few doctors)."""
    if connection.dialect.name != "sqlite":
        return False
    c = ICS_EVENTS.c
    mine = connection.execute(select(func.count()).where(c.calendar_id == calendar_id)).scalar_one()
    # Two subqueries: SQLite looks a lone min() or max() up at the end of the primary key, but
    # scans the whole table for both in one SELECT (~1,000 instructions a row, once per file).
    low, high = connection.execute(select(select(func.min(c.id)).scalar_subquery(),
                                          select(func.max(c.id)).scalar_subquery())).one()
    return bool(mine) and mine * _SCAN_SHARE >= high - low + 1


def write_atomically(path: Path, parts: Iterable[bytes]) -> str:
    """Stream ``parts`` to a temp file beside ``path``, then rename over it (readers never see
    half a file). Returns the digest of what was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's own temp file: two writers of one file (overlapping runs) sharing one name
    # truncated and interleaved each other's bytes, and the second rename found no file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_native_id()}.part")
    hasher = hashlib.blake2b(digest_size=16)
    handle: IO[bytes]
    try:
        with tmp.open("wb") as handle:
            for part in parts:
                hasher.update(part)
                handle.write(part)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return hasher.hexdigest()
