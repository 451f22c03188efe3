"""The proposal for visits kept as iCalendar text (icalfind.py found the table, icalowner.py the
way to each calendar's owner): the connector reads the column with ``ical_columns``
(connectors/ical_text.py), the mapping names the event's fields inside it.

- The visit's id is the row's key (a moved event keeps its row), an occurrence of a recurring
  series its ``occurrence_id`` (the UID and the occurrence's original start: ical_text.py); its
  start, end and zone are the event's (a TZID's zone is the visit's); its status the event's
  STATUS, RFC 5545's three words for an event mapped (CONFIRMED, TENTATIVE, CANCELLED); its place
  the LOCATION. The SUMMARY is left out: a diary's title is often the patient's name, never a
  visit type to show in messages.
- The patient is the event's attendee who is not its organizer (ical_text.py), known by email,
  else by phone.
- The doctor is the calendar's owner (icalowner.py), the ORGANIZER where the calendar names no one.
- The read: VEVENT rows only where a column names the component; no scheduling message (an
  inbox's invitation kept in the same column: icalfind.py); rows a trash bin holds (a
  deletion flag or a Unix-second ``deleted_at``, the event's or its calendar's) left out; only the
  calendars' rows where a type column says what the link names (icalowner.py); the window on the first and
  last occurrence columns (Unix seconds: the binds are UTC, written as seconds in the database's
  own SQL, so the column's index serves); a snapshot each run (a change stamp in Unix seconds is
  no date-time the incremental cursor can re-read by time), the change stamp read as
  ``source_updated_at`` so an older copy never overwrites a newer one.
- The clock needs no question: each event says its own (a zone, a Z) or is the clinic's wall
  clock (a floating time)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from clinicsync.common.soft_delete import meaning
from clinicsync.sync.discover import softdelete
from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.icalfind import SCHEDULING, IcalTable, calendar_rows
from clinicsync.sync.discover.icalfolders import Folders
from clinicsync.sync.discover.icalowner import Owner
from clinicsync.sync.discover.proposal import Guess, Proposal, StatusWord
from clinicsync.sync.discover.sql_reading import visits_zone

STATUSES = {"CONFIRMED": "booked", "TENTATIVE": "pending", "CANCELLED": "cancelled"}
CLOCK_NOTE = ("stored_times: local (the default): not asked: each event carries its own clock (a TZID's zone, a "
              "trailing Z for UTC) or is the clinic's wall clock (a floating time)")


def seconds(bind: str, dialect: str) -> str:
    """A naive UTC date-time bind as Unix seconds, in the database's own SQL."""
    if dialect in ("mysql", "mariadb"):
        return f"TIMESTAMPDIFF(SECOND, TIMESTAMP '1970-01-01 00\\:00\\:00', {bind})"
    if dialect == "sqlite":
        return f"CAST(strftime('%s', {bind}) AS INTEGER)"
    if dialect == "mssql":
        return f"DATEDIFF_BIG(SECOND, '1970-01-01', {bind})"
    return f"CAST(EXTRACT(EPOCH FROM CAST({bind} AS TIMESTAMP)) AS BIGINT)"


def text_of(expression: str, kind: str | None, dialect: str) -> str:
    """A binary column holding text (sabre/dav's VARBINARY principal paths and emails) read as
    text: the connector makes bytes hex (a binary id), which no path or email is."""
    if not re.search(r"binary|blob|bytea", kind or "", re.I):
        return expression
    if dialect in ("mysql", "mariadb"):
        return f"CONVERT({expression} USING utf8mb4)"
    if dialect == "postgresql":
        return f"convert_from({expression}, 'UTF8')"
    return f"CAST({expression} AS TEXT)" if dialect == "sqlite" else expression


def _standing(table: Table, alias: str, quote: Callable[[str], str], dialect: str) -> str | None:
    """The condition that keeps ``table``'s rows not deleted (softdelete.py's flags), or a
    deletion stamp kept as Unix seconds (a trash bin's ``deleted_at`` INTEGER): NULL is kept."""
    found = softdelete.flag(table, dialect)
    if found is not None:
        return softdelete.kept(found, alias, quote(found.column))
    names = list(table.columns)
    stamp = next((c for c, k in table.columns.items()
                  if meaning(c, names) == "gone_at" and re.search(r"int|number|numeric", k or "", re.I)), None)
    return f"{alias}.{quote(stamp)} IS NULL" if stamp is not None else None


