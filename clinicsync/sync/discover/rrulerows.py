"""A recurring series kept as ONE row of the visit table, its repeat rule as RRULE text in a column
(groupware calendars: a weekly therapy series is one event row with ``FREQ=WEEKLY;BYDAY=TU;…``):
proposed as the connector's ``series:`` (connectors/sql_series.py), so each session inside the
window is a visit, not the first one alone.

Found by values, never by names:

- the rule: a text column of the visit table whose filled values parse as RRULE text (dateutil);
- the sessions taken out of a series, each gathered into the read as one comma-separated text
  by a subquery (so a row added later is covered), where the data shows them:
  - a text column on the series row itself whose values are EXDATE-like lists, filled on series rows only;
  - a table referring to the series row with a column whose values are original starts of
    that series (an exceptions or exdates table: a session cancelled or moved);
  - rows of the visit table referring to a series row (an exception row: the moved or answered
    session, with its own start), with a column whose values are original starts of that series:
    the occurrence is that row's, never read twice.
- the window: a series row whose first start lies before the window still has sessions in it,
  so the window's condition keeps every row with a rule (series rows are few);
- the read is a snapshot: a series row rarely changes, its next sessions come into the window as
  it moves on, which only a read of the whole window each run sees."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinicsync.connectors import ical_text
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.connectors.sql_series import SeriesColumns, expand, instant, left_out, parses
from clinicsync.sync.discover.graph import Schema, Table
from clinicsync.sync.discover.readplan import ReadPlan

_TEXT = re.compile(r"char|text|clob|string|^$", re.I)
_SAMPLE = 40
Run = Callable[[str], list[tuple[Any, ...]]]


@dataclass
class Found:
    """The series columns discover proposes, and what it said about them."""

    rule: str
    exdates: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)


def gathered(dialect: str, value: str, source: str, where: str) -> str:
    """A subquery giving ``value`` of every row of ``source`` matching ``where`` as one
    comma-separated text, in the database's own SQL."""
    if dialect in ("mysql", "mariadb"):
        agg = f"GROUP_CONCAT({value} SEPARATOR ',')"
    elif dialect == "sqlite":
        agg = f"group_concat({value}, ',')"
    elif dialect == "mssql":
        agg = f"STRING_AGG(CAST({value} AS NVARCHAR(MAX)), ',')"
    else:
        agg = f"string_agg(CAST({value} AS TEXT), ',')"
    return f"(SELECT {agg} FROM {source} WHERE {where})"


def _filled(sql: str, type_name: str) -> str:
    """``sql`` holds a value: not NULL, nor the empty text or the 0 a NOT NULL column's default writes."""
    if _TEXT.search(type_name):
        return f"({sql} IS NOT NULL AND {sql} <> '')"
    if re.search(r"int|numeric|decimal|number|float|double|real", type_name, re.I):
        return f"({sql} IS NOT NULL AND {sql} <> 0)"
    return f"{sql} IS NOT NULL"


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name)) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _originals(rows: list[tuple[Any, ...]], zone_name: str | None) -> int:
    """How many rows (value, series id, start, end, rule[, zone]) hold an original start of their
    series: the value read as an instant (or a day) that the series' rule reaches."""
    hits = 0
    for value, key, start, end, rule, *own in rows:
        zone = _zone(own[0] if own and own[0] else zone_name)
        clock = ZoneInfo("UTC")  # the value and the start are kept in one clock, whichever it is
        moments, days = left_out([value], zone, clock)
        if not moments and not days:
            continue
        probe = list(moments) + [datetime(d.year, d.month, d.day, tzinfo=zone) for d in days]
        low, high = min(probe) - timedelta(days=2), max(probe) + timedelta(days=2)
        columns = SeriesColumns(rule="r", id="i", start="s", end="e", timezone=getattr(zone, "key", None))
        got = expand({"r": rule, "i": key, "s": start, "e": end}, columns, (low.astimezone(UTC), high.astimezone(UTC)),
                     clock)
        originals = {instant(str(r["i"]).rsplit("/", 1)[-1], clock) for r in got if isinstance(r.get("i"), str)}
        if moments & {o for o in originals if o is not None} or \
                days & {o.astimezone(zone).date() for o in originals if o is not None}:
            hits += 1
    return hits


