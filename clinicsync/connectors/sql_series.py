"""A recurring series kept as ONE row of a SQL source: its first start and end in their columns,
its repeat rule as RRULE text in another (``FREQ=WEEKLY;BYDAY=TU;UNTIL=…``, sometimes after
``RRULE:``), the sessions taken out of it as text (EXDATE-like: comma-separated dates or
date-times, or the original starts a query gathers from an exceptions table or from the rows
that replace single sessions). Groupware calendars keep a weekly therapy series so; read as a
plain row it was its first session only, every later one never imported nor reminded.

Each such row becomes one record per occurrence inside the read's span (the connector's window):

- The expansion is ical_text.py's (the ``recurring-ical-events`` library): the row is written as
  one VEVENT whose DTSTART carries the series' zone, so a weekly 09:00 Europe/Berlin session stays
  09:00 local across a DST change; COUNT and UNTIL hold, a rule without end stops at the span.
- Each occurrence's id is the row's id and its original start in UTC (``42/20261207T080000Z``,
  the form ical_text.py gives a UID's occurrences): the same on every read, kept by a moved one.
- Its start and end are written back in the start column's own form (Unix seconds stay seconds,
  a naive date-time stays naive in the source's clock), so the mapping reads them as it reads
  any row; the end is the start plus the series' length.
- An occurrence whose original start is listed in an ``exdates`` column is left out: taken out
  of the series, or replaced by a row of its own (read as that row, never twice).
- A row whose rule does not parse is set aside once (``ical_text.Unread``: the reason names the
  column, never a value): a series read as its first session would look right and be wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from clinicsync.connectors import ical_text


class SeriesColumns(BaseModel):
    """Which of the query's columns make a series row (``series:`` on a sql connector)."""

    model_config = ConfigDict(extra="forbid")

    rule: str = Field(description="the column holding the series' RRULE text (empty: a single visit)")
    id: str = Field(description="the row's id column: an occurrence's id is it and its original start")
    start: str = Field(description="the column of the series' first start")
    end: str | None = Field(None, description="the column of the first session's end (its length repeats)")
    exdates: list[str] = Field(
        default_factory=list, description="columns listing original starts left out (EXDATE text, or the "
                                          "starts a subquery gathers from exceptions or replacing rows)")
    timezone: str | None = Field(None, description="the zone the rule's wall clock runs in (default: the "
                                                   "source's clock)")
    timezone_column: str | None = Field(None, description="a column naming the series' own zone, where kept")


_ICAL_MOMENT = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$")
_ISO_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
_ISO_UNTIL = re.compile(r"UNTIL=(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2}))?", re.I)
_FAST = {"SECONDLY", "MINUTELY"}  # a visit repeating every second or minute is no clinic's series


def instant(value: Any, clock: ZoneInfo) -> datetime | None:
    """A start as the source keeps it, as an aware instant: Unix seconds, a date-time (naive in
    ``clock``), ISO or iCalendar text; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=clock)
    if isinstance(value, date):
        return None
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    found = _ISO_MOMENT.search(text)
    if found is not None:
        try:
            moment = datetime.fromisoformat(f"{found[1]}T{found[2]}{found[3] or ''}".replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=clock)
    ical = _ICAL_MOMENT.match(text)
    if ical is not None and ical[2]:
        moment = datetime.strptime(ical[1] + ical[2], "%Y%m%d%H%M%S")
        return moment.replace(tzinfo=UTC if ical[3] else clock)
    return None


def like(moment: datetime, model: Any, clock: ZoneInfo) -> Any:
    """``moment`` written as ``model`` is (the column's own form), so the mapping reads it alike."""
    if isinstance(model, int) and not isinstance(model, bool):
        return int(moment.timestamp())
    if isinstance(model, float):
        return moment.timestamp()
    if isinstance(model, datetime):
        return moment if model.tzinfo is not None else moment.astimezone(clock).replace(tzinfo=None)
    text = str(model).strip()
    if text.isdigit():
        return str(int(moment.timestamp()))
    if _ISO_MOMENT.search(text) and (text.endswith("Z") or re.search(r"[+-]\d{2}:?\d{2}$", text)):
        return moment.astimezone(UTC).isoformat()
    return moment.astimezone(clock).replace(tzinfo=None).isoformat(sep=" ")


def rule_text(value: Any, clock: ZoneInfo = ZoneInfo("UTC")) -> str | None:
    """The RRULE's parts (``FREQ=…;…``) of a column's text, without a leading ``RRULE:``; an UNTIL
    written as ISO (``2027-03-01 07:30:00``, as a database writes its date-times) read in the
    source's ``clock`` and made iCalendar's UTC (``20270301T073000Z``); None for none."""
    text = ical_text.as_text(value)
    if text is None or not text.strip():
        return None
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:].strip()

    def utc(m: re.Match[str]) -> str:
        wall = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4] or 23), int(m[5] or 59), int(m[6] or 59))
        return f"UNTIL={wall.replace(tzinfo=clock).astimezone(UTC):%Y%m%dT%H%M%S}Z"

    return _ISO_UNTIL.sub(utc, text)


