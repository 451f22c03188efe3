"""The visits' zone kept as a settings row: a key/value table of the row the visits belong to
(an event's settings store: ``key`` 'timezone', ``value`` 'Europe/Berlin', ``object_id`` the
event), as frameworks that keep settings per object store them (only the keys changed from the
default are rows).

Why: the zone is no column of the visit, of its slot or of its event, so discover found none and
every visit took the clinic's zone: an organizer whose events run in two zones (a second site
across a border) had one of them told the wrong hour.

When: a table with a key column and a value column (``key``/``value``, ``meta_key``/…) refers to
a table the query reaches (one of its outputs reads a reference to it); its rows whose key says a
zone (``timezone``, ``tz``, ``time_zone``) hold IANA zones, every one. The zone is then read per
visit by a subquery on that key of its own row, and a visit whose row keeps none takes the
clinic's zone as before.

Rejected: reading the zone of any settings row (an organizer's zone beside its events' own is the
default, not the visit's); a settings table whose zone values are not all zones (a free text).
"""

from __future__ import annotations

import re

from clinicsync.mappings.transforms import TransformError, as_timezone
from clinicsync.sync.discover.graph import Schema, audit
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan

_KEY = re.compile(r"(?i)^(key|meta_?key|setting_?(key|name)?|name|attribute|k)$")
_VALUE = re.compile(r"(?i)^(value|meta_?value|setting_?value|val|v)$")
_ZONE_KEYS = ("timezone", "time_zone", "tz")


def _zone(value: object) -> bool:
    try:
        as_timezone(value)
    except TransformError:
        return False
    return True


def placed(run: Run, schema: Schema, plan: ReadPlan, guesses: list[Guess], notes: list[str]) -> list[Guess]:
    """``guesses`` with the visits' zone read from their own row's settings, when no zone was placed."""
    if any(g.field == "timezone" for g in guesses):
        return guesses
    q = plan.quote
    reached = _reached(schema, plan)
    for store in schema.tables.values():
        key = next((c for c in store.columns if _KEY.match(c)), None)
        value = next((c for c in store.columns if _VALUE.match(c)), None)
        if key is None or value is None or key == value:
            continue
        for ref in schema.refs(store.name):
            owner_id = reached.get(ref.target)
            if owner_id is None or audit(ref.column):
                continue
            keys = ", ".join(f"'{k}'" for k in _ZONE_KEYS)
            rows = run(f"SELECT {q(key)}, {q(value)} FROM {q(store.name)} WHERE LOWER({q(key)}) IN ({keys})")
            if not rows or not all(_zone(v) for _, v in rows):
                continue
            found = str(rows[0][0])
            sql = (f"(SELECT MAX(z.{q(value)}) FROM {q(store.name)} AS z WHERE z.{q(ref.column)} = {owner_id} "
                   f"AND z.{q(key)} = '{found}')")
            out = plan.expr(sql, "visit_zone", store.name, "VARCHAR(64)")
            why = (f"the {ref.target!r} row's settings ({store.name!r}: {key!r} '{found}', values all IANA zones): "
                   "the zone of the row the visit belongs to; the clinic's where it keeps none")
            notes.append(f"timezone: {why}")
            return [*guesses, Guess("timezone", out, 0.7, why, {"from": out, "on_invalid": "drop"})]
    return guesses


def _reached(schema: Schema, plan: ReadPlan) -> dict[str, str]:
    """The tables the query reaches a key of, each with the SQL of that key: a plain output that
    reads a reference to it (``t4.event_id``), or the visit's own row (``a.id``)."""
    reached = {plan.main.name: f"a.{plan.quote(plan.main.key)}"} if plan.main.key else {}
    for out, table in plan.tables_of.items():
        found = re.fullmatch(r'(\w+)\.[`"\[]?(\w+)[`"\]]?', plan.select[out].strip())
        if found is None:
            continue
        for ref in schema.refs(table):
            if ref.column == found.group(2) and ref.target not in reached:
                reached[ref.target] = plan.select[out]
    return reached
