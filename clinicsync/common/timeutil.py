"""Parse source times into UTC without guessing: a wall-clock time that does not
exist (spring-forward gap) or happens twice (fall-back) is an error, not a guess.

Whether a wall-clock time exists or is ambiguous in a zone is asked of python-dateutil's
``tz.datetime_exists`` and ``tz.datetime_ambiguous`` (a maintained library) rather than worked out
here from PEP 495 folds: the rule reads as what it is and dateutil maintains it across
tzinfo implementations. Its ``resolve_imaginary`` is not used: where a source time must
be exact, a gap is an error; where a planned send time may move (reminders/timing.py),
``fold=0`` already moves it forward by the gap's length, as resolve_imaginary would.

For the zones this module hands out (``zone``: always a ``ZoneInfo``, which has no
``is_ambiguous`` of its own) ``localize`` runs the same two tests written out on the datetime
itself (``_exists_unambiguous``): dateutil's functions add a few Python calls and copies of the
datetime around them, and a first import localizes each distinct wall time once (~6,000 of W1's
100,000 rows). tests/mappings/test_localize_inline.py compares both with dateutil.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class TimeError(ValueError):
    pass


@cache
def zone(name: str) -> ZoneInfo:
    """The zone ``name``, or a TimeError naming it. zoneinfo reads a key as a file path, so a
    folder of the tz database ("America") raises IsADirectoryError and a key longer than a
    file name OSError: both are unknown zones to whoever wrote them, not a failure of ours."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = name if len(name) <= 60 else f"{name[:60]}…"
        raise TimeError(f"unknown IANA time zone {shown!r}") from None


def zone_label(zone_name: str, now: datetime) -> str:
    """'America/New_York (EST, UTC-05:00)': the zone a screen's times are in, named once on
    that screen (the status pages' header, the CLI's lists), with the abbreviation and offset
    in force at ``now`` so a reader in another zone, or on a UTC server, reads each time right."""
    local = now.astimezone(zone(zone_name))
    offset = local.strftime("%z")
    return f"{zone_name} ({local.tzname()}, UTC{offset[:3]}:{offset[3:]})"


def parse_datetime(text: str, formats: tuple[str, ...] = ()) -> datetime:
    """ISO 8601 (with or without offset, 'Z' allowed) or one of ``formats``.

    Returns an aware datetime when the text carries an offset, else a naive local one.
    """
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        for fmt in formats:
            try:
                parsed = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
        else:
            raise TimeError("not a date-time (expected ISO 8601, e.g. 2026-03-08T09:30 or "
                            "2026-03-08T09:30-05:00)") from None
    return _offset_checked(parsed, value)


_OFFSET = re.compile(r"[+-]\d\d:?(\d\d)(?::?(\d\d)(?:\.\d+)?)?$")


def _offset_checked(parsed: datetime, text: str) -> datetime:
    """Python reads an offset's minutes (and seconds) up to 99 ('+05:99' is 6 h 39 min); ISO
    8601 and FHIR's instant allow 00-59. A source that sends '+05:99' sent a broken time, and
    the appointment must not land 39 minutes away from any time it meant."""
    if parsed.tzinfo is not None and (match := _OFFSET.search(text)) is not None:
        minutes, seconds = match.groups()
        if int(minutes) > 59 or (seconds is not None and int(seconds) > 59):
            raise TimeError("not a valid UTC offset (its minutes or seconds are over 59)")
    return parsed


def _exists_unambiguous(aware: datetime) -> bool:
    """``datetime_exists(aware) and not datetime_ambiguous(aware)`` for an ``aware`` with
    ``fold=0`` whose zone has no ``is_ambiguous``: dateutil's two tests, statement for statement
    (its round trip through UTC; the same offset and DST with either fold)."""
    tz = aware.tzinfo
    naive = aware.replace(tzinfo=None)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        return False
    folded = aware.replace(fold=1)
    return aware.utcoffset() == folded.utcoffset() and aware.dst() == folded.dst()


def localize(naive: datetime, zone_name: str) -> datetime:
    """Attach ``zone_name`` to a wall-clock time, refusing DST gaps and overlaps."""
    aware = naive.replace(tzinfo=zone(zone_name), fold=0)
    if _exists_unambiguous(aware):
        return aware
    # dateutil only here, for a time in a gap or an overlap: its import (~9 M instructions) is
    # not paid by a run that meets none, as an idle `sync --once`
    from dateutil.tz import datetime_ambiguous, datetime_exists

    if not datetime_exists(aware):
        raise TimeError(f"local time does not exist in {zone_name} (daylight-saving gap)")
    if datetime_ambiguous(aware):
        raise TimeError(f"local time is ambiguous in {zone_name} (daylight-saving overlap); "
                        "give an offset")
    return aware


def to_utc(value: datetime, zone_name: str) -> datetime:
    try:
        aware = value if value.tzinfo is not None else localize(value, zone_name)
        return aware.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59-12:00 is past datetime.max in UTC
        raise TimeError("date-time out of range") from None


def iso_z(value: datetime) -> str:
    """UTC ISO 8601 with a 'Z', as every machine-readable output prints times."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def parse_duration(text: str) -> timedelta:
    """'72h', '3d', '90m', '1h30m' -> timedelta (days here are elapsed 24 h)."""
    total = timedelta()
    number = ""
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    for char in text.strip().lower():
        if char.isdigit():
            number += char
        elif char in units and number:
            total += timedelta(**{units[char]: int(number)})
            number = ""
        else:
            raise ValueError(f"bad duration {text!r} (use e.g. 3d, 24h, 90m)")
    if number:
        raise ValueError(f"bad duration {text!r}: a number needs a unit (d, h, m, s)")
    return total


def moment_in_pass(start: datetime, started: datetime, clock_now: datetime) -> datetime:
    """The moment a message of a pass goes: the pass's time ``start`` (its ``now``, which may
    be given: ``--at``, a simulation) plus the whole minutes the pass has taken on the clock
    since ``started``. A backlog behind a slow provider can take an hour, and a message that
    goes at 21:00 must be judged at 21:00 (quiet hours, "too late", an offer's hold). Whole
    minutes, as those rules are: a quick pass judges every message at exactly ``start``.
    One rule for the reminders' dispatcher and the waitlist's sender."""
    elapsed = clock_now - started
    minute = timedelta(minutes=1)
    return start + minute * (elapsed // minute) if elapsed >= minute else start
