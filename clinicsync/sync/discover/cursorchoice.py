"""Which way a SQL source is read again: incremental on a change stamp that moves when any table
read changes, else snapshot, with the reason written into the proposal's notes.

Apart from sql.py because choosing the cursor is one decision with its own rules (which columns
stamp a change, which joined tables have none), made once the read plan and the placed fields
are known.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clinicsync.sync.discover import stamps
from clinicsync.sync.discover.datecolumns import DATE_TYPES
from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.sql_reading import SWEEP_NOTE

_UPDATED = re.compile(r"(updated|modified|changed|last_?update|last_?modif|actualizad|modificad|geaendert|"
                      r"update_datetime|mtime)", re.I)


def choose_cursor(plan: ReadPlan, scored_updated: Guess | None, notes: dict[str, str],
            connector: dict[str, Any], run: Any, unstamped: dict[str, list[str]],
            tables: Mapping[str, Table]) -> None:
    """Incremental on a stamp that moves when any table read changes, else snapshot (said why).
    ``unstamped``: the joined tables that supply a placed field and have no change stamp
    (stamps.unstamped_sources): their edits move no cursor, so the read is a snapshot."""
    main = plan.main
    columns = stamps.stamp_columns(main)
    if scored_updated is not None and scored_updated.source in main.columns \
            and DATE_TYPES.search(main.columns[scored_updated.source]) and scored_updated.source not in columns:
        columns.insert(0, scored_updated.source)  # the scorer's reading, in any language ('modifie_le')
    changed = [c for c in columns if _UPDATED.search(c) or stamps.is_change(c)
               or (scored_updated and c == scored_updated.source)]
    if not changed:
        connector["mode"] = "snapshot"
        notes["mode"] = ("no column stamps the appointment's changes: the window is re-read every run, what "
                         "vanished is deleted")
        return
    if unstamped:
        connector["mode"] = "snapshot"
        notes["mode"] = (unstamped_reason(unstamped, tables) + ": no cursor sees a change there, so the "
                         "window is re-read every run, what vanished is deleted")
        return
    if plan.deleted_outright:
        connector["mode"] = "snapshot"
        notes["mode"] = (deleted_reason(plan.deleted_outright) + ": the window is re-read every run, what "
                         "vanished is deleted")
        return
    most = stamps.greatest(plan.dialect)
    base_table = Table(main.name, {c: main.columns[c] for c in columns}, main.primary_key, [], main.nullable)
    if len(columns) == 1:  # the visit's one stamp: empty on a row, that row's changes move no cursor
        column = columns[0]
        empty = run(f"SELECT COUNT(*) FROM {plan.quote(main.name)} WHERE {plan.quote(column)} IS NULL")[0][0] \
            if column in main.nullable else 0
        if empty:
            connector["mode"] = "snapshot"
            notes["mode"] = (f"{column!r} is empty on {empty} row(s) and no other column stamps the row: the "
                             "window is re-read every run, what vanished is deleted")
            return
    if len(columns) == 1 and not plan.stamps:
        column = columns[0]
        connector["mode"], connector["cursor_column"] = "incremental", column
        notes["mode"] = f"column {column!r} looks like an updated-at stamp: deletes are found by " + SWEEP_NOTE
        notes["cursor_column"] = "the updated-at column"
        return
    base = stamps.row_stamp(base_table, "a", plan.quote, most)
    assert base is not None
    expression = stamps.combined(base, plan.stamps, plan.dialect)
    out = plan.expr(expression, "changed_at", main.name, "TIMESTAMP")
    connector["mode"], connector["cursor_column"] = "incremental", out
    joined = sorted({t for t in plan.tables_of.values() if t != main.name})
    notes["mode"] = ("incremental: deletes are found by " + SWEEP_NOTE +
                     (f"; a change in a joined table ({', '.join(joined)}) moves the cursor too" if joined else ""))
    notes["cursor_column"] = (f"the latest change stamp of every table read (GREATEST of {', '.join(columns)} and "
                              "the joined tables' stamps, each COALESCEd: a stamp set only on update is empty on rows "
                              "never changed)")


def unstamped_reason(unstamped: dict[str, list[str]], tables: Mapping[str, Table]) -> str:
    """Which joined tables have no change stamp and what they supply, for the proposal's note;
    a table stamped only on creation is named with its stamp (why it is not enough)."""
    def why(table: str) -> str:
        created = stamps.creation_only(tables[table]) if table in tables else []
        return (f" (only a creation stamp, {', '.join(map(repr, created))}: a row edited in place moves "
                "nothing)") if created else ""
    return "; ".join(f"table {table!r} supplies {', '.join(fields)} and has no change stamp{why(table)}"
                     for table, fields in unstamped.items())


def deleted_reason(tables: list[str]) -> str:
    """Why rows read by their newest stamp leave the cursor blind, for the proposal's note."""
    return (f"rows of {', '.join(map(repr, tables))} are read by their newest stamp and have no deleted flag: "
            "a row deleted outright (the patient's mobile removed) takes its stamp with it and moves no cursor")
