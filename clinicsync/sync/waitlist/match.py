"""Which waiting patients a freed slot fits, best first. Pure: the caller reads the rows
(stage and offers do), this module only decides, so every rule is unit-tested on its own.

The rules (docs/waitlist.md, "Matching"):

* the entry is ``waiting``, of the slot's source (refs are the source's own ids) and not expired;
* the doctor: the entry's own, or any when it names none; with ``match: same_type`` also
  another doctor's slot when the entry names a visit type and the slot has that type;
* the visit type, place and visit mode, when the entry names them, are the slot's;
* the slot is at least as long as the visit the entry waits for;
* the slot fits the entry's windows: absolute periods (FHIR ``requestedPeriod``) and weekly
  local windows, read in the entry's own zone (so 08:00-12:00 stays 08:00-12:00 across DST);
  with both kinds, the slot must fit one of each;
* the patient has no active appointment starting before the slot ends (one earlier, or one
  overlapping): taking the slot must never cost them an earlier visit;
* the patient is not the one whose cancellation freed the slot.

Order: priority (higher first), then who has waited longest, then the entry's id."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import orjson

from clinicsync.common.timeutil import TimeError, zone
from clinicsync.common.waitlist_states import EntryStatus

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EARLIEST = datetime.min.replace(tzinfo=UTC)  # an open start
LATEST = datetime.max.replace(tzinfo=UTC)  # an open end


class WindowError(ValueError):
    """An entry's ``windows`` cannot be read; the message names the part, never a value."""


@dataclass(frozen=True)
class Period:
    """An absolute period, UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Weekly:
    """Local wall-clock hours on some weekdays (0 = Monday), in the entry's zone."""

    days: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class Windows:
    periods: tuple[Period, ...] = ()
    weekly: tuple[Weekly, ...] = ()


def _clock(value: Any, part: str) -> time:
    if not isinstance(value, str):
        raise WindowError(f"windows.{part}: not a time HH:MM")
    if value == "24:00":
        return time.max
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise WindowError(f"windows.{part}: not a time HH:MM") from None


