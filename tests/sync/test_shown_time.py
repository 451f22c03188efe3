"""The one way a moment is shown to people (clinicsync/common/shown_time.py, issue 30)."""

from datetime import UTC, datetime

import pytest

from clinicsync.common.shown_time import shown_clock, shown_date, shown_day, shown_moment, zone_abbreviation

# CLDR puts a narrow no-break space (U+202F) before AM/PM.
# 22:45 UTC on 24 Nov 2026: 4:45\u202fPM in Chicago, 5:45\u202fPM in New York, 23:45 in Madrid.
MOMENT = datetime(2026, 11, 24, 22, 45, tzinfo=UTC)


@pytest.mark.parametrize(("locale", "zone", "home", "expected"), [
    ("en-US", "America/Chicago", "America/Chicago", "Tue, Nov 24, 2026, 4:45\u202fPM"),
    ("en-US", "America/Chicago", "America/New_York", "Tue, Nov 24, 2026, 4:45\u202fPM CST"),
    ("es-ES", "Europe/Madrid", "Europe/Madrid", "mar, 24 nov 2026, 23:45"),
    ("es-ES", "America/Chicago", "Europe/Madrid", "mar, 24 nov 2026, 16:45 CST"),
    ("en-GB", "America/Sao_Paulo", "Europe/London", "Tue, 24 Nov 2026, 19:45 UTC-03"),
    (None, "America/New_York", None, "Tue, Nov 24, 2026, 5:45\u202fPM"),
])
def test_a_visit_is_shown_in_its_own_zone_with_the_locales_clock(locale, zone, home, expected):
    assert shown_moment(MOMENT, zone, locale, home_zone=home) == expected


def test_a_naive_moment_is_read_as_utc_and_the_date_is_the_local_one():
    naive = MOMENT.replace(tzinfo=None)
    assert shown_date(naive, "Asia/Tokyo", "en-US") == "Wed, Nov 25, 2026"
    assert shown_clock(naive, "Asia/Tokyo", "en-US") == "7:45\u202fAM"


def test_the_zone_label_follows_daylight_saving_time():
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert zone_abbreviation(summer, "America/Chicago") == "CDT"
    assert zone_abbreviation(MOMENT, "America/Chicago") == "CST"


def test_an_unknown_locale_falls_back_to_english_rather_than_failing_a_page():
    assert shown_clock(MOMENT, "America/Chicago", "xx-YY") == "4:45\u202fPM"


def test_a_year_one_sentinel_is_shown_rather_than_raising():
    sentinel = datetime(1, 1, 1, 0, 30, tzinfo=UTC)
    assert "1" in shown_moment(sentinel, "America/Chicago", "en-US")


@pytest.mark.parametrize(("locale", "zone", "expected"), [
    ("en-US", "America/Chicago", "Nov 24"), ("es-ES", "Europe/Madrid", "24 nov"),
    ("en-GB", "Europe/London", "24 Nov"), ("en-US", "Asia/Tokyo", "Nov 25")])
def test_the_short_day_is_the_date_form_without_weekday_and_year(locale, zone, expected):
    """A chart axis's day: shown_date's order and month name, its local day, nothing else."""
    assert shown_day(MOMENT, zone, locale) == expected
    assert expected.replace(" ", "") in shown_date(MOMENT, zone, locale).replace(" ", "")
