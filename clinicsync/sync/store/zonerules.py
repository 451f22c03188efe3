"""A tz database rule change keeps stored visits at their local time.

A clinic books local wall time: a visit is at 09:00 in its zone. The store keeps it as UTC plus
the zone, worked out with the tz database of the day the record was mapped. When a tz database
update changes a zone's rules (Mexico abolished daylight saving with weeks' notice; Egypt
brought it back), the stored UTC of every future visit past the change is an hour off, and a
snapshot source's next run (its fingerprints' epoch holds the tz database, sync/ingest/fingerprint.py)
would re-map each record, see its start move, and tell every patient their visit was moved.

So the store keeps, per zone in use, the UTC-offset transitions its times were computed with
(table ``zonerules``: a few rows per zone per year, over a span from the start of last year to
ten years ahead). At the start of each run (:func:`check_zone_rules`, under a lock, before any
connector reads) each zone's transitions are compared with what the tz database says now. For a
zone whose rules changed, each future visit's local wall time is recovered with the old offsets
and its UTC worked out again with the new rules, as mapping does (``timeutil.localize``: a wall
time that falls in a new gap or overlap is not guessed; that visit is left and counted). The row
gets a new version and a ``rescheduled`` event marked ``baseline`` (recorded, not told: the
planner moves its reminders without a notice, nobody's same-day list hears of it) and
``tz_rules``; the calendar stage re-pushes it because its row changed. Its content hash is left
as it was: the store recognizes a re-mapped record that equals it but for the times the old
rules gave (:func:`remapped_unchanged`) and writes the new hash without an event.

The check costs one read of a few rows when nothing changed; the current transitions of a zone
are worked out once per process (the zones themselves are cached per process,
``timeutil.zone``, so they are what mapping uses). Working them out is a daily probe over eleven
years, ~3 ms a zone, and cron's `sync --once` is a new process every few minutes: so a check that
found every zone as recorded is remembered in the store (sync/store/upkeep.py, ``zonerules:<digest>``)
for the tz database it was made with (:func:`tz_data_versions`), the configured zones and the
span's year, and skipped while all three are the same. A tz database update changes the digest:
the next run (after the restart that makes a process read the new rules) checks and corrects."""

from __future__ import annotations

import zoneinfo
from bisect import bisect_right
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import orjson
import structlog
from sqlalchemy import Connection, Engine, and_, bindparam, insert, select, update

from clinicsync.common.hashing import content_hash
from clinicsync.common.timeutil import TimeError, iso_z, localize, zone
from clinicsync.common.types import utcnow
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.store.db import insert_ignoring_duplicates
from clinicsync.sync.store.locks import try_lock
from clinicsync.sync.store.outbox import EVENTS, writing_events
from clinicsync.sync.store.tables import APPOINTMENTS, HasEngine
from clinicsync.sync.store.tables import ZONE_RULES as RULES
from clinicsync.sync.store.upkeep import done_at, note_done, note_done_in, task_name

log = structlog.get_logger("clinicsync.zonerules")
_DAY = 86_400
YEARS_AHEAD = 10  # the span's end, from the start of this year
EXTEND_WITHIN = 5  # a span ending within this many years is extended (its rules unchanged)
LOCK_WAIT = 600.0  # seconds a worker waits for another that is correcting
CHECKED = "zonerules"  # housekeeping: zonerules:<digest>, the last check that found nothing to write
# The mark this process last found or wrote, per store: a poll in `clinicsync run` reads it once,
# not at every poll. It stays valid for the process's life because the key holds all the check
# depends on (this process's tz database, read once per process; the zones; the span's year): a
# new zone or a new year is a new key, read from the store again. Another process's correction
# (another tz database) replaces the stored mark, and this process keeps its memo: checking again
# would only put its own older rules back.
_CHECKED: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()