def _instant(value: Any, part: str) -> datetime:
    if not isinstance(value, str):
        raise WindowError(f"windows.{part}: not an ISO date-time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise WindowError(f"windows.{part}: not an ISO date-time") from None
    if moment.tzinfo is None:
        raise WindowError(f"windows.{part}: a date-time without an offset")
    return moment


def parse_windows(text: str | None) -> Windows:
    """The entry's ``windows`` JSON (sync/store/model/waitlist.py); NULL or ``[]``: any time. A period
    may leave ``start`` or ``end`` out (or null): open at that end. ``"to": "24:00"`` is midnight."""
    if text is None or not text.strip():
        return Windows()
    try:
        items = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise WindowError("windows: not JSON") from None
    if not isinstance(items, list):
        raise WindowError("windows: not a list")
    periods: list[Period] = []
    weekly: list[Weekly] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise WindowError(f"windows[{index}]: not an object")
        if "days" in item:
            days = item["days"]
            if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
                raise WindowError(f"windows[{index}].days: not a list of mon..sun")
            start, end = _clock(item.get("from"), f"[{index}].from"), _clock(item.get("to"), f"[{index}].to")
            if end <= start:
                raise WindowError(f"windows[{index}]: 'to' is not after 'from'")
            weekly.append(Weekly(frozenset(DAYS.index(d) for d in days), start, end))
        else:  # a period open at one end (FHIR requestedPeriod with only a start or only an end)
            if item.get("start") is None and item.get("end") is None:
                raise WindowError(f"windows[{index}]: neither 'start' nor 'end'")
            start_at = _instant(item["start"], f"[{index}].start") if item.get("start") is not None else EARLIEST
            end_at = _instant(item["end"], f"[{index}].end") if item.get("end") is not None else LATEST
            if end_at <= start_at:
                raise WindowError(f"windows[{index}]: 'end' is not after 'start'")
            periods.append(Period(start_at, end_at))
    return Windows(tuple(periods), tuple(weekly))


def fits_windows(windows: Windows, start: datetime, end: datetime, zone_name: str) -> bool:
    """Whether [start, end) lies inside one of the periods (if any) and inside one weekly
    window (if any), the latter on the entry's local wall clock of the slot's own day."""
    if windows.periods and not any(p.start <= start and end <= p.end for p in windows.periods):
        return False
    if windows.weekly:
        local_zone = zone(zone_name)
        local_start, local_end = start.astimezone(local_zone), end.astimezone(local_zone)
        if local_end.date() != local_start.date() and local_end.time() != time(0, 0):
            return False  # a slot across local midnight fits no daily window
        last = time.max if local_end.date() != local_start.date() else local_end.time()
        if not any(local_start.weekday() in w.days and w.start <= local_start.time() and last <= w.end
                   for w in windows.weekly):
            return False
    return True


@dataclass(frozen=True)
class Slot:
    """A freed slot as matching sees it (a ``freed_slot`` row, plus who freed it)."""

    connector: str
    practitioner_ref: str | None
    visit_type: str | None
    location_ref: str | None
    visit_mode: str | None  # NULL: in person
    start: datetime
    end: datetime
    freed_patient_ref: str | None = None  # the patient of the cancelled appointment


@dataclass(frozen=True)
class Entry:
    """A waitlist entry as matching sees it (a ``waitlist_entry`` row)."""

    id: int
    connector: str
    patient_ref: str
    practitioner_ref: str | None
    visit_type: str | None
    location_ref: str | None
    visit_mode: str | None
    duration_minutes: int | None
    windows: str | None
    timezone: str
    priority: int
    waiting_since: datetime
    expires_at: datetime | None = None
    status: str = EntryStatus.WAITING

    @classmethod
    def of(cls, row: Any) -> Entry:
        return cls(row.id, row.connector, row.patient_ref, row.practitioner_ref, row.visit_type, row.location_ref,
                   row.visit_mode, row.duration_minutes, row.windows, row.timezone, row.priority, row.waiting_since,
                   row.expires_at, row.status)


def _mode(value: str | None) -> str:
    return value or "in_person"


def refusal(slot: Slot, entry: Entry, *, match: str, now: datetime,
            booked_from: datetime | None = None) -> str | None:
    """Why ``entry`` does not fit ``slot`` (a few words, never a value), or None when it fits.
    ``booked_from``: the start of the patient's earliest active appointment still ahead."""
    if entry.status != EntryStatus.WAITING:
        return "not waiting"
    if entry.connector != slot.connector:
        return "another source"
    if entry.expires_at is not None and entry.expires_at <= now:
        return "expired"
    if slot.freed_patient_ref is not None and entry.patient_ref == slot.freed_patient_ref:
        return "freed it"
    if entry.visit_type and slot.visit_type and entry.visit_type != slot.visit_type:
        return "visit type"
    other_doctor = bool(entry.practitioner_ref) and entry.practitioner_ref != slot.practitioner_ref
    same_type = match == "same_type" and bool(entry.visit_type) and entry.visit_type == slot.visit_type
    if other_doctor and not same_type:
        return "doctor"
    if entry.location_ref and entry.location_ref != slot.location_ref:
        return "location"
    if entry.visit_mode and _mode(entry.visit_mode) != _mode(slot.visit_mode):
        return "visit mode"
    if entry.duration_minutes and slot.end - slot.start < timedelta(minutes=entry.duration_minutes):
        return "too short"
    if booked_from is not None and booked_from < slot.end:
        return "booked earlier"
    try:
        windows = parse_windows(entry.windows)
    except WindowError:
        return "windows unreadable"
    try:
        fits = fits_windows(windows, slot.start, slot.end, entry.timezone)
    except TimeError:  # an unknown zone: this entry fits nothing, the others are still matched
        return "timezone unreadable"
    if not fits:
        return "windows"
    return None


def ranked(slot: Slot, entries: Iterable[Entry], *, match: str, now: datetime,
           booked: Mapping[str, datetime] | None = None) -> list[Entry]:
    """The entries that fit ``slot``, best first. ``booked``: patient_ref -> the start of their
    earliest active appointment still ahead (at the slot's source)."""
    booked = booked or {}
    fitting = [e for e in entries
               if refusal(slot, e, match=match, now=now, booked_from=booked.get(e.patient_ref)) is None]
    return sorted(fitting, key=lambda e: (-e.priority, e.waiting_since, e.id))
