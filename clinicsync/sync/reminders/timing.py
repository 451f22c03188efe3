"""When a message may go out: offsets before an appointment (calendar days keep the
local wall-clock time, hours and minutes are elapsed time) and quiet hours in the
appointment's local time. Pure functions of their arguments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from functools import lru_cache

from clinicsync.common.timeutil import zone
from clinicsync.sync.config.settings.reminders import Offset, QuietHours

ONE_MINUTE = timedelta(minutes=1)
# A message moved to the end of the quiet hours must leave a dispatch this much room before its
# latest moment: at 08:00 for an 08:15 visit (min_lead 15m) it could go only at 08:00:00 exactly,
# and a pass at 08:00:30 (cron) found it too late; it goes the evening before.
SEND_ROOM = timedelta(minutes=5)


def wall_clock(day: date, at: clock, zone_name: str) -> datetime:
    """A local wall-clock time as UTC, never refusing one: a time in a spring-forward
    gap moves forward by the gap's length; a repeated fall-back time is the first one."""
    return _wall_clock(day, at if at.tzinfo is None else at.replace(tzinfo=None), zone_name)


@lru_cache(maxsize=8192)  # pure; appointments share slot times, so planning asks the same again and again
def _wall_clock(day: date, at: clock, zone_name: str) -> datetime:
    naive = datetime.combine(day, at)
    return naive.replace(tzinfo=zone(zone_name), fold=0).astimezone(UTC)


def due_for_offset(start: datetime, zone_name: str, offset: Offset) -> datetime:
    elapsed = offset.elapsed
    if elapsed is not None:
        return start - elapsed
    # The same wall-clock time ``amount`` days earlier (wall_clock's rules: fold=0), worked
    # out here rather than through wall_clock's cache: every appointment of a first import
    # has its own (day, time), so that cache only ever missed.
    local_zone = zone(zone_name)
    earlier = start.astimezone(local_zone).replace(tzinfo=None) - timedelta(days=offset.amount)
    return earlier.replace(tzinfo=local_zone, fold=0).astimezone(UTC)


def dues(start: datetime, zone_name: str, offsets: Sequence[Offset]) -> list[datetime]:
    """:func:`due_for_offset` of each offset, the start's local time worked out once for all
    the calendar-day offsets of one appointment."""
    out = []
    local_zone = zone(zone_name)
    local: datetime | None = None
    for offset in offsets:
        elapsed = offset.elapsed
        if elapsed is not None:
            out.append(start - elapsed)
            continue
        if local is None:
            local = start.astimezone(local_zone).replace(tzinfo=None)
        earlier = local - timedelta(days=offset.amount)
        out.append(earlier.replace(tzinfo=local_zone, fold=0).astimezone(UTC))
    return out


# An offset as dues_at takes it: (label, elapsed time or None for calendar days, days back).
Step = tuple[str, timedelta | None, timedelta]


def steps(offsets: Sequence[Offset]) -> list[Step]:
    """``offsets`` as :func:`dues_at` takes them, worked out once per appointment type."""
    out: list[Step] = []
    for offset in offsets:
        elapsed = offset.elapsed
        out.append((offset.label, elapsed, timedelta(days=offset.amount) if elapsed is None else timedelta(0)))
    return out


def dues_at(start: datetime, zone_name: str, offsets: Sequence[Step]) -> list[datetime]:
    """:func:`dues` of the offsets :func:`steps` made, without a ``replace`` per due: the
    start in local time minus whole days is, in aware arithmetic, the same wall-clock time
    in the same zone with fold=0 — what dues' ``replace(tzinfo=zone, fold=0)`` builds."""
    local_zone = zone(zone_name)
    local: datetime | None = None
    out = []
    for _, elapsed, days in offsets:
        if elapsed is not None:
            out.append(start - elapsed)
            continue
        if local is None:
            local = start.astimezone(local_zone)
        out.append((local - days).astimezone(UTC))
    return out


def quiet_window(moment: datetime, zone_name: str, quiet: QuietHours | None) -> tuple[datetime, datetime] | None:
    """The quiet period (as UTC instants: its start, its end) that ``moment`` falls in, if any.
    Worked out for each moment (one conversion to local time; a per-moment cache cost more
    than that, as a first import plans a different moment for every reminder)."""
    if quiet is None:
        return None
    start, end = quiet.start, quiet.end
    if start == end:
        return None
    local = moment.astimezone(zone(zone_name))
    now = local.time()
    if start < end:
        if not start <= now < end:
            return None
        first = last = local.date()
    elif now >= start:
        first = local.date()
        last = first + timedelta(days=1)
    elif now < end:
        last = local.date()
        first = last - timedelta(days=1)
    else:
        return None
    return _wall_clock(first, start, zone_name), _wall_clock(last, end, zone_name)


@dataclass(frozen=True)
class Slot:
    """Where a message lands: its send time, or why it is skipped; a note when it moved."""

    due: datetime | None
    reason: str | None = None
    note: str | None = None