def find(run: Run, dialect: str, schema: Schema, main: Table, plan: ReadPlan, start: str | None,
         end: str | None, zone_column: str | None, zone_name: str | None) -> Found | None:
    """The series columns of ``main`` (module docstring), added to ``plan``; None when no column
    holds repeat rules."""
    key = main.key
    if start is None or key is None or start not in main.columns:
        return None
    q = plan.quote
    table = q(main.name)
    rule = None
    for column, type_name in main.columns.items():
        if not _TEXT.search(type_name) or column in (start, end, key):
            continue
        sql = f"x.{q(column)}"
        values = [r[0] for r in run(first_rows(f"SELECT {sql} FROM {table} AS x WHERE {_filled(sql, type_name)}",
                                               _SAMPLE, dialect))]
        texts = [ical_text.as_text(v) for v in values]
        if values and sum(parses(t) for t in texts) >= 0.9 * len(values):
            rule = column
            break
    if rule is None:
        return None
    found = Found(rule)
    rule_filled = _filled(f"s.{q(rule)}", main.columns[rule])
    series_cols = f"s.{q(key)}, s.{q(start)}, " + (f"s.{q(end)}" if end else "NULL") + f", s.{q(rule)}" + (
        f", s.{q(zone_column)}" if zone_column and zone_column in main.columns else "")
    _own_exdates(run, dialect, main, plan, found, start, end, key)
    _child_exdates(run, dialect, schema, main, plan, found, series_cols, rule_filled, zone_name)
    _exception_rows(run, dialect, main, plan, found, series_cols, rule_filled, zone_name, start, end)
    return found


def _own_exdates(run: Run, dialect: str, main: Table, plan: ReadPlan, found: Found, start: str,
                 end: str | None, key: str) -> None:
    """A text column of the series row listing dates left out (EXDATE-like), filled on series rows only."""
    q = plan.quote
    for column, type_name in main.columns.items():
        if not _TEXT.search(type_name) or column in (start, end, key, found.rule):
            continue
        sql = f"x.{q(column)}"
        rows = run(first_rows(f"SELECT {sql}, x.{q(found.rule)} FROM {q(main.name)} AS x "
                              f"WHERE {_filled(sql, type_name)}", _SAMPLE, dialect))
        if not rows or any(not (r[1] and str(r[1]).strip()) for r in rows):
            continue
        if all(_listed(r[0]) for r in rows):
            found.exdates.append(column)
            found.said.append(f"{column!r} lists dates taken out of a series (EXDATE text): those sessions are "
                              "left out")
            return


def _listed(value: Any) -> bool:
    text = ical_text.as_text(value)
    if text is None:
        return False
    items = [i.strip().removeprefix("EXDATE:") for i in re.split(r"[,;\r\n]+", text) if i.strip()]
    return bool(items) and all(re.fullmatch(r"\d{8}(T\d{6}Z?)?|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?Z?", i)
                               for i in items)


def _child_exdates(run: Run, dialect: str, schema: Schema, main: Table, plan: ReadPlan, found: Found,
                   series_cols: str, rule_filled: str, zone_name: str | None) -> None:
    """A table referring to the series row whose column holds original starts of the series."""
    q = plan.quote
    for ref in schema.children(main.name):
        if ref.target_column != main.key or ref.table == main.name:
            continue
        child = schema.tables[ref.table]
        for column, type_name in child.columns.items():
            if column == ref.column or column in child.primary_key or column in {r[0] for r in child.references}:
                continue
            if not re.search(r"int|date|time|char|text|^$", type_name, re.I):
                continue
            rows = run(first_rows(f"SELECT x.{q(column)}, {series_cols} FROM {q(child.name)} AS x JOIN "
                                  f"{q(main.name)} AS s ON s.{q(main.key or '')} = x.{q(ref.column)} "
                                  f"WHERE {rule_filled}", _SAMPLE, dialect))
            if rows and _originals(rows, zone_name) >= 0.8 * len(rows):
                out = plan.expr(gathered(dialect, f"x.{q(column)}", f"{q(child.name)} AS x",
                                         f"x.{q(ref.column)} = a.{q(main.key or '')}"),
                                plan.name("series_exdates"), main.name, "text")
                found.exdates.append(out)
                found.said.append(f"{child.name}.{column} holds original starts of a series (a session taken out "
                                  "or moved): left out of the series, a moved one read as its own row")
                break


