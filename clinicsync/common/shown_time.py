"""The one way a moment is shown to people: on pages, in CLI lists meant for
eyes, in agendas and notices.

A visit is shown in its own wall-clock time, because that is what its patient was told
("4:45 PM" for a Chicago visit of a New York clinic); when that zone is not the reader's
home zone, the zone's short name follows ("4:45 PM CST"), so the front desk never quotes
the clinic's hour for a visit somewhere else. The clock is the locale's (12-hour for
en-US, 24-hour for es-ES), from babel's CLDR data rather than a strftime pattern of ours,
and the date has one form everywhere (CLDR's ``yMMMEd``: "Tue, Nov 24, 2026",
"mar, 24 nov 2026"; ``shown_day``'s "Nov 24" where no room is left, e.g. a chart axis).

Machine output (``--json``, CSV, the ``datetime`` attribute of ``<time>``) stays ISO 8601
in UTC: this module is only for what a person reads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time

from clinicsync.common.timeutil import zone

DATE_SKELETON = "yMMMEd"
DAY_SKELETON = "MMMd"


@cache
def locale_of(tag: str | None) -> Locale:
    """A babel Locale from a BCP 47 tag ('en-US', 'es'); English when unset or unknown, so a
    display never fails over a language setting (settings validate it where it is set)."""
    if not tag:
        return Locale.parse("en_US")
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_US")


def _local(moment: datetime, zone_name: str) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        return aware.astimezone(zone(zone_name))
    except OverflowError:  # a year-1 sentinel near the edge of the calendar: shown as stored
        return aware


def zone_abbreviation(moment: datetime, zone_name: str) -> str:
    """The zone's short name at ``moment`` as the tz database gives it ('CST', 'CET'), or
    'UTC-03' where the database has only an offset. One form in every locale: CLDR's short
    names exist for a few locales only (en-US has 'CST', es-ES has '-0600', en-GB the long
    name), and a label that changes with the reader's language reads as a different zone."""
    local = _local(moment, zone_name)
    name = local.tzname() or zone_name
    return f"UTC{name}" if name[:1] in "+-" else name


def shown_date(moment: datetime, zone_name: str, locale: str | None = None) -> str:
    """'Tue, Nov 24, 2026' (en-US), 'mar, 24 nov 2026' (es-ES): the day of ``moment`` there."""
    return str(format_skeleton(DATE_SKELETON, _local(moment, zone_name), locale=locale_of(locale)))


def shown_day(moment: datetime, zone_name: str, locale: str | None = None) -> str:
    """'Nov 24' (en-US), '24 nov' (es-ES): the date form with no weekday and no year, where
    ``shown_date`` does not fit (a chart axis under 14 bars); same CLDR data, same order."""
    return str(format_skeleton(DAY_SKELETON, _local(moment, zone_name), locale=locale_of(locale)))


def shown_clock(moment: datetime, zone_name: str, locale: str | None = None, *,
                home_zone: str | None = None) -> str:
    """'8:45 AM' / '8:45'; with ' CST' appended when ``zone_name`` is not ``home_zone``."""
    local = _local(moment, zone_name)
    text = str(format_time(local, "short", locale=locale_of(locale)))  # the locale's own hour cycle
    if home_zone is not None and home_zone != zone_name:
        text = f"{text} {zone_abbreviation(moment, zone_name)}"
    return text


def shown_moment(moment: datetime, zone_name: str, locale: str | None = None, *,
                 home_zone: str | None = None) -> str:
    """'Tue, Nov 24, 2026, 8:45 AM' (with the zone's short name when it is not ``home_zone``):
    the one form a person sees a visit's time in."""
    return f"{shown_date(moment, zone_name, locale)}, {shown_clock(moment, zone_name, locale, home_zone=home_zone)}"
