"""The doctor of events kept as iCalendar text: the owner of the calendar each event is in.

A CalDAV server names a calendar's owner by its principal's path (WebDAV ACL, RFC 3744:
``principals/users/anna``, ``principals/anna``) in a column of the calendar's row, and keeps the
principal's display name and email in a row of its own. Followed by values, never by names:

1. the calendar: a whole-number column of the events' table (not its key) whose sampled values
   are all found in a column of another table that has a principal column (most of its sampled
   values begin with ``principals/``); that column is the one of the same name (a calendar's
   instances keyed by ``calendarid``), or the table's key when the table's name holds the
   column's stem (``calendarid`` -> ``calendars``). A calendar shared with others has one row per
   sharer: its first row (the smallest key) is the owner's, since a share is added after the
   calendar is made; the join reads that row only, so no event is read twice.
2. the principal: a row of another table whose column holds the same path; its display name
   (a column named for a name) and email (a column whose values are emails) are the doctor's.

The doctor's id is the principal's path (it names one person for good); the event's ORGANIZER is
each field's fallback (an event whose calendar has no owner row). Rejected: the calendar's own
display name as the doctor's (``Personal``, ``Work``: it names the diary, not who keeps it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clinicsync.connectors import ical_text
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import Schema, Table
from clinicsync.sync.discover.icalfind import IcalTable, whole

Rows = Callable[[str], list[tuple[Any, ...]]]
SHARE = 0.8
PROBE_ROWS = 30
_PRINCIPAL = re.compile(r"^principals/\S+", re.I)
_WHOLE = re.compile(r"int|number|numeric|decimal", re.I)
_HOLDS_TEXT = re.compile(r"char|text|string|binary", re.I)  # compared with text: no blob, no bytea
_NAME = re.compile(r"(^|_)(display_?name|full_?name|name|cn)$", re.I)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STEM = re.compile(r"_?id$", re.I)


@dataclass(frozen=True)
class Owner:
    """How a visit's row reaches its calendar's owner, and what it reads there."""

    calendar: Table  # the table of the calendar (or its instances)
    link: str  # the events' column naming the calendar
    key: str  # the calendar table's column it names
    path: str  # the calendar table's column holding the owner's principal path
    first_row: bool  # several rows a calendar: read the first only
    principal: Table | None  # the principal's own row
    principal_path: str | None
    principal_prefix: str  # what the path adds before the principal's column ('' for the whole path)
    name: str | None
    email: str | None
    kind: tuple[str, int] | None = None  # the link's type column and the value that names this table
    said: str = ""  # the reason, where the owner was found another way (icalusers.py)

    def why(self) -> str:
        if self.said:
            return self.said
        held = f"{self.principal.name!r} ({', '.join(c for c in (self.name, self.email) if c)})" \
            if self.principal is not None else "no table of principals (the organizer's name and email instead)"
        return (f"the calendar's owner: {self.link!r} names a row of {self.calendar.name!r} (its {self.key!r}"
                + (", its first row: a share adds rows later" if self.first_row else "")
                + f"), whose {self.path!r} is the owner's principal; its display name and email from {held}")


def follow(schema: Schema, found: IcalTable, rows: Rows, quote: Callable[[str], str],
           dialect: str) -> Owner | None:
    """The way from an event to its calendar's owner (module docstring), or None."""
    events = found.table
    links = [c for c, t in events.columns.items() if _WHOLE.search(t or "") and c not in events.primary_key
             and c not in (found.first, found.last, found.changed)]
    owners = _principal_tables(schema, events.name, rows, quote, dialect)
    for rank in range(3):  # the same name, then a key its stem names, then any key the values hold
        for link in links:
            values = sorted({v for r in found.rows if (v := whole(r.get(link))) is not None})
            if not values:
                continue
            for calendar, path in owners:
                key = _key(calendar, link, rank)
                if key is None:
                    continue
                listed = ", ".join(str(v) for v in values)
                count = rows(f"SELECT COUNT(DISTINCT {quote(key)}) FROM {quote(calendar.name)} "
                             f"WHERE {quote(key)} IN ({listed})")
                if not count or int(count[0][0] or 0) != len(values):
                    continue
                first = key not in calendar.primary_key and key not in calendar.unique
                principal = _principal(schema, calendar, path, rows, quote, dialect)
                table, column, prefix, name, email = principal or (None, None, "", None, None)
                return Owner(calendar, link, key, path, first and calendar.key is not None, table, column, prefix,
                             name, email, _kind(events, found, link))
    return None


