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