def parses(value: Any) -> bool:
    """The text is a repeat rule dateutil reads (what discover takes as evidence of a series)."""
    text = rule_text(value)
    if text is None or "FREQ=" not in text.upper():
        return False
    from dateutil.rrule import rrulestr  # on use: every SQL source imports this module, few read a rule

    try:
        rrulestr(_until_utc(text, ZoneInfo("UTC")), dtstart=datetime(2020, 1, 1, tzinfo=UTC))
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _until_utc(rule: str, zone: ZoneInfo) -> str:
    """An UNTIL without ``Z`` read in ``zone`` and written in UTC: RFC 5545 wants UTC beside a
    zoned DTSTART, and the libraries refuse a floating one there."""

    def fix(m: re.Match[str]) -> str:
        day, clock, z = m[1], m[2] or "235959", m[3]
        if z:
            return m[0]
        wall = datetime.strptime(day + clock, "%Y%m%d%H%M%S").replace(tzinfo=zone)
        return f"UNTIL={wall.astimezone(UTC):%Y%m%dT%H%M%S}Z"

    return re.sub(r"UNTIL=(\d{8})(?:T(\d{6}))?(Z?)", fix, rule, flags=re.I)


def left_out(texts: list[Any], zone: ZoneInfo, clock: ZoneInfo) -> tuple[set[datetime], set[date]]:
    """The instants (and whole days, in ``zone``) the ``exdates`` columns' text leaves out. An
    iCalendar date-time without ``Z`` is the series' wall clock; ISO text (a date-time column a
    query gathered) is the source's clock; digits Unix seconds."""
    moments: set[datetime] = set()
    days: set[date] = set()
    for text in texts:
        text = ical_text.as_text(text) if not isinstance(text, int | float | datetime) else text
        if text is None:
            continue
        items = [text] if isinstance(text, int | float | datetime) else re.split(r"[,;\r\n]+", str(text))
        for item in items:
            raw = item.strip().removeprefix("EXDATE:") if isinstance(item, str) else item
            ical = _ICAL_MOMENT.match(raw) if isinstance(raw, str) else None
            if ical is not None and not ical[2]:  # a whole day (``20261020``)
                days.add(datetime.strptime(ical[1], "%Y%m%d").date())
                continue
            moment = instant(raw, zone if ical is not None else clock)
            if moment is not None:
                moments.add(moment.astimezone(UTC))
    return moments, days


def _zone(data: Mapping[str, Any], series: SeriesColumns, clock: ZoneInfo) -> ZoneInfo:
    named = data.get(series.timezone_column) if series.timezone_column else None
    for name in (named, series.timezone):
        if isinstance(name, str) and name.strip():
            try:
                return ZoneInfo(name.strip())
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return clock


def expand(data: dict[str, Any], series: SeriesColumns, between: tuple[datetime, datetime],
           clock: ZoneInfo) -> list[dict[str, Any]]:
    """The row's records: itself when its rule column is empty, else one an occurrence inside
    ``between`` (module docstring), or the row with its rule column ``ical_text.Unread``."""
    raw_rule = data.get(series.rule)
    rule = rule_text(raw_rule, clock)
    if rule is None:
        return [data]
    first = instant(data.get(series.start), clock)
    if first is None:
        return [{**data, series.rule: ical_text.Unread(f"{series.rule}: a series whose start ({series.start}) "
                                                       "is no date-time", str(raw_rule))}]
    last = instant(data.get(series.end), clock) if series.end else None
    length = last - first if last is not None and last >= first else timedelta(0)
    zone = _zone(data, series, clock)
    frequency = re.search(r"FREQ=(\w+)", rule, re.I)
    if not parses(rule) or frequency is None or frequency[1].upper() in _FAST:
        return [{**data, series.rule: ical_text.Unread(f"{series.rule}: not a repeat rule the connector reads "
                                                       "(RRULE text: FREQ=WEEKLY;…)", str(raw_rule))}]
    wall = first.astimezone(zone).replace(tzinfo=None)
    key = getattr(zone, "key", "UTC")
    text = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//clinicsync//series row//EN", "BEGIN:VEVENT",
        f"UID:{data.get(series.id)}", f"DTSTART;TZID={key}:{wall:%Y%m%dT%H%M%S}",
        f"DURATION:PT{int(length.total_seconds())}S", f"RRULE:{_until_utc(rule, zone)}",
        "END:VEVENT", "END:VCALENDAR", ""])
    found = ical_text.read(series.rule, text, between)
    if isinstance(found, ical_text.Unread) or found is None:
        return [{**data, series.rule: ical_text.Unread(f"{series.rule}: a repeat rule the series' start cannot "
                                                       "be expanded with", str(raw_rule))}]
    occurrences = found.occurrences if isinstance(found, ical_text.Series) else (found,)
    moments, days = left_out([data.get(c) for c in series.exdates], zone, clock)
    out = []
    for occurrence in occurrences:
        start = datetime.fromisoformat(str(occurrence["dtstart"]))
        start = start if start.tzinfo is not None else start.replace(tzinfo=zone)
        original = datetime.fromisoformat(str(occurrence["recurrence_id"] or occurrence["dtstart"]))
        original = original if original.tzinfo is not None else original.replace(tzinfo=zone)
        if original.astimezone(UTC) in moments or original.astimezone(zone).date() in days:
            continue
        record = {**data, series.start: like(start, data[series.start], clock),
                  series.id: f"{data.get(series.id)}/{original.astimezone(UTC):%Y%m%dT%H%M%SZ}"}
        if series.end and data.get(series.end) is not None:
            record[series.end] = like(start + length, data[series.end], clock)
        out.append(record)
    return out