def _prefixed(prefix: str, column: str, dialect: str) -> str:
    """``prefix`` written before ``column``'s text (the principal's path made from a user's id)."""
    if not prefix:
        return column
    literal = "'" + prefix.replace("'", "''") + "'"
    if dialect in ("mysql", "mariadb"):
        return f"CONCAT({literal}, {column})"
    return f"({literal} + {column})" if dialect == "mssql" else f"({literal} || {column})"


def proposal(connection: Connection, found: IcalTable, owner: Owner | None, name: str, url: str,
             timezone: str | None, folders: Folders | None = None) -> Proposal:
    """The connector and mapping (module docstring); ``folders``: every calendar a table of its
    own (icalfolders.py), read together, each one's owner the doctor."""
    quote: Callable[[str], str] = connection.dialect.identifier_preparer.quote
    dialect = connection.dialect.name
    table, column = found.table, found.column
    key = table.key or next(iter(table.unique), None)  # a composite key (owner, path): its one-column unique id
    source = quote(table.name)
    if folders is not None:  # one read of every calendar's table, each row's id its table's and its own
        source = f"(\n  {folders.source(list(table.columns), quote, dialect)}\n)"
        key = "cs_key"
    select = [f"a.{quote(c)}" for c in dict.fromkeys([key or column, column, *(c for c in (found.changed,) if c)])]
    joins: list[str] = []
    if folders is not None:
        joins.append(f"LEFT JOIN {quote(folders.users.name)} AS p ON p.{quote(folders.key)} = a.cs_owner")
        select.append("a.cs_owner AS owner_principal")
        kinds = folders.users.columns
        if folders.name:
            select.append(text_of(f"p.{quote(folders.name)}", kinds.get(folders.name), dialect) + " AS owner_name")
        if folders.email:
            select.append(text_of(f"p.{quote(folders.email)}", kinds.get(folders.email), dialect) + " AS owner_email")
    if owner is not None:
        on = f"o.{quote(owner.key)} = a.{quote(owner.link)}"
        if owner.first_row and owner.calendar.key is not None:
            ckey = quote(owner.calendar.key)
            on += (f" AND o.{ckey} = (SELECT MIN(o2.{ckey}) FROM {quote(owner.calendar.name)} AS o2 "
                   f"WHERE o2.{quote(owner.key)} = a.{quote(owner.link)})")
        joins.append(f"LEFT JOIN {quote(owner.calendar.name)} AS o ON {on}")
        select.append(text_of(f"o.{quote(owner.path)}", owner.calendar.columns.get(owner.path), dialect)
                      + " AS owner_principal")
        if owner.principal is not None and owner.principal_path is not None:
            joins.append(f"LEFT JOIN {quote(owner.principal.name)} AS p ON "
                         f"{_prefixed(owner.principal_prefix, f'p.{quote(owner.principal_path)}', dialect)} = "
                         f"o.{quote(owner.path)}")
            kinds = owner.principal.columns
            if owner.name:
                select.append(text_of(f"p.{quote(owner.name)}", kinds.get(owner.name), dialect) + " AS owner_name")
            if owner.email:
                select.append(text_of(f"p.{quote(owner.email)}", kinds.get(owner.email), dialect) + " AS owner_email")
    where = [c for c in (_standing(table, "a", quote, dialect),
                         _standing(owner.calendar, "o", quote, dialect) if owner is not None else None) if c]
    if owner is not None and owner.kind is not None:
        where.append(f"a.{quote(owner.kind[0])} = {owner.kind[1]}")
    if found.kind is not None:
        where.append(f"a.{quote(found.kind)} = 'VEVENT'")
    elif found.mixed:  # vCards in the same column, no column saying which: the calendar rows only
        where.append(calendar_rows(f"a.{quote(column)}", dialect))
    where.append(f"a.{quote(column)} NOT LIKE '{SCHEDULING}'")  # an inbox's messages kept beside the events
    staff = folders.patients_only(column, quote, dialect) if folders is not None else None
    if staff is not None:  # a meeting of the users alone, copied into each one's calendar
        where.append(staff)
    if found.last is not None:
        last = f"a.{quote(found.last)}"
        where.append(f"({last} IS NULL OR {last} >= {seconds(':window_start', dialect)})")
    if found.first is not None:
        first = f"a.{quote(found.first)}"
        where.append(f"({first} IS NULL OR {first} <= {seconds(':window_end', dialect)})")
    head = ",\n  ".join(select)
    query = (f"SELECT\n  {head}\nFROM {source} AS a" + "".join(f"\n{j}" for j in joins)
             + (f"\nWHERE {' AND '.join(where)}" if where else ""))
    path = f"{column}."
    fields: dict[str, dict[str, Any]] = {
        "external_id": {"from": [f"{path}occurrence_id", key or f"{path}uid"]},
        "start": {"from": f"{path}dtstart"},
        "end": {"from": f"{path}dtend"},
        "timezone": {"from": f"{path}timezone"},
        "status": {"from": f"{path}status"},
        "location": {"from": f"{path}location"},
        "patient.external_id": {"from": [f"{path}attendee_email", f"{path}attendee_phone"]},
        "patient.name": {"from": f"{path}attendee_name"},
        "patient.email": {"from": f"{path}attendee_email"},
        "patient.phone": {"from": f"{path}attendee_phone"},
    }
    has_name = (owner is not None and owner.principal is not None and owner.name is not None) or \
        (folders is not None and folders.name is not None)
    has_email = (owner is not None and owner.principal is not None and owner.email is not None) or \
        (folders is not None and folders.email is not None)
    fields["practitioner.external_id"] = {"from": ["owner_principal", f"{path}organizer_email"]} \
        if owner is not None or folders is not None else {"from": f"{path}organizer_email"}
    fields["practitioner.name"] = {"from": ["owner_name", f"{path}organizer_name"]} if has_name \
        else {"from": f"{path}organizer_name"}
    fields["practitioner.email"] = {"from": ["owner_email", f"{path}organizer_email"]} if has_email \
        else {"from": f"{path}organizer_email"}
    if found.changed is not None:
        fields["source_updated_at"] = {"from": found.changed, "type": "unix_seconds"}
    share = f"{found.objects} of {found.sampled} sampled values of {column!r} are iCalendar objects"
    guesses = [Guess(f, str(spec.get("from")), 0.9, folders.why() if folders is not None and f.startswith(
        "practitioner.") else _why(f, share, owner, found), spec) for f, spec in fields.items()]
    words = Counter(str(e.get("status") or "").upper() for e in found.events if e.get("status"))
    status_words = [StatusWord(w, s, words.get(w, 0), 0.95) for w, s in STATUSES.items()]
    connector: dict[str, Any] = {"name": name, "kind": "sql", "url": url, "query": query, "mode": "snapshot",
                                 "ical_columns": [column]}
    notes = {"kind": "a database URL", "url": "the URL given",
             "query": f"table {table.name!r}: {share} (events kept as iCalendar text, one a row)"
                      + (f"; VEVENT rows only ({found.kind!r})" if found.kind else "")
                      + (f"; in the window on {found.last!r} and {found.first!r} (Unix seconds of each event's last "
                         "and first occurrence)" if found.last and found.first else ""),
             "mode": "snapshot: the window is re-read every run, what vanished is deleted"
                     + (f" ({found.changed!r} is Unix seconds, read as each visit's source_updated_at)"
                        if found.changed else ""),
             "ical_columns": f"{column!r} holds a whole iCalendar object a row: read into the event's fields"}
    if found.last or found.first:
        connector["window"] = {"timezone": "UTC"}
        notes["window"] = "the occurrence columns are Unix seconds: the window's binds are UTC, made seconds"
    zone_value = visits_zone(connection, timezone, None, notes)
    if zone_value:
        connector["timezone"] = zone_value
    mapping = {"status_map": {w.value: w.status for w in status_words}, "fields": fields}
    out = Proposal(kind="sql", name=name, product=None, product_confidence=0.0, connector=connector,
                   connector_notes=notes, mapping=mapping, guesses=guesses, status_words=status_words)
    out.notes.append(f"visits kept as iCalendar text: {share}; a recurring series is read as its occurrences in "
                     "the window (each its own id); an all-day event is set aside (quarantined once, with the "
                     "reason), never read as a visit at a guessed time")
    if folders is not None:
        out.notes.append(f"the calendars: {folders.why()}; the read names the {len(folders.owners)} calendars' tables "
                         "found now: a calendar made later is read once discover runs again")
    elif owner is None:
        out.notes.append("the doctor: no calendar's owner was found beside the events: the event's ORGANIZER")
    return out


def _why(field: str, share: str, owner: Owner | None, found: IcalTable) -> str:
    if field.startswith("practitioner."):
        return owner.why() if owner is not None else "the event's ORGANIZER"
    if field == "source_updated_at":
        return f"{found.changed!r}: Unix seconds, named for a change"
    if field == "external_id":
        return "an occurrence of a series: its UID and original start; else the table's primary key"
    return f"{share}: the event's own field"
