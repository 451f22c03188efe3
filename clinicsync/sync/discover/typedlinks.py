"""A person's email or phone kept in a shared table, reached through a link table whose rows name
their owner by a type column and an id column: SuiteCRM's ``email_addr_bean_rel`` (``bean_module``
'Contacts', ``bean_id`` the contact's id, ``email_address_id`` -> ``email_addresses``), EspoCRM's
``entity_email_address`` (``entity_type``, ``entity_id``), Odoo-style ``res_model``/``res_id``,
Laravel's morph columns (``App\\Models\\Patient``).

Why: such a link declares no foreign key to the person (its id column holds the keys of every
module's table), so nothing else follows it, and a contact whose only address is there is
unreachable. Read from the values, not from any product's names: a text column of the link
table has a value naming the person's table (the same word, singular or plural, a module path's
last part, dots for underscores), and that type's rows hold in another column the person
table's keys (at least ``SHARE`` of their distinct values); the email or phone is a column of
the link row itself, or of the row it refers to, whose values read as such. One link row per
person: not deleted (the link's flag, and the address row's), the primary first, then the
newest, then by key (``Builder.pick``); said so in the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import softdelete
from clinicsync.sync.discover.contacts import unreachable
from clinicsync.sync.discover.graph import Ref, Table, audit
from clinicsync.sync.discover.kinds import TEXT, WHOLE, Builder
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.values import profile

SHARE = 0.95  # of a type's distinct id values, found as the person table's keys
MAX_TYPES = 50  # distinct values a type column may hold
MIN_IDS = 3  # distinct ids a type needs before it is believed
SAMPLE = 500  # link rows read per candidate
_SAFE = re.compile(r"[A-Za-z][A-Za-z0-9_.\\ -]{0,99}")  # a type value written as a literal (no quote, no colon)
_SPLIT = re.compile(r"[.\\/ -]+")


@dataclass(frozen=True)
class _Found:
    link: Table
    type_column: str
    type_value: str
    id_column: str
    share: float
    holder: Table  # the table holding the value: the link itself, or the row it refers to
    via: Ref | None  # the link's reference to the holder (None: the link holds it)
    column: str
    kind: str  # "email" or "phone"
    read: float  # share of the values that read as the kind


def _norm(word: str) -> str:
    word = word.lower()
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def names_table(value: str, table: str) -> bool:
    """Whether a type column's ``value`` names ``table``: 'Contacts' or 'Contact' for ``contacts``,
    'res.partner' for ``res_partner``, 'App\\Models\\Patient' for ``patients``."""
    parts = [p for p in _SPLIT.split(value.strip()) if p]
    if not parts:
        return False
    wanted = _norm(table)
    return _norm("_".join(parts)) == wanted or _norm(parts[-1]) == wanted


def literal(value: object) -> str | None:
    """``value`` as a SQL string literal when it is a plain word safe to write into a query, else None."""
    text = str(value)
    return f"'{text}'" if isinstance(value, str) and _SAFE.fullmatch(text) and "'" not in text else None


def type_values(run: Run, table: str, column: str, quote: Callable[[str], str],
                dialect: str) -> list[tuple[object, ...]] | None:
    """A type column's distinct values, or None when it holds more than ``MAX_TYPES``: a column
    with that many values names no small set of tables or kinds, so it is not read as one."""
    rows = run(first_rows(f"SELECT DISTINCT {quote(column)} FROM {quote(table)}", MAX_TYPES + 1, dialect))
    return None if len(rows) > MAX_TYPES else rows


def _same_family(a: str, b: str) -> bool:
    return bool(TEXT.search(a) and TEXT.search(b)) or bool(WHOLE.search(a) and WHOLE.search(b))


def _types(builder: Builder, link: Table, person: Table) -> list[tuple[str, str]]:
    """The link's (type column, value) pairs whose value names ``person``'s table."""
    q, out = builder.q, []
    for column, type_name in link.columns.items():
        if column == link.key or not TEXT.search(type_name) or audit(column):
            continue
        rows = type_values(builder.run, link.name, column, q, builder.plan.dialect)
        if rows is None:
            continue
        out += [(column, str(r[0])) for r in rows
                if r[0] is not None and literal(r[0]) and names_table(str(r[0]), person.name)]
    return out


def _share(builder: Builder, link: Table, type_column: str, value: str, id_column: str, person: Table) -> float:
    """Of the distinct ids the type's rows hold, the share found among ``person``'s keys."""
    q = builder.q
    held, found = builder.run(f"SELECT COUNT(DISTINCT cs_l.{q(id_column)}), COUNT(DISTINCT cs_p.{q(str(person.key))}) "
                              f"FROM {q(link.name)} AS cs_l LEFT JOIN {q(person.name)} AS cs_p ON "
                              f"cs_p.{q(str(person.key))} = cs_l.{q(id_column)} "
                              f"WHERE cs_l.{q(type_column)} = {literal(value)}")[0]
    return int(found or 0) / int(held) if int(held or 0) >= MIN_IDS else 0.0


def _value(builder: Builder, link: Table, type_column: str, value: str, id_column: str,
           kinds: tuple[str, ...]) -> list[tuple[Table, Ref | None, str, str, float]]:
    """Where the type's email or phone is: a column of the link rows, or of the rows they refer to."""
    q, region, found = builder.q, builder.region, []
    where = f"cs_l.{q(type_column)} = {literal(value)}"
    holders: list[tuple[Table, Ref | None]] = [(link, None)]
    holders += [(builder.schema.tables[r.target], r) for r in builder.schema.refs(link.name)
                if r.column not in (id_column, type_column) and not audit(r.column) and r.target != link.name]
    for holder, via in holders:
        columns = [c for c, t in holder.columns.items() if TEXT.search(t) and not audit(c) and c != holder.key
                   and c not in (id_column, type_column)]
        if not columns:
            continue
        select = ", ".join(f"cs_v.{q(c)}" for c in columns)
        source = f"{q(link.name)} AS cs_v" if via is None else (
            f"{q(link.name)} AS cs_l JOIN {q(holder.name)} AS cs_v ON cs_v.{q(via.target_column)} = "
            f"cs_l.{q(via.column)}")
        rows = builder.run(first_rows(f"SELECT {select} FROM {source} WHERE "
                                      f"{where.replace('cs_l.', 'cs_v.') if via is None else where}",
                                      SAMPLE, builder.plan.dialect))
        for kind in kinds:
            best = None
            for index, column in enumerate(columns):
                p = profile([None if r[index] is None else str(r[index]) for r in rows], region)
                if p.present >= MIN_IDS and p.share(kind) >= 0.8 and (best is None or p.share(kind) > best[1]):
                    best = (column, p.share(kind))
            if best is not None:
                found.append((holder, via, best[0], kind, best[1]))
    return found


