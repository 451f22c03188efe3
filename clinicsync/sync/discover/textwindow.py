"""A visit's start kept as ISO text (``varchar '2026-12-03 09:30:00'``, ``'2026-12-03T09:30'``):
the window applied as a text comparison.

Why: the window is written as ``start BETWEEN :window_start AND :window_end``, and only on a
date or time column; a start kept as text had none, so the connector read the whole table every
run (years of past visits for the next few months').

ISO text in one fixed layout sorts as the time it writes (year, month, day, hour, minute,
second, each zero-padded, in that order), so comparing it as text with bounds written in the
same layout is comparing times. The layout is proven from the values, never from the column's
name: every sampled start has it, and no row of the table holds anything else (one count with
``NOT LIKE`` over the whole table). Starts in two layouts (``'2026-12-03 09:30'`` beside
``'2026-12-03T09:30:00'``), a zone suffix or a fraction of a second do not sort as time against
one bound: the table is read whole, and the proposal says why.

The bounds stay the connector's date-time binds; the query writes them in the layout with the
database's own formatting function, so every read of the query (discover's, `check`'s, the
connector's) binds the same values. No ``:`` is written in a literal (text() would read
``:MI`` as a bind): PostgreSQL's bound is written with dots and translated to colons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Layout:
    """One fixed ISO layout: how Python writes it, what it looks like, and how each database
    writes a date-time in it."""

    strftime: str
    shape: re.Pattern[str]

    @property
    def seconds(self) -> bool:
        return self.strftime.endswith("%S")

    @property
    def sep(self) -> str:
        return "T" if "T" in self.strftime else " "

    @property
    def width(self) -> int:
        return 19 if self.seconds else 16

    @property
    def like(self) -> str:
        """A LIKE pattern of the layout: a character for each digit and colon, the dashes and the
        separator as they are (no ``:`` written: see the module)."""
        return "____-__-__" + self.sep + ("________" if self.seconds else "_____")

    def shown(self) -> str:
        return "YYYY-MM-DD" + self.sep + ("HH:MM:SS" if self.seconds else "HH:MM")


_SECONDS = r":\d{2}"
LAYOUTS = tuple(Layout(f"%Y-%m-%d{sep}%H:%M{secs}",
                       re.compile(rf"\d{{4}}-\d{{2}}-\d{{2}}{sep}\d{{2}}:\d{{2}}{_SECONDS if secs else ''}"))
                for sep in (" ", "T") for secs in (":%S", ""))


def layout_of(value: str) -> Layout | None:
    """The layout ``value`` is written in, when it is one and a real date-time."""
    for layout in LAYOUTS:
        if layout.shape.fullmatch(value):
            try:
                datetime.strptime(value, layout.strftime)
            except ValueError:
                return None
            return layout
    return None


def bound(dialect: str, layout: Layout, bind: str) -> str | None:
    """The date-time bind ``:bind`` written as text in ``layout`` by ``dialect``'s own function;
    None for a database this is not written for."""
    b = f":{bind}"
    seconds, sep = layout.seconds, layout.sep
    if dialect == "postgresql":
        fmt = "YYYY-MM-DD" + ('"T"' if sep == "T" else " ") + ("HH24.MI.SS" if seconds else "HH24.MI")
        return f"translate(to_char(CAST({b} AS TIMESTAMP), '{fmt}'), '.', chr(58))"
    if dialect in ("mysql", "mariadb"):
        return f"DATE_FORMAT({b}, '%Y-%m-%d{sep}%H:%i{':%s' if seconds else ''}')"
    if dialect == "sqlite":
        return f"strftime('{layout.strftime}', {b})"
    if dialect == "mssql":  # styles 120 (space) and 126 (T), cut to the layout's width
        return f"CONVERT(VARCHAR({layout.width}), CAST({b} AS DATETIME2), {126 if sep == 'T' else 120})"
    return None


@dataclass(frozen=True)
class TextWindow:
    """The window's condition on the text start (None: read whole) and what the proposal says."""

    condition: str | None
    note: str


def text_window(run: Callable[[str], list[tuple[Any, ...]]], dialect: str, table: str, column: str, expr: str,
                sampled: Sequence[str | None]) -> TextWindow:
    """The window on a start kept as text, when its values prove one ISO layout (see the module).
    ``table``: the visit table, quoted; ``expr``: the start as the query selects it
    (``a.start_at``); ``sampled``: the start's sampled values."""
    values = [v.strip() for v in sampled if v is not None and v.strip()]
    if not values:
        return TextWindow(None, f"the start {column!r} is text and no sampled row holds one: no window")
    layouts: dict[str, int] = {}
    for value in values:
        found = layout_of(value)
        key = found.strftime if found is not None else "other"
        layouts[key] = layouts.get(key, 0) + 1
    if len(layouts) > 1 or "other" in layouts:
        seen = ", ".join(f"{n} {_named(k)}" for k, n in sorted(layouts.items(), key=lambda kv: -kv[1]))
        return TextWindow(None, f"the start {column!r} is text in more than one layout (of {len(values)} sampled: "
                                f"{seen}): text does not sort as time across layouts, so every row is read each run")
    layout = next(lo for lo in LAYOUTS if lo.strftime in layouts)
    start, end = bound(dialect, layout, "window_start"), bound(dialect, layout, "window_end")
    if start is None or end is None:
        return TextWindow(None, f"the start {column!r} is ISO text ({layout.shown()}), but no bound is written "
                                f"for {dialect}: every row is read each run")
    others = run(f"SELECT COUNT(*) FROM {table} AS a WHERE {expr} IS NOT NULL AND {expr} <> '' "
                 f"AND {expr} NOT LIKE '{layout.like}'")[0][0]
    if others:
        return TextWindow(None, f"the start {column!r} is ISO text ({layout.shown()}) in the {len(values)} sampled "
                                f"rows, but {others} row(s) of the table are written otherwise: every row is read "
                                "each run")
    return TextWindow(f"{expr} BETWEEN {start} AND {end}",
                      f"the start {column!r} is ISO text, every row in one layout ({layout.shown()}; "
                      f"{len(values)} sampled, the whole table counted): the window compares it as text with "
                      "bounds written in that layout")


def _named(key: str) -> str:
    found = next((lo for lo in LAYOUTS if lo.strftime == key), None)
    return found.shown() if found is not None else "in no ISO layout"
