"""`remind --once --at` with a due time copied from `reminders list` (shown to the second)
sends that reminder: the store keeps microseconds, so the given second is covered whole.
A stored due time of 07:44:08.36 was left pending by `--at 07:44:08Z` (seen only when a test
ran at a time of day that made a notice due "now")."""

from __future__ import annotations

from datetime import UTC, datetime

from clinicsync.sync.cli.remind import parse_at


def test_a_time_to_the_second_covers_that_second() -> None:
    at = parse_at("2026-11-24T07:44:08Z", "Europe/Madrid")
    assert datetime(2026, 11, 24, 7, 44, 8, 360000, tzinfo=UTC) <= at < datetime(2026, 11, 24, 7, 44, 9, tzinfo=UTC)


def test_a_time_with_a_fraction_is_kept_as_given() -> None:
    assert parse_at("2026-11-24T07:44:08.5Z", "UTC") == datetime(2026, 11, 24, 7, 44, 8, 500000, tzinfo=UTC)
