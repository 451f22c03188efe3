"""When a periodic job runs: every ``interval`` (``5m``, ``30s``) or at the times of a
``cron`` expression read in the clinic's time zone (croniter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from clinicsync.common.settings_base import SettingsModel
from clinicsync.common.timeutil import parse_duration, zone


def _croniter() -> Any:
    """croniter, imported when a cron schedule is checked or run: an interval schedule (the
    demo's) and `status` need not load it, so they start faster."""
    from croniter import croniter

    return croniter


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Schedule(SettingsModel):
    """Exactly one of ``interval`` or ``cron``."""

    interval: str | None = Field(None, description="a duration: 30s, 5m, 1h, 1d")
    cron: str | None = Field(None, description="a cron expression in clinic time, e.g. '*/10 7-19 * * 1-5'")

    @model_validator(mode="after")
    def _one_of(self) -> Schedule:
        if (self.interval is None) == (self.cron is None):
            raise ValueError("give exactly one of `interval` (e.g. 5m) or `cron` (e.g. '*/5 * * * *')")
        if self.interval is not None and self.period() <= timedelta(0):
            raise ValueError(f"interval {self.interval!r} must be longer than zero")
        if self.cron is not None and not _croniter().is_valid(self.cron):
            raise ValueError(f"cron {self.cron!r} is not a valid cron expression (five fields: m h dom mon dow)")
        return self

    @classmethod
    def every(cls, interval: str) -> Schedule:
        return cls(interval=interval)

    def period(self) -> timedelta:
        assert self.interval is not None
        return parse_duration(self.interval)

    def next_due(self, previous: datetime | None, now: datetime, timezone: str = "UTC") -> datetime:
        """The next time to run, given the previous due time (None: never ran).

        An interval runs at once the first time, then every ``interval``; a run that
        overran is followed at once by one run, never by a burst of missed ones. A cron
        schedule runs at its next time strictly after both ``now`` and ``previous``.
        """
        if self.interval is not None:
            return now if previous is None else max(previous + self.period(), now)
        assert self.cron is not None
        base = now if previous is None else max(previous, now)
        following: datetime = _croniter()(self.cron, base.astimezone(zone(timezone))).get_next(datetime)
        return following.astimezone(UTC)

    def slot_after(self, due: datetime, now: datetime, timezone: str = "UTC",
                   phase: timedelta | None = None) -> datetime:
        """The slot after a poll that was due at ``due`` and finished at ``now`` (the shared
        poll schedule, sync/service/polls.py). An interval counts from the due time, not from
        the finish, so the slots never drift; slots missed by an overrun are skipped, never run
        in a burst. A cron schedule's next time after both, as ``next_due``.

        With a ``phase`` an interval's slots are the fixed times ``epoch + phase + k * interval``:
        sources given different phases stay spread over the interval however they started (all
        at once at the service's start). The next is the first of them at least half an
        interval after the poll's end, counted from the end and not from ``due``: a poll that
        waited in the start's burst began well after its due time, and a slot counted from
        ``due`` came as little as 100 s after it (207 of 1,000 sources in bench/many_sources.py).
        When that slot is more than an interval away, a step halfway to it comes first, so a
        source is never polled twice within half an interval nor left more than one (plus the
        poll's own length); in step, each slot is the one an interval after the last."""
        if self.interval is None:
            return self.next_due(due, now, timezone)
        period = self.period()
        if phase is not None:
            base = _EPOCH + phase
            floor = now + period / 2
            slot = base + period * -((base - floor) // period)  # the first phase slot at or after floor
            return now + (slot - now) / 2 if slot - now > period else slot
        return due + period * ((now - due) // period + 1) if now >= due else due + period

    def first_slot(self, now: datetime, phase: timedelta) -> datetime:
        """The first of an interval's phase slots (``epoch + phase + k * interval``) at or after
        ``now``: where a source's polls fall from its very first one on."""
        period = self.period()
        base = _EPOCH + phase
        return base + period * -((base - now) // period)

    def describe(self) -> str:
        return f"every {self.interval}" if self.interval is not None else f"cron {self.cron!r}"


DEFAULT_POLL = Schedule(interval="5m")
