"""How a database writes its naive date-times, for `discover`: ``stored_times: local`` (wall
clock in the clinic's zone) or ``utc`` (Odoo, Tryton, Django with USE_TZ, Rails). Why it asks:
a server on Etc/UTC said nothing, discover used clinic.timezone, and every start was stored
six hours late; `--timezone UTC` stored the instants right but made UTC every visit's zone.

The time convention is told apart from the visits' zone, by evidence only:

* the database's own column defaults: ``DEFAULT (now() AT TIME ZONE 'utc')`` / ``UTC_TIMESTAMP()``
  say UTC; ``DEFAULT now()`` / ``CURRENT_TIMESTAMP`` say the server's clock, local when the
  server keeps a region's zone (on a UTC server they say nothing about what the application
  writes in its other columns);
* the newest created/updated stamp the proposed query reads, against the database's own
  clock in each reading: a stamp that would lie in the future read one way rules that way
  out; a newest stamp within minutes of "now" read one way only points to it;
* the visits' start hours in both readings, judged as `check` judges them: a reading that
  puts some at night where the other brings them all into the day is the wrong one;
* starts kept as text in a form people read (``25/03/2026``, ``03/25/2026 9:30 AM``), not
  ISO: typed or shown at the desk, so local;
* then the server's zone (a region: local) or the admin's ``--timezone`` (the zone of the
  wall-clock times: local).

Sure either way, the proposal says so with the reason; when the evidence conflicts, or there
is none and nobody named the zone, ``ClockUnclear`` asks for ``--stored-times utc|local``
(docs/getting-started.md promises discover stops and asks rather than guess). The statements
go through the caller's runner (sql.py ``_run``: the connector's SELECT guard first).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.timeutil import TimeError, parse_datetime, zone
from clinicsync.connectors.base import STORED_TIMES
from clinicsync.connectors.sql_guard import StatementRefused, check_select, sqlglot_dialect
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.connectors.sql_settings import load_query_preset
from clinicsync.mappings.digitclock import DIGIT_CLOCKS, digit_clock
from clinicsync.mappings.transforms import TransformError
from clinicsync.sync.discover.ahead import future_cursor_note
from clinicsync.sync.discover.clock_names import drop_local_booked_at, named_reason, utc_named_start
from clinicsync.sync.discover.proposal import Proposal
from clinicsync.sync.ingest.plausibility.hours import MIN_HOURS, MIN_NIGHT, MIN_NIGHT_SHARE, MIN_VISITS, NIGHT

Runner = Callable[..., list[tuple[Any, ...]]]  # (connection, sql, binds) -> rows

FLAG = "--stored-times utc|local"
_MYSQL_TIMESTAMP = 7  # the MySQL protocol's column type code of TIMESTAMP (DATETIME is 12)
# A created/updated/booked stamp by its name (any of the languages the scorer reads).
STAMP_NAMES = re.compile(r"creat|updat|modif|chang|write_?date|insert|stamp|entered|saved|booked|_at$|_on$|"
                         r"actualiz|geaendert|erstellt|mtime|ctime|_le$", re.I)
FUTURE = timedelta(minutes=10)  # a write stamp this far past the database's clock is in the future
CLOSE = timedelta(minutes=20)  # the newest stamp this near the database's clock: written just now
HORIZON = timedelta(hours=15)  # past every zone's offset: a stamp further ahead is no write time
MAX_STAMP_COLUMNS = 6  # stamp columns read (the cursor column first)
SAMPLED_STARTS = 2000  # latest visit starts whose hours are read
ZONED_SAMPLE = 50  # start values looked at for an offset of their own
_OFFSET = re.compile(r"(Z|[+-]\d{2}(:?\d{2})?)$")
_WIDE = {"window_start": datetime(1900, 1, 1), "window_end": datetime(2200, 1, 1), "cursor": None}
_UTC_NAMES = {"utc", "etc/utc", "gmt", "etc/gmt", "uct", "etc/uct", "universal", "etc/universal", "zulu",
              "etc/zulu", "gmt0", "etc/gmt0", "z", "+00:00", "-00:00", "00:00"}
_UTC_DEFAULT = re.compile(r"utc", re.I)
_SERVER_DEFAULT = re.compile(r"now\(|current_timestamp|localtimestamp|sysdate", re.I)


class ClockUnclear(Exception):
    """The database does not say how it writes its date-times: the message names the flag."""


@dataclass(frozen=True)
class ClockOptions:
    """What the admin said: ``--stored-times`` and the settings file's ``clinic.timezone``."""

    stored_times: str | None = None
    clinic_zone: str | None = None


