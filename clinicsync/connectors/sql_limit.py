"""A SELECT clinicsync writes as text, cut to its first rows in the SQL the source server speaks.

PostgreSQL, MySQL/MariaDB and SQLite end the statement with ``LIMIT n``; SQL Server has no
LIMIT and puts ``TOP n`` after ``SELECT`` (after ``DISTINCT`` when there is one): what
SQLAlchemy's own mssql compiler writes for ``select(...).limit(n)`` without an offset. TOP,
unlike ``OFFSET … FETCH``, needs no ORDER BY and stands in a correlated subquery (``(SELECT
TOP 1 x FROM t WHERE t.k = a.k ORDER BY …)``, which SQL Server accepts with an ORDER BY only
under TOP), so one form serves every probe and every subquery a discovered query carries.

Text, not a Core ``select()``: discover's probes read derived tables over the admin's own
query, write correlated subqueries into the query it proposes, and pass through ``text()``
and the connector's SELECT guard with names quoted for ``text()`` (``:`` escaped); a Core
statement compiled to text would need all of that again.
"""

from __future__ import annotations

import re

_HEAD = re.compile(r"\s*SELECT(?:\s+DISTINCT)?\s+", re.IGNORECASE)


def first_rows(sql: str, rows: int, dialect: str) -> str:
    """``sql`` (one SELECT, ``SELECT [DISTINCT]`` at its start) returning at most ``rows`` rows
    on a server of ``dialect`` (SQLAlchemy's ``dialect.name``); ValueError when ``sql`` does
    not start so (a WITH, a UNION in parentheses: SQL Server's TOP has no place to go)."""
    count = int(rows)
    if dialect != "mssql":
        return f"{sql} LIMIT {count}"
    head = _HEAD.match(sql)
    if head is None:
        raise ValueError("only a statement starting with SELECT can be cut to its first rows on SQL Server")
    return f"{sql[:head.end()]}TOP {count} {sql[head.end():]}"
