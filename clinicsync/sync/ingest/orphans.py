"""Sources the store holds that the settings no longer name: a source renamed in
settings.yaml (`name: demo-csv` -> `name: clinic-csv`), or removed from it.

Left alone, a renamed source's new name imports every visit again as new (each patient
reminded twice, each doctor's calendar showing each visit twice), and a removed source's
future visits stay booked in the store with their reminders firing, though no change or
cancellation of them can ever arrive again. So:

- :func:`find_orphans` names them, with their future visits and pending messages: at the
  start of each sync run (a warning), in `status`, on the status page and in /metrics
  (sync/checks/stalls.py). It reads the sources the store has synced with one index probe per source
  (a loose scan of the run history's ``(connector, started_at)`` index), never a scan of a
  table; only a source that turns out orphaned has its future visits and pending messages
  counted.
- :func:`first_run_refusal`: a source's first run is refused while an orphan exists, with
  both names and the two fixes; the other sources go on (sync/ingest/engine.py). A push to a source
  that holds no visit yet is refused the same way, before anything is stored, and answered as a
  store outage so that the sender retries (sync/ingest/push.py ``OrphanedPushRefused``).
- the dispatcher holds an orphan's messages (sync/reminders/dispatch.py, ``HELD``).
- :func:`rename_source` and :func:`retire_source`: the two fixes (`clinicsync source …`).

This module reads through Core tables (no model import) so that `status` stays cheap; the
rename imports the model, on use, to find every table with a ``connector`` column.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    case,
    column,
    delete,
    func,
    insert,
    literal,
    select,
    table,
    update,
)

from clinicsync.common.types import UtcDateTime, utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES, ReminderStatus
from clinicsync.sync.runs.progress import import_stage
from clinicsync.sync.store.locks import poll_lock
from clinicsync.sync.store.tables import REMINDERS, RETIRED_SOURCES, RUN_STAGES, loose_scan

APPOINTMENTS = table("appointment", column("connector", String()), column("start_utc", UtcDateTime()),
                     column("status", String()), column("deleted_at", UtcDateTime()))
A = APPOINTMENTS.c
R = REMINDERS.c

# The reason of a pending message held back because its source is orphaned. A held message is
# put back pending (the dispatcher's way of holding a message back: quiet hours, a provider's
# Retry-After) and looked at again at each dispatch: sent once its source is named again (a
# typo fixed, or `source rename`), cancelled by `source retire`, or skipped "too late" as
# any other message.
HELD = "held: its source {name!r} is no longer in the settings, so no change or cancellation of the visit can arrive"
HELD_PREFIX = "held: its source "
RETIRED = "source {name!r} retired (`clinicsync source retire`): not sent, nobody told"

# How far back a visit an orphan holds still matters: the doctors' calendars show visits that
# ended within ``calendar.past_days`` (30 by default), and a source renamed re-exports them, so
# its new name would import them again as new and put a second event on the calendar for each
# (the simulation, seed 523: a source renamed on an evening its last future visit had passed).
# The default's window; a clinic's own is :func:`recent_window` of its settings.
RECENT = timedelta(days=31)


def recent_window(calendar_past_days: int) -> timedelta:
    """The visits an orphan holds that are still on the calendars: those that started within
    ``calendar.past_days`` and a day (a visit starts before it ends), never less than
    :data:`RECENT` (a clinic that shortens the window keeps the default's protection)."""
    return max(RECENT, timedelta(days=calendar_past_days + 1))

# The sources this store has synced, one index probe each: the smallest connector of the run
# history, then the smallest one past it, and so on (a loose index scan over
# ix_syncrun_connector_started, which PostgreSQL, SQLite and MariaDB answer from the index; a
# DISTINCT would walk every run). Every source that ever ran keeps its newest run (run history's
# pruning keeps it, and prunes only the sources the settings name), and a store's rows come
# from runs (a push is a run too): a source absent from it was never synced by this store.
_SOURCES = loose_scan("syncrun", "connector")


class SourceError(Exception):
    """A rename or retirement refused, with why and what to do (names only, never patient data)."""


def fixes(old: str, new: str | None = None) -> str:
    """The two fixes, as the admin types them."""
    target = new or "<its new name>"
    return (f"if it was renamed, `clinicsync source rename {old} {target}` (its visits, cursor and history move "
            f"over: nothing is imported or sent twice); if it is gone for good, `clinicsync source retire {old}` "
            "(its pending messages are cancelled quietly and its visits leave the calendars); or put it back in "
            "the settings")


@dataclass(frozen=True)
class Orphan:
    connector: str
    future_visits: int
    pending_messages: int
    recent_visits: int = 0  # visits of the last ``recent_days``, still on the calendars
    recent_days: int = RECENT.days  # the window they were counted in (recent_window)

    @property
    def visits(self) -> int:
        """The visits that still matter: ahead, or recent enough to be on the calendars."""
        return self.future_visits + self.recent_visits

    @property
    def detail(self) -> str:
        recent = (f", {self.recent_visits} visit(s) of the last {self.recent_days} days still on the calendars"
                  if self.recent_visits else "")
        return (f"the settings no longer name this source, but the store holds {self.future_visits} future visit(s)"
                f"{recent} and {self.pending_messages} pending message(s) of it, which no update or cancellation "
                f"can reach any more (its messages are held, not sent): {fixes(self.connector)}")

    def as_dict(self) -> dict[str, Any]:
        return {"connector": self.connector, "future_visits": self.future_visits,
                "recent_visits": self.recent_visits, "pending_messages": self.pending_messages,
                "detail": self.detail}


def known_sources(connection: Connection) -> list[str]:
    """Every source this store has synced (one index probe per source)."""
    return [str(name) for name in connection.execute(_SOURCES).scalars()]


def retired_sources(connection: Connection) -> set[str]:
    return set(connection.execute(select(RETIRED_SOURCES.c.connector)).scalars())


def unretire(connection: Connection, configured: Collection[str]) -> list[str]:
    """A retired source that is back in the settings is a source again (its calendar events
    come back with its next calendar run); the retirement's cancelled messages stay cancelled."""
    back = sorted(retired_sources(connection) & set(configured))
    if back:
        connection.execute(delete(RETIRED_SOURCES).where(RETIRED_SOURCES.c.connector.in_(back)))
    return back


def unnamed(connection: Connection, configured: Collection[str]) -> list[str]:
    """The sources the store holds that the settings do not name and nobody retired."""
    candidates = [name for name in known_sources(connection) if name not in configured]
    if not candidates:
        return []
    retired = retired_sources(connection)
    return [name for name in candidates if name not in retired]


def find_orphans(connection: Connection, configured: Collection[str], now: datetime | None = None, *,
                 recent: timedelta = RECENT) -> list[Orphan]:
    """The sources the settings no longer name whose visits (not cancelled) ahead or of the
    last ``recent`` (:func:`recent_window` of the settings), or pending messages, the store
    still holds: a new name's first import would book the first again and put the second on
    the calendars twice. Costs one index probe per source when there is none."""
    now = now or utcnow()
    out = []
    for name in unnamed(connection, configured):
        ahead = case((A.start_utc >= now, 1), else_=0)  # FILTER (WHERE) is not MySQL's
        future, recent_count = connection.execute(select(
            func.coalesce(func.sum(ahead), 0), func.coalesce(func.sum(1 - ahead), 0),
        ).select_from(APPOINTMENTS).where(
            A.connector == name, A.start_utc >= now - recent, A.deleted_at.is_(None),
            A.status.in_(sorted(ACTIVE_STATUSES)))).one()
        pending = connection.execute(select(func.count()).select_from(REMINDERS).where(
            R.status == ReminderStatus.PENDING, R.connector == name)).scalar_one()
        if future or recent_count or pending:
            out.append(Orphan(name, int(future), int(pending), int(recent_count), recent.days))
    return out


def has_visits(connection: Connection, name: str) -> bool:
    return connection.execute(select(A.connector).where(A.connector == name).limit(1)).first() is not None


def first_run_refusal(connection: Connection, name: str, configured: Collection[str],
                      now: datetime | None = None, *, unstored: bool = False,
                      recent: timedelta = RECENT) -> str | None:
    """Why source ``name``'s first run must not start (None: it may). A source that holds no
    visit yet, while the store holds another source's future visits that the settings no longer
    name, is most likely that source renamed: importing it would book every visit twice. The
    refusal stands until the admin says which it is (``fixes``): only a first run is refused,
    so a source that already runs goes on whatever else the settings lose. ``unstored``: the
    caller has just read that ``name`` holds no visit (a push's probes, sync/ingest/push.py)."""
    if not unstored and has_visits(connection, name):
        return None
    orphans = find_orphans(connection, configured, now, recent=recent)
    if not orphans:
        return None
    held = "; ".join(f"{o.connector!r} ({o.future_visits} future visit(s), "
                     + (f"{o.recent_visits} recent visit(s) on the calendars, " if o.recent_visits else "")
                     + f"{o.pending_messages} pending message(s))" for o in orphans)
    ways = " Or: ".join(fixes(o.connector, name) for o in orphans)
    return (f"refused: first run of source {name!r} while the store holds source(s) the settings no longer name: "
            f"{held}. Importing {name!r} now would book, remind and put on the calendars every visit it shares with "
            f"them a second time. Fix: {ways}. Until then {name!r} is not imported.")


# -- the two fixes ----------------------------------------------------------------------------

# Tables whose rows of a source stay where they are when it is renamed: the retirement is
# about the old name (a rename takes it back: the new name is in the settings).
_NOT_MOVED = frozenset({"retired_source"})
# What the new name may already hold: the runs its first run's refusal left (history, no data).
_HISTORY = frozenset({"syncrun"})
# What a refused FHIR notification wrote of the new name before its push was refused (what was
# heard of the feed, sync/ingest/subscriptions.py ``note_heard``): the old name's row replaces it (it has
# the subscription's reference and counters; a counter that jumped asks a reconcile poll).
_FEED = frozenset({"fhir_subscription"})


def source_tables() -> list[Any]:
    """Every store table with a ``connector`` column, from the model (the schema's one truth:
    a table added later is renamed with the rest without a change here)."""
    from sqlmodel import SQLModel

    import clinicsync.sync.store.model  # noqa: F401 - registers every table

    return [t for name, t in sorted(SQLModel.metadata.tables.items())
            if "connector" in t.c and name not in _NOT_MOVED]


@dataclass
class Renamed:
    old: str
    new: str
    moved: dict[str, int] = field(default_factory=dict)  # table -> rows moved
    released: int = 0  # held messages put back in line

    @property
    def done(self) -> bool:
        return any(self.moved.values())

    def as_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "moved": self.moved, "released": self.released}


