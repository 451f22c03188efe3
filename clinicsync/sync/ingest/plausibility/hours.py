"""Starts at the wrong hour: the local start-hour histogram, in each visit's own zone.

A clinic's visits start in the day. A source whose time convention is misread moves every
start by the zone's UTC offset: naive UTC read as local wall-clock time (New York: 5 h
late), or local wall-clock time read as UTC (5 h early). Either pushes part of the day
into the night. So when some visits start at night and moving every start by the zone's
offset — the one mistake that really happens — brings them all into the day, the times
are shifted: `check` fails, naming the shift and the connector settings that decide it
(``stored_times: local | utc``, ``timezone:``). A night clinic's few real night visits are
not moved into the day by that shift (its morning visits would go to the night), so it
passes. When no offset explains it but most visits are at night, some other shift does
(the source's zone is not the one configured): the same failure, with the shift found.

Two more: visits whose zone is UTC for a clinic that is not (a connector's `timezone: UTC`
meant as "the database keeps UTC": messages would show UTC times) fail; no visit in the
morning where moving starts back by the offset gives one (+5 h on a clinic whose last visit
starts before 17:00 leaves no night visit to prove it; an afternoon clinic looks the same)
warns.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import tzinfo
from typing import Any

from clinicsync.common.timeutil import zone
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.ingest.plausibility.finding import Finding, share

NIGHT = frozenset({22, 23, 0, 1, 2, 3, 4, 5})  # a visit starting 22:00-05:59 local is a night visit
MIN_VISITS = 20  # fewer visits say too little about a clinic's day
MIN_HOURS = 3  # visits at fewer distinct start hours are a slot, not a day: no shift is judged
MIN_NIGHT = 3  # and fewer night visits than this are a night clinic's own, never a shift
MIN_NIGHT_SHARE = 0.03
CLUSTERED = 0.25  # "most visits at night" for a shift no zone offset explains
NO_MORNING = 0.02  # at most this share before noon ...
MORNING = 0.25  # ... and at least this share before noon once moved back by the offset
UTC_FIX = ("If the source stores UTC, set `stored_times: utc` on the connector (its `timezone:` stays the zone of "
           "the visits)")
LOCAL_FIX = ("If the source stores local wall-clock times, set `stored_times: local` and `timezone:` to the zone they "
             "are written in (a query that converts them with AT TIME ZONE must not)")
UTC_NAMES = frozenset({"utc", "etc/utc", "etc/gmt", "gmt", "etc/universal", "universal", "zulu", "etc/zulu",
                       "etc/uct", "uct", "etc/gmt+0", "etc/gmt-0", "etc/gmt0", "gmt0", "gmt+0", "gmt-0",
                       "greenwich", "etc/greenwich"})


def _night(histogram: list[int]) -> int:
    return sum(histogram[hour] for hour in NIGHT)


def _fixed(before: int, after: int, visits: int) -> bool:
    """A shift explains the night visits when it leaves at most 1 % of the visits (and at
    most a quarter of those before) at night."""
    return after <= visits // 100 and after * 4 <= before


def _before_noon(histogram: list[int]) -> int:
    return sum(histogram[:12])


def _span(histogram: list[int]) -> str:
    hours = [hour for hour, count in enumerate(histogram) if count]
    return f"{hours[0]:02d}:00-{hours[-1]:02d}:59" if hours else "none"


def _hours(minutes: int) -> str:
    value = abs(minutes) / 60
    text = f"{value:g}"
    return f"{text} hour" + ("" if value == 1 else "s")


class StartHours:
    """Counts each visit's local start hour, and the hour it would have under each of the two
    misreadings of its zone's offset; keeps nothing but 24 counters per histogram."""

    def __init__(self) -> None:
        self.hours = [0] * 24  # as mapped, in the visit's zone
        self.if_utc = [0] * 24  # had the source stored UTC that was read as local time
        self.if_local = [0] * 24  # had the source stored local time that was read as UTC
        self.offsets: Counter[int] = Counter()  # the visit zone's UTC offset, minutes
        self.visits = 0
        self.midnight = 0  # starts at exactly 00:00 local: a date without a time?
        self.utc_zone = 0  # visits whose zone is UTC
        self._zones: dict[str, tzinfo] = {}

    def add(self, appointment: NormalizedAppointment) -> None:
        name = appointment.timezone
        tz = self._zones.get(name)
        if tz is None:
            tz = self._zones[name] = zone(name)
        local = appointment.start.astimezone(tz)
        offset = local.utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        minute = local.hour * 60 + local.minute
        self.visits += 1
        self.hours[local.hour] += 1
        self.if_utc[(minute + minutes) % 1440 // 60] += 1
        self.if_local[(minute - minutes) % 1440 // 60] += 1
        self.offsets[minutes] += 1
        self.midnight += minute == 0
        self.utc_zone += name.lower() in UTC_NAMES

    def summary(self) -> dict[str, Any]:
        return {"visits": self.visits, "start_hours": {f"{h:02d}": c for h, c in enumerate(self.hours) if c},
                "night": _night(self.hours)}

    def describe(self) -> str:
        return (f"local start hours {_span(self.hours)}, {_night(self.hours)} of {self.visits} at night "
                "(22:00-05:59)")

    def findings(self, clinic_timezone: str) -> list[Finding]:
        return [*self._zone_findings(clinic_timezone), *self._shift_findings()]

    def _zone_findings(self, clinic_timezone: str) -> list[Finding]:
        if not self.utc_zone or self.utc_zone * 2 < self.visits or clinic_timezone.lower() in UTC_NAMES:
            return []
        return [Finding("visit_zone", "error", "timezone",
                        f"timezone: {share(self.utc_zone, self.visits)} visits live in UTC while clinic.timezone is "
                        f"{clinic_timezone}: patients would be told their times in UTC, and quiet hours would follow "
                        "UTC. A connector's `timezone:` is the zone its local times are written in and becomes each "
                        "visit's zone: for a source that stores UTC, set `stored_times: utc` on the connector and "
                        "remove `timezone: UTC` (its visits then live in clinic.timezone, or set `timezone:` to "
                        "their real zone)")]

    def _afternoon_findings(self) -> list[Finding]:
        """No night visits, but none in the morning either, where moving every start back by the
        zone's offset gives a morning: naive UTC read as local time in a zone west of UTC (New
        York +5 h: 08:00-16:45 becomes 13:00-21:45, all in the day). An afternoon clinic looks
        the same, so this only warns."""
        visits = self.visits
        offset = self.offsets.most_common(1)[0][0] if self.offsets else 0
        if not offset or _before_noon(self.hours) > NO_MORNING * visits:
            return []
        late, hypothesis, fix = (-offset, self.if_utc, UTC_FIX) if offset < 0 else (offset, self.if_local, LOCAL_FIX)
        if _before_noon(hypothesis) < MORNING * visits or _night(hypothesis) > visits // 100:
            return []
        amount = _hours(late)
        return [Finding("start_hours", "warning", "start",
                        f"start: no visit starts in the morning (all {visits} start {_span(self.hours)} local time); "
                        f"{amount} earlier they would start {_span(hypothesis)}. If the clinic sees patients in the "
                        f"morning, times are shifted by +{amount} ({amount} late): is the source's time convention "
                        f"right? {fix}")]

    def _shift_findings(self) -> list[Finding]:
        visits, night = self.visits, _night(self.hours)
        if visits < MIN_VISITS:
            return []
        if self.midnight * 2 >= visits:
            return [Finding("start_hours", "warning", "start",
                            f"start: {share(self.midnight, visits)} visits start at exactly 00:00 local time: does "
                            "the source give a time of day? Map start from a date-time (or `date:` with `time:`)")]
        if sum(1 for count in self.hours if count) < MIN_HOURS:
            return []
        if night < MIN_NIGHT or night < MIN_NIGHT_SHARE * visits:
            return self._afternoon_findings()
        offset = self.offsets.most_common(1)[0][0]
        seen = f"{share(night, visits)} visits start at night (22:00-05:59 local time; all start {_span(self.hours)})"
        if offset:
            after_utc, after_local = _night(self.if_utc), _night(self.if_local)
            if _fixed(night, after_utc, visits) and after_utc <= after_local:
                return [self._shifted(seen, -offset, self.if_utc, UTC_FIX)]
            if _fixed(night, after_local, visits):
                return [self._shifted(seen, offset, self.if_local, LOCAL_FIX)]
        if night < CLUSTERED * visits:
            return []
        best = min((s for s in range(-12, 13) if s), key=lambda s: (
            _night([self.hours[(h - s) % 24] for h in range(24)]), abs(_centre(self.hours, s) - 12.5), abs(s)))
        moved = [self.hours[(h - best) % 24] for h in range(24)]
        if not _fixed(night, _night(moved), visits):
            return [Finding("start_hours", "warning", "start",
                            f"start: {seen}, and no single shift brings them into the day: a clinic open around "
                            "the clock, or starts read from the wrong column?")]
        return [self._shifted(seen, -best * 60, moved,
                              "Check the connector's `stored_times:` (local | utc) and `timezone:` (the zone its "
                              "local times are written in), or the zone of the column the mapping reads start from",
                              about=True)]

    @staticmethod
    def _shifted(seen: str, seen_shift: int, fixed: list[int], fix: str, about: bool = False) -> Finding:
        """``seen_shift``: minutes the mapped starts are late (negative: early)."""
        late = "late" if seen_shift > 0 else "early"
        move = "earlier" if seen_shift > 0 else "later"
        sign = "+" if seen_shift > 0 else "-"
        about_ = "about " if about else ""
        amount = about_ + _hours(seen_shift)
        return Finding("start_hours", "error", "start",
                       f"start: times look shifted by {about_}{sign}{_hours(seen_shift)} ({amount} {late}): {seen}; "
                       f"{amount} {move} they "
                       f"would all start {_span(fixed)}. Is the source's time convention right? {fix}; that moves "
                       f"every start {amount} {move}. Then run `clinicsync check` again")


def _centre(histogram: list[int], shift: int) -> float:
    """The mean start hour after moving every start ``shift`` hours (on the 24 h circle)."""
    total = sum(histogram) or 1
    x = sum(c * math.cos(2 * math.pi * ((h + shift) % 24 + 0.5) / 24) for h, c in enumerate(histogram)) / total
    y = sum(c * math.sin(2 * math.pi * ((h + shift) % 24 + 0.5) / 24) for h, c in enumerate(histogram)) / total
    return (math.atan2(y, x) * 24 / (2 * math.pi)) % 24
