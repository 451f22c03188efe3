"""How a CSV export writes its date-times without an offset, for `discover`: ``stored_times:
local`` (the connector's default: wall-clock time, as practice systems export) or ``utc`` (an
export of a web application that keeps UTC: Django, Rails, most booking tools). Read as
Chicago's wall clock, a UTC export stores every visit six hours late; `check` then fails it on
its night visits, but only after the admin wrote the wrong settings.

The visits' times are read as the proposed mapping reads them (compiled.py: its columns,
formats, date and time joined), twice, in two default zones: a start that moves with the zone
was written without an offset. Evidence, judged by clock.py's judges:

* those starts' hours read both ways (one reading putting some at night where the other keeps
  them all in the day is the wrong one);
* the newest created/updated stamp of the export (a column so named that the mapping does not
  read the visit's time from) against the time the file was written (file_clock.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from clinicsync.common.timeutil import TimeError, parse_datetime
from clinicsync.mappings.engine import CompiledMapping
from clinicsync.mappings.model import MappingError
from clinicsync.sync.discover.clock import STAMP_NAMES, Clock, Evidence, read_hours, stamp_columns
from clinicsync.sync.discover.file_clock import decide_by_rule, read_write_time
from clinicsync.sync.discover.proposal import Proposal
from clinicsync.sync.discover.values import profile

# Two default zones no offset of which is the other's: a start written without an offset
# maps to two instants, one with an offset (or a zone of its own) to one.
PROBE_ZONES = ("UTC", "Etc/GMT+5")
RULE = "the csv connector reads a time without an offset as local wall-clock time"


def naive_starts(readings: Sequence[CompiledMapping], rows: Iterable[Mapping[str, Any]]) -> list[datetime]:
    """Each row's start as written, for the rows whose start carries no offset: mapped in two
    default zones, it moves; its reading in UTC is then its wall-clock time."""
    at_utc, shifted = readings
    starts = []
    for row in rows:
        try:
            first, second = at_utc.apply(row), shifted.apply(row)
        except MappingError:
            continue  # a row the mapping quarantines says nothing of the time convention
        if first.start != second.start:
            starts.append(first.start.replace(tzinfo=None))
    return starts


def stamp_values(values: Sequence[str], region: str) -> list[datetime]:
    """A stamp column's values as naive date-times, in the format its values share."""
    fmt = profile(values, region).datetime_format
    parsed = []
    for value in (v for v in values if v and v.strip()):
        try:
            parsed.append(parse_datetime(value, (fmt,) if fmt else ()))
        except TimeError:
            continue
    return parsed


def settle_csv_clock(proposal: Proposal, readings: Sequence[CompiledMapping], rows: Sequence[Mapping[str, Any]],
                     header: Sequence[str], written: datetime, visit_zone: str | None, given: str | None,
                     region: str) -> Clock | None:
    """The export's convention, or None when every start carries its own offset (nothing to
    decide). ``readings``: the proposal compiled in ``PROBE_ZONES``."""
    starts = naive_starts(readings, rows)
    if not starts:
        return None
    evidence = Evidence()
    if visit_zone is not None and not given:
        read_hours(starts, visit_zone, evidence)
        stamps = [(column, moment) for column in stamp_columns(proposal, list(header)) if STAMP_NAMES.search(column)
                  for moment in stamp_values([str(r.get(column) or "") for r in rows], region)]
        read_write_time(stamps, written, visit_zone, evidence)
    return decide_by_rule(evidence, given, "export", "export", RULE)
