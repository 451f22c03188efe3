"""timeutil.localize tests existence and ambiguity itself (``_exists_unambiguous``) before it
asks dateutil: the answer must be dateutil's own, for every wall time, in every zone. Compared
on generated wall times in every zone the system knows, on every quarter hour of years with
and without explicit transitions, and on every minute around each transition."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
from dateutil.tz import datetime_ambiguous, datetime_exists
from hypothesis import given, settings
from hypothesis import strategies as st

from clinicsync.common.timeutil import TimeError, _exists_unambiguous, localize, zone

ZONES = sorted(zoneinfo.available_timezones())
# Zones with gaps and overlaps of every kind: DST both hemispheres, a 30-minute DST (Lord
# Howe), a zone that moved across the date line (Apia), double summer time (London 1940s),
# a shift without an offset change, and the zones W1's export uses.
SAMPLED = [
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Moscow",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "Pacific/Apia",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "Africa/Casablanca",
    "America/St_Johns",
    "Antarctica/Troll",
    "UTC",
]


def _dateutil(naive: datetime, name: str) -> str:
    aware = naive.replace(tzinfo=zone(name), fold=0)
    if not datetime_exists(aware):
        return "gap"
    if datetime_ambiguous(aware):
        return "overlap"
    return "ok"


def _ours(naive: datetime, name: str) -> str:
    try:
        localize(naive, name)
    except TimeError as exc:
        return "gap" if "does not exist" in str(exc) else "overlap"
    return "ok"


def _check(naive: datetime, name: str) -> None:
    expected = _dateutil(naive, name)
    assert _ours(naive, name) == expected, (naive, name)
    aware = naive.replace(tzinfo=zone(name), fold=0)
    assert _exists_unambiguous(aware) == (expected == "ok"), (naive, name)


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(ZONES), st.datetimes(min_value=datetime(1850, 1, 1), max_value=datetime(2250, 1, 1)))
def test_any_zone_any_time_as_dateutil(name: str, naive: datetime) -> None:
    _check(naive, name)


@pytest.mark.parametrize("name", SAMPLED)
@pytest.mark.parametrize("year", [1942, 2041])
def test_every_hour_as_dateutil(name: str, year: int) -> None:
    """2041: past the last explicit transition of every zone (the zone's rule decides)."""
    naive = datetime(year, 1, 1)
    end = datetime(year + 1, 1, 1)
    step = timedelta(minutes=60)
    while naive < end:
        _check(naive, name)
        naive += step


@pytest.mark.parametrize("name", SAMPLED)
def test_every_minute_around_transitions_as_dateutil(name: str) -> None:
    """Where the offset changes (found every three hours in UTC), every minute of the wall
    hours around it."""
    tz = zone(name)
    instant = datetime(2024, 1, 1, tzinfo=zone("UTC"))
    end = datetime(2043, 1, 1, tzinfo=zone("UTC"))
    before = instant.astimezone(tz).utcoffset()
    found = 0
    while instant < end:
        offset = instant.astimezone(tz).utcoffset()
        if offset != before:
            found += 1
            wall = (instant.astimezone(tz).replace(tzinfo=None) - timedelta(hours=4)).replace(second=0)
            for minute in range(0, 5 * 60):
                _check(wall + timedelta(minutes=minute), name)
            before = offset
        instant += timedelta(hours=3)
    assert found > 0 or name in ("America/Sao_Paulo", "Europe/Moscow", "Pacific/Apia", "Asia/Kolkata", "UTC")
