"""Provider `ics`: one RFC 5545 file per doctor, for clinics without Google (and the demo).

Each appointment is a VEVENT whose UID derives from the same deterministic id as a Google
event. A change bumps SEQUENCE, so calendar apps that subscribe to the file replace the
old version; a cancellation keeps the VEVENT with STATUS:CANCELLED so they remove it.
Files are rewritten atomically (temp file + rename).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from icalendar import Calendar, Component, Event

from mappings.timeutil import zone
from sync.calendar.provider import (
    PRIVATE_CONNECTOR,
    PRIVATE_EXTERNAL_ID,
    PRIVATE_HASH,
    PRIVATE_MARK,
    Op,
    Outcome,
    RemoteEvent,
    Target,
)
from sync.calendar.settings import IcsSettings
from sync.types import utcnow

PRODID = "-//clinicsync//calendar//EN"
UID_DOMAIN = "clinicsync"
# X- properties carry what Google keeps in extendedProperties.private.
_X = {PRIVATE_MARK: "X-CLINICSYNC", PRIVATE_CONNECTOR: "X-CLINICSYNC-CONNECTOR",
      PRIVATE_EXTERNAL_ID: "X-CLINICSYNC-EXTERNAL-ID", PRIVATE_HASH: "X-CLINICSYNC-HASH"}


def uid_for(event_id: str) -> str:
    return f"{event_id}@{UID_DOMAIN}"


class IcsCalendar:
    def __init__(self, settings: IcsSettings) -> None:
        self.directory = settings.directory

    def path(self, target: Target) -> Path:
        return self.directory / f"{target.calendar_id}.ics"

    def push(self, ops: Sequence[Op]) -> list[Outcome]:
        by_file: dict[Target, list[Op]] = defaultdict(list)
        for op in ops:
            by_file[op.target].append(op)
        outcomes: list[Outcome] = []
        for target, group in by_file.items():
            try:
                outcomes.extend(self._apply(target, group))
            except (OSError, ValueError) as exc:  # an unreadable or unwritable file fails its ops only
                outcomes.extend(Outcome(op.key, False, error=f"ics file: {type(exc).__name__}") for op in group)
        return outcomes

    def _apply(self, target: Target, ops: Sequence[Op]) -> list[Outcome]:
        calendar = self._load(target)
        events = {str(e.get("uid")): e for e in calendar.walk("VEVENT")}
        now = utcnow()
        outcomes = []
        changed = False
        for op in ops:
            uid = uid_for(op.event_id)
            old = events.get(uid)
            if op.kind == "delete":
                if old is not None and str(old.get("status", "")).upper() != "CANCELLED":
                    _bump(old, now)
                    old["status"] = "CANCELLED"
                    old["transp"] = "TRANSPARENT"
                    changed = True
                outcomes.append(Outcome(op.key, True, state="deleted"))
                continue
            assert op.content is not None
            sequence = int(old.get("sequence", 0)) + 1 if old is not None else 0
            event = _vevent(op, uid, sequence, now)
            if old is not None:
                calendar.subcomponents.remove(old)
            calendar.add_component(event)
            events[uid] = event
            changed = True
            outcomes.append(Outcome(op.key, True, state="present", etag=str(sequence)))
        if changed:
            calendar.add_missing_timezones()
            self._write(target, calendar)
        return outcomes

    def _load(self, target: Target) -> Calendar:
        path = self.path(target)
        if path.exists():
            return Calendar.from_ical(path.read_bytes())
        calendar = Calendar()
        calendar.add("prodid", PRODID)
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "PUBLISH")
        calendar.add("x-wr-calname", target.calendar_id)
        return calendar

    def _write(self, target: Target, calendar: Calendar) -> None:
        path = self.path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".ics.part")
        tmp.write_bytes(calendar.to_ical())
        os.replace(tmp, path)

    def list_events(self, target: Target, since: datetime) -> list[RemoteEvent]:
        path = self.path(target)
        if not path.exists():
            return []
        out = []
        for event in Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
            private = {key: str(event[prop]) for key, prop in _X.items() if prop in event}
            if private.get(PRIVATE_MARK) != "1":
                continue
            start, end = _utc(event.decoded("dtstart")), _utc(event.decoded("dtend"))
            if end is not None and end < since:
                continue
            uid = str(event["uid"])
            out.append(RemoteEvent(
                event_id=uid.removesuffix(f"@{UID_DOMAIN}"),
                cancelled=str(event.get("status", "")).upper() == "CANCELLED",
                start=start, end=end, summary=str(event.get("summary", "")), private=private))
        return out

    def close(self) -> None:
        """Nothing is held open between pushes."""


def _bump(event: Component, now: datetime) -> None:
    event["sequence"] = int(event.get("sequence", 0)) + 1
    event.pop("dtstamp", None)
    event.add("dtstamp", now)
    event.pop("last-modified", None)
    event.add("last-modified", now)


def _vevent(op: Op, uid: str, sequence: int, now: datetime) -> Event:
    content = op.content
    assert content is not None
    local = zone(content.timezone)
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("last-modified", now)
    event.add("sequence", sequence)
    event.add("dtstart", content.start.astimezone(local))
    event.add("dtend", content.end.astimezone(local))
    event.add("summary", content.summary)
    if content.description:
        event.add("description", content.description)
    if content.location:
        event.add("location", content.location)
    # Kept-but-cancelled (cancelled_action: mark_cancelled) is iCalendar's own STATUS:CANCELLED.
    event.add("status", "CANCELLED" if content.cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if content.cancelled else "OPAQUE")
    for email in content.attendees:
        event.add("attendee", f"mailto:{email}")
    private = {PRIVATE_MARK: "1", PRIVATE_CONNECTOR: content.connector, PRIVATE_EXTERNAL_ID: content.external_id,
               PRIVATE_HASH: op.content_hash or ""}
    for key, value in private.items():
        event.add(_X[key], value)
    return event


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None  # an all-day event someone added by hand
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