@dataclass(frozen=True)
class Rules:
    """A zone's UTC offsets (seconds) from each instant (epoch seconds) over ``start``..``end``."""

    start: int
    end: int
    offsets: tuple[tuple[int, int], ...]

    def as_json(self) -> str:
        return orjson.dumps({"from": self.start, "to": self.end, "offsets": self.offsets}).decode()

    @classmethod
    def from_json(cls, text: str) -> Rules:
        data = orjson.loads(text)
        return cls(int(data["from"]), int(data["to"]), tuple((int(t), int(o)) for t, o in data["offsets"]))

    def offset_at(self, instant: int) -> int:
        """The offset in force at ``instant`` (before the span: the first one)."""
        index = bisect_right(self.offsets, (instant, 1 << 40)) - 1
        return self.offsets[max(index, 0)][1]

    def utc_of(self, wall: datetime) -> datetime | None:
        """The UTC instant of a naive local ``wall`` time under these rules (the earlier one in an
        overlap), or None when it falls in a gap."""
        local = int(wall.replace(tzinfo=UTC).timestamp())
        found = [local - offset for offset in sorted({o for _, o in self.offsets}, reverse=True)
                 if self.offset_at(local - offset) == offset]
        return datetime.fromtimestamp(min(found), UTC) if found else None


def span(now: datetime) -> tuple[int, int]:
    """From the start of last year to ``YEARS_AHEAD`` years after the start of this one: whole
    years, so that one process (and one year) works out each zone's transitions once."""
    return (int(datetime(now.year - 1, 1, 1, tzinfo=UTC).timestamp()),
            int(datetime(now.year + YEARS_AHEAD, 1, 1, tzinfo=UTC).timestamp()))


@lru_cache(maxsize=256)
def current_rules(zone_name: str, start: int, end: int) -> Rules:
    """The zone's transitions over start..end by the tz database this process maps with: its
    offset read each day, and each change narrowed to the second (rules change at most a few
    times a year; a change and its undoing within one day would be missed, and no zone has one)."""
    tz = zone(zone_name)

    def offset(instant: int) -> int:
        found = datetime.fromtimestamp(instant, tz).utcoffset()
        return int(found.total_seconds()) if found is not None else 0

    offsets = [(start, offset(start))]
    before, last = start, offsets[0][1]
    for instant in range(start + _DAY, end + _DAY, _DAY):
        now_offset = offset(instant)
        if now_offset != last:
            low, high = before, instant  # offset(low) == last, offset(high) != last
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == last:
                    low = middle
                else:
                    high = middle
            offsets.append((high, offset(high)))
            last = offsets[-1][1]
            if last != now_offset:  # two changes within the day: take the day's end as it is
                offsets.append((instant, now_offset))
                last = now_offset
        before = instant
    return Rules(start, end, tuple(offsets))


@dataclass
class ZoneCorrection:
    zone: str
    corrected: int = 0
    left: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"zone": self.zone, "corrected": self.corrected, "left": self.left}


def check_zone_rules(store: HasEngine, configured: Collection[str] = (),
                     now: datetime | None = None) -> list[ZoneCorrection]:
    """At the start of a run: record the rules of zones not recorded yet (``configured``: the
    clinic's and the connectors' zones, which a push's one statement does not record), and correct
    the future visits of each zone whose rules changed. Under a lock, so that two workers never
    both correct; the one that waited then finds the rules recorded and does nothing. Skipped
    (one read of one row, none once this process has found or written it: ``_CHECKED``) when a
    check with the same tz database, zones and span's year found nothing to write or corrected
    everything (:func:`checked_key`)."""
    now = now or utcnow()
    engine: Engine = store.engine
    key = checked_key(configured, now)
    if key is not None and (_CHECKED.get(engine) == key or key in (done_at(engine, [key]) or {})):
        _CHECKED[engine] = key
        return []
    with engine.connect() as connection:  # the cheap check: one read of a few rows
        rows = connection.execute(select(RULES.c.zone, RULES.c.transitions)).all()
    missing = set(configured) - {row.zone for row in rows}
    if not missing and all(_unchanged(row.zone, row.transitions, now) for row in rows):
        if key is not None:
            note_done(engine, key, now, replacing=CHECKED + ":")
            _CHECKED[engine] = key
        return []
    with try_lock(engine, "zonerules", wait=LOCK_WAIT), engine.begin() as connection:
        rows = connection.execute(select(RULES.c.zone, RULES.c.transitions)).all()  # again, under the lock
        done = [done for row in rows if (done := _check_zone(connection, row.zone, row.transitions, now))]
        note_zones(connection, set(configured) - {row.zone for row in rows}, set(), now)
        if key is not None:
            note_done_in(connection, key, now, replacing=CHECKED + ":")
    if key is not None:
        _CHECKED[engine] = key
    return done