def _find(builder: Builder, person: Table, kinds: tuple[str, ...]) -> list[_Found]:
    main, out = builder.plan.main, list[_Found]()
    if person.key is None:
        return []
    for link in builder.schema.tables.values():
        if link.name in (main.name, person.name) or link.key is None:
            continue
        for type_column, value in _types(builder, link, person):
            ids = [c for c, t in link.columns.items() if c not in (link.key, type_column) and not audit(c)
                   and _same_family(t, person.columns[str(person.key)])]
            for id_column in ids:
                share = _share(builder, link, type_column, value, id_column, person)
                if share < SHARE:
                    continue
                for holder, via, column, kind, read in _value(builder, link, type_column, value, id_column, kinds):
                    if kind in {f.kind for f in out}:
                        continue
                    out.append(_Found(link, type_column, value, id_column, share, holder, via, column, kind, read))
                break
    return out


def place(builder: Builder, person: Table, alias: str, kinds: tuple[str, ...], who: str = "patient") -> list[Guess]:
    """The person's ``kinds`` (email, phone) through a typed link table, joined to the person's
    row ``alias``; [] when no link table holds them."""
    q, plan, guesses = builder.q, builder.plan, []
    for found in _find(builder, person, kinds):
        link = found.link
        ref = Ref(link.name, found.id_column, person.name, str(person.key), declared=False, by_values=True)
        extra = f"cs_r.{q(found.type_column)} = {literal(found.type_value)}"
        holder_gone = softdelete.flag(found.holder, plan.dialect) if found.via is not None else None
        unusable = unreachable.flags(found.holder)
        if found.via is None and unusable:
            extra += " AND " + unreachable.clear(unusable, "cs_r", q)
        kept = ([softdelete.kept(holder_gone, "cs_h", q(holder_gone.column))] if holder_gone is not None else []) + \
            ([unreachable.clear(unusable, "cs_h", q)] if unusable else [])
        if found.via is not None and kept:
            extra += (f" AND EXISTS (SELECT 1 FROM {q(found.holder.name)} AS cs_h WHERE "
                      f"cs_h.{q(found.via.target_column)} = cs_r.{q(found.via.column)} AND {' AND '.join(kept)})")
        picked = builder.pick(ref, alias, extra)
        if picked is None:
            continue
        builder.stamp_children(ref, alias)
        at = picked
        if found.via is not None:
            at = plan.alias("e")
            plan.join(found.holder, at, f"{at}.{q(found.via.target_column)} = {picked}.{q(found.via.column)}")
            builder.stamp_row(found.holder, at)
        out = plan.add(at, found.column, f"{who}_{found.kind}", found.holder.name,
                       found.holder.columns[found.column])
        how = []
        gone = softdelete.flag(link, plan.dialect)
        if gone is not None or holder_gone is not None:
            how.append("not deleted (" + ", ".join(f"{t.name}.{softdelete.describe(g)}" for t, g in
                                                   ((link, gone), (found.holder, holder_gone)) if g) + ")")
        if unusable:
            how.append("none marked unusable (" + ", ".join(f"{found.holder.name}.{c!r}" for c in unusable) + ")")
        preferred = softdelete.preferred(link)
        if preferred is not None:
            how.append(f"the primary first ({preferred!r})")
        how.append("then the newest, then by key: one row per person")
        where = "" if found.via is None else f", {found.via.column!r} -> {found.holder.name}.{found.column}"
        why = (f"table {link.name!r} links rows of any table by {found.type_column!r} and {found.id_column!r}: "
               f"its {found.type_value!r} rows name {person.name!r} ({round(found.share * 100)}% of their "
               f"{found.id_column!r} values are its keys){where}, {round(found.read * 100)}% of the values "
               f"{'emails' if found.kind == 'email' else 'phone numbers'}; " + "; ".join(how))
        guesses.append(Guess(f"{who}.{found.kind}", out, 0.75, why, {"from": out}))
        builder.people.notes.append(f"{who}.{found.kind}: {why}")
    return guesses