_OPTIONS: ContextVar[ClockOptions | None] = ContextVar("discover_clock_options", default=None)


@contextmanager
def clock_options(options: ClockOptions) -> Iterator[None]:
    """``options`` for the discovery inside (sql.py ``_zone`` and ``settle_clock`` read them)."""
    token = _OPTIONS.set(options)
    try:
        yield
    finally:
        _OPTIONS.reset(token)


def current_options() -> ClockOptions:
    return _OPTIONS.get() or ClockOptions()


@dataclass
class Evidence:
    """What the database said, each item a reason in words (no values of patients' rows)."""

    utc: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)


def is_utc_name(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _UTC_NAMES


def server_zone_names(connection: Connection, run: Runner) -> list[str]:
    """The zones the server (session first) names: ``Etc/UTC``, ``UTC``, ``SYSTEM``,
    ``Europe/Madrid``; none for a database without a server zone (SQLite)."""
    try:
        if connection.dialect.name == "postgresql":
            rows = run(connection, "SELECT current_setting('TimeZone')")
        elif connection.dialect.name in ("mysql", "mariadb"):
            rows = run(connection, "SELECT @@session.time_zone, @@system_time_zone")
        else:
            return []
    except (SQLAlchemyError, StatementRefused):
        return []
    return [v for v in (rows[0] if rows else ()) if isinstance(v, str)]


def server_setting(connection: Connection, run: Runner) -> str | None:
    """The server's (session's) zone as it names it, SYSTEM resolved: ``Etc/UTC``, ``UTC``."""
    named = [v for v in server_zone_names(connection, run) if v.upper() != "SYSTEM"]
    return named[0] if named else None


def database_now(connection: Connection, run: Runner) -> datetime:
    """The database's own clock as naive UTC (this machine's for SQLite: it is the same one)."""
    sql = {"postgresql": "SELECT CAST(now() AT TIME ZONE 'UTC' AS timestamp)",
           "mysql": "SELECT UTC_TIMESTAMP()", "mariadb": "SELECT UTC_TIMESTAMP()"}.get(connection.dialect.name)
    if sql is not None:
        try:
            rows = run(connection, sql)
            if rows and isinstance(rows[0][0], datetime):
                return rows[0][0].replace(tzinfo=None)
        except (SQLAlchemyError, StatementRefused):
            pass
    return datetime.now(UTC).replace(tzinfo=None)


def _tables_in(query: str, names: Sequence[str]) -> set[str]:
    return {n for n in names if re.search(rf"(?<![\w$]){re.escape(n)}(?![\w$])", query, re.I)}


def read_defaults(connection: Connection, run: Runner, query: str, server: str | None,
                  evidence: Evidence) -> None:
    """The naive date-time columns of the query's tables whose default is a clock: UTC's, or
    the server's (local when the server keeps a region's zone)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        sql = ("SELECT table_name, column_name, column_default FROM information_schema.columns "
               "WHERE table_schema = current_schema() AND data_type = 'timestamp without time zone' "
               "AND column_default IS NOT NULL")
    elif dialect in ("mysql", "mariadb"):
        sql = ("SELECT table_name, column_name, column_default FROM information_schema.columns "
               "WHERE table_schema = DATABASE() AND data_type IN ('datetime', 'timestamp') "
               "AND column_default IS NOT NULL")
    else:
        return
    try:
        rows = run(connection, sql)
    except (SQLAlchemyError, StatementRefused):
        return
    used = _tables_in(query, sorted({str(r[0]) for r in rows}))
    region = server is not None and not is_utc_name(server) and "/" in server
    for table, column, default in rows:
        if str(table) not in used:
            continue
        where = f"column {table}.{column}"
        if _UTC_DEFAULT.search(str(default)):
            evidence.utc.append(f"{where} defaults to the UTC clock ({_short(str(default))})")
        elif _SERVER_DEFAULT.search(str(default)) and region:
            evidence.local.append(f"{where} defaults to the server's clock, which keeps {server}")


def _short(text_value: str) -> str:
    cleaned = " ".join(text_value.split())
    return cleaned if len(cleaned) <= 60 else cleaned[:60] + "…"


def _query_shape(connection: Connection, query: str) -> tuple[list[str], set[str]]:
    """The query's output columns, and those whose values are the server's clock whatever the
    application writes: a MySQL/MariaDB TIMESTAMP comes back in the session's zone (the
    server's), so it shows how the server keeps time, not how the application writes its
    DATETIMEs (FreeMED's ``calmodified``, NOSH's ``timestamp``). One statement, no row read."""
    sql = f"SELECT * FROM ({query}) AS clinicsync_q WHERE 1 = 0"
    check_select(sql, frozenset({"cursor", "window_start", "window_end"}), sqlglot_dialect(connection.dialect.name))
    result = connection.execute(text(sql), {k: v for k, v in _WIDE.items() if f":{k}" in query})
    columns = [str(k) for k in result.keys()]  # noqa: SIM118 - a Result's column names, not a dict
    if connection.dialect.name not in ("mysql", "mariadb") or result.cursor is None:
        return columns, set()
    return columns, {str(d[0]) for d in result.cursor.description or () if d[1] == _MYSQL_TIMESTAMP}


def newest_stamps(connection: Connection, run: Runner, query: str, columns: Sequence[str],
                  now: datetime) -> list[tuple[str, datetime]]:
    """Each stamp column's newest naive date-time no further ahead than ``HORIZON`` (a later
    one is a placeholder or a planned date, not a write time)."""
    q = connection.dialect.identifier_preparer.quote
    binds = {k: v for k, v in _WIDE.items() if f":{k}" in query}
    found = []
    for column in columns:
        name = q(column)
        top = run(connection, f"SELECT MAX(clinicsync_q.{name}) FROM ({query}) AS clinicsync_q", binds)
        if not top or not isinstance(top[0][0], datetime) or top[0][0].tzinfo is not None:
            continue  # a text, a date or an aware time: no naive stamp
        # A literal of our own making (the guard allows the connector's binds only).
        horizon = (now + HORIZON).strftime("%Y-%m-%d %H:%M:%S")
        rows = run(connection, f"SELECT MAX(clinicsync_q.{name}) FROM ({query}) AS clinicsync_q "
                               f"WHERE clinicsync_q.{name} <= '{horizon}'", binds)
        if rows and isinstance(rows[0][0], datetime):
            found.append((column, rows[0][0]))
    return found


def read_stamps(stamps: Sequence[tuple[str, datetime]], now: datetime, visit_zone: str | None,
                evidence: Evidence, clock: str = "the database's clock") -> None:
    """The newest stamp read both ways against ``clock``, which read ``now`` (naive UTC): the
    database's own, or an HL7 file's write time (hl7_clock.py)."""
    if not stamps:
        return
    column, newest = max(stamps, key=lambda s: s[1])
    as_utc = newest
    try:
        as_local = (newest.replace(tzinfo=zone(visit_zone)).astimezone(UTC).replace(tzinfo=None)
                    if visit_zone else None)
    except (TimeError, OverflowError):
        as_local = None
    ahead_utc = as_utc - now > FUTURE
    if as_local is None:
        if not ahead_utc and now - as_utc <= CLOSE:
            evidence.utc.append(f"the newest {column} is {_span(now - as_utc)} before {clock} (UTC)")
        return
    ahead_local = as_local - now > FUTURE
    if ahead_utc and ahead_local:
        return  # ahead either way: not write times (planned dates, test data)
    if ahead_local:
        evidence.utc.append(f"the newest {column} would lie {_span(as_local - now)} in the future read as "
                            f"local time in {visit_zone}, and is {_span(now - as_utc)} old read as UTC")
    elif ahead_utc:
        evidence.local.append(f"the newest {column} would lie {_span(as_utc - now)} in the future read as UTC, "
                              f"and is {_span(now - as_local)} old read as local time in {visit_zone}")
    elif as_utc != as_local:
        near_utc, near_local = now - as_utc <= CLOSE, now - as_local <= CLOSE
        if near_utc and not near_local:
            evidence.utc.append(f"the newest {column} is {_span(now - as_utc)} before {clock} read "
                                f"as UTC ({_span(now - as_local)} read as local time in {visit_zone})")
        elif near_local and not near_utc:
            evidence.local.append(f"the newest {column} is {_span(now - as_local)} before {clock} "
                                  f"read as local time in {visit_zone} ({_span(now - as_utc)} read as UTC)")


def start_parts(proposal: Proposal, columns: Sequence[str]) -> tuple[list[str], str | None]:
    """The query's columns the mapping reads the start from, and the format they are read with
    together: one column; a date and a time column (ISO); or ``concat`` parts with the mapping's
    first ``datetime_formats`` entry (FreeMED's date, hour and minute). ([], None) otherwise, or
    for a start read as ``unix_seconds`` (an instant: no convention to tell)."""
    mapping = proposal.mapping or {}
    spec = (mapping.get("fields") or {}).get("start")
    if not isinstance(spec, Mapping) or spec.get("type") == "unix_seconds":
        return [], None
    if isinstance(spec.get("from"), str):
        parts = [spec["from"]]
    elif isinstance(spec.get("date"), str) and isinstance(spec.get("time"), str):
        parts = [spec["date"], spec["time"]]
    elif isinstance(spec.get("concat"), list):
        parts = [p for p in spec["concat"] if isinstance(p, str)]
    else:
        return [], None
    formats = mapping.get("datetime_formats") or []
    fmt = formats[0] if len(parts) > 1 and formats and isinstance(formats[0], str) else None
    return (parts, fmt) if all(p in columns for p in parts) else ([], None)


# A date-time format that people read (day or month first, a month's name, a 12-hour clock),
# unlike ISO's year-first text, which a framework writing UTC may keep in a text column too.
_PEOPLES = re.compile(r"^%[dmbBe]|%[bBpI]")


def typed_format(proposal: Proposal) -> str | None:
    """The format the mapping reads a text start with, when it is one people read (not ISO):
    such text was typed or shown at the clinic's desk, so it is local wall-clock time."""
    formats = (proposal.mapping or {}).get("datetime_formats") or []
    first = formats[0] if formats and isinstance(formats[0], str) else None
    return first if first and _PEOPLES.search(first) else None


def day_and_clock(proposal: Proposal) -> tuple[str, str] | None:
    """The day and time-of-day columns a start is read from (``{date:, time:}``), if it is: a
    schedule kept as a calendar day beside a clock is written as the desk sees it. Whole minutes
    since midnight (``time_unit: minutes``) count too: they are a clock as well."""
    spec = ((proposal.mapping or {}).get("fields") or {}).get("start")
    if isinstance(spec, Mapping) and isinstance(spec.get("date"), str) and isinstance(spec.get("time"), str):
        return spec["date"], spec["time"]
    return None


def digit_unit(proposal: Proposal) -> str | None:
    """How the start's clock is written when it is a whole number (``time_unit`` hhmmss/hhmm)."""
    spec = ((proposal.mapping or {}).get("fields") or {}).get("start")
    unit = spec.get("time_unit") if isinstance(spec, Mapping) else None
    return unit if unit in DIGIT_CLOCKS else None


def visit_starts(connection: Connection, run: Runner, query: str, parts: Sequence[str],
                 fmt: str | None = None, digits: str | None = None) -> list[datetime]:
    """Up to ``SAMPLED_STARTS`` of the latest naive starts the query returns, its parts joined
    as the mapping joins them; a start kept as text is parsed as the mapping parses it (else a
    text start gave no hours to judge, and discover asked for the convention)."""
    q = connection.dialect.identifier_preparer.quote
    names = ", ".join(f"clinicsync_q.{q(p)}" for p in parts)
    binds = {k: v for k, v in _WIDE.items() if f":{k}" in query}
    rows = run(connection, first_rows(f"SELECT {names} FROM ({query}) AS clinicsync_q WHERE clinicsync_q."
                                      f"{q(parts[0])} IS NOT NULL ORDER BY "
                                      f"{', '.join(str(i + 1) for i in range(len(parts)))} DESC",
                                      SAMPLED_STARTS, connection.dialect.name), binds)
    starts = []
    for row in rows:
        if len(row) == 1 and isinstance(row[0], str):  # text a date-time (Tamanu's char(19)): its hours count too
            try:
                value = parse_datetime(row[0].strip(), (fmt,) if fmt else ())
            except TimeError:
                continue
        elif len(row) == 1:
            value = row[0]
        elif digits is not None:  # a YYYYMMDD day and its clock as whole numbers (digitdates.py)
            try:
                value = digit_clock(digits)(row[0], row[1])
            except TransformError:
                continue
        else:
            try:
                value = parse_datetime(" ".join(str(v).strip() for v in row if v is not None), (fmt,) if fmt else ())
            except TimeError:
                continue
        if isinstance(value, datetime) and value.tzinfo is None:
            starts.append(value)
    return starts


def read_hours(starts: Sequence[datetime], visit_zone: str | None, evidence: Evidence) -> None:
    """The visits' local start hours in both readings, judged as `check` judges them
    (sync/ingest/plausibility/hours.py: its night, its thresholds): clinics see patients by day, so
    a reading that puts some of them at night (22:00-05:59) is the wrong one when the other
    reading brings (nearly) all of them into the day — a naive-UTC database read as local
    time in Chicago has its 8:30 AM visits at 2:30 PM and its 4:30 PM ones at 10:30 PM. A
    reading with no morning visits is no proof (an afternoon clinic looks the same)."""
    if visit_zone is None or len(starts) < MIN_VISITS:
        return
    try:
        tz = zone(visit_zone)
        as_utc = [s.replace(tzinfo=UTC).astimezone(tz).hour for s in starts]
    except (TimeError, OverflowError):
        return
    as_local = [s.hour for s in starts]
    if len(set(as_local)) < MIN_HOURS:
        return  # one slot is no clinic day
    night_local, night_utc = _at_night(as_local), _at_night(as_utc)
    shown = (f"of {len(starts)} visit starts, {night_local} fall at night (22:00-05:59) read as local time in "
             f"{visit_zone}, {night_utc} read as UTC")
    if _misread(night_local, night_utc, len(starts)):
        evidence.utc.append(shown)
    elif _misread(night_utc, night_local, len(starts)):
        evidence.local.append(shown)


def _at_night(hours: Sequence[int]) -> int:
    return sum(hour in NIGHT for hour in hours)


def _misread(night: int, other_night: int, visits: int) -> bool:
    """Night visits a real night clinic would not have (3 or more, 3 % or more), that the
    other reading leaves in the day (at most 1 % of the visits, a quarter of these)."""
    return (night >= MIN_NIGHT and night >= MIN_NIGHT_SHARE * visits and other_night <= visits // 100
            and other_night * 4 <= night)


def _span(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h"


@dataclass(frozen=True)
class Clock:
    stored_times: str  # local | utc
    why: str
    keyed: bool = False  # written into the connector even when local (given, or named by the flag)


def given_convention(value: str | None) -> str | None:
    """The admin's ``--stored-times``, checked: utc, local or none (ValueError naming it)."""
    if value is not None and value not in STORED_TIMES:
        raise ValueError(f"--stored-times: {value!r} is neither utc nor local")
    return value


def by_evidence(evidence: Evidence, given: str | None, unclear: str, utc: str, local: str) -> Clock | None:
    """The convention given, or the one the evidence shows (``ClockUnclear`` naming the flag when
    it shows both); None when there is none. ``unclear``, ``utc``, ``local``: how the reasons are
    introduced for this kind of source (a database, a sender, an export)."""
    if given:
        return Clock(given, "given with --stored-times", keyed=True)
    if evidence.utc and evidence.local:
        raise ClockUnclear(f"{unclear}: {'; '.join(evidence.utc)}, yet {'; '.join(evidence.local)}. Give {FLAG}")
    if evidence.utc:
        return Clock("utc", f"{utc}: " + "; ".join(evidence.utc))
    if evidence.local:
        return Clock("local", f"{local}: " + "; ".join(evidence.local))
    return None


def decide(evidence: Evidence, *, given: str | None, server: str | None, zone_given: bool) -> Clock:
    """The convention the evidence shows, or ``ClockUnclear`` naming the flag."""
    shown = by_evidence(evidence, given, "cannot tell whether the database keeps its date-times in UTC or in local "
                        "time", "the database keeps UTC", "the database keeps local time")
    if shown is not None:
        return shown
    if server is not None and "/" in server and not is_utc_name(server):
        return Clock("local", f"the database server keeps {server}: its wall-clock times are read as local")
    if zone_given:
        return Clock("local", "--timezone names the zone of the wall-clock times, and nothing in the database showed "
                              "UTC storage (if it keeps UTC, give --stored-times utc)", keyed=True)
    where = f"its server's zone is {server}" if server else "its server names no zone"
    raise ClockUnclear(
        f"cannot tell whether the database keeps its date-times in UTC or in the clinic's local time ({where}, "
        "and no recent created/updated stamp or column default says which). Give " + FLAG
        + " (utc: Odoo, Django, Rails and most web frameworks; local: most practice systems)")


def stamp_columns(proposal: Proposal, columns: Sequence[str]) -> list[str]:
    """The query's output columns that look like created/updated stamps: the cursor column and
    any named so, not the columns the mapping reads the visit's own times from."""
    fields = (proposal.mapping or {}).get("fields") or {}
    visit_times: set[str] = set()
    for target in ("start", "end"):
        spec = fields.get(target)
        if isinstance(spec, Mapping):
            for key in ("from", "date", "time", "column"):
                value = spec.get(key)
                visit_times.update(value if isinstance(value, list) else [value] if value else [])
    cursor = proposal.connector.get("cursor_column")
    named = [c for c in columns if c not in visit_times and c != cursor and STAMP_NAMES.search(c)]
    first = [cursor] if isinstance(cursor, str) and cursor in columns else []
    return first + named[:MAX_STAMP_COLUMNS - 1]  # each costs two reads of the query


def settle_clock(connection: Connection, run: Runner, proposal: Proposal, given_zone: str | None) -> None:
    """Write ``stored_times`` into the proposal's connector (``utc`` only when it is), with
    the reason, or raise ``ClockUnclear``. A known product's preset says its own convention."""
    options = current_options()
    connector = proposal.connector
    server = server_setting(connection, run)
    if server is not None and is_utc_name(server) and "timezone" not in connector:
        visits = f"clinic.timezone ({options.clinic_zone})" if options.clinic_zone else "clinic.timezone"
        proposal.notes.append(f"the database server's zone is {server}: not taken as the visits' zone; they are in "
                              f"{visits} unless a row gives its own (or give --timezone)")
    if is_utc_name(given_zone):
        proposal.notes.append(f"--timezone {given_zone} makes UTC every visit's zone (messages and quiet hours in "
                              "UTC): if the database keeps UTC, give --stored-times utc and the clinic's zone instead")
    preset_name = connector.get("query_preset") or (proposal.product if proposal.product else None)
    if preset_name and not options.stored_times:
        try:
            known = load_query_preset(str(preset_name)).stored_times
        except ValueError:
            known = None
        if known is not None:
            write_clock(proposal, Clock(known, f"known product {proposal.product or preset_name}: it keeps "
                                          + ("UTC" if known == "utc" else "local wall-clock time")))
            return
    evidence = Evidence()
    query = connector.get("query")
    visit_zone = connector.get("timezone") or given_zone or options.clinic_zone
    zone_name = visit_zone if isinstance(visit_zone, str) else None
    server_clock: set[str] = set()
    zoned: str | None = None  # the start column, when its values carry their own offset
    said_by_stamps = Evidence()  # what the column defaults and write stamps said (the hours aside)
    if isinstance(query, str) and not options.stored_times:
        read_defaults(connection, run, query, server, evidence)
        starts: list[datetime] = []
        parts: list[str] = []
        try:
            now = database_now(connection, run)
            columns, server_clock = _query_shape(connection, query)
            stamps = newest_stamps(connection, run, query,
                                   [c for c in stamp_columns(proposal, columns) if c not in server_clock], now)
            parts, fmt = start_parts(proposal, columns)
            if parts:
                starts = visit_starts(connection, run, query, parts, fmt, digit_unit(proposal))
                zoned = parts[0] if len(parts) == 1 and zoned_values(connection, run, query, parts[0]) else None
        except (SQLAlchemyError, StatementRefused):
            stamps, now = [], datetime.now(UTC).replace(tzinfo=None)
        read_stamps(stamps, now, zone_name, evidence)
        said_by_stamps = Evidence(list(evidence.utc), list(evidence.local))
        read_hours(starts, zone_name, evidence)
        typed = typed_format(proposal) if parts else None
        if typed:
            evidence.local.append(f"the visits' starts are text written as people read them ({typed!r}): what "
                                  "was typed is the clinic's wall clock")
        split = day_and_clock(proposal) if parts and digit_unit(proposal) is None else None
        if split:  # (a clock kept as digits is a program's, gmdate('His') as often as date('His'): no sign)
            evidence.local.append(f"the visits' starts are a day ({split[0]!r}) and a time of day ({split[1]!r}) "
                                  "kept apart, as a diary keeps them: the clinic's wall clock (an instant kept in "
                                  "UTC is one date-time)")
    instants = _instants_only(proposal, server_clock, server, evidence, options.stored_times)
    if instants is None and zoned:
        instants = _zoned_clock(evidence, options.stored_times, zoned)
    named = utc_named_start(proposal) if instants is None and not options.stored_times else None
    if named is not None:
        instants = _named_clock(proposal, named, evidence, said_by_stamps)
    write_clock(proposal, instants or decide(evidence, given=options.stored_times, server=server,
                                        zone_given=bool(given_zone)))
    try:  # a cursor that would stall on stamps in the future (once the convention is known); a
        # TIMESTAMP cursor is the server's own clock, whatever stored_times says of the visits
        note = None if proposal.connector.get("cursor_column") in server_clock else future_cursor_note(
            connection, run, proposal, database_now(connection, run), zone_name)
    except (SQLAlchemyError, StatementRefused, TimeError):
        note = None
    if note is not None:
        proposal.notes.append(note)


def zoned_values(connection: Connection, run: Runner, query: str, column: str) -> bool:
    """Every sampled start value carries its own offset: a PostgreSQL ``timestamptz`` or SQL
    Server ``DATETIMEOFFSET`` (the driver hands back an aware date-time), or text written with
    an offset (``2026-03-02T09:00:00+01:00``). Such a value is an instant: how the database
    writes naive date-times says nothing about it, so there is nothing to ask."""
    q = connection.dialect.identifier_preparer.quote
    binds = {k: v for k, v in _WIDE.items() if f":{k}" in query}
    rows = run(connection, first_rows(f"SELECT clinicsync_q.{q(column)} FROM ({query}) AS clinicsync_q "
                                      f"WHERE clinicsync_q.{q(column)} IS NOT NULL", ZONED_SAMPLE,
                                      connection.dialect.name), binds)
    values = [row[0] for row in rows]
    return bool(values) and all(_has_offset(value) for value in values)


def _has_offset(value: Any) -> bool:
    if isinstance(value, datetime):
        return value.tzinfo is not None
    if isinstance(value, str) and _OFFSET.search(value.strip()):
        try:
            return parse_datetime(value.strip(), ()).tzinfo is not None
        except TimeError:
            return False
    return False


def _zoned_clock(evidence: Evidence, given: str | None, column: str) -> Clock:
    """The convention for a source whose starts carry their offset: what the evidence shows of
    its other (naive) date-times if it shows one clearly, else the default, said as not needed."""
    try:
        shown = by_evidence(evidence, given, "", "the database keeps UTC", "the database keeps local time")
    except ClockUnclear:  # its naive stamps disagree; the visits' times do not depend on them
        shown = None
    return shown or Clock("local", f"not needed for the visits' times: every sampled {column} carries its own "
                                   "offset (a column with a zone, such as timestamptz or DATETIMEOFFSET), so it is "
                                   "read as the instant it is")


def _named_clock(proposal: Proposal, column: str, evidence: Evidence, stamps: Evidence) -> Clock:
    """UTC for a start column named so (clock_names.py), unless the start hours read as UTC
    put visits at night that local time keeps in the day: then the name is wrong, and discover
    asks. Write stamps that keep local time cost ``booked_at`` (left out, with the reason)."""
    hours_local = [e for e in evidence.local if e not in stamps.local]
    if hours_local:
        raise ClockUnclear(f"'{column}' says UTC in its name, yet {'; '.join(hours_local)}. Give {FLAG}")
    if stamps.local:
        drop_local_booked_at(proposal, column)
    return Clock("utc", named_reason(column, stamps.local))


def _instants_only(proposal: Proposal, server_clock: set[str], server: str | None, evidence: Evidence,
                   given: str | None) -> Clock | None:
    """NOSH: the visits are Unix seconds (instants) and the only stamps MySQL TIMESTAMPs, which
    come back in the server's zone. Nothing to ask: the convention is the server's, and it
    reads the stamps only. None when anything else decides."""
    fields = (proposal.mapping or {}).get("fields") or {}
    spec, end = fields.get("start"), fields.get("end")
    if given or evidence.utc or evidence.local or not isinstance(spec, Mapping) or spec.get("type") != "unix_seconds":
        return None
    if (not server_clock or server is None) and proposal.connector.get("cursor_column") is None \
            and (end is None or (isinstance(end, Mapping) and end.get("type") == "unix_seconds")):
        return Clock("local", "not needed: the visits' times are Unix seconds (instants: no convention) and the "
                              "read has no cursor and no other date-time the convention would change")
    if not server_clock or server is None:
        return None
    why = (f"the visits' times are Unix seconds (instants: no convention); the change stamps "
           f"({', '.join(sorted(server_clock))}) are TIMESTAMP columns, which come back in the server's zone, {server}")
    return Clock("utc" if is_utc_name(server) else "local", why)


def write_clock(proposal: Proposal, clock: Clock) -> None:
    """The convention into the proposal: the connector's key with its reason when it is utc or
    was given, else a note that the default stands (and why)."""
    if clock.stored_times == "utc" or clock.keyed:
        proposal.connector["stored_times"] = clock.stored_times
        proposal.connector_notes["stored_times"] = clock.why
    else:
        proposal.notes.append(f"stored_times: local (the default): {clock.why}")
