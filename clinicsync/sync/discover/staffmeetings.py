"""Rows whose JSON attendee list names the staff alone are no visit: left out of the query.

Why: where the patient is read from a JSON list of the visit's own (a calendar event's
attendees, ``[{"name": ..., "email": ...}, ...]``: contactlists.py), a team meeting the desk
invites every doctor to is a row of the same kind, and its first attendee after the organizer
(a doctor) was read as the patient: a visit, with a reminder to a colleague. The staff are the
logins: the rows the doctor's email is read from (a user's own profile or identity row, or the
user row itself). A row is kept when its list is empty or not JSON (other rules judge those), or
when at least one entry's email is no staff email (or it has none: a patient without email).

Done in SQL, with a subquery on the staff's table rather than a list of emails written into the
query, so that a doctor added later is covered without running discover again. Needs a JSON
table function: ``JSON_TABLE`` (MariaDB 10.6+, MySQL 8) and SQLite's ``json_each``; on another
database nothing is left out. Only where the staff's rows are few of the rows read (at most
``SHARE`` of the rows with a list): where patients log in too (a booking portal), their emails
are logins' and nothing is left out.

Rejected: a filter in the connector on the read rows (the window's count and the snapshot's
deletions are the query's; a row read and dropped later is a row the admin cannot see in the
query); PostgreSQL for a text column (before version 16 it cannot test a text for JSON without
raising, and one event with a stray text would stop every read).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan

SHARE = 0.5  # of the rows with a list, at most, left out as staff-only before the rule is not used
_TEXT = re.compile(r"char|text|clob|string", re.I)
_ENTRY = re.compile(r"^([^.\[\]`]+)\[\d+\]\.([A-Za-z_][A-Za-z0-9_]*)$")  # column[n].key


def staff_filter(run: Run, plan: ReadPlan, guesses: Sequence[Guess], json_columns: Sequence[str],
                 tables: Mapping[str, Table], patient_tables: Collection[str]) -> tuple[str, str] | None:
    """(the condition keeping the rows whose attendee list names someone not on the staff, the
    note) when the patient's email is read from entries of a JSON list in a text column of the
    visit's own and the doctor's email from a table of logins; else None."""
    if plan.dialect not in ("mysql", "mariadb", "sqlite"):
        return None
    entry = _entry(plan, guesses, json_columns)
    staff = _staff(plan, guesses, tables, patient_tables)
    if entry is None or staff is None:
        return None
    column, key = entry
    q = plan.quote
    text = f"a.{q(column)}"
    emails = f"SELECT {staff[1]} FROM {q(staff[0])} AS cs_s WHERE {staff[1]} IS NOT NULL"
    if plan.dialect == "sqlite":
        rows = f"json_each(CASE WHEN json_valid({text}) THEN {text} ELSE '[]' END) AS cs_j"
        value = f"json_extract(cs_j.value, '$.{key}')"
        mine = f"lower(trim({value}))"
        emails = emails.replace(staff[1], f"lower(trim({staff[1]}))", 1)
    else:
        rows = (f"JSON_TABLE(IF(JSON_VALID({text}), {text}, '[]'), '$[*]' COLUMNS (cs_e VARCHAR(320) "
                f"PATH '$.{key}')) AS cs_j")
        value = "cs_j.cs_e"
        mine = f"CONVERT(LOWER(TRIM({value})) USING utf8mb4) COLLATE utf8mb4_bin"  # the two tables' collations
        emails = emails.replace(staff[1], f"CONVERT(LOWER(TRIM({staff[1]})) USING utf8mb4) COLLATE utf8mb4_bin", 1)
    keep = (f"(NOT EXISTS (SELECT 1 FROM {rows}) OR EXISTS (SELECT 1 FROM {rows} WHERE {value} IS NULL OR "
            f"{mine} NOT IN ({emails})))")
    listed = f"{text} IS NOT NULL AND TRIM({text}) NOT IN ('', '[]')"
    total, kept = run(f"SELECT COUNT(CASE WHEN {listed} THEN 1 END), COUNT(CASE WHEN {listed} AND {keep} THEN 1 END) "
                      f"FROM {q(plan.main.name)} AS a")[0]
    left = int(total) - int(kept)
    if not int(total) or not 0 < left <= SHARE * int(total):
        return None
    return keep, (f"{left} of {int(total)} rows list only staff in {column!r} (every {key!r} is a login's, "
                  f"{staff[0]}.{staff[2]}: a team meeting): no patient, left out of the query")


def _entry(plan: ReadPlan, guesses: Sequence[Guess], json_columns: Sequence[str]) -> tuple[str, str] | None:
    """(column, key) when the patient's email is read from entries of a JSON list in a text
    column of the visit's own."""
    patient = next((g for g in guesses if g.field == "patient.email"), None)
    paths = patient.spec.get("from") if patient is not None else None
    paths = [paths] if isinstance(paths, str) else paths if isinstance(paths, list) else []
    found = {m.groups() for m in (_ENTRY.match(str(p)) for p in paths) if m}
    if len(found) != 1:
        return None
    column, key = next(iter(found))
    if column not in json_columns or column not in plan.main.columns or plan.select.get(column) != \
            f"a.{plan.quote(column)}" or not _TEXT.search(plan.types.get(column, "")):
        return None
    return column, key


def _staff(plan: ReadPlan, guesses: Sequence[Guess], tables: Mapping[str, Table], patient_tables: Collection[str]
           ) -> tuple[str, str, str] | None:
    """(table, the email column as the subquery reads it, its name) of the doctor's email: a
    column of a table joined to the visit (a login's own row), no patient's table."""
    doctor = next((g for g in guesses if g.field == "practitioner.email"), None)
    paths = doctor.spec.get("from") if doctor is not None else None
    for out in [paths] if isinstance(paths, str) else paths if isinstance(paths, list) else []:
        name = plan.tables_of.get(str(out))
        table = tables.get(name) if name is not None else None
        sql = plan.select.get(str(out), "")
        alias = sql.split(".", 1)[0]
        if table is None or alias == "a" or table.name == plan.main.name or table.name in patient_tables:
            continue
        column = next((c for c in table.columns if sql == f"{alias}.{plan.quote(c)}"), None)
        if column is not None:
            return table.name, f"cs_s.{plan.quote(column)}", column
    return None
