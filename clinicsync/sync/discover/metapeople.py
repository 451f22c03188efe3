"""Who a visit kept as key/value rows (metarows.py) is about: rows of an entity table that a
visit's key or own column names by their id, found by the values, never by a product's names.

- the registered patient: a key or column named for a person (user, customer, client,
  author...) whose non-zero sampled values are (80 %) ids of another key/value table's entity
  (WordPress's ``_appointment_user`` or ``post_author`` -> ``wp_users``), else a key naming rows
  of another type of the visits' own table (BirchPress's ``_birs_client_id`` -> a ``birs_client``
  post). A guest has none: the visit's own meta stand in (metavisits.py).
- the doctor: a key named for a provider (doctor, staff, agent, attendant...) whose values are
  ids of an entity's rows, possibly of the visits' own entity table (Salon Booking System's
  ``_sln_booking_attendant`` names an ``sln_attendant`` post).

The row found is joined once, its own text columns that may say a name or a contact and its
meta keys (those most of the linked rows carry: a shop's ``billing_*`` keys a few customers
have are not the person's) read as columns, each named ``<stem>_<column>`` for the scorer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clinicsync.sync.discover.kinds import kind_of
from clinicsync.sync.discover.metarows import MetaTable, VisitRows, literal, plain, whole_number

Run = Callable[[str], list[tuple[Any, ...]]]
SAMPLE = 50
_PERSON_KEY = re.compile(r"(?i)user|customer|client|patient|member|author|owner|contact|person")
_SECRET = re.compile(r"(?i)pass|token|session|capabilit|activation|secret|hash|level|login|nicename|url|"
                     r"registered|salt|nonce")
_SAYS = re.compile(r"(?i)name|title|label|mail|phone|mobile|tel")


@dataclass(frozen=True)
class Link:
    """A row the visit names: the target's key/value table, what names it (a visit's key, or
    the entity's own column), and the ids sampled."""

    pair: MetaTable
    name: str
    is_key: bool
    ids: list[str]


@dataclass
class Joined:
    """A linked row as the query reads it: the join, the output of its id, and its other
    outputs (output -> the column or meta key it reads)."""

    join: str
    id_out: str
    outs: dict[str, str] = field(default_factory=dict)


def _linked(run: Run, quote: Callable[[str], str], pair: MetaTable, ids: Sequence[str], other: str = "") -> bool:
    """80 % of ``ids`` are keys of ``pair``'s entity rows (``other``: a condition they meet too)."""
    distinct = sorted(set(ids))[:200]
    if len(distinct) < 2 or pair.entity.key is None:
        return False
    listed = ", ".join(str(int(i)) for i in distinct)
    hits = run(f"SELECT COUNT(*) FROM {quote(pair.entity.name)} WHERE {quote(pair.entity.key)} IN ({listed})"
               + (f" AND {other}" if other else ""))[0][0]
    return bool(hits >= 0.8 * len(distinct))


def _ids(values: Sequence[str | None]) -> list[str]:
    return [v.strip() for v in values if v and whole_number(v) and v.strip() != "0"]


def registered(run: Run, quote: Callable[[str], str], found: VisitRows) -> Link | None:
    """The registered person a visit names: a person-named key first, else the entity's own
    person-named whole-number column."""
    entity = found.pair.entity
    where = (f" WHERE {quote(found.pair.type_column)} = {literal(found.type_value)}"
             if found.pair.type_column and found.type_value else "")
    keyed: list[tuple[str, bool, list[str]]] = [(k, True, _ids(list(found.values[k].values())))
                                                for k in found.keys if _PERSON_KEY.search(k)]
    for pair in found.others:
        if pair.entity.name == entity.name:
            continue
        options = list(keyed)
        for column, type_name in entity.columns.items():
            if _PERSON_KEY.search(column) and column != entity.key and re.search(r"(?i)int", type_name):
                rows = run(f"SELECT {quote(column)} FROM {quote(entity.name)}{where} "
                           f"ORDER BY {quote(entity.key or column)} DESC LIMIT {SAMPLE}")
                options.append((column, False, _ids([None if r[0] is None else str(r[0]) for r in rows])))
        for name, is_key, ids in options:
            if _linked(run, quote, pair, ids):
                return Link(pair, name, is_key, ids)
    if found.pair.type_column is not None and found.type_value is not None:  # a person kept as a row of
        other = f"{quote(found.pair.type_column)} <> {literal(found.type_value)}"  # another type (a client post)
        for name, is_key, ids in keyed:
            if _linked(run, quote, found.pair, ids, other):
                return Link(found.pair, name, is_key, ids)
    return None


def doctor(run: Run, quote: Callable[[str], str], found: VisitRows) -> Link | None:
    """The doctor a visit names: a provider-named key whose values are ids of an entity's rows
    (the visits' own entity table first)."""
    pairs = [found.pair, *(p for p in found.others if p.entity.name != found.pair.entity.name)]
    for key in found.keys:
        if kind_of(key) != "provider":
            continue
        ids = _ids(list(found.values[key].values()))
        for pair in pairs:
            if _linked(run, quote, pair, ids):
                return Link(pair, key, True, ids)
    return None


def key_equals(target: str, value: str, key_type: str, dialect: str) -> str:
    """``target`` (a row's key) = ``value`` (a meta value, text), written so that the key's index
    is used: MariaDB and SQLite compare a whole number with text as numbers; PostgreSQL compares
    no number with text, so the text is cast where it is digits (a cast of the key instead would
    read every row of the table for every visit)."""
    if dialect == "postgresql" and re.search(r"(?i)int|serial|numeric", key_type):
        return f"{target} = CASE WHEN {value} ~ '^[0-9]+$' THEN CAST({value} AS BIGINT) END"
    return f"{target} = {value}"


def joined(run: Run, quote: Callable[[str], str], dialect: str, link: Link, link_sql: str, alias: str, stem: str,
           pivot: Callable[[MetaTable, str, str], str], name: Callable[[str], str],
           select: dict[str, str]) -> Joined:
    """``link``'s row joined as ``alias`` on ``link_sql`` (the visit's key or column), its id,
    its name-or-contact text columns and its common meta keys added to ``select``."""
    target, pair = f"{alias}.{quote(link.pair.entity.key or '')}", link.pair
    on = key_equals(target, link_sql, pair.entity.columns[pair.entity.key or ""], dialect) if link.is_key \
        else f"{target} = {link_sql}"
    out = Joined(f"LEFT JOIN {quote(pair.entity.name)} AS {alias} ON {on}", name(f"{stem}_id"))
    select[out.id_out] = target
    for column, type_name in pair.entity.columns.items():
        if column != pair.entity.key and not _SECRET.search(column) and _SAYS.search(column) and \
                re.search(r"(?i)char|text|string", type_name):
            column_out = name(f"{stem}_{column}")
            out.outs[column_out] = column
            select[column_out] = f"{alias}.{quote(column)}"
    listed = ", ".join(str(int(i)) for i in sorted(set(link.ids))[:100])
    persons = len(sorted(set(link.ids))[:100])
    counted = run(f"SELECT {quote(pair.key)}, COUNT(*) FROM {quote(pair.meta.name)} WHERE {quote(pair.owner)} "
                  f"IN ({listed}) GROUP BY {quote(pair.key)}")
    for key, count in counted:
        if key is None or _SECRET.search(str(key)) or not plain(str(key)) or count < 0.5 * persons:
            continue
        key_out = name(f"{stem}_{key}")
        out.outs[key_out] = str(key)
        select[key_out] = pivot(pair, str(key), target)
    return out
