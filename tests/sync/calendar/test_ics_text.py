"""Differential properties of the .ics text writer's fast paths (issue 19): each routine that
skips work for the common case (no special character, a short ASCII line, a wall time seen
before) gives exactly what the plain routine it replaced gives, and folding what icalendar
gives, on arbitrary text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar.parser import Contentline

from clinicsync.common.timeutil import zone
from clinicsync.sync.calendar import ics_text

# Text that often holds what escaping and folding care about, and often nothing of it.
SPECIALS = st.sampled_from(["\\", ";", ",", "\n", "\r", "\r\n", "\\N", "\\n", "^", "é", "€", "😀", " ", "a"])
TEXT = st.one_of(st.text(), st.lists(st.one_of(SPECIALS, st.text(max_size=8)), max_size=40).map("".join),
                 st.text(alphabet="abc XYZ-_.@:/0123456789", max_size=160))
ZONES = st.sampled_from(["America/New_York", "Europe/Zurich", "Australia/Lord_Howe", "Asia/Kolkata", "Etc/GMT+5",
                         "America/St_Johns", "Pacific/Chatham"])


def plain_text(value: str) -> str:
    """ics_text.text before its fast path (every replacement, always)."""
    return (value.replace("\\N", "\n").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def plain_raw(value: str) -> str:
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def plain_vevent(lines: list[str]) -> str:
    """ics_text.vevent before its fast path: every line through fold."""
    return "".join(f"{ics_text.fold(line)}\r\n" for line in ("BEGIN:VEVENT", *lines, "END:VEVENT"))


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_escaping_skips_only_what_needs_no_escape(value: str) -> None:
    assert ics_text.text(value) == plain_text(value)
    assert ics_text.raw(value) == plain_raw(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["SUMMARY", "DESCRIPTION", "LOCATION", "X-CLINICSYNC-HASH"]), TEXT),
                max_size=8))
def test_a_vevent_folds_exactly_the_lines_fold_would_and_as_icalendar_does(props: list[tuple[str, str]]) -> None:
    lines = [f"{name}:{ics_text.text(value)}" for name, value in props]
    written = ics_text.vevent(lines)
    assert written == plain_vevent(lines)
    assert ics_text.vevent(lines) == written  # long lines now come from the memo
    for line in lines:
        assert ics_text.fold(line) == Contentline(line).to_ical().decode()


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(2100, 1, 1)), ZONES,
       st.integers(0, 3 * 60))
def test_a_wall_time_is_strftime_of_the_local_time_also_when_remembered(moment: datetime, zone_name: str,
                                                                         minutes: int) -> None:
    start = moment.replace(tzinfo=UTC)
    for instant in (start, start + timedelta(minutes=minutes), start):  # the second start comes from the memo
        expected = f"{instant.astimezone(zone(zone_name)):%Y%m%dT%H%M%S}"
        assert ics_text.wall_time(instant, zone_name) == expected
        assert ics_text.local_time("DTSTART", instant, zone_name) == (
            f"DTSTART;TZID={ics_text.tzid_for(zone_name)}:{expected}")


def test_a_wall_time_before_year_1000_is_strftime_s_too() -> None:
    instant = datetime(999, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert ics_text.wall_time(instant, "Asia/Kolkata") == f"{instant.astimezone(zone('Asia/Kolkata')):%Y%m%dT%H%M%S}"
