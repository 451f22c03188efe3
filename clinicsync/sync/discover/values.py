"""What a column's sampled values look like: the value classes the scorer weighs
beside the column's name and declared type. Each class is tested with the mapping engine's
own readers where it has one (email, phone in the clinic's region, IANA zone, duration,
language), so a column the scorer calls "phones" is one the mapping will read as phones.

Local dates are read as ``d/m/y`` or ``m/d/y`` by their values: a first number over 12 can
only be a day, a second one over 12 only a day; a column where neither happens is ambiguous
and takes the clinic region's order, with a lower confidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache

import yaml

from clinicsync.common.names import plain
from clinicsync.common.vocabulary import CHANNELS, STATUS_SYNONYMS, STATUSES, status_key
from clinicsync.mappings.preset_files import PRESETS_DIR
from clinicsync.mappings.transforms import (
    UNIX_SECONDS_RANGE,
    TransformError,
    as_duration_minutes,
    as_email,
    as_language,
    as_timezone,
    as_visit_mode,
    phone_parser,
)
from clinicsync.sync.discover.vocab import CHANNEL_WORDS

_LOCAL_DATE = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})")
_YEAR_FIRST = re.compile(r"(\d{4})([/.])(\d{1,2})\2(\d{1,2})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp]\.?[Mm]\.?)?")
_INTEGER = re.compile(r"[+-]?\d+")
_SIGNED = re.compile(r"-?\d+")
# A serialized structure, not words: PHP's serialize() (``a:6:{s:14:"event_location";...}``, what
# OpenEMR-family calendars keep in ``pc_location``) or a JSON object or array. Shown to a patient
# as a place or a visit type it would read as noise.
_STRUCTURE = re.compile(r'^(?:[aO]:\d+:[{"]|\{\s*["}]|\[\s*[\]{"\d])')
_DURATION_UNIT = re.compile(r"\d+(?:\.\d+)?\s*[a-zA-Z]+")
_PHONE_SHAPE = re.compile(r"(?:tel:|whatsapp:)?\+?[\d\s().-]{6,24}")
_CELL_PARTS = re.compile(r"\s*[/;]\s*|\s*,\s+")  # between the numbers of one cell (transforms' cells)


def filled(values: Sequence[str | None]) -> list[str]:
    """The sampled values that hold something: a NULL and a blank cell say the same (nothing),
    so every reader of a sample skips both the same way."""
    return [v for v in values if v is not None and v.strip()]


def whole_numbers_of(values: Sequence[str | None], signed: bool = False) -> list[int] | None:
    """The filled sampled values as whole numbers; None when there are none or any is not one.
    ``signed``: a leading minus allowed (a clock column's -1 for "no time")."""
    seen = [v.strip() for v in filled(values)]
    if not seen or not all(v.isdigit() or (signed and _SIGNED.fullmatch(v)) for v in seen):
        return None
    return [int(v) for v in seen]


def _phone_cell(value: str) -> bool:
    """A cell of several numbers as desks type them ("04 78 12 34 56 / 06 12 34 56 78"): each
    part a phone's shape; the phone reader then takes its first mobile."""
    parts = _CELL_PARTS.split(value)
    return len(parts) > 1 and all(_PHONE_SHAPE.fullmatch(p) for p in parts)


_MONTH_FIRST_REGIONS = frozenset({"US", "PH", "FM", "MH", "PW", "BZ", "CA"})
_BOOLEAN_WORDS = frozenset({"y", "n", "yes", "no", "si", "sí", "s", "true", "false", "1", "0", "x", "c", "oui",
                            "non", "ja", "nein", "sim", "nao", "não", "confirmed", "declined"})
_LANGUAGE_SHAPE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z]{2,4})?|[A-Za-zÀ-ÿ]{4,12}")


@dataclass
class ValueProfile:
    """A column's sampled values, by class: each share is of the non-empty values."""

    present: int = 0  # non-empty values sampled
    distinct: int = 0
    shares: dict[str, float] = field(default_factory=dict)
    date_format: str | None = None  # strptime format of the date part (local dates)
    time_format: str | None = None  # strptime format of the time part ("%H:%M", "%I:%M %p", …)
    date_order_certain: bool = True  # False: d/m vs m/d taken from the region, the values never said
    unit_durations: bool = False  # values carry a unit ("30 min"): type duration

    def share(self, value_class: str) -> float:
        return self.shares.get(value_class, 0.0)

    @property
    def datetime_format(self) -> str | None:
        """The full strptime format of a local date-time, when it is not ISO 8601."""
        if self.date_format is None:
            return None
        return f"{self.date_format} {self.time_format}" if self.time_format else self.date_format


