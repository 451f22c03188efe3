"""The statement guard: one reading statement only, decided by parsing (table of cases)."""

from __future__ import annotations

import pytest

from clinicsync.connectors.sql import QUERY_BINDS, WRITEBACK_BINDS
from clinicsync.connectors.sql_guard import StatementRefused, check_select, check_update

ACCEPTED = [
    ("SELECT id FROM t WHERE updated_at >= :cursor", {"cursor"}),
    ("select id from t;", set()),
    ("SELECT 1; -- a trailing comment\n", set()),
    ("/* comment; DROP TABLE t */ SELECT ';' AS semi, \"x;y\" FROM t -- ; DELETE FROM t\n", set()),
    ("WITH recent AS (SELECT * FROM t WHERE d BETWEEN :window_start AND :window_end) SELECT * FROM recent",
     {"window_start", "window_end"}),
    ("SELECT a FROM t WHERE b = 'it''s; DROP TABLE x'", set()),
    ("SELECT REPLACE(name, 'a', 'b') AS r, `update`, t.delete, create_time FROM t", set()),
    ("SELECT x::date, '10:30' AS clock FROM t", set()),
    ("(SELECT 1 AS a) UNION (SELECT 2)", set()),
]

REFUSED = [
    ("DELETE FROM appointments", "must be a SELECT"),
    ("UPDATE t SET a = 1", "must be a SELECT"),
    ("SELECT 1; DROP TABLE t", "one statement; found 2"),
    ("select 1;\nselect 2", "one statement; found 2"),
    ("WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone", "contains DELETE"),
    ("SELECT * FROM t FOR UPDATE", "contains UPDATE"),
    ("SELECT * FROM t FOR SHARE", "contains SHARE"),
    ("SELECT * FROM t LOCK IN SHARE MODE", "contains LOCK"),
    ("SELECT * INTO copy_of_t FROM t", "contains INTO"),
    ("SELECT * FROM t INTO OUTFILE '/tmp/leak.csv'", "contains INTO"),
    ("CALL purge_old()", "must be a SELECT"),
    ("TRUNCATE appointments", "must be a SELECT"),
    ("   ", "empty"),
    ("-- only a comment", "empty"),
    ("SELECT * FROM t WHERE id = :patient", "unknown bind(s) [':patient']"),
    ("SELECT * FROM t WHERE id = ?", "unsupported placeholder"),
]


@pytest.mark.parametrize(("sql", "binds"), ACCEPTED)
def test_reading_statements_are_accepted(sql: str, binds: set[str]) -> None:
    checked = check_select(sql, QUERY_BINDS)
    assert checked.binds == binds
    assert not checked.text.rstrip().endswith(";")


@pytest.mark.parametrize(("sql", "reason"), REFUSED)
def test_anything_else_is_refused_with_the_reason(sql: str, reason: str) -> None:
    with pytest.raises(StatementRefused) as caught:
        check_select(sql, QUERY_BINDS)
    assert reason in str(caught.value)


def test_the_trailing_semicolon_and_comment_are_removed() -> None:
    assert check_select("SELECT a FROM t; -- done\n", QUERY_BINDS).text == "SELECT a FROM t"


@pytest.mark.parametrize(("sql", "reason"), [
    ("UPDATE e SET s = :status WHERE id = :external_id", None),
    ("UPDATE e SET s = :status", "no WHERE"),
    ("DELETE FROM e WHERE id = :external_id", "single UPDATE"),
    ("UPDATE e SET s = :status WHERE id = :external_id; DELETE FROM e", "one statement"),
    ("UPDATE e SET s = :status WHERE id = :who", "unknown bind"),
    ("SELECT 1", "single UPDATE"),
])
def test_the_writeback_statement_is_one_update(sql: str, reason: str | None) -> None:
    if reason is None:
        assert check_update(sql, WRITEBACK_BINDS).binds == {"status", "external_id"}
        return
    with pytest.raises(StatementRefused) as caught:
        check_update(sql, WRITEBACK_BINDS)
    assert reason in str(caught.value)


@pytest.mark.parametrize(("sql", "dialect", "reason"), [
    ("SELECT nextval('appointment_seq') AS n", "postgres", "contains nextval()"),
    ("SELECT pg_advisory_lock(42)", "postgres", "contains pg_advisory_lock()"),
    ("SELECT GET_LOCK('sync', 10)", "mysql", "contains get_lock()"),
    ("SELECT load_extension('evil.so')", "sqlite", "contains load_extension()"),
    ("SELECT 1 /*! INTO OUTFILE '/tmp/leak.csv' */", "mysql", "MySQL runs as SQL"),
    ("WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", "postgres", "contains INSERT"),
    ("SELECT * FROM t WHERE id = $1", "postgres", "unsupported placeholder '$1'"),
    ("SELECT * FROM t WHERE id = %(id)s", "postgres", "unsupported placeholder"),
    ("SELECT `id` FROM t", "postgres", "postgres SQL does not accept"),
])
def test_each_dialect_reads_the_statement_its_own_way(sql: str, dialect: str, reason: str) -> None:
    """Writes, locks and side-effect functions are refused in the source's own dialect."""
    with pytest.raises(StatementRefused) as caught:
        check_select(sql, QUERY_BINDS, dialect)
    assert reason in str(caught.value)


def test_quoting_follows_the_dialect() -> None:
    """MySQL reads double quotes as a string and backticks as an identifier; PostgreSQL
    reads double quotes as an identifier; either way the ';' inside is not a separator."""
    assert check_select('SELECT "a;b", `c` FROM t', QUERY_BINDS, "mysql").text == 'SELECT "a;b", `c` FROM t'
    assert check_select('SELECT "a;b" FROM t', QUERY_BINDS, "postgres").binds == frozenset()