def _rows_of(connection: Connection, tables: Iterable[Any], name: str) -> dict[str, int]:
    return {str(t.name): n for t in tables
            if (n := int(connection.execute(select(func.count()).select_from(t).where(t.c.connector == name))
                         .scalar_one()))}


def rename_source(engine: Engine, old: str, new: str, configured: Collection[str]) -> Renamed:
    """Move every row of source ``old`` to ``new``, in one transaction: its visits, patients,
    doctors and places, cursor, baseline, fingerprints, file state, quarantine, run history,
    messages (a doctor's agenda's key names the source: renamed too), webhook receipts,
    waiting list, … Idempotent: once done, a second call moves nothing and says so."""
    if old == new:
        raise SourceError("the old and new names are the same")
    if new not in configured:
        raise SourceError(f"{new!r} is not a source in the settings: rename it there first (connectors: - name: "
                          f"{new}), then run this again")
    if old in configured:
        raise SourceError(f"{old!r} is still a source in the settings: a rename moves the store's rows of a source "
                          "the settings no longer name; rename it in the settings first")
    tables = source_tables()
    with poll_lock(engine, old) as old_lock, poll_lock(engine, new) as new_lock:
        if old_lock is None or new_lock is None:
            raise SourceError(f"{old!r} or {new!r} is being polled right now; try again in a minute")
        with engine.begin() as connection:
            result = Renamed(old, new)
            theirs = _rows_of(connection, tables, old)
            if not theirs:
                if has_visits(connection, new):
                    return result  # done before: nothing of the old name is left
                raise SourceError(f"the store holds nothing of source {old!r} (a typo?); the sources it holds: "
                                  f"{', '.join(known_sources(connection)) or 'none'}")
            taken = {t: n for t, n in _rows_of(connection, tables, new).items() if t not in _HISTORY | _FEED}
            if taken:
                raise SourceError(f"{new!r} already has rows in the store ({', '.join(sorted(taken))}): it has been "
                                  f"imported already, so moving {old!r} onto it would mix two sources. If {old!r} is "
                                  f"gone for good, `clinicsync source retire {old}` instead")
            for t in tables:
                if t.name in theirs:
                    if t.name in _FEED:
                        connection.execute(delete(t).where(t.c.connector == new))
                    connection.execute(update(t).where(t.c.connector == old).values(connector=new))
                    result.moved[str(t.name)] = theirs[t.name]
            connection.execute(update(RUN_STAGES).where(RUN_STAGES.c.stage == import_stage(old))
                               .values(stage=import_stage(new)))
            old_prefix, new_prefix = f"agenda:{old}:", f"agenda:{new}:"
            connection.execute(update(REMINDERS).where(
                R.connector == new, R.kind == "agenda", R.key.startswith(old_prefix, autoescape=True))
                .values(key=literal(new_prefix) + func.substr(R.key, len(old_prefix) + 1)))
            result.released = _release_held(connection, new)
            connection.execute(delete(RETIRED_SOURCES).where(RETIRED_SOURCES.c.connector == old))
    return result