def place(due: datetime, *, now: datetime, latest: datetime, zone_name: str,
          quiet: QuietHours | None) -> Slot:
    """Fit ``due`` into [now, latest] outside quiet hours, moving it to the nearest
    allowed time (the end of the quiet hours, when it leaves a dispatch SEND_ROOM before
    ``latest``, or the minute before they began)."""
    if due > latest or latest < now:
        return Slot(None, "too late")
    if due < now:
        return Slot(None, "too late")
    window = quiet_window(due, zone_name, quiet)
    if window is None:
        return Slot(due)
    began, ends = window
    candidates = [c for c in (ends, began - ONE_MINUTE)
                  if now <= c <= latest and (c != ends or c + SEND_ROOM <= latest)]
    if not candidates:
        return Slot(None, "quiet hours")
    best = min(candidates, key=lambda c: abs(c - due))
    local = best.astimezone(zone(zone_name)).strftime("%Y-%m-%d %H:%M")
    return Slot(best, note=f"moved out of quiet hours to {local} local time")


# What Placer.fields gives for a message: (due or None, reason, note), as a Slot's fields.
Fields = tuple[datetime | None, str | None, str | None]
TOO_LATE: Fields = (None, "too late", None)


class Placer:
    """:func:`place` and :func:`dues` for one planning run, whose ``now`` and quiet hours are
    the same for every message. Why: a first import places three or four messages for each
    of its appointments, nearly all in the plain case — a due time inside [now, latest] and
    outside the quiet hours — and there :func:`place` built a :class:`Slot` and
    :func:`quiet_window` a window that was never used. Here the plain case costs one
    conversion to local time and a few comparisons; any other case goes through
    :func:`place` itself, so what is planned is what :func:`place` plans."""

    def __init__(self, now: datetime, quiet: QuietHours | None) -> None:
        self.now = now
        self.quiet = quiet
        start, end = (quiet.start, quiet.end) if quiet is not None else (None, None)
        # Quiet hours as naive clock times, or None when there are none; an aware clock time
        # is left to quiet_window (which compares it as it always did).
        self._bounds = None if start is None or end is None or start == end else (start, end)
        self._plain = self._bounds is None or (start.tzinfo is None and end.tzinfo is None)  # type: ignore[union-attr]
        self._now_quiet: dict[str, bool] = {}  # by zone: is ``now`` inside the quiet hours there?

    def fields(self, due: datetime, latest: datetime, zone_name: str) -> Fields:
        """``place(due, now=self.now, latest=latest, ...)``'s due, reason and note."""
        now = self.now
        if due > latest or latest < now or due < now:
            return TOO_LATE
        if self._bounds is None:
            return due, None, None
        if self._plain and not self._quiet_at(due.astimezone(zone(zone_name)).time()):
            return due, None, None
        return self._placed(due, latest, zone_name)

    def at_steps(self, start: datetime, zone_name: str, offsets: Sequence[Step],
                 latest: datetime, since: datetime | None = None) -> list[tuple[datetime, Fields]]:
        """Each offset's due (:func:`dues_at`) with :meth:`fields` of it, in one call per
        appointment: a first import asks this for every appointment, and the seven calls it
        took (dues_at, then fields and its quiet-hours test per due) cost more than the
        arithmetic. The same arithmetic and tests, written out; any case but the plain one
        still goes through :func:`place`, as in :meth:`fields`.

        ``since`` (before ``now``): when the visit became known at this start. A due in
        [since, now) is kept at its time, already due: the dispatcher sends it if it is still
        in time and outside the quiet hours, by the same rules as a reminder it finds late."""
        local_zone = zone(zone_name)
        now, bounds = self.now, self._bounds
        begin, end = bounds if bounds is not None and self._plain else (None, None)
        local: datetime | None = None
        out = []
        for _, elapsed, days in offsets:
            if elapsed is not None:
                due = start - elapsed
            else:
                if local is None:
                    local = start.astimezone(local_zone)
                due = (local - days).astimezone(UTC)
            if due > latest or latest < now or due < now:
                late_plan = since is not None and since <= due < now <= latest
                out.append((due, (due, None, None) if late_plan else TOO_LATE))
            elif bounds is None:
                out.append((due, (due, None, None)))
            elif begin is None:
                out.append((due, self._placed(due, latest, zone_name)))
            else:
                at = due.astimezone(local_zone).time()
                quiet = begin <= at < end if begin < end else at >= begin or at < end  # type: ignore[operator]
                out.append((due, self._placed(due, latest, zone_name) if quiet else (due, None, None)))
        return out

    def notice(self, latest: datetime, zone_name: str) -> Fields:
        """``place(now, now=now, latest=latest, ...)``: a notice goes out now, outside the quiet
        hours; whether ``now`` is inside them is worked out once per zone."""
        now = self.now
        if now > latest:
            return TOO_LATE
        if self._bounds is None:
            return now, None, None
        quiet = self._now_quiet.get(zone_name)
        if quiet is None and self._plain:
            quiet = self._now_quiet[zone_name] = self._quiet_at(now.astimezone(zone(zone_name)).time())
        if quiet is False:
            return now, None, None
        return self._placed(now, latest, zone_name)

    def _quiet_at(self, clock_time: clock) -> bool:
        """Is this local clock time inside the quiet hours (start inclusive, end exclusive,
        wrapping midnight when start > end)? quiet_window's test, without its window."""
        start, end = self._bounds  # type: ignore[misc]
        if start < end:
            return bool(start <= clock_time < end)
        return bool(clock_time >= start or clock_time < end)

    def _placed(self, due: datetime, latest: datetime, zone_name: str) -> Fields:
        slot = place(due, now=self.now, latest=latest, zone_name=zone_name, quiet=self.quiet)
        return slot.due, slot.reason, slot.note
