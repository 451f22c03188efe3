"""Offsets across DST changes, and quiet hours. Pure functions, exact instants."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from clinicsync.sync.config.settings.reminders import Offset, QuietHours, RemindersSettings
from clinicsync.sync.reminders.segments import sms_size
from clinicsync.sync.reminders.timing import due_for_offset, place, quiet_window, wall_clock


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# zone, appointment start (UTC), offset, expected due (UTC), expected elapsed hours
DST_CASES = [
    # New York, fall back on 2026-11-01: 3 calendar days before 10:00 EST is 10:00 EDT, 73 h earlier.
    ("America/New_York", "2026-11-02T15:00", "3d", "2026-10-30T14:00", 73),
    ("America/New_York", "2026-11-02T15:00", "1h", "2026-11-02T14:00", 1),
    # New York, spring forward on 2026-03-08: one calendar day before 09:00 EDT is 23 h.
    ("America/New_York", "2026-03-08T13:00", "1d", "2026-03-07T14:00", 23),
    ("America/New_York", "2026-03-09T13:00", "1d", "2026-03-08T13:00", 24),
    ("America/New_York", "2026-03-09T13:00", "3d", "2026-03-06T14:00", 71),
    ("America/New_York", "2026-03-08T13:00", "1h", "2026-03-08T12:00", 1),  # 09:00 EDT -> 08:00 EDT
    # Berlin, spring forward on 2026-03-29 and fall back on 2026-10-25.
    ("Europe/Berlin", "2026-03-30T08:00", "3d", "2026-03-27T09:00", 71),
    ("Europe/Berlin", "2026-03-29T08:00", "1d", "2026-03-28T09:00", 23),
    ("Europe/Berlin", "2026-10-26T09:00", "1d", "2026-10-25T09:00", 24),
    ("Europe/Berlin", "2026-10-25T09:00", "1d", "2026-10-24T08:00", 25),
    ("Europe/Berlin", "2026-03-29T01:30", "1h", "2026-03-29T00:30", 1),  # 03:30 CEST -> 01:30 CET
    # Sydney, fall back on 2026-04-05 (AEDT +11 -> AEST +10), spring forward on 2026-10-04.
    ("Australia/Sydney", "2026-04-05T23:00", "3d", "2026-04-02T22:00", 73),
    ("Australia/Sydney", "2026-04-05T23:00", "1h", "2026-04-05T22:00", 1),
    ("Australia/Sydney", "2026-10-03T22:00", "1d", "2026-10-02T23:00", 23),
]


@pytest.mark.parametrize(("zone", "start", "offset", "due", "hours"), DST_CASES)
def test_days_keep_the_wall_clock_and_hours_are_elapsed(zone: str, start: str, offset: str, due: str,
                                                        hours: int) -> None:
    result = due_for_offset(utc(start), zone, Offset.parse(offset))
    assert result == utc(due)
    assert utc(start) - result == timedelta(hours=hours)
    if offset.endswith("d"):
        from clinicsync.common.timeutil import zone as tz
        assert result.astimezone(tz(zone)).time() == utc(start).astimezone(tz(zone)).time()


def test_a_wall_clock_time_in_a_gap_moves_forward_and_an_overlap_takes_the_first() -> None:
    # 02:30 on 2026-03-08 does not exist in New York: it becomes 03:30 EDT.
    assert wall_clock(datetime(2026, 3, 8).date(), time(2, 30), "America/New_York") == utc("2026-03-08T07:30")
    # 01:30 on 2026-11-01 happens twice: the first (EDT) is taken.
    assert wall_clock(datetime(2026, 11, 1).date(), time(1, 30), "America/New_York") == utc("2026-11-01T05:30")
    # Two calendar days before 02:30 EDT on 2026-03-10 lands in the gap.
    due = due_for_offset(utc("2026-03-10T06:30"), "America/New_York", Offset.parse("2d"))
    assert due == utc("2026-03-08T07:30")


@pytest.mark.parametrize("text", ["3", "d", "1d2h", "-1h", "1w", ""])
def test_bad_offsets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad offset"):
        Offset.parse(text)


QUIET = QuietHours(start=time(21, 0), end=time(8, 0))
NY = "America/New_York"  # EST in these cases: local = UTC - 5 h


def test_a_reminder_inside_quiet_hours_moves_to_the_nearest_allowed_time() -> None:
    now = utc("2026-01-01T12:00")
    # Due 22:30 local: the minute before the quiet hours (20:59) is nearer than 08:00 the next day.
    slot = place(utc("2026-01-11T03:30"), now=now, latest=utc("2026-01-14T03:15"), zone_name=NY, quiet=QUIET)
    assert slot.due == utc("2026-01-11T01:59") and slot.note and "20:59" in slot.note
    # Due 07:30 local for an 08:30 visit: 08:00 is nearer and still before the visit (lead 15 min).
    slot = place(utc("2026-01-13T12:30"), now=now, latest=utc("2026-01-13T13:15"), zone_name=NY, quiet=QUIET)
    assert slot.due == utc("2026-01-13T13:00")


def test_a_quiet_hours_reminder_goes_earlier_when_later_is_useless_or_is_skipped() -> None:
    # A 07:30 visit; its 1 h reminder (06:30) cannot wait until 08:00: it goes the evening before at 20:59.
    latest = utc("2026-01-13T12:15")
    slot = place(utc("2026-01-13T11:30"), now=utc("2026-01-13T00:00"), latest=latest, zone_name=NY, quiet=QUIET)
    assert slot.due == utc("2026-01-13T01:59")
    # Booked at 21:30 local, the evening before: no allowed time is left -> skipped, with the reason.
    slot = place(utc("2026-01-13T11:30"), now=utc("2026-01-13T02:30"), latest=latest, zone_name=NY, quiet=QUIET)
    assert slot.due is None and slot.reason == "quiet hours"


def test_quiet_hours_follow_local_time_across_a_dst_change() -> None:
    # Berlin 2026-03-29 07:00 CEST (05:00 UTC) is quiet; the quiet hours end at 08:00 CEST = 06:00 UTC.
    window = quiet_window(utc("2026-03-29T05:00"), "Europe/Berlin", QUIET)
    assert window == (utc("2026-03-28T20:00"), utc("2026-03-29T06:00"))
    assert quiet_window(utc("2026-03-29T06:00"), "Europe/Berlin", QUIET) is None


def test_daytime_quiet_hours_and_switched_off_quiet_hours() -> None:
    lunch = QuietHours(start=time(12, 0), end=time(13, 0))
    assert quiet_window(utc("2026-01-05T17:30"), NY, lunch) == (utc("2026-01-05T17:00"), utc("2026-01-05T18:00"))
    assert quiet_window(utc("2026-01-05T18:00"), NY, lunch) is None
    assert quiet_window(utc("2026-01-05T03:00"), NY, QuietHours(start=time(0), end=time(0))) is None
    assert quiet_window(utc("2026-01-05T03:00"), NY, None) is None


def test_a_time_already_past_or_after_the_latest_useful_moment_is_too_late() -> None:
    now = utc("2026-01-05T15:00")
    assert place(utc("2026-01-05T14:00"), now=now, latest=utc("2026-01-06T00:00"), zone_name=NY,
                 quiet=None).reason == "too late"
    assert place(utc("2026-01-05T16:00"), now=now, latest=utc("2026-01-05T15:30"), zone_name=NY,
                 quiet=None).reason == "too late"


def test_settings_derive_offsets_per_type_and_backoff() -> None:
    config = RemindersSettings(types={"Vaccination": {"offsets": ["1d"], "confirmation": False}},
                               retry_backoff="1m", retry_backoff_max="5m")
    assert [o.label for o in config.offsets_for("Vaccination")] == ["1d"]
    assert [o.label for o in config.offsets_for("Follow-up")] == ["3d", "1d", "1h"]
    assert not config.confirms("Vaccination") and config.confirms(None)
    assert [config.backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 5)]


@pytest.mark.parametrize(("text", "encoding", "segments"), [
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("€" * 80, "GSM-7", 1),  # each euro sign takes two septets
    ("€" * 81, "GSM-7", 2),
    ("ó" + "a" * 69, "UCS-2", 1),
    ("ó" + "a" * 70, "UCS-2", 2),
    ("ó" + "a" * 200, "UCS-2", 3),
    ("Señor Müller, ¿sí?", "UCS-2", 1),  # í is not in GSM-7
])
def test_sms_segments(text: str, encoding: str, segments: int) -> None:
    size = sms_size(text)
    assert (size.encoding, size.segments) == (encoding, segments)