def status_of(value: str) -> str | None:
    """The FHIR status a word means, or None. A leading one-character marker (OpenEMR's
    status titles: ``x Canceled``, ``? No show``, ``@ Arrived``) is read past when the
    whole word is not known; a title whose code is one of OpenEMR's own (``- None``,
    ``* Reminder done``, ``AVM Confirmed``: its Appointments Report exports titles, not codes)
    means what the shipped openemr mapping maps that code to."""
    key = status_key(value)
    for candidate in (key, key.split(" ", 1)[1] if " " in key and len(key.split(" ", 1)[0]) == 1 else ""):
        if candidate in STATUSES:
            return candidate
        if candidate in STATUS_SYNONYMS:
            return STATUS_SYNONYMS[candidate]
    code, _, title = value.strip().partition(" ")
    if title and code in _openemr_codes():
        return _openemr_codes()[code]
    return _ended_and_more(key)


# What happened to a visit that ends it: a word saying one of these and then what is left to do
# (OpenMRS's CANCELLED_AND_NEEDS_RESCHEDULE) still says the visit ended so.
_ENDED = frozenset({"cancelled", "noshow", "fulfilled"})


def _ended_and_more(key: str) -> str | None:
    """The status of a word made of an ending status and, after 'and', a task still to do
    ('cancelled and needs reschedule'); None for any other word."""
    head, sep, _ = key.partition(" and ")
    if not sep:
        return None
    found = head if head in STATUSES else STATUS_SYNONYMS.get(head)
    return found if found in _ENDED else None


@cache
def _openemr_codes() -> dict[str, str]:
    """OpenEMR's appointment status codes and their statuses, from mappings/openemr.yaml."""
    preset = yaml.safe_load((PRESETS_DIR / "openemr.yaml").read_text(encoding="utf-8"))
    return {str(code): str(status) for code, status in preset["status_map"].items()}


def is_status_word(value: str) -> bool:
    return status_of(value) is not None


def _iso(value: str) -> str | None:
    """'datetime', 'date' or 'time' for ISO 8601 text (a space for the T allowed), else None."""
    text = value.strip()
    if len(text) >= 10 and text[4:5] == "-" and text[7:8] == "-":
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        del parsed
        return "datetime" if ":" in text[10:] else "date"
    try:
        time.fromisoformat(text)
    except ValueError:
        return None
    return "time" if ":" in text else None


def _time_format(match: re.Match[str]) -> str:
    seconds = ":%S" if match.group(3) else ""
    if match.group(4):
        return f"%I:%M{seconds} %p"
    return f"%H:%M{seconds}"


