"""The moment of a pass: one helper for the reminders' dispatcher and the waitlist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clinicsync.common.timeutil import moment_in_pass

AT = datetime(2030, 6, 2, 20, 59, tzinfo=UTC)  # the pass's time (may be given: --at)
CLOCK = datetime(2026, 1, 1, tzinfo=UTC)  # the real clock, elsewhere


def test_whole_minutes_on_the_clock_are_added_to_the_passs_time() -> None:
    assert moment_in_pass(AT, CLOCK, CLOCK) == AT
    assert moment_in_pass(AT, CLOCK, CLOCK + timedelta(seconds=59, microseconds=999999)) == AT
    assert moment_in_pass(AT, CLOCK, CLOCK + timedelta(seconds=60)) == AT + timedelta(minutes=1)
    assert moment_in_pass(AT, CLOCK, CLOCK + timedelta(minutes=61, seconds=30)) == AT + timedelta(minutes=61)
    assert moment_in_pass(AT, CLOCK, CLOCK - timedelta(minutes=5)) == AT  # a clock set back: never earlier