def _exception_rows(run: Run, dialect: str, main: Table, plan: ReadPlan, found: Found, series_cols: str,
                    rule_filled: str, zone_name: str | None, start: str, end: str | None) -> None:
    """Rows of the visit table naming a series row, with a column holding the original start they replace."""
    q = plan.quote
    key = main.key or ""
    key_type = re.sub(r"\(.*", "", main.columns[key]).lower()
    for column, type_name in main.columns.items():
        if column in (key, found.rule, start, end) or re.sub(r"\(.*", "", type_name).lower() != key_type:
            continue
        ref = f"x.{q(column)}"
        linked = run(first_rows(f"SELECT x.{q(key)} FROM {q(main.name)} AS x JOIN {q(main.name)} AS s ON "
                                f"s.{q(key)} = {ref} WHERE {rule_filled} AND x.{q(key)} <> s.{q(key)}", 1, dialect))
        if not linked:
            continue
        stray = run(first_rows(f"SELECT x.{q(key)} FROM {q(main.name)} AS x WHERE {_filled(ref, type_name)} AND "
                               f"{ref} NOT IN (SELECT s.{q(key)} FROM {q(main.name)} AS s WHERE {rule_filled})",
                               1, dialect))
        if stray:
            continue
        for original, kind in main.columns.items():
            if original in (key, column, found.rule, start, end) or \
                    not re.search(r"int|date|time|char|text|^$", kind, re.I):
                continue
            rows = run(first_rows(f"SELECT x.{q(original)}, {series_cols} FROM {q(main.name)} AS x JOIN "
                                  f"{q(main.name)} AS s ON s.{q(key)} = {ref} WHERE {rule_filled}", _SAMPLE, dialect))
            if rows and _originals(rows, zone_name) >= 0.8 * len(rows):
                out = plan.expr(gathered(dialect, f"x.{q(original)}", f"{q(main.name)} AS x",
                                         f"x.{q(column)} = a.{q(key)}"),
                                plan.name("series_replaced"), main.name, "text")
                found.exdates.append(out)
                found.said.append(f"a row naming a series in {column!r} replaces the session whose original start "
                                  f"is its {original!r}: that session is read as that row, not twice")
                return


@dataclass
class Proposed:
    """The series found, and the connector's ``series:`` block but for its zone."""

    found: Found
    block: dict[str, Any]


def propose(run: Run, dialect: str, schema: Schema, main: Table, plan: ReadPlan, by_field: dict[str, Any],
            conditions: list[str]) -> Proposed | None:
    """The series of ``main`` when a column holds repeat rules and the mapping reads the start,
    end and id from plain columns; the window's condition (``conditions[0]``) then also keeps
    every row with a rule (a series begun before the window)."""
    spec = {f: (g.spec if isinstance(g.spec, dict) else {}) for f, g in by_field.items()}
    start, end = spec.get("start", {}).get("from"), spec.get("end", {}).get("from")
    ident = spec.get("external_id", {}).get("from")
    if not isinstance(start, str) or not isinstance(ident, str) or start not in main.columns:
        return None
    zone = by_field.get("timezone")
    zone_column = zone.source if zone is not None and zone.source in main.columns else None
    found = find(run, dialect, schema, main, plan, start, end if isinstance(end, str) else None, zone_column, None)
    if found is None:
        return None
    if conditions:
        rule = plan.select[found.rule]
        conditions[0] = f"({conditions[0]} OR ({_filled(rule, main.columns[found.rule])}))"
    block: dict[str, Any] = {"rule": found.rule, "id": ident, "start": start}
    if isinstance(end, str):
        block["end"] = end
    if found.exdates:
        block["exdates"] = list(found.exdates)
    if zone_column:
        block["timezone_column"] = zone_column
    return Proposed(found, block)


def apply(proposed: Proposed, connector: dict[str, Any], notes: dict[str, str], said: list[str],
          zone: str | None) -> None:
    """The connector expands the series (``series:``), reads a snapshot, and says why."""
    block = dict(proposed.block)
    if zone:
        block["timezone"] = zone  # the rule's wall clock where a row names no zone of its own
    connector["series"] = block
    connector["mode"] = "snapshot"
    for key in ("cursor_column", "delete_sweep", "overlap_seconds"):
        connector.pop(key, None)
        notes.pop(key, None)
    notes["series"] = (f"{proposed.block['rule']!r} holds repeat rules (RRULE text): each series row is read as "
                       "its sessions inside the window, each its own visit (id: the row's id and the session's "
                       "original start), a series begun before the window included")
    notes["mode"] = ("snapshot: a series row rarely changes while its next sessions come into the window as it "
                     "moves on, so the window is read whole every run; what vanished from it is cancelled")
    said.extend(proposed.found.said)