def profile(values: Sequence[str | None], region: str = "US") -> ValueProfile:
    """Count each value class over the non-empty values (``region``: the clinic's
    default_region, for phone numbers without a country code and d/m vs m/d order)."""
    present = [v.strip() for v in filled(values)]
    result = ValueProfile(present=len(present), distinct=len(set(present)))
    if not present:
        return result
    counts: dict[str, int] = {}
    day_first = month_first = False
    separators: set[str] = set()
    year_digits: set[int] = set()
    time_formats: set[str] = set()
    as_phone = phone_parser(region)
    units = years_first = 0

    def hit(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    for value in present:
        iso = _iso(value)
        if iso is not None:
            hit(f"iso_{iso}")
            hit(iso)
            continue
        year_first = _YEAR_FIRST.match(value)
        local = year_first or _LOCAL_DATE.match(value)
        rest = value[local.end():].strip().lstrip(",").strip() if local is not None else ""
        clock = _TIME.fullmatch(rest) if rest else None
        if local is not None and rest and clock is None and _PHONE_SHAPE.fullmatch(value):
            local = None  # a date's shape at its start only: a dotted number ("04.20.78.45.17"), read below
        if local is not None:
            if rest and clock is None:
                continue
            if year_first is not None:  # 2026/03/02: year, month, day
                if not (1 <= int(local.group(3)) <= 12 and 1 <= int(local.group(4)) <= 31):
                    continue
                years_first += 1
            else:
                first, second = int(local.group(1)), int(local.group(3))
                if not (1 <= first <= 31 and 1 <= second <= 31):
                    continue
                day_first |= first > 12
                month_first |= second > 12
                year_digits.add(len(local.group(4)))
            separators.add(local.group(2))
            if clock is not None:
                time_formats.add(_time_format(clock))
                hit("datetime")
                hit("local_datetime")
            else:
                hit("date")
                hit("local_date")
            continue
        clock = _TIME.fullmatch(value)
        if clock is not None and int(clock.group(1)) < 24 and int(clock.group(2)) < 60:
            hit("time")
            time_formats.add(_time_format(clock))
            minutes = int(clock.group(1)) * 60 + int(clock.group(2))
            if int(clock.group(1)) < 5 and 5 <= minutes <= 300 and clock.group(3) in (None, "00") \
                    and not clock.group(4):  # '0:30': before 05:00 no visit's clock, a length (hours:minutes)
                hit("duration")
                units += 1
            continue
        if _STRUCTURE.match(value):
            hit("structure")
            continue
        if "@" in value:
            try:
                as_email(value)
                hit("email")
            except TransformError:
                pass
            continue
        if _INTEGER.fullmatch(value):
            hit("integer")
            number = int(value)
            if 5 <= number <= 480:
                hit("minutes")
            if UNIX_SECONDS_RANGE[0] <= number < UNIX_SECONDS_RANGE[1]:
                hit("unix_seconds")  # a date-time only where the column's type or name says so (scoring.py)
        if (_PHONE_SHAPE.fullmatch(value) or _phone_cell(value)) and sum(c.isdigit() for c in value) >= 7:
            try:
                as_phone(value)
                hit("phone")
            except TransformError:
                pass
        if "/" in value or value.upper() == "UTC":
            try:
                as_timezone(value)
                hit("zone")
            except TransformError:
                pass
        if _DURATION_UNIT.fullmatch(value):
            try:
                as_duration_minutes(value)
                hit("duration")
                units += 1
            except TransformError:
                pass
        if is_status_word(value):
            hit("status")
        if status_key(value) in CHANNELS or plain(status_key(value)) in CHANNEL_WORDS:
            hit("channel")
        if status_key(value) in _BOOLEAN_WORDS:
            hit("boolean")
        if not value.lower().startswith(("http:", "https:", "tel:")):
            try:
                as_visit_mode(value)
                hit("visit_mode")
            except TransformError:
                pass
        if _LANGUAGE_SHAPE.fullmatch(value):
            try:
                as_language(value)
                hit("language")
            except TransformError:
                pass
        if value.lower().startswith("https://"):
            hit("url")
    result.shares = {name: count / len(present) for name, count in counts.items()}
    result.unit_durations = units > 0
    if counts.get("local_date") or counts.get("local_datetime"):
        if day_first and month_first:
            result.shares.pop("local_date", None)  # neither order reads every value: no date column
            result.shares.pop("local_datetime", None)
            result.shares.pop("date", None)
            result.shares.pop("datetime", None)
        elif years_first and not year_digits:
            sep = separators.pop() if len(separators) == 1 else "/"
            result.date_format = f"%Y{sep}%m{sep}%d"
        elif years_first:  # year-first and day/month-first dates in one column: no one format reads both
            for value_class in ("local_date", "local_datetime", "date", "datetime"):
                result.shares.pop(value_class, None)
        else:
            order_day = day_first or (not month_first and region.upper() not in _MONTH_FIRST_REGIONS)
            result.date_order_certain = day_first or month_first
            sep = separators.pop() if len(separators) == 1 else "/"
            year = "%Y" if year_digits == {4} else "%y"
            result.date_format = f"%d{sep}%m{sep}{year}" if order_day else f"%m{sep}%d{sep}{year}"
    if hours := hours_share(present):
        result.shares["hours"] = hours
    if len(time_formats) == 1:
        result.time_format = time_formats.pop()
    elif time_formats:
        result.time_format = sorted(time_formats, key=len)[-1]  # mixed seconds: the longer; flagged by share
    return result


_DECIMAL = re.compile(r"\d{1,2}[.,]\d{1,6}")
_HOUR_FRACTIONS = (0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0)
MAX_LENGTH_HOURS = 12  # a visit's planned length in hours: a quarter hour to half a day
TYPICAL_HOURS = 4  # a column of lengths in hours averages under this; '5.0', '10.0' minutes do not


def hours_share(present: Sequence[str]) -> float:
    """The share of ``present`` that reads as a visit's length in decimal hours (Odoo's
    ``duration``: 0.25, 0.5, 1.0, 1.5): a decimal from 0 to 12 in quarter or third hours, where
    the column's values average at most ``TYPICAL_HOURS`` and one at least is not whole (a
    column of '1.0', '2.0' alone could be anything). 0.0 when the column is no such thing."""
    hours = [float(v.replace(",", ".")) for v in present if _DECIMAL.fullmatch(v)]
    hours = [h for h in hours if 0 < h <= MAX_LENGTH_HOURS
             and any(abs(h % 1 - f) < 0.01 for f in _HOUR_FRACTIONS)]
    if not hours or sum(hours) / len(hours) > TYPICAL_HOURS or all(h % 1 == 0 for h in hours):
        return 0.0
    return len(hours) / len(present)


def duration_type(profile: ValueProfile) -> str | None:
    """The mapping ``type`` a length column's values need: decimal hours, a unit ("30 min"),
    or None (whole minutes, the field's own type)."""
    if profile.share("hours") >= max(profile.share("minutes"), profile.share("duration")):
        return "duration_hours" if profile.share("hours") else None
    return "duration" if profile.unit_durations else None


def reads_as(value: str, date_format: str | None) -> date | None:
    """A local date read with ``date_format`` (for tests and notes)."""
    try:
        return datetime.strptime(value.strip(), date_format or "%Y-%m-%d").date()
    except ValueError:
        return None
