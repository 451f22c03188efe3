"""The plausible window of appointment times: a start or end far outside it is a sentinel or
a broken export, never a visit. .NET and SQL Server write 0001-01-01 (or 1753-01-01,
1899-12-30, 9999-12-31) for "no date"; such a record, once stored, overflows every later
sum (a reminder 3 days before year 1) and stalls each stage that meets it. So the mapping
refuses it, naming the field and the fix, on every path a record takes in (files, queries,
the REST API, webhooks, FHIR subscriptions, HL7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from clinicsync.common.timeutil import TimeError, to_utc

# Dates sources write for "no date": shown in full in a reason (they are no patient's data);
# any other refused date shows only its year.
SENTINELS = {date(1, 1, 1): ".NET's and SQL Server's empty date", date(1753, 1, 1): "SQL Server's datetime minimum",
             date(1899, 12, 30): "a spreadsheet's day zero", date(1900, 1, 1): "a spreadsheet's day one",
             date(1970, 1, 1): "a zero Unix time", date(9999, 12, 31): "a 'no end' date"}
SETTING = "clinic.plausible_dates"


@dataclass(frozen=True)
class PlausibleWindow:
    """[earliest, latest) as dates: compared with the wall-clock date (before any zone), so
    a value past what datetime holds in UTC is still named, not an overflow."""

    earliest: date = date(1900, 1, 1)
    latest: date = date(2200, 1, 1)

    def refusal(self, value: datetime) -> str | None:
        """Why ``value`` is implausible, naming the fix; None when it is inside the window."""
        day = value.date()
        if self.earliest <= day < self.latest:
            return None
        known = SENTINELS.get(day)
        shown = f"{day.isoformat()} ({known}?)" if known else f"a date in the year {day.year}"
        return (f"{shown} is outside the plausible window {self.earliest.isoformat()} to "
                f"{self.latest.isoformat()}: fix the export to give the real date (or leave the record out); "
                f"if such dates are real, widen {SETTING}")


DEFAULT_WINDOW = PlausibleWindow()


def plausible_utc(window: PlausibleWindow) -> Callable[[datetime, str], datetime]:
    """``to_utc`` that first refuses a value outside ``window`` (as a TimeError, the error
    the mapping engine already turns into the field's MappingError)."""

    def convert(value: datetime, zone_name: str) -> datetime:
        refusal = window.refusal(value)
        if refusal is not None:
            raise TimeError(refusal)
        return to_utc(value, zone_name)

    return convert
