"""A party's phone and email kept as contact rows it links to over a validity range: a link table
keyed by (party, contact, since) with an end column (a number given up has its link ended), a
contact row whose text column holds the email, and the phone on a one-to-one extension of the
contact row in parts (country code, area code, number).

Why: an ERP keeps every way to reach a party (postal, phone, email) as a contact row shared by
the parties that link to it, and a phone as the three parts its form asks for. No column of the
party holds either, so no visit could be reminded. The rule reads the shape and the values: the
link table's end column (history.py), a contact column whose values are emails, an extension
whose parts, put together, are numbers the region's plan holds valid. The newest link still open
wins, a phone link whose purpose row says mobile before any other (mobilepurpose.py). Rejected:
a list of contact-type codes (``EMAIL_ADDRESS``, ``TELECOM_NUMBER``): the values themselves say
which row is an email and which a phone.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable

import phonenumbers

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import history
from clinicsync.sync.discover.contacts.mobilepurpose import mobile_first
from clinicsync.sync.discover.extension import one_per_person
from clinicsync.sync.discover.graph import Ref, Table, audit
from clinicsync.sync.discover.kinds import TEXT, Builder
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.vocab import name_tokens

SAMPLE = 50  # rows read to judge a column's values
EMAILS = 0.5  # of a contact column's filled values that are emails, for it to hold the email
PHONES = 0.8  # of an extension's rows whose parts make a valid number
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _parts(table: Table) -> dict[str, str] | None:
    """The phone's part columns of ``table`` by their words: country (code), area (code), the
    number; None without a number column."""
    found: dict[str, str] = {}
    for column, type_name in table.columns.items():
        if not TEXT.search(type_name) or audit(column) or column in table.primary_key:
            continue
        tokens = set(name_tokens(column))
        part = "country" if "country" in tokens else "area" if "area" in tokens else \
            "number" if tokens & {"number", "phone", "tel", "telephone"} else None
        if part is not None and part not in found:
            found[part] = column
    return found if "number" in found else None


def _assembled(parts: dict[str, str], alias: str, q: Callable[[str], str], dialect: str) -> str:
    """SQL putting the parts together: ``+country area number``, an empty part left out."""
    col = {k: f"{alias}.{q(v)}" for k, v in parts.items()}
    if dialect in ("mysql", "mariadb"):
        head = [f"CONCAT('+', NULLIF({col['country']}, ''))"] if "country" in col else []
        area = [f"NULLIF({col['area']}, '')"] if "area" in col else []
        return f"CONCAT_WS(' ', {', '.join([*head, *area, col['number']])})"
    pieces = [f"(CASE WHEN COALESCE({col['country']}, '') = '' THEN '' ELSE '+' || {col['country']} || ' ' END)"] \
        if "country" in col else []
    pieces += [f"(CASE WHEN COALESCE({col['area']}, '') = '' THEN '' ELSE {col['area']} || ' ' END)"] \
        if "area" in col else []
    return " || ".join([*pieces, col["number"]])


def _valid_share(builder: Builder, table: Table, parts: dict[str, str]) -> float:
    """Of the extension's sampled rows, the share whose parts make a number valid in the region."""
    q = builder.q
    names = list(parts.values())
    rows = builder.run(first_rows(f"SELECT {', '.join(q(c) for c in names)} FROM {q(table.name)} WHERE "
                                  f"{q(parts['number'])} IS NOT NULL", SAMPLE, builder.plan.dialect))
    valid = 0
    for row in rows:
        cells = dict(zip(parts, row, strict=True))
        text = " ".join(str(cells[k]) for k in ("area", "number") if cells.get(k))
        if cells.get("country"):
            text = f"+{cells['country']} {text}"
        with contextlib.suppress(phonenumbers.NumberParseException):
            valid += phonenumbers.is_valid_number(phonenumbers.parse(text, builder.region))
    return valid / len(rows) if rows else 0.0


