"""A visit whose fields are kept as key/value rows: the entity table holds one row per record
of every kind (WordPress's ``wp_posts``: pages, posts, revisions, shop orders and a booking
plugin's appointments, told apart by ``post_type``), and a meta table one row per field
(``wp_postmeta``: ``post_id``, ``meta_key``, ``meta_value``, all text). No column of either
table is a visit's date, patient or phone: discover's reading by columns finds only the
entity's own stamps. Booking plugins that keep no table of their own (Booked, Salon Booking
System, Appointments, BirchPress) and generic ``entity_attribute_value`` stores have this shape.

The rule: a meta table is one with a key column, a value column and a column naming a row of
an entity table with a one-column key (declared, learned, or named for it: ``post_id`` ->
``wp_posts``). The visits are the entity rows of the one type whose meta keys hold dates,
chosen from the data, never by a product's names: per type, each key's sampled values are read
as discover reads a column (``read_column``), a key whose values are dates or Unix seconds is a
dated key, and the type is scored by whether its dated keys reach ahead of today (a booking
is made for later; an order's paid date, a page's edit lock never are) and whether its name or
its keys' names say appointment or booking. A type with dated keys that do neither is no diary.
The types' keys are read from a bounded sample (the latest rows of each type), so a site with a
hundred thousand posts costs a few small reads.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clinicsync.sync.discover.columns import ColumnSample, read_column
from clinicsync.sync.discover.graph import Schema, Table, words

Run = Callable[[str], list[tuple[Any, ...]]]
SAMPLE_ENTITIES = 60  # latest rows of a type whose meta rows are read
MAX_TYPES = 12  # types looked at, most rows first
_KEY = re.compile(r"(?i)^(meta_?key|attribute(_?name|_?key)?|attr_?(name|key)|field_?(name|key)|key_?name|k)$")
_VALUE = re.compile(r"(?i)^(meta_?value|value|attribute_?value|attr_?value|field_?value|val|v)$")
_TYPE = re.compile(r"(?i)^([a-z]+_)?(type|kind)$")
_VISIT_WORDS = re.compile(r"(?i)appoint|booking|reserv|visit|cita|termin|rdv|rendez|schedul|consult")


@dataclass(frozen=True)
class MetaTable:
    """A meta table and the entity table its rows belong to."""

    entity: Table
    meta: Table
    owner: str  # the meta's column naming the entity row
    key: str
    value: str
    type_column: str | None  # the entity's column telling its kinds apart (post_type), if any


@dataclass
class VisitRows:
    """The chosen type: its meta table, the type's word (None: the whole entity table), its
    keys most common first with their sampled values (by entity id), and why it was chosen."""

    pair: MetaTable
    type_value: str | None
    keys: list[str]
    values: dict[str, dict[Any, str | None]] = field(default_factory=dict)
    dated: list[str] = field(default_factory=list)
    why: str = ""
    others: list[MetaTable] = field(default_factory=list)  # the schema's key/value tables (its people's)
    named: bool = False  # the type or its dated keys are named for visits
    parent_link: str | None = None  # the key naming the dated row each visit books (its slot), if any
    parent_keys: frozenset[str] = frozenset()  # the keys read off that row


_UNSAFE = re.compile(r"[:'\\\x00]")


def plain(text: str) -> bool:
    """Whether a key or a type read from the data may be written into the proposed query as a
    literal: no quote, no backslash (an escape on MySQL and MariaDB, a plain character on
    PostgreSQL: no one escaping serves both), no colon (a bind in SQLAlchemy's ``text()``), no NUL.
    Real plugins' keys and types are words (``_sln_booking_date``, ``sln_booking``); any other is
    passed over, so a hostile meta key can never write SQL into an admin's settings."""
    return not _UNSAFE.search(text)


def literal(value: str) -> str:
    """A SQL string literal of a value :func:`plain` let through (ValueError otherwise)."""
    if not plain(value):
        raise ValueError("not a plain key or type: never written into a query")
    return "'" + value + "'"


def whole_number(value: str) -> bool:
    """Whether a value read from the data is a whole number as ASCII digits: what ``int()`` and
    a SQL literal both read the same. ``str.isdigit`` also accepts '²' (which ``int()`` refuses:
    discover stopped with an error on one hostile value) and other scripts' digits (which a
    query written with them would not parse)."""
    stripped = value.strip()
    return stripped.isascii() and stripped.isdigit()


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _owner_of(meta: Table, schema: Schema, key: str, value: str) -> tuple[str, Table] | None:
    """The meta's column naming an entity row, and that entity: a reference (declared or
    learned), else a column ``<entity>_id`` whose word is the entity table's name, singular."""
    for ref in schema.refs(meta.name):
        target = schema.tables.get(ref.target)
        if target is not None and target.key == ref.target_column and ref.column not in (key, value):
            return ref.column, target
    meta_words = words(meta.name) - {"meta", "metas", "attribute", "attributes", "eav", "value", "values"}
    for column in meta.columns:
        found = re.fullmatch(r"(?i)([a-z]+)_?id", column)
        if found is None or column in (key, value):
            continue
        stem = found.group(1).lower()
        for table in schema.tables.values():
            table_words = {_singular(w) for w in words(table.name)}
            if table is not meta and table.key is not None and stem in table_words and \
                    (stem in {_singular(w) for w in meta_words} or len(table_words & {_singular(w) for w in
                                                                                      meta_words}) > 0):
                return column, table
    return None


def meta_tables(schema: Schema) -> list[MetaTable]:
    """Every key/value table of the schema with the entity table it belongs to."""
    found = []
    for meta in schema.tables.values():
        key = next((c for c in meta.columns if _KEY.match(c)), None)
        value = next((c for c in meta.columns if _VALUE.match(c)), None)
        if key is None or value is None:
            continue
        owner = _owner_of(meta, schema, key, value)
        if owner is None:
            continue
        column, entity = owner
        type_column = next((c for c in entity.columns if _TYPE.match(c)
                            and re.search(r"(?i)char|text|string", entity.columns[c])), None)
        found.append(MetaTable(entity, meta, column, key, value, type_column))
    return found


def _moments(column: Any, values: Sequence[str | None]) -> list[datetime]:
    """The sampled values of a dated key as naive date-times (Unix seconds read in UTC)."""
    out = []
    for value in values:
        text = (value or "").strip()
        try:
            if column.unix_seconds() or re.fullmatch(r"\d{9,10}", text):
                out.append(datetime.fromtimestamp(int(text), UTC).replace(tzinfo=None))
            elif re.match(r"\d{4}-\d{2}-\d{2}", text):
                out.append(datetime.fromisoformat(text[:10]))
        except (ValueError, OverflowError):
            continue
    return out


def dated_keys(values: dict[str, dict[Any, str | None]]) -> dict[str, list[datetime]]:
    """The keys whose sampled values are dates, date-times or Unix seconds, with their moments
    (a key named for a time whose values are ten-digit numbers: ``_appointment_timestamp``)."""
    out = {}
    for key, by_id in values.items():
        texts = [v for v in by_id.values() if v is not None and v.strip()]
        if len(texts) < 2:
            continue
        column = read_column(ColumnSample(key.lstrip("_"), None, texts), "US")
        unix = column.profile.share("unix_seconds") >= 0.8 and bool(re.search(r"(?i)time|date|stamp|start|when",
                                                                              key))
        if column.kind() in ("datetime", "date") or unix:
            moments = _moments(column, texts)
            if len(moments) >= 0.8 * len(texts):
                out[key] = moments
    return out


def _sample(run: Run, quote: Callable[[str], str], pair: MetaTable, type_value: str | None
            ) -> dict[str, dict[Any, str | None]]:
    """The meta rows of the latest ``SAMPLE_ENTITIES`` rows of a type: key -> entity id -> value."""
    entity, meta, pk = pair.entity, pair.meta, quote(pair.entity.key or "")
    where = f" WHERE {quote(pair.type_column)} = {literal(type_value)}" if pair.type_column and type_value else ""
    rows = run(f"SELECT m.{quote(pair.key)}, m.{quote(pair.value)}, m.{quote(pair.owner)} "
               f"FROM {quote(meta.name)} AS m JOIN (SELECT {pk} FROM {quote(entity.name)}{where} "
               f"ORDER BY {pk} DESC LIMIT {SAMPLE_ENTITIES}) AS s ON s.{pk} = m.{quote(pair.owner)}")
    out: dict[str, dict[Any, str | None]] = defaultdict(dict)
    for key, value, owner in rows:
        if key is not None and plain(str(key)):
            out[str(key)][owner] = None if value is None else str(value)
    return dict(out)


def visit_rows(schema: Schema, run: Run, quote: Callable[[str], str], now: datetime | None = None
               ) -> VisitRows | None:
    """The entity rows that are the visits, or None when no key/value table holds dated keys
    that reach ahead or are named for visits."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    best: tuple[float, VisitRows] | None = None
    sampled: dict[str | None, dict[str, dict[Any, str | None]]] = {}
    pairs = meta_tables(schema)
    for pair in pairs:
        if pair.type_column is None:
            kinds: list[str | None] = [None]
        else:
            column = quote(pair.type_column)
            counted = run(f"SELECT {column}, COUNT(*) FROM {quote(pair.entity.name)} GROUP BY {column} "
                          f"ORDER BY COUNT(*) DESC")
            kinds = [str(k) for k, _ in counted[:MAX_TYPES] if k is not None and plain(str(k))]
        for kind in kinds:
            values = _sample(run, quote, pair, kind)
            if pair.type_column is not None:
                sampled[kind] = values
            dated = dated_keys(values)
            if not dated:
                continue
            ahead = max(sum(m > now - timedelta(days=1) for m in ms) / len(ms) for ms in dated.values())
            named = bool(_VISIT_WORDS.search(kind or pair.entity.name)) or any(_VISIT_WORDS.search(k) for k in dated)
            if ahead < 0.05 and not named:
                continue
            rows = len({owner for by_id in values.values() for owner in by_id})
            cover = max(len(values[k]) for k in dated) / max(rows, 1)
            score = 2 * (ahead >= 0.05) + 3 * named + cover
            keys = sorted(values, key=lambda k: -len(values[k]))
            why = (f"rows of {pair.entity.name!r}" + (f" whose {pair.type_column} is {kind!r}" if kind else "")
                   + f", their fields the {pair.meta.name!r} rows (key {pair.key!r}, value {pair.value!r}): "
                   + f"its keys {', '.join(map(repr, sorted(dated)))} hold dates"
                   + (" reaching ahead of today" if ahead >= 0.05 else "")
                   + (" and it is named for visits" if named else ""))
            found = VisitRows(pair, kind, keys, values, sorted(dated, key=lambda k: -len(values[k])), why, pairs,
                              named)
            if best is None or score > best[0]:
                best = (score, found)
    if best is None:
        return None
    return _booking_of(run, quote, best[1], sampled) or best[1]


def _booking_of(run: Run, quote: Callable[[str], str], slot: VisitRows,
                sampled: dict[str | None, dict[str, dict[Any, str | None]]]) -> VisitRows | None:
    """The rows of another type that each name one row of the dated type by a key, when there
    are such (BirchPress: an ``appointment1on1`` per client names the ``appointment`` that holds
    the time and the staff member): those are the visits, each read with its own keys and its
    slot's. Their own status is the visit's (a client cancels their place, the slot stays).
    None when no type names the dated rows (80 % of a key's sampled values)."""
    pair = slot.pair
    if pair.type_column is None or slot.type_value is None or pair.entity.key is None:
        return None
    for kind, values in sampled.items():
        if kind == slot.type_value:
            continue
        for key, by_id in values.items():
            ids = sorted({v.strip() for v in by_id.values() if v and whole_number(v)})[:200]
            if len(ids) < 2 or len(ids) < 0.5 * len(by_id):
                continue
            hits = run(f"SELECT COUNT(*) FROM {quote(pair.entity.name)} WHERE {quote(pair.entity.key)} IN "
                       f"({', '.join(ids)}) AND {quote(pair.type_column)} = {literal(slot.type_value)}")[0][0]
            if hits < 0.8 * len(ids):
                continue
            own = sorted(values, key=lambda k: -len(values[k]))
            theirs = [k for k in slot.keys if k not in values]
            why = (f"rows of {pair.entity.name!r} whose {pair.type_column} is {kind!r}, each naming by {key!r} "
                   f"the {slot.type_value!r} row that holds its time ({slot.why})")
            return VisitRows(pair, kind, own + theirs, {**{k: slot.values[k] for k in theirs}, **values},
                             slot.dated, why, slot.others, slot.named or bool(_VISIT_WORDS.search(kind or "")),
                             key, frozenset(theirs))
    return None
