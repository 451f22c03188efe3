"""sync/changes.update_order, the one order every source's updates are judged by: newer,
older, or cannot be told (the same time; two wall-clock times of a fall-back's repeated
hour, both read as its first pass)."""

from __future__ import annotations

from datetime import UTC, datetime

from clinicsync.sync.store.changes import update_order

NY = "America/New_York"


def at(hour: int, minute: int, day: int = 3, month: int = 11) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=UTC)


def test_newer_older_and_undated() -> None:
    assert update_order(at(10, 1), at(10, 0), NY) == 1
    assert update_order(at(10, 0), at(10, 1), NY) == -1
    assert update_order(None, at(10, 0), NY) == 1 and update_order(at(10, 0), None, NY) == 1


def test_the_same_time_cannot_be_told() -> None:
    assert update_order(at(10, 0), at(10, 0), NY) == 0


def test_two_first_pass_readings_of_the_repeated_hour_cannot_be_told() -> None:
    # 2030-11-03 in New York: 01:00-01:59 EDT (05:00-05:59 UTC), then again as EST (06:00-06:59 UTC).
    assert update_order(at(5, 10), at(5, 50), NY) == 0  # 01:10 and 01:50, either pass
    # One of them exact in the second pass (given with its -05:00 offset): told apart.
    assert update_order(at(5, 50), at(6, 10), NY) == -1
    assert update_order(at(6, 10), at(5, 50), NY) == 1
    # Outside the repeated hour, and in a zone without one, the times are what they say.
    assert update_order(at(4, 10), at(4, 50), NY) == -1
    assert update_order(at(5, 10), at(5, 50), "UTC") == -1
    assert update_order(at(5, 10), at(5, 50), None) == -1
