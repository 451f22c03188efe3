"""How `remind --once --at` reads its moment, and how it reports a run.

`remind --once --at` with a due time copied from `reminders list` (shown to the second)
sends that reminder: the store keeps microseconds, so the given second is covered whole.
A stored due time of 07:44:08.36 was left pending by `--at 07:44:08Z` (seen only when a test
ran at a time of day that made a notice due "now")."""

from __future__ import annotations

from datetime import UTC, datetime, time

import time_machine

from clinicsync.sync.cli.remind import clinic_morning, parse_at, summary
from clinicsync.sync.config.settings import Settings


def test_a_time_to_the_second_covers_that_second() -> None:
    at = parse_at("2026-11-24T07:44:08Z", "Europe/Madrid")
    assert datetime(2026, 11, 24, 7, 44, 8, 360000, tzinfo=UTC) <= at < datetime(2026, 11, 24, 7, 44, 9, tzinfo=UTC)


def test_a_time_with_a_fraction_is_kept_as_given() -> None:
    assert parse_at("2026-11-24T07:44:08.5Z", "UTC") == datetime(2026, 11, 24, 7, 44, 8, 500000, tzinfo=UTC)


def test_a_day_alone_is_the_clinics_morning_not_its_midnight() -> None:
    """`--at tomorrow` was midnight: today's reminders hours early, last evening's notices a day late."""
    assert parse_at("2026-11-28", "America/New_York", time(8)) == datetime(2026, 11, 28, 13, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 11, 27, 2, 30, tzinfo=UTC), tick=False):  # 21:30 the day before there
        assert parse_at("tomorrow", "America/New_York", time(8)) == datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
        # a clock to the minute is that minute's start: a notice held a day before is still in time
        assert parse_at("tomorrow 07:30", "America/New_York", time(8)) == datetime(2026, 11, 27, 12, 30, tzinfo=UTC)
        assert parse_at("+2h", "America/New_York", time(8)) == datetime(2026, 11, 27, 4, 30, tzinfo=UTC)


def test_the_morning_is_when_the_quiet_hours_end() -> None:
    settings = Settings.model_validate({"clinic": {"timezone": "UTC"},
                                        "reminders": {"quiet_hours": {"start": "20:00", "end": "07:30"}}})
    assert clinic_morning(settings) == time(7, 30)
    assert clinic_morning(Settings.model_validate({"clinic": {"timezone": "UTC"},
                                                   "reminders": {"quiet_hours": None}})) == time(8)


def test_the_summary_breaks_skips_down_by_reason() -> None:
    counts = {"sent": 8, "failed": 0, "skipped": 348, "unknown": 0, "retrying": 0, "deferred": 1}
    line = summary(counts, {"superseded": 48, "too late": 300}, dry_run=False)
    assert line.startswith("sent 8, failed 0, skipped 348 (300 too late, 48 superseded), unknown 0;")
    assert "skipped 0," in summary({**counts, "skipped": 0}, {}, dry_run=True)
