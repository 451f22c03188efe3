"""Events kept as iCalendar text one calendar a table: a groupware server that makes a table of
its own for each user's calendar (SOGo: ``sogo`` + the login's first letters + a random suffix,
all of one shape), and an index table whose rows name each folder's table (a URL or path ending
with the table's name) beside the login that owns it, a key of the users table.

Why: icalfind.py picks one table, the one with the most events: one doctor's diary was read,
every other doctor's visits never came in. Each such table is one calendar: read together (one
``UNION ALL``, the table's name kept as ``cs_folder`` so an object's file name, unique only
within its calendar, makes the visit's id with it), the owner of each known from the index row
that names it (written into the read as a literal: a folder's owner does not change), the
doctor that owner's users row (name, email).

Found by values, never by names: the tables of the found one's exact columns whose column opens
as a calendar (an address book's tables have the same shape and hold vCards; an empty table has
nothing to tell and is left out); the index column whose values end with each of their names;
the owner column of those rows whose values are all keys of one table that holds emails.
A calendar made after discover ran is not read until discover runs again (said in a note):
rejected, reading the index at every sync (the connector's query is fixed SQL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import Schema, Table
from clinicsync.sync.discover.icalfind import IcalTable, Rows, calendar_rows
from clinicsync.sync.discover.kinds import TEXT, name_columns

_PLAIN = re.compile(r"[A-Za-z0-9_]{1,63}")  # a table name safe inside '…' and LIKE
_KEY = re.compile(r"[A-Za-z0-9._@+-]{1,128}")  # a login safe inside '…' (no quote, no backslash)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SAMPLE = 50  # users rows read for their name and email columns
SHARE = 0.8  # of those rows a column's values must say it (an email, a name with a space)


@dataclass(frozen=True)
class Folders:
    """The calendars' tables, each one's owner, and the users row that names the owner."""

    owners: dict[str, str]  # table -> its owner's key (the index row's value)
    index: str  # the table naming each folder
    location: str  # its column ending with the folder's table name
    owner: str  # its column naming the owner
    users: Table
    key: str  # the users table's column the owners are
    name: str | None
    email: str | None

    def source(self, columns: list[str], quote: Callable[[str], str], dialect: str) -> str:
        """The one read of every calendar's table: each row with its table's name, its owner, and
        its id made of the two (``cs_key``)."""
        listed = ", ".join(quote(c) for c in columns)
        key = next(iter(columns))
        branches = []
        for table, owner in self.owners.items():
            folder = f"'{table}'"
            branches.append(
                f"SELECT {folder} AS cs_folder, '{owner}' AS cs_owner, "
                f"{_joined(folder, quote(key), dialect)} AS cs_key, {listed} FROM {quote(table)}"
            )
        return "\n  UNION ALL ".join(branches)

    def patients_only(self, column: str, quote: Callable[[str], str], dialect: str) -> str | None:
        """The condition that leaves out an event every attendee of which is a user (a staff
        meeting: the server copies it into each invited colleague's calendar, each copy a row);
        an event with no attendee, or one whose attendee is no user (a patient, by email or
        phone), is kept. PostgreSQL only (its regular expressions list an object's lines; folded
        lines are unfolded first); None elsewhere."""
        if dialect != "postgresql" or self.email is None:
            return None
        text = f"replace(replace(a.{quote(column)}, E'\\r\\n ', ''), E'\\n ', '')"
        users = (
            f"SELECT 1 FROM {quote(self.users.name)} AS cs_m WHERE cs_m.{quote(self.email)} <> '' AND "
            f"lower(cs_l.line[1]) LIKE '%:mailto:' || lower(cs_m.{quote(self.email)})"
        )
        return (
            f"({text} !~* E'\\nATTENDEE' OR EXISTS (SELECT 1 FROM regexp_matches({text}, "
            f"E'\\nATTENDEE([^\\r\\n]*)', 'gi') AS cs_l(line) WHERE NOT EXISTS ({users})))"
        )

    def why(self) -> str:
        held = ", ".join(c for c in (self.name, self.email) if c)
        return (
            f"each calendar is a table of its own ({len(self.owners)}, one shape); {self.index}.{self.location!r} "
            f"names each one's table, {self.index}.{self.owner!r} its owner, a key of {self.users.name!r} "
            f"({held}): the owner of the calendar a visit is in is its doctor"
        )


def _joined(folder: str, key: str, dialect: str) -> str:
    if dialect in ("mysql", "mariadb"):
        return f"CONCAT({folder}, '/', {key})"
    return f"({folder} + '/' + {key})" if dialect == "mssql" else f"({folder} || '/' || {key})"


def find(schema: Schema, found: IcalTable, rows: Rows, quote: Callable[[str], str], dialect: str) -> Folders | None:
    """The calendars' tables of ``found``'s shape with their owners (module docstring), or None."""
    shape = found.table.columns
    alike = [t.name for t in schema.tables.values() if t.columns == shape and _PLAIN.fullmatch(t.name)]
    calendars = [n for n in alike if n == found.table.name or _calendars(rows, quote, n, found.column, dialect)]
    if len(calendars) < 2:
        return None
    for table in schema.tables.values():
        if table.name in alike:
            continue
        texts = [c for c, t in table.columns.items() if TEXT.search(t or "")]
        for location in texts:
            named = _named(rows, quote, table, texts, location, calendars)
            if named is None:
                continue
            for at, owner in enumerate(texts):
                values = {n: str(r[at]) for n, r in named.items() if r[at] is not None}
                if owner == location or len(values) < len(calendars) or not all(map(_KEY.fullmatch, values.values())):
                    continue
                users = _users(schema, rows, quote, set(values.values()), {table.name, *alike}, dialect)
                if users is not None:
                    return Folders(values, table.name, location, owner, *users)
    return None


def _calendars(rows: Rows, quote: Callable[[str], str], table: str, column: str, dialect: str) -> bool:
    """Whether ``table``'s rows hold calendars in ``column`` (its first one does)."""
    held = rows(
        first_rows(
            f"SELECT {quote(column)} FROM {quote(table)} WHERE {calendar_rows(quote(column), dialect)}", 1, dialect
        )
    )
    return bool(held) and "VCALENDAR" in str(held[0][0])[:200].upper()


def _named(
    rows: Rows, quote: Callable[[str], str], table: Table, texts: list[str], location: str, calendars: list[str]
) -> dict[str, tuple[object, ...]] | None:
    """The index row naming each calendar's table (its ``location`` ends with ``/name`` or is
    the name), by table; None unless every calendar has exactly one."""
    listed = ", ".join(quote(c) for c in texts)
    at = texts.index(location)
    out = {}
    for name in calendars:
        got = [
            r
            for r in rows(f"SELECT {listed} FROM {quote(table.name)} WHERE {quote(location)} LIKE '%{name}'")
            if str(r[at]) == name or str(r[at]).endswith("/" + name)
        ]
        if len(got) != 1:
            return None
        out[name] = got[0]
    return out


def _users(
    schema: Schema, rows: Rows, quote: Callable[[str], str], owners: set[str], passed: set[str], dialect: str
) -> tuple[Table, str, str | None, str | None] | None:
    """(the users table, the column the owners are keys of, its name and email columns) for the
    one table whose key or unique column holds every owner and that keeps emails; None else."""
    literals = ", ".join(f"'{o}'" for o in sorted(owners))
    for table in schema.tables.values():
        if table.name in passed:
            continue
        keys = [c for c in dict.fromkeys([*table.primary_key, *table.unique]) if TEXT.search(table.columns[c] or "")]
        texts = [c for c, t in table.columns.items() if TEXT.search(t or "")]
        for key in keys:
            held = rows(f"SELECT COUNT(*) FROM {quote(table.name)} WHERE {quote(key)} IN ({literals})")
            if not held or int(held[0][0]) < len(owners):
                continue
            sample = rows(
                first_rows(f"SELECT {', '.join(quote(c) for c in texts)} FROM {quote(table.name)}", SAMPLE, dialect)
            )
            email = _column(texts, sample, lambda v: bool(_EMAIL.match(v)))
            if email is None:
                continue
            spaced = _column(texts, sample, lambda v: " " in v.strip() and "@" not in v, key)
            named = next((c for c in name_columns(table)[0] if c == spaced), None) or spaced
            return table, key, named, email
    return None


def _column(
    columns: list[str], sample: list[tuple[object, ...]], says: Callable[[str], bool], passed: str | None = None
) -> str | None:
    """The first of ``columns`` (the ``sample``'s) whose values mostly say it (``says``), ``passed`` aside."""
    for at, column in enumerate(columns):
        if column == passed:
            continue
        values = [str(r[at]) for r in sample if r[at] is not None and str(r[at]).strip()]
        if values and sum(map(says, values)) >= SHARE * len(values):
            return column
    return None
