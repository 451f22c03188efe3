"""discover's row-limited probes in the source server's own SQL (connectors/sql_limit.py):
SQL Server has no LIMIT, so there the first rows are ``SELECT TOP n``, as SQLAlchemy's mssql
compiler writes ``select(...).limit(n)``; elsewhere ``LIMIT n``. No SQL Server runs here: the
T-SQL form is compared with SQLAlchemy's and parsed by sqlglot as T-SQL, and a real discover
on PostgreSQL has every statement it sends with a row limit written by the one helper, each of
which, written for SQL Server, is T-SQL with TOP and no LIMIT."""

from __future__ import annotations

import pkgutil
import re
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlalchemy import Engine, column, event, select, table
from sqlalchemy.dialects import mssql
from sqlglot import exp

import clinicsync.sync.discover as discover_package
from clinicsync.connectors import sql_limit
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.sql import discover_sql
from clinicsync.sync.discover.successors import seconds_apart
from tests.discover.files_support import check_proposal
from tests.discover.test_sql_successors import _source

# Every module of the discover package: a new rule's probes are spied without a list to keep.
DISCOVER = sorted(m.name for m in pkgutil.iter_modules(discover_package.__path__))
_LIMIT = re.compile(r"\bLIMIT\b", re.IGNORECASE)


def _flat(sql: str) -> str:
    return " ".join(sql.split())


def test_sql_server_gets_top_as_sqlalchemy_writes_it() -> None:
    probe = select(column("a")).select_from(table("t")).where(column("a").is_not(None))
    for statement, text_sql in ((probe.limit(50), "SELECT a FROM t WHERE a IS NOT NULL"),
                                (probe.distinct().limit(5), "SELECT DISTINCT a FROM t WHERE a IS NOT NULL"),
                                (probe.order_by(column("a").desc()).limit(1),
                                 "SELECT a FROM t WHERE a IS NOT NULL ORDER BY a DESC")):
        compiled = str(statement.compile(dialect=mssql.dialect(), compile_kwargs={"literal_binds": True}))
        assert _flat(first_rows(text_sql, statement._limit or 0, "mssql")) == _flat(compiled)


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "mariadb", "sqlite"])
def test_other_servers_get_limit(dialect: str) -> None:
    assert first_rows("SELECT a FROM t ORDER BY a", 3, dialect) == "SELECT a FROM t ORDER BY a LIMIT 3"


def test_a_correlated_subquery_and_what_is_no_select() -> None:
    inner = first_rows("SELECT o.k FROM o WHERE o.p = a.p ORDER BY o.at DESC", 1, "mssql")
    outer = first_rows(f"select\n  a.k, ({inner}) AS prev FROM a ORDER BY a.k DESC", 200, "mssql")
    tree = sqlglot.parse_one(outer, read="tsql")
    assert tree.args["limit"].expression.this == "200" and not _LIMIT.search(outer)
    assert [limit.expression.this for limit in tree.find_all(exp.Limit)] == ["200", "1"]
    with pytest.raises(ValueError, match="starting with SELECT"):
        first_rows("WITH x AS (SELECT 1) SELECT * FROM x", 1, "mssql")


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[tuple[str, int]], list[str]]]:
    """(each ``first_rows`` call discover makes: its SELECT and row count; each statement it
    sends to the server), recorded while the real helper writes the real statements."""
    calls: list[tuple[str, int]] = []
    sent: list[str] = []

    def spy(sql: str, rows: int, dialect: str) -> str:
        calls.append((sql, rows))
        return sql_limit.first_rows(sql, rows, dialect)

    for name in DISCOVER:
        module = import_module(f"clinicsync.sync.discover.{name}")
        if hasattr(module, "first_rows"):
            monkeypatch.setattr(module, "first_rows", spy)

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        yield calls, sent
    finally:
        event.remove(Engine, "before_cursor_execute", seen)


@pytest.mark.postgres
def test_every_limited_probe_of_a_real_discover_is_written_by_the_helper(
        postgres_url: str, tmp_path: Path, probes: tuple[list[tuple[str, int]], list[str]]) -> None:
    """Patients, visits, and moved visits named by newer rows (a correlated subquery in the
    proposed query): the proposal still maps every row; no statement sent carries a LIMIT the
    helper did not write, and every probe, written for SQL Server, is T-SQL with its TOP."""
    _source(postgres_url, linked=True)
    proposal = discover_sql(postgres_url, name="moves", timezone="Europe/Madrid")
    calls, sent = list(probes[0]), list(probes[1])  # discover's own; `check` below reads through the connector
    result = check_proposal(proposal, tmp_path, "Europe/Madrid", "ES")
    assert result.mapped == result.sampled == 70
    assert len(calls) >= 5  # the table probe, the samples by value, the patient's, the proposal's sample
    written = sorted((first_rows(sql, rows, "postgresql").replace("\\:", ":") for sql, rows in calls),
                     key=len, reverse=True)
    for statement in sent:
        rest = re.sub(r"%\((\w+)\)s", r":\1", statement).replace("%%", "%")
        for text_sql in written:
            rest = rest.replace(text_sql, "")
        assert not _LIMIT.search(rest), statement
    for sql, rows in calls:
        tsql = first_rows(sql, rows, "mssql")
        assert not _LIMIT.search(tsql)
        assert sqlglot.parse_one(tsql, read="tsql").args["limit"].expression.this == str(rows)


def test_seconds_apart_is_each_servers_own_arithmetic() -> None:
    """The successor rule's "created within a moment of the old row's change" on SQL Server:
    T-SQL has no julianday (SQLite's), so the comparison is DATEDIFF_BIG in seconds, which
    sqlglot reads as T-SQL and turns into the other servers' own forms."""
    apart = seconds_apart("n.created_at", "o.updated_at", "mssql")
    assert "julianday" not in apart.lower()
    tree = sqlglot.parse_one(f"SELECT o.k FROM t AS o, t AS n WHERE {apart} <= 120", read="tsql")
    diff = next(tree.find_all(exp.DateDiff))
    assert diff.unit is not None and diff.unit.name.upper() == "SECOND"
    assert {c.sql() for c in diff.find_all(exp.Column)} == {"n.created_at", "o.updated_at"}
    for dialect in ("postgresql", "mysql", "sqlite"):
        assert "DATEDIFF" not in seconds_apart("a", "b", dialect)
