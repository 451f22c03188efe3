"""Every current number of a person's untyped phone rows in one cell, in the database's own SQL.

Why: a contact table without a type column (``client_phones(client_id, phone, preferred,
emergency)``) does not say which row is the mobile, and the preferred or newest row is a
landline for many patients who have a mobile in another row: reading that one row sends them no
text. The mapping already reads a cell of several numbers ("020 7946 0001 / 07911 100001") as
its first mobile, the others kept as fallbacks (mappings/transforms.py, ``phone_parser``), so
the proposal gathers the person's own rows into one such cell, the preferred and newest first:
the mobile where there is one, else the number the single row would have given.

Rejected: guessing the mobile's row in SQL (no portable number-type test; the numbering plan
lives in phonenumbers); a literal list of the mobiles' row ids (stale the day a row is added).
"""

from __future__ import annotations

from collections.abc import Sequence

SEPARATOR = " / "  # one of the separators the phone parser splits a cell on


def gathered(dialect: str, value: str, source: str, where: Sequence[str], order: Sequence[str],
             separator: str = SEPARATOR) -> str:
    """A correlated subquery giving ``value`` of every row of ``source`` (aliased ``cs_r``)
    meeting ``where``, in ``order``, joined by ``separator``; NULL when there is none."""
    condition = " AND ".join([*where, f"{value} IS NOT NULL", f"{value} <> ''"])
    by = ", ".join(order)
    if dialect in ("mysql", "mariadb"):
        return f"(SELECT GROUP_CONCAT({value} ORDER BY {by} SEPARATOR '{separator}') FROM {source} WHERE {condition})"
    if dialect == "mssql":
        return (f"(SELECT STRING_AGG(CAST({value} AS NVARCHAR(MAX)), '{separator}') WITHIN GROUP (ORDER BY {by}) "
                f"FROM {source} WHERE {condition})")
    if dialect == "sqlite":  # group_concat keeps the order of the rows it reads (ORDER BY inside it: 3.44+)
        return (f"(SELECT group_concat(cs_v, '{separator}') FROM (SELECT {value} AS cs_v FROM {source} "
                f"WHERE {condition} ORDER BY {by}))")
    return f"(SELECT string_agg(CAST({value} AS TEXT), '{separator}' ORDER BY {by}) FROM {source} WHERE {condition})"