def checked_key(configured: Collection[str], now: datetime) -> str | None:
    """The housekeeping task of a check with this process's tz database, these zones and this
    span (its years: a span due for extension is a new year, so a new key); None when the tz
    database's version cannot be told (then every run checks, as before)."""
    versions = tz_data_versions()
    if versions is None:
        return None
    return task_name(CHECKED, content_hash([versions, sorted(configured), span(now)]))


@lru_cache(maxsize=1)
def tz_data_versions() -> tuple[str, ...] | None:
    """The versions of the tz data zoneinfo reads a zone from, once per process (as
    :func:`current_rules`: a process maps with the rules it read first): each folder of
    ``zoneinfo.TZPATH`` that exists, by its ``tzdata.zi`` version line (the system's tz database),
    then the ``tzdata`` package's version (zoneinfo's fallback for a zone no folder has). None
    when a folder holds zones but no version line: an update of it could not be told."""
    versions = []
    for folder in map(Path, zoneinfo.TZPATH):
        try:
            with open(folder / "tzdata.zi", encoding="utf-8") as handle:
                versions.append(f"{folder}={handle.readline().strip()}")
        except FileNotFoundError:
            try:
                if any(folder.iterdir()):
                    return None
            except OSError:
                continue  # no such folder: zoneinfo reads nothing from it
        except (OSError, UnicodeDecodeError):
            return None
    try:
        import tzdata

        versions.append(f"tzdata={tzdata.IANA_VERSION}")
    except (ImportError, AttributeError):
        versions.append("tzdata=-")
    return tuple(versions)


def _unchanged(zone_name: str, transitions: str | None, now: datetime) -> bool:
    """Nothing to write for this zone: recorded, the same rules over the span, span not due."""
    try:
        if transitions is None:
            zone(zone_name)
            return False
        stored = Rules.from_json(transitions)
        current = current_rules(zone_name, stored.start, stored.end)
    except TimeError:
        return True  # a zone the tz database no longer knows: mapping refuses it too
    return current == stored and stored.end >= span(now)[1] - EXTEND_WITHIN * 366 * _DAY


def _check_zone(connection: Connection, zone_name: str, transitions: str | None,
                now: datetime) -> ZoneCorrection | None:
    if _unchanged(zone_name, transitions, now):
        return None
    try:
        fresh = current_rules(zone_name, *span(now))
    except TimeError:  # a zone the tz database no longer knows: left (mapping refuses it too)
        log.warning("zonerules.unknown_zone", zone=zone_name)
        return None
    if transitions is None:  # first run: the rules the stored times were computed with are today's
        _write(connection, zone_name, {"transitions": fresh.as_json(), "recorded_at": now})
        log.info("zonerules.recorded", zone=zone_name)
        return None
    stored = Rules.from_json(transitions)
    if current_rules(zone_name, stored.start, stored.end) == stored:  # only the span is due
        _write(connection, zone_name, {"transitions": fresh.as_json(), "recorded_at": now})
        return None
    done = _correct(connection, zone_name, stored, now)
    _write(connection, zone_name, {"transitions": fresh.as_json(), "previous": stored.as_json(), "recorded_at": now,
                                   "corrected_at": now, "corrected": done.corrected, "left": done.left})
    log.warning("zonerules.corrected", zone=zone_name, corrected=done.corrected, left=done.left)
    return done


def _write(connection: Connection, zone_name: str, values: dict[str, Any]) -> None:
    connection.execute(update(RULES).where(RULES.c.zone == zone_name).values(**values))


