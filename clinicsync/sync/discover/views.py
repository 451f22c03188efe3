"""A login that may read views and no tables: an integration account that IT or the vendor grants
on a handful of reporting views (``v_appointments``, ``v_patients``) and nothing beneath them.
Reflection lists tables only, so discover found "no table with dates" on a database the admin
could read whole.

Views are read only when no table the login sees is named like appointments (or when ``--table``
names a view): a database with its own tables keeps them first, and a report view over them never
outranks the table it reports. A view declares no key, so each view's own id is the column named
as its id and proven unique over it; references to it then follow by name or by value, as to a
table's key (graph.py, valuerefs.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from typing import Any

from clinicsync.sync.discover.graph import Schema, words
from clinicsync.sync.discover.identity import repeats_over_table
from clinicsync.sync.discover.kinds import stems
from clinicsync.sync.discover.probe import Run

_VIEW_WORDS = frozenset({"v", "vw", "view", "rpt", "report"})  # a view's own marks (``v_patients``)
MAX_TRIED = 3  # key candidates counted per view


@dataclasses.dataclass(frozen=True)
class Readable:
    """What discover reads: every name, the views among them, and what the proposal says of the
    views (None when it reads tables only)."""

    names: list[str]
    views: list[str]
    note: str | None = None


def with_views(inspector: Any, tables: Sequence[str], wanted: str | None,
               looks_like_visits: Callable[[str], object]) -> Readable:
    """The tables, and the login's views when they are where the visits are (see the module)."""
    names = list(tables)
    if (wanted is not None and wanted in names) or (wanted is None and any(looks_like_visits(n) for n in names)):
        return Readable(names, [])
    views = [str(v) for v in inspector.get_view_names()]
    if wanted is not None:
        if wanted not in views:
            return Readable(names, [])
        return Readable([*names, wanted], [wanted], f"{wanted!r} is a view (given with --table): read by its shape")
    if not any(looks_like_visits(v) for v in views):
        return Readable(names, [])
    shown = ", ".join(views[:6]) + (f" and {len(views) - 6} more" if len(views) > 6 else "")
    return Readable(names + views, views,
                    f"the login reads no table named like appointments, and views ({shown}): read by their shape; a "
                    "view declares no key, so each view's own id is the column proven unique over it")


def keyed_views(schema: Schema, views: Collection[str], run: Run, quote: Callable[[str], str]) -> Schema:
    """``schema`` with each view given the key it does not declare: its own id column (``id``, or
    an id named after the view, ``patient_id`` in ``v_patients``) when it is unique and never
    empty over the whole view (identity.py's count). A view without such a column stays keyless (its rows are read,
    never joined)."""
    tables = dict(schema.tables)
    for name in views:
        table = tables.get(name)
        if table is None or table.primary_key:
            continue
        own = stems(name) - _VIEW_WORDS
        candidates = [c for c in table.columns if "id" in words(c) and stems(c) - {"id"} <= own][:MAX_TRIED]
        key = next((c for c in candidates if repeats_over_table(run, table, quote, (c,)) == 0), None)
        if key is not None:
            tables[name] = dataclasses.replace(table, primary_key=[key])
    return Schema(tables) if tables != schema.tables else schema