def _release_held(connection: Connection, name: str) -> int:
    """The messages held while ``name``'s source was orphaned, back in line (their reason cleared)."""
    return int(connection.execute(update(REMINDERS).where(
        R.connector == name, R.status == ReminderStatus.PENDING, R.reason.startswith(HELD_PREFIX, autoescape=True))
        .values(reason=None, updated_at=utcnow())).rowcount or 0)


@dataclass
class Retired:
    connector: str
    cancelled: int
    future_visits: int
    retired_at: datetime
    already: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"connector": self.connector, "cancelled": self.cancelled, "future_visits": self.future_visits,
                "retired_at": self.retired_at.isoformat(), "already": self.already}


def retire_source(engine: Engine, name: str, configured: Collection[str], now: datetime | None = None) -> Retired:
    """Source ``name`` is gone for good: its pending messages are cancelled, nobody told (the
    reason names the retirement); its future visits leave the doctors' calendars at the next
    calendar run (sync/calendar/desired.py); its rows stay for retention to forget. Idempotent."""
    now = now or utcnow()
    if name in configured:
        raise SourceError(f"{name!r} is still a source in the settings: remove it there first (a source that runs "
                          "is not retired)")
    with engine.begin() as connection:
        before = connection.execute(select(RETIRED_SOURCES).where(RETIRED_SOURCES.c.connector == name)).first()
        if before is None and not has_visits(connection, name):
            raise SourceError(f"the store holds nothing of source {name!r} (a typo?); the sources it holds: "
                              f"{', '.join(known_sources(connection)) or 'none'}")
        future = int(connection.execute(select(func.count()).select_from(APPOINTMENTS).where(
            A.connector == name, A.start_utc >= now, A.deleted_at.is_(None),
            A.status.in_(sorted(ACTIVE_STATUSES)))).scalar_one())
        cancelled = int(connection.execute(update(REMINDERS).where(R.connector == name,
                                                                   R.status == ReminderStatus.PENDING)
                                           .values(status=ReminderStatus.CANCELLED, reason=RETIRED.format(name=name),
                                                   updated_at=now)).rowcount or 0)
        if before is None:
            connection.execute(insert(RETIRED_SOURCES).values(connector=name, retired_at=now, cancelled=cancelled))
            return Retired(name, cancelled, future, now)
        if cancelled:
            connection.execute(update(RETIRED_SOURCES).where(RETIRED_SOURCES.c.connector == name)
                               .values(cancelled=RETIRED_SOURCES.c.cancelled + cancelled))
        return Retired(name, cancelled, future, before.retired_at, already=True)
