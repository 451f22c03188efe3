"""Days and moments as an admin types them: one grammar for --from, --to, --at and --date."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinicsync.sync.cli.when import WhenError, parse_when
from tests.sync.test_cli import listed, synced  # noqa: F401  (fixture)

MADRID = "Europe/Madrid"
# Tuesday 24 November 2026, 23:30 in Madrid (22:30 UTC): late evening, when UTC's date and the clinic's agree.
NOW = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)


@pytest.mark.parametrize(("text", "instant", "day"), [
    ("today", datetime(2026, 11, 23, 23, 0, tzinfo=UTC), date(2026, 11, 24)),
    ("Tomorrow", datetime(2026, 11, 24, 23, 0, tzinfo=UTC), date(2026, 11, 25)),
    ("yesterday", datetime(2026, 11, 22, 23, 0, tzinfo=UTC), date(2026, 11, 23)),
    ("+7d", datetime(2026, 11, 30, 23, 0, tzinfo=UTC), date(2026, 12, 1)),
    ("-1w", datetime(2026, 11, 16, 23, 0, tzinfo=UTC), date(2026, 11, 17)),
    ("+3h", datetime(2026, 11, 25, 1, 30, tzinfo=UTC), None),
    ("-90m", datetime(2026, 11, 24, 21, 0, tzinfo=UTC), None),
    ("tue", datetime(2026, 11, 23, 23, 0, tzinfo=UTC), date(2026, 11, 24)),       # today included
    ("monday", datetime(2026, 11, 29, 23, 0, tzinfo=UTC), date(2026, 11, 30)),    # the next one
    ("2026-12-01", datetime(2026, 11, 30, 23, 0, tzinfo=UTC), date(2026, 12, 1)),
    ("tomorrow 13:00", datetime(2026, 11, 25, 12, 0, tzinfo=UTC), None),
    ("2026-12-01 08:15", datetime(2026, 12, 1, 7, 15, tzinfo=UTC), None),
    ("2026-12-01T08:15", datetime(2026, 12, 1, 7, 15, tzinfo=UTC), None),
    ("2026-12-01T08:15Z", datetime(2026, 12, 1, 8, 15, tzinfo=UTC), None),
    ("2026-12-01t08:15:00+05:00", datetime(2026, 12, 1, 3, 15, tzinfo=UTC), None),
])
def test_words_days_and_moments_in_the_clinic_zone(text: str, instant: datetime, day: date | None) -> None:
    when = parse_when(text, MADRID, now=NOW)
    assert (when.instant, when.day) == (instant, day)


def test_the_day_after_a_named_day_ends_an_inclusive_range() -> None:
    assert parse_when("today", MADRID, now=NOW).day_end(MADRID) == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    moment = parse_when("+3h", MADRID, now=NOW)
    assert moment.day_end(MADRID) == moment.instant


def test_a_day_whose_midnight_dst_skips_starts_at_the_first_hour() -> None:
    # Santiago de Chile springs forward at midnight: 2026-09-06 00:00 does not exist there.
    when = parse_when("2026-09-06", "America/Santiago", now=NOW)
    assert when.day == date(2026, 9, 6) and when.instant == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "says"), [
    ("yesterdayy", "did you mean 'yesterday'"),
    ("tomorow", "did you mean 'tomorrow'"),
    ("next week", "is not a day or a time"),
    ("", "an empty value"),
    ("tomorrow 25:00", "hour must be in 0..23"),
    ("tomorrow noon", "is not a clock time"),
    ("+99999999d", "is not a day or a time"),
    ("+5x", "is not a day or a time"),
    ("2026-03-29 02:30", "does not exist"),  # Madrid's spring-forward gap
])
def test_what_names_no_day_says_what_would(text: str, says: str) -> None:
    with pytest.raises(WhenError, match=says):
        parse_when(text, MADRID, now=NOW)


def test_appointments_list_takes_words_and_refuses_a_typo_in_one_line(synced: Any) -> None:  # noqa: F811
    zone = ZoneInfo("America/New_York")  # the settings fixture's clinic zone
    first = datetime.fromisoformat(listed(synced)[0]["start"]).astimezone(zone).date()
    ahead = (first - datetime.now(zone).date()).days
    by_date = listed(synced, "--from", first.isoformat(), "--to", first.isoformat())
    assert by_date and listed(synced, "--from", f"+{ahead}d", "--to", f"+{ahead}d") == by_date
    assert listed(synced, "--from", "today") == listed(synced)
    _, out, err = synced("appointments", "list", "--from", "yesterdayy", expect=2)
    assert "--from 'yesterdayy' is not a day or a time (did you mean 'yesterday'?)" in " ".join(err.split())
    assert "Traceback" not in out + err


def test_remind_at_takes_words(synced: Any) -> None:  # noqa: F811
    _, out, _ = synced("remind", "--once", "--dry-run", "--json", "--at", "tomorrow 13:00")
    assert "sent" in json.loads(out)
    _, _, err = synced("remind", "--once", "--at", "tomorow 13:00", expect=2)
    assert "--at" in err and "did you mean 'tomorrow'" in " ".join(err.split())
