"""A party's phone kept as a contact row whose fields are attribute rows: a generic store keeps
each contact as a row naming its party (``contacts.party_id``, typed ``contact.phoneNumber``,
``contact.email``, ``contact.location``) and each of its fields as a (contact, name, value) row
(``telephoneNumber`` '0412 345 678', ``areaCode`` '03', ``sms`` 'true', ``preferred`` 'false').

Why: the contact row has no phone column, so contactrows.py (which reads columns) found nothing
and no visit could be reminded though every customer has a number.

The rule, from the values, never from a product's names:
- the number is the attribute whose values are phone-shaped (digits with spaces, dashes,
  brackets or a leading +) on ``SHAPED`` of its sampled rows; several such keys: the one whose
  name says a phone.
- an area code kept apart is an attribute whose name says area or prefix and whose values are a
  few digits or empty: written before the number (a Melbourne '03' + '9123 4567').
- of the party's several contact rows with a number: the one flagged for text messages first
  (a true flag whose name says sms, text or mobile), then the one flagged preferred or primary,
  then the first by key. A work number neither flagged is never taken over them.
Rejected: the first contact row by key (a work line entered first would be texted), reading
every attribute as a column (a contact row is one of several per party: the join must pick one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import softdelete
from clinicsync.sync.discover.graph import Ref, Table
from clinicsync.sync.discover.kinds import TEXT, Builder
from clinicsync.sync.discover.metarows import literal, plain
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.vocab import name_tokens, token_role

SAMPLE = 3000  # attribute rows read
SHAPED = 0.8
_PHONE_SHAPE = re.compile(r"^\+?[\d\s().-]{6,20}$")
_AREA = re.compile(r"^\d{0,5}$")
_TRUE = ("true", "1", "yes", "y", "t")
_SMS = re.compile(r"(?i)sms|text|mobile|cell")
_PREFERRED = re.compile(r"(?i)prefer|primary|default|main")
_AREA_NAME = re.compile(r"(?i)area|prefix|std|trunk")
_VALUE = re.compile(r"(?i)^(value|val|attribute_?value|attr_?value|field_?value|meta_?value)$")
_KEY = re.compile(r"(?i)^(name|key|attribute|attr|field|meta_?key|attribute_?name|field_?name)$")


@dataclass(frozen=True)
class Attributes:
    """``table`` holds rows of a parent's attributes: the parent by ``owner``, ``key``, ``value``."""

    table: Table
    owner: str
    key: str
    value: str


def attributes_of(builder: Builder, parent: Table) -> Attributes | None:
    """The attribute rows of ``parent``'s rows, or None."""
    for child in builder.schema.children(parent.name):
        table = builder.schema.tables[child.table]
        value = next((c for c in table.columns if _VALUE.match(c)), None)
        key = next((c for c in table.columns if _KEY.match(c) and c != value and TEXT.search(table.columns[c])), None)
        if value is not None and key is not None:
            return Attributes(table, child.column, key, value)
    return None


def pivot(builder: Builder, found: Attributes, owner_sql: str, key: str) -> str:
    """The SQL reading one attribute of the row ``owner_sql`` names."""
    q = builder.q
    return (f"(SELECT MAX(cs_m.{q(found.value)}) FROM {q(found.table.name)} AS cs_m WHERE cs_m.{q(found.owner)} = "
            f"{owner_sql} AND cs_m.{q(found.key)} = {literal(key)})")


def _keys(builder: Builder, found: Attributes) -> dict[str, list[str]]:
    q = builder.q
    rows = builder.run(first_rows(f"SELECT {q(found.key)}, {q(found.value)} FROM {q(found.table.name)}", SAMPLE,
                                  builder.plan.dialect))
    keys: dict[str, list[str]] = {}
    for key, value in rows:
        if key is not None and plain(str(key)):
            keys.setdefault(str(key), []).append("" if value is None else str(value).strip())
    return keys


def _share(values: list[str], shape: re.Pattern[str]) -> float:
    return sum(bool(shape.match(v)) for v in values) / len(values) if values else 0.0


def _says_phone(key: str) -> bool:
    return any(token_role(t) == "phone" for t in name_tokens(key))


def place(builder: Builder, contact: Ref, party: Table, alias: str, who: str = "patient") -> list[Guess]:
    """The party's phone read from its contact rows' attributes; [] when they hold none."""
    q, plan, schema = builder.q, builder.plan, builder.schema
    table = schema.tables[contact.table]
    if table.key is None or party.key is None:
        return []
    found = attributes_of(builder, table)
    if found is None:
        return []
    keys = _keys(builder, found)
    numbers = [k for k, v in keys.items() if _share([x for x in v if x], _PHONE_SHAPE) >= SHAPED
               and not _share(v, _AREA) >= SHAPED]
    if not numbers:
        return []
    number = sorted(numbers, key=lambda k: (not _says_phone(k), -len(keys[k])))[0]
    area = next((k for k, v in keys.items() if _AREA_NAME.search(k) and _share(v, _AREA) >= SHAPED), None)
    flags = [k for k, v in keys.items() if v and all(x.lower() in (*_TRUE, "false", "0", "no", "n", "f") for x in v)]
    sms = next((k for k in flags if _SMS.search(k)), None)
    preferred = next((k for k in flags if _PREFERRED.search(k)), None)
    row = f"cs_c.{q(table.key)}"
    order = [f"CASE WHEN LOWER({pivot(builder, found, row, k)}) IN ({', '.join(map(literal, _TRUE))}) THEN 0 "
             "ELSE 1 END" for k in (sms, preferred) if k is not None] + [row]
    live = softdelete.live_links(table, "cs_c", q, plan.dialect)
    chosen = first_rows(f"SELECT {row} FROM {q(table.name)} AS cs_c WHERE cs_c.{q(contact.column)} = "
                        f"{alias}.{q(party.key)}{live} AND {pivot(builder, found, row, number)} <> '' "
                        f"ORDER BY {', '.join(order)}", 1, plan.dialect)
    at = plan.alias("c")
    plan.join(table, at, f"{at}.{q(table.key)} = ({chosen})")
    outs = ([plan.expr(pivot(builder, found, f"{at}.{q(table.key)}", area), f"{who}_{area}", found.table.name,
                       "varchar")] if area else [])
    outs.append(plan.expr(pivot(builder, found, f"{at}.{q(table.key)}", number), f"{who}_{number}",
                          found.table.name, "varchar"))
    ranked = " then ".join(f"{k!r} true" for k in (sms, preferred) if k) or "none flagged"
    why = (f"the {found.table.name!r} row {number!r}" + (f" after {area!r}" if area else "")
           + f" of the {who}'s {table.name!r} row ({ranked}, then the first by key)")
    field = "practitioner.phone" if who == "doctor" else f"{who}.phone"
    return [Guess(field, " + ".join(outs), 0.8, why, {"from": outs[0]} if len(outs) == 1 else {"concat": outs})]
