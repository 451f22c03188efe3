"""Of a contact table's columns, the one that types its rows, told by the values when no column
is named for a type.

A person's phones and emails kept as rows whose kind is a code (``system``: 'phone', 'email',
as a FHIR-shaped ``telecom`` table keeps it, beside ``use``: 'home', 'mobile') hold both kinds
in one value column; with no column named ``type`` or ``kind``, contactrows.py read the table
as plain rows, where no column is 80 % phones, and the patient had neither. The evidence: one
text column mixes phone numbers and emails, and a column of a few short codes splits it, each
code's values of one kind, at least one code's phones and one code's emails. A column of a few
words that splits nothing (a city, a 'home'/'work' use both kinds share) types no row.
Rejected: reading more names as types (``system``, ``use``, ``channel``), which a product's
naming decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import codewords
from clinicsync.sync.discover.graph import Schema, Table, audit
from clinicsync.sync.discover.kinds import TEXT
from clinicsync.sync.discover.values import profile

SAMPLE = 500  # rows read to tell a code column
MAX_CODES = 12  # distinct values of a code column
MAX_CODE_LENGTH = 32
MIN_ROWS = 3  # rows of a code for it to tell its kind
PURE = 0.8  # of a code's values of one kind, for the code to be of that kind
_MOBILE = re.compile(r"mobile|cell|movil|celular|sms|handy|portable|whatsapp", re.I)
_SAFE = re.compile(r"[\w ./+-]{1,32}")  # a code written as an SQL literal: no quote, backslash or colon


def _kinds(values: Sequence[str | None], region: str) -> str | None:
    """'phone' or 'email' when most of ``values`` are of that kind, else None."""
    p = profile(values, region)
    if p.present < MIN_ROWS:
        return None
    return next((kind for kind in ("phone", "email") if p.share(kind) >= PURE), None)


def kind_column(run: Callable[[str], list[Any]], quote: Callable[[str], str], table: Table, link: str,
                dialect: str, region: str) -> str | None:
    """The column of short codes that tells a phone row from an email row in ``table`` (rows
    referring to their person by ``link``), or None."""
    columns = [c for c, t in table.columns.items() if TEXT.search(t) and c not in (link, table.key)
               and not audit(c)]
    if len(columns) < 2 or table.key is None:
        return None
    rows = run(first_rows(f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)} "
                          f"ORDER BY {quote(table.key)} DESC", SAMPLE, dialect))
    cells = {c: [None if r[at] is None else str(r[at]) for r in rows] for at, c in enumerate(columns)}
    mixed = [c for c in columns if _mixed(cells[c], region)]
    for code_column in columns:
        codes = [v for v in cells[code_column] if v is not None]
        distinct = set(codes)
        if code_column in mixed or not 2 <= len(distinct) <= MAX_CODES \
                or any(len(v) > MAX_CODE_LENGTH for v in distinct) or len(codes) < PURE * len(rows):
            continue
        for value_column in mixed:
            if _splits(cells[code_column], cells[value_column], region):
                return code_column
    return None


def _mixed(values: Sequence[str | None], region: str) -> bool:
    """Whether a column holds phones and emails alike (each a fifth at least, together most)."""
    p = profile(values, region)
    return p.present >= 2 * MIN_ROWS and min(p.share("phone"), p.share("email")) >= 0.2 \
        and p.share("phone") + p.share("email") >= PURE


def _splits(codes: Sequence[str | None], values: Sequence[str | None], region: str) -> bool:
    """Whether every code with rows enough holds values of one kind, phones under one, emails
    under another."""
    by_code: dict[str, list[str | None]] = {}
    for code, value in zip(codes, values, strict=True):
        if code is not None:
            by_code.setdefault(code, []).append(value)
    found = set()
    for code_values in by_code.values():
        if len([v for v in code_values if v]) < MIN_ROWS:
            continue
        kind = _kinds(code_values, region)
        if kind is None:
            return False
        found.add(kind)
    return found == {"phone", "email"}


def mobile_code(run: Callable[[str], list[Any]], quote: Callable[[str], str], table: Table,
                skip: Sequence[str], condition: str, dialect: str,
                schema: Schema | None = None) -> tuple[str, str] | None:
    """Among a phone code's rows (``condition`` over ``cs_r``), another code column whose value
    says mobile (``use``: 'mobile' beside 'home'): the ordering that reads that row first and why.
    With ``schema``, a column of codes into a dictionary (codewords.py) is read by its words
    (``MobileContact`` beside ``PrimaryHome``), the ordering a subquery of the dictionary."""
    for column, type_name in table.columns.items():
        if column in skip or audit(column):
            continue
        words = codewords.words_of(run, quote, schema, table, column) if schema is not None else None
        if words is not None:
            said = list(words.words)
        elif TEXT.search(type_name):
            rows = run(first_rows(f"SELECT DISTINCT cs_r.{quote(column)} FROM {quote(table.name)} AS cs_r "
                                  f"WHERE {condition}", MAX_CODES + 1, dialect))
            said = [str(r[0]) for r in rows if r[0] is not None]
        else:
            continue
        mobile = [w for w in said if _MOBILE.search(w) and _SAFE.fullmatch(w)]
        if len(said) > MAX_CODES or len(mobile) != 1 or len(said) < 2:
            continue
        test = words.among(f"cs_r.{quote(column)}", mobile, quote) if words is not None \
            else f"cs_r.{quote(column)} = '{mobile[0]}'"
        return f"CASE WHEN {test} THEN 0 ELSE 1 END", f"the row whose {column!r} is {mobile[0]!r} first"
    return None