def _correct(connection: Connection, zone_name: str, old: Rules, now: datetime) -> ZoneCorrection:
    """Move each future visit of the zone (not deleted, any status: a cancelled one's time is a
    local time too) back to the local time the old rules gave it."""
    a = APPOINTMENTS.c
    done = ZoneCorrection(zone_name)
    # Within the old rules' span: past its end they say nothing (ten years ahead: a typo's year).
    rows = connection.execute(select(a.id, a.start_utc, a.end_utc, a.version, a.status, a.practitioner_ref).where(
        a.timezone == zone_name, a.deleted_at.is_(None), a.start_utc > now,
        a.start_utc < datetime.fromtimestamp(old.end, UTC))).all()
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for row in rows:
        moved = _moved(row.start_utc, old, zone_name), _moved(row.end_utc, old, zone_name)
        start, end = moved
        if start is None or end is None:
            done.left += 1  # its local time is in a gap or an overlap of the new rules: left as it was
            continue
        if (start, end) == (row.start_utc, row.end_utc):
            continue
        version = row.version + 1
        updates.append({"_id": row.id, "_start": row.start_utc, "start_utc": start, "end_utc": end,
                        "version": version, "updated_at": now})
        previous = {"status": row.status, "start": iso_z(row.start_utc), "end": iso_z(row.end_utc),
                    "practitioner": row.practitioner_ref}
        events.append({"appointment_id": row.id, "kind": "rescheduled", "version": version, "created_at": now,
                       "payload": orjson.dumps({"previous": previous, "moved": _names(row, start, end),
                                                "baseline": True, "tz_rules": zone_name}).decode()})
    if updates:
        # Only a row still as read: one a push changed meanwhile was mapped with the new rules.
        written = connection.execute(
            update(APPOINTMENTS).where(and_(a.id == bindparam("_id"), a.start_utc == bindparam("_start")))
            .values(start_utc=bindparam("start_utc"), end_utc=bindparam("end_utc"), version=bindparam("version"),
                    updated_at=bindparam("updated_at")), updates)
        if written.rowcount is not None and 0 <= written.rowcount < len(updates):
            events = _still_as_read(connection, events, updates)
        if events:
            writing_events(connection)  # before the first id is drawn (sync/store/outbox.py)
            connection.execute(insert(EVENTS), events)
        done.corrected = len(events)
    return done


def _still_as_read(connection: Connection, events: list[dict[str, Any]],
                   updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of the rows the update wrote (their version is the one it wrote)."""
    a = APPOINTMENTS.c
    wrote = {(r.id, r.version) for r in connection.execute(
        select(a.id, a.version).where(a.id.in_([u["_id"] for u in updates])))}
    return [e for e in events if (e["appointment_id"], e["version"]) in wrote]


def _names(row: Any, start: datetime, end: datetime) -> list[str]:
    return [name for name, before, after in (("start", row.start_utc, start), ("end", row.end_utc, end))
            if before != after]


def _moved(instant: datetime, old: Rules, zone_name: str) -> datetime | None:
    """``instant``'s local wall time under the ``old`` rules, as UTC under the current ones (None:
    that wall time does not exist, or exists twice, under them: mapping would refuse it)."""
    wall = (instant + timedelta(seconds=old.offset_at(int(instant.timestamp())))).replace(tzinfo=None)
    try:
        return localize(wall, zone_name).astimezone(UTC)
    except TimeError:
        return None


# -- zones in use, and what the store's change detection asks --------------------------------------

def note_zones(connection: Connection, zones: Collection[str], noted: set[str], now: datetime) -> list[str]:
    """Record the rules of zones the store is about to hold times in, when not noted yet (a
    zone new to the store: its times are computed with today's rules). Returns the zones to add
    to ``noted`` once the transaction commits. A zone the tz database does not know is left:
    mapping refuses it."""
    new = [z for z in zones if z not in noted]
    if not new:
        return []
    rows = []
    for zone_name in new:
        try:
            rows.append({"zone": zone_name, "transitions": current_rules(zone_name, *span(now)).as_json(),
                         "recorded_at": now, "corrected": 0, "left": 0})
        except TimeError:
            continue
    if rows:
        connection.execute(insert_ignoring_duplicates(connection, RULES), rows)
    return new


def previous_rules(connection: Connection) -> dict[str, Rules]:
    """The rules before the last correction, of each zone that had one."""
    return {row.zone: Rules.from_json(row.previous) for row in connection.execute(
        select(RULES.c.zone, RULES.c.previous).where(RULES.c.previous.is_not(None)))}


def remapped_unchanged(appointment: NormalizedAppointment, previous: Mapping[str, Rules], stored_hash: str,
                       hashed: Any) -> bool:
    """Whether a re-mapped ``appointment`` (times by today's rules, equal to the stored row's) is
    the stored record unchanged: its hash with the times the rules before the last correction
    gave the same local times is the stored one (a correction keeps the hash)."""
    old = previous.get(appointment.timezone)
    if old is None:
        return False
    start, end = appointment.start, appointment.end
    tz = zone(appointment.timezone)
    before = [old.utc_of(t.astimezone(tz).replace(tzinfo=None)) for t in (start, end)]
    if before[0] is None or before[1] is None or (before[0], before[1]) == (start, end):
        return False
    return bool(hashed(replace(appointment, start=before[0], end=before[1])) == stored_hash)
