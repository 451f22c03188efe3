"""Classify what happened to an appointment between two versions of it. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from clinicsync.common.timeutil import TimeError, iso_z, zone
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.mappings.model import NormalizedAppointment

EVENT_KINDS = ("created", "updated", "rescheduled", "cancelled", "noshow", "deleted")
CANCELLED_STATUSES = frozenset({"cancelled", "entered-in-error"})
# What a visit of unknown order is never brought back from (``classify``); a waitlist entry is
# booked by a message of the same time as usual.
ENDED_STATUSES = CANCELLED_STATUSES | {"noshow"}


@dataclass(frozen=True)
class Stored:
    """The stored fields change detection needs (one row of a bulk select)."""

    id: int
    status: str
    start_utc: datetime
    end_utc: datetime
    practitioner_ref: str | None
    content_hash: str
    version: int
    source_updated_at: datetime | None
    deleted_at: datetime | None
    visit_mode: str | None = None
    join_url: str | None = None
    provider_join_url: str | None = None
    dial_in: str | None = None
    patient_ref: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class Change:
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


def update_order(new: datetime | None, old: datetime | None, zone_name: str | None) -> int:
    """Whether an update dated ``new`` is newer (1) than what is stored, dated ``old``, older
    (-1), or cannot be told (0). Undated updates count as newer (the order they arrive in).
    It cannot be told when both carry the same time (HL7's MSH-7 is often to the minute: a
    booking and its cancellation sent in one minute), or when both are wall-clock times of
    the hour a fall-back repeats, read as its first pass (a time without an offset is read
    so, mappings/engine.py ``_updated_utc``): 01:10 of the second pass reads as 50
    minutes before 01:50 of the first, though it came 20 minutes after it."""
    if new is None or old is None:
        return 1
    if new == old or (_first_of_repeated_hour(new, zone_name) and _first_of_repeated_hour(old, zone_name)):
        return 0
    return 1 if new > old else -1


def _first_of_repeated_hour(value: datetime, zone_name: str | None) -> bool:
    """Whether ``value`` falls in the first pass of a wall-clock hour its zone repeats."""
    if zone_name is None:
        return False
    try:
        local = value.astimezone(zone(zone_name))
    except (TimeError, OverflowError):
        return False
    return local.fold == 0 and local.replace(fold=1).utcoffset() != local.utcoffset()


def classify(old: Stored, new: NormalizedAppointment, new_hash: str, current: bool = False) -> Change | None:
    """None when nothing changed, or the update is older than what is stored, or it would
    bring back a cancelled, no-show or deleted visit and which came first cannot be told
    (``update_order``): then the cancellation holds, as a deletion does (Store._tombstoned).
    ``current``: the record is the source's state read now (a poll of a database, a FHIR
    search, an export), not a message sent earlier: a read is never older than the one
    before it, so one of the same time is applied (a booking undone and redone within a
    minute-precision stamp between two polls stays booked)."""
    if old.deleted_at is None and old.content_hash == new_hash:
        return None
    order = update_order(new.source_updated_at, old.source_updated_at, new.timezone or old.timezone)
    if order < 0 and not zone_corrected(old, new):
        # Out of order: never let an older message overwrite newer data. A changed setting
        # re-reads the same update stamp earlier (a convention or zone corrected westwards):
        # that is the same row, re-timed, not an older one.
        return None
    new_practitioner = new.practitioner.external_id if new.practitioner else None
    moved = [name for name, before, after in (
        ("start", old.start_utc, new.start),
        ("end", old.end_utc, new.end),
        ("practitioner", old.practitioner_ref, new_practitioner),
    ) if before != after]
    previous = {"status": old.status, "start": iso_z(old.start_utc), "end": iso_z(old.end_utc),
                "practitioner": old.practitioner_ref}
    was_active = old.deleted_at is None and old.status in ACTIVE_STATUSES
    payload: dict[str, Any] = {"previous": previous, "moved": moved}
    if new.status != old.status:
        payload["status"] = [old.status, new.status]
    # Which telehealth details changed (names only: a link is PHI), so a consumer can tell a
    # new join link from a change of wording.
    visit = [name for name, before, after in (
        ("visit_mode", old.visit_mode, new.visit_mode), ("join_url", old.join_url, new.join_url),
        ("provider_join_url", old.provider_join_url, new.provider_join_url), ("dial_in", old.dial_in, new.dial_in),
    ) if (before or None) != (after or None) and not (name == "visit_mode" and {before, after} <= {None, "in_person"})]
    if visit:
        payload["visit"] = visit
    if old.timezone is not None and new.timezone is not None and old.timezone != new.timezone:
        # The visit's zone changed (a zone fixed after go-live, same instant or same wall time):
        # its pending reminders are placed again by the new zone's clock and quiet hours.
        payload["zone"] = [old.timezone, new.timezone]
    if old.patient_ref != (new.patient.external_id if new.patient else None):
        payload["patient_changed"] = True  # a flag, never the ids: given to another patient (a correction)
    if not was_active and new.status in ACTIVE_STATUSES:
        if new.replaces and old.deleted_at is None and moved:
            # The row that replaces the one whose word ended the visit (a product that reschedules
            # by a successor row, its old row sent first: sync/ingest/supersede.py): the visit
            # moved, told as one move; the cancellation notice still unsent is withdrawn with it.
            return Change("rescheduled", {**payload, "successor": True})
        if order == 0 and not current and (old.deleted_at is not None or old.status in ENDED_STATUSES):
            return None  # a booking and its cancellation, order unknown: the visit stays cancelled
        return Change("updated", {**payload, "reactivated": True})
    if moved and "practitioner" not in moved and new.status == old.status and old.deleted_at is None \
            and zone_corrected(old, new):
        # Recorded, not told (sync/store/zonerules.py's mark): reminders re-planned, calendars corrected.
        return Change("rescheduled", {**payload, "baseline": True, "zone_setting": [old.timezone, new.timezone]})
    if new.status != old.status and new.status in CANCELLED_STATUSES:
        return Change("cancelled", payload)
    if new.status != old.status and new.status == "noshow":
        return Change("noshow", payload)
    if moved:
        return Change("rescheduled", payload)
    return Change("updated", payload)


def as_correction(old: Stored, new: NormalizedAppointment, change: Change) -> Change:
    """``change`` as found by a read made because the connector's query, mapping or cursor
    column changed (sync/ingest/fingerprint.py ``read_epoch``): what the fix alone changed is
    a correction, recorded and planned from but told to nobody (``"baseline": true``) — a visit
    that gains its doctor or its phone by a fixed join has not moved. What the source itself
    changed since the last read is still news: its change stamp is newer than the stored one,
    or, with no stamps to tell, its time or status differs."""
    if new.source_updated_at is not None and old.source_updated_at is not None:
        news = update_order(new.source_updated_at, old.source_updated_at, new.timezone or old.timezone) > 0
    else:
        news = (old.start_utc, old.end_utc, old.status) != (new.start, new.end, new.status)
    if news or change.payload.get("reactivated") or change.payload.get("successor"):
        return change
    return Change(change.kind, {**change.payload, "baseline": True, "correction": True})


def corrected_line(count: int) -> str:
    """What a run says of its zone-corrected visits (``sync`` and the log)."""
    return (f"{count:,} visit{'s' if count != 1 else ''} kept {'their' if count != 1 else 'its'} local time under "
            "a changed time zone setting: calendars corrected and reminders re-planned, patients not told")


def phones_line(count: int) -> str:
    """What a run says of patients whose phone number now reads in another country (or not at all)."""
    whose = "patients'" if count != 1 else "patient's"
    return (f"{count:,} {whose} phone number{'s' if count != 1 else ''} now "
            f"read{'' if count != 1 else 's'} in another country or not at all: if clinic.default_region was "
            "changed, later messages go to the numbers it gives now (docs/operations.md)")


def zone_corrected(old: Stored, new: NormalizedAppointment) -> bool:
    """Whether ``new`` moves the stored visit only because its local times are now read in
    another zone: the same wall-clock start and end, the zone changed. A settings edit does
    this (a source's ``timezone:`` or ``clinic.timezone`` corrected months after go-live):
    every visit the source gives as local time gets a new UTC instant, yet nothing the clinic
    booked moved, so no patient is told it did. A move at the source changes the wall time.
    So does a changed time convention (a connector's ``stored_times:`` local <-> utc):
    the same naive times read as UTC instead of in the visit's zone, or the other way.
    The zone stays, so only the update stamp tells that from a real move by the zone's offset
    (8:30 to 14:30 in Chicago): it must have kept its wall time too, read the same new way."""
    if old.timezone is None:
        return False
    try:
        before, after = zone(old.timezone), zone(new.timezone)
    except TimeError:
        return False
    visit = ((old.start_utc, new.start), (old.end_utc, new.end))
    if old.timezone != new.timezone and _same_walls(visit, before, after):
        return True
    if old.source_updated_at is None or new.source_updated_at is None:
        return False
    stamped = (*visit, (old.source_updated_at, new.source_updated_at))
    utc = zone("UTC")
    return _same_walls(stamped, before, utc) or _same_walls(stamped, utc, after)


def _same_walls(pairs: Sequence[tuple[datetime, datetime]], old_zone: ZoneInfo, new_zone: ZoneInfo) -> bool:
    """Whether each (stored, new) instant pair shows one wall-clock time, read in its zone."""
    try:
        return all(a.astimezone(old_zone).replace(tzinfo=None) == b.astimezone(new_zone).replace(tzinfo=None)
                   for a, b in pairs)
    except OverflowError:
        return False