def _kind(events: Table, found: IcalTable, link: str) -> tuple[str, int] | None:
    """A link that names rows of more than one table says which in a type column beside it
    (``calendartype`` beside ``calendarid``: a calendar's events, or a subscribed feed's copies):
    the value most sampled rows carry is the calendars' (the diary is most of the events)."""
    stem = _STEM.sub("", link).lower()
    column = next((c for c, t in events.columns.items() if _WHOLE.search(t or "")
                   and c.lower().replace("_", "") == f"{stem}type"), None) if stem else None
    if column is None:
        return None
    values = [v for r in found.rows if (v := whole(r.get(column))) is not None]
    return (column, max(set(values), key=values.count)) if values else None


def _key(calendar: Table, link: str, rank: int) -> str | None:
    """The calendar table's column ``link`` may name, by rank: 0 the column of the same name,
    1 the key of a table its stem names (``calendarid`` -> ``calendars``, ``diary_id`` ->
    ``diaries``), 2 the table's key."""
    if rank == 0:
        return next((c for c in calendar.columns if c.lower() == link.lower()), None)
    if calendar.key is None or calendar.key.lower() == link.lower():
        return None
    if rank == 2:
        return calendar.key
    stem = _STEM.sub("", link).lower()
    name = calendar.name.lower()
    single = name[:-3] + "y" if name.endswith("ies") else name.removesuffix("s")
    return calendar.key if stem and (stem in name or stem in single) else None


def _principal_tables(schema: Schema, events: str, rows: Rows, quote: Callable[[str], str],
                      dialect: str) -> list[tuple[Table, str]]:
    """Each table (not the events') with a column of principal paths, and that column."""
    out = []
    for table in schema.tables.values():
        if table.name == events:
            continue
        for column, kind in table.columns.items():
            if not _HOLDS_TEXT.search(kind or ""):
                continue
            if _paths(rows(first_rows(f"SELECT {quote(column)} FROM {quote(table.name)} "
                                      f"WHERE {quote(column)} IS NOT NULL", PROBE_ROWS, dialect))):
                out.append((table, column))
                break
    return out


def _paths(sampled: Sequence[tuple[Any, ...]]) -> list[str]:
    values = [t for r in sampled if (t := ical_text.as_text(r[0])) is not None and t.strip()]
    paths = [v for v in values if _PRINCIPAL.match(v)]
    return paths if paths and len(paths) >= SHARE * len(values) else []


def _principal(schema: Schema, calendar: Table, path: str, rows: Rows, quote: Callable[[str], str],
               dialect: str) -> tuple[Table, str, str, str | None, str | None] | None:
    """The table whose rows are the principals the calendars name: (table, its column naming the
    principal, the prefix the path adds to it, name column, email column). The column is the
    table's key or unique (one row a person): the whole path (``principals/anna``), else the
    path's last segment under one shared prefix (``principals/users/`` + a user's id)."""
    named = _paths(rows(first_rows(f"SELECT {quote(path)} FROM {quote(calendar.name)} WHERE {quote(path)} IS NOT NULL",
                                   PROBE_ROWS, dialect)))
    if not named:
        return None
    prefixes = {p.rsplit("/", 1)[0] + "/" for p in named}
    tries = [("", sorted(set(named)))]
    if len(prefixes) == 1:
        prefix = prefixes.pop()
        tries.append((prefix, sorted({p.removeprefix(prefix) for p in named})))
    for prefix, values in tries:
        listed = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
        for table in schema.tables.values():
            if table.name == calendar.name:
                continue
            for column, kind in table.columns.items():
                one = table.primary_key == [column] or column in table.unique
                if not one or not _HOLDS_TEXT.search(kind or ""):
                    continue
                hit = rows(f"SELECT COUNT(*) FROM {quote(table.name)} WHERE {quote(column)} IN ({listed})")
                if hit and int(hit[0][0] or 0):
                    return (table, column, prefix, *person_columns(table, column, rows, quote, dialect))
    return None


def person_columns(table: Table, path: str, rows: Rows, quote: Callable[[str], str],
                    dialect: str) -> tuple[str | None, str | None]:
    """The principal row's name column (named for a name) and email column (its values emails)."""
    texts = [c for c, k in table.columns.items() if c != path and _HOLDS_TEXT.search(k or "")]
    if not texts:
        return None, None
    head = ", ".join(quote(c) for c in texts)
    sampled = rows(first_rows(f"SELECT {head} FROM {quote(table.name)}", PROBE_ROWS, dialect))
    email = None
    for at, column in enumerate(texts):
        values = [t for r in sampled if (t := ical_text.as_text(r[at])) is not None and t.strip()]
        if values and sum(bool(_EMAIL.match(v.strip())) for v in values) >= SHARE * len(values):
            email = column
            break
    name = next((c for c in texts if _NAME.search(c) and c != email), None)
    return name, email