def _email_column(builder: Builder, table: Table) -> str | None:
    q = builder.q
    for column, type_name in table.columns.items():
        if not TEXT.search(type_name) or column in table.primary_key or audit(column):
            continue
        cells = [r[0] for r in builder.run(first_rows(f"SELECT {q(column)} FROM {q(table.name)} WHERE {q(column)} "
                                                      f"IS NOT NULL AND {q(column)} <> ''", SAMPLE,
                                                      builder.plan.dialect))]
        if cells and sum(bool(_EMAIL.match(str(c).strip())) for c in cells) >= EMAILS * len(cells):
            return column
    return None


def place(builder: Builder, party: Table, alias: str, who: str = "patient") -> list[Guess]:
    """The party's email and phone through its dated contact links; [] when it has none."""
    schema = builder.schema
    if party.key is None:
        return []
    children = sorted(schema.children(party.name), key=lambda r: len(schema.refs(r.table)))
    for mine in children:
        links = schema.tables[mine.table]
        ended = history.end_column(links)
        if ended is None or mine.column not in links.primary_key:
            continue
        for contact in schema.refs(links.name):
            target = schema.tables.get(contact.target)
            if target is None or contact.column == mine.column or contact.column not in links.primary_key \
                    or target.key is None:
                continue
            guesses = _guesses(builder, party, alias, who, links, mine, contact, ended)
            if guesses:
                return guesses
    return []


def _guesses(builder: Builder, party: Table, alias: str, who: str, links: Table, mine: Ref, contact: Ref,
             ended: str) -> list[Guess]:
    schema, q, plan = builder.schema, builder.q, builder.plan
    target = schema.tables[contact.target]
    start = history.start_column(links)
    base = (f"FROM {q(links.name)} AS cs_k JOIN {q(target.name)} AS cs_c ON cs_c.{q(contact.target_column)} = "
            f"cs_k.{q(contact.column)}")
    where = (f"cs_k.{q(mine.column)} = {alias}.{q(mine.target_column)} AND {history.current('cs_k', q(ended))}")
    order = f" ORDER BY cs_k.{q(start)} DESC" if start else ""
    why = (f"the newest of the {who}'s {links.name!r} links still open ({ended!r} empty or ahead) to a "
           f"{target.name!r} row")
    guesses = []
    ranked = mobile_first(builder, party, target, links, mine, contact)
    email = _email_column(builder, target)
    if email is not None:
        sql = first_rows(f"SELECT cs_c.{q(email)} {base} WHERE {where} AND cs_c.{q(email)} LIKE '%@%'{order}", 1,
                         plan.dialect)
        out = plan.expr(f"({sql})", f"{who}_email", target.name, "varchar")
        guesses.append(Guess(f"{who}.email", out, 0.7, f"{why} whose {email!r} holds an email", {"from": out}))
    for child in schema.children(target.name):
        extension = schema.tables[child.table]
        parts = _parts(extension) if one_per_person(extension, child) else None
        if parts is None or _valid_share(builder, extension, parts) < PHONES:
            continue
        phone = _assembled(parts, "cs_e", q, plan.dialect)
        ordered = order if ranked is None else f" ORDER BY {ranked[0]}" + (f", cs_k.{q(start)} DESC" if start else "")
        sql = first_rows(f"SELECT {phone} {base} JOIN {q(extension.name)} AS cs_e ON cs_e.{q(child.column)} = "
                         f"cs_c.{q(contact.target_column)} WHERE {where} AND cs_e.{q(parts['number'])} IS NOT NULL"
                         f"{ordered}", 1, plan.dialect)
        out = plan.expr(f"({sql})", f"{who}_phone", extension.name, "varchar")
        first = "" if ranked is None else f", one a {ranked[1]!r} row calls mobile first"
        guesses.append(Guess(f"{who}.phone", out, 0.7, f"{why} with a {extension.name!r} row{first}: the number "
                             f"put together from {', '.join(map(repr, parts.values()))}", {"from": out}))
        break
    return guesses
