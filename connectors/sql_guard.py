"""What a configured SQL statement may be, decided by parsing it (sqlparse), not by
pattern-matching text: comments, quoted strings and identifiers cannot hide a second
statement or a write. The database's read-only transaction is the real guard; this
one gives the IT person a clear error before anything runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlparse
from sqlparse import tokens as T
from sqlparse.sql import Statement

# Keywords that write, lock, or leave the statement (SELECT … INTO, LOCK IN SHARE MODE, CALL …).
_FORBIDDEN_KEYWORDS = frozenset({
    "INTO", "LOCK", "CALL", "EXEC", "EXECUTE", "GRANT", "REVOKE", "COPY", "LOAD", "HANDLER", "DO",
    "PREPARE", "DEALLOCATE", "VACUUM", "ANALYZE", "REINDEX", "CLUSTER", "NOTIFY", "LISTEN", "SHARE",
})
_BIND = re.compile(r"^:([A-Za-z_][A-Za-z0-9_]*)$")


class StatementRefused(ValueError):
    """The statement is not the kind this setting allows; the message says why."""


@dataclass(frozen=True)
class CheckedStatement:
    """One statement, without its trailing semicolon, and the named binds it uses."""

    text: str
    binds: frozenset[str]


def _statements(sql: str) -> list[Statement]:
    return [s for s in sqlparse.parse(sql) if s.token_first(skip_ws=True, skip_cm=True) is not None]


def _single(sql: str, what: str) -> Statement:
    statements = _statements(sql)
    if not statements:
        raise StatementRefused(f"the {what} is empty")
    if len(statements) > 1:
        raise StatementRefused(f"the {what} must be one statement; found {len(statements)} separated by ';'")
    return statements[0]


def _binds(statement: Statement) -> frozenset[str]:
    names = set()
    for token in statement.flatten():
        if token.ttype in T.Name.Placeholder:
            match = _BIND.match(token.value)
            if match is None:
                raise StatementRefused(f"unsupported placeholder {token.value!r}; use named binds such as :cursor")
            names.add(match.group(1))
    return frozenset(names)


def _text(statement: Statement) -> str:
    """The statement's text with a trailing ';' (and what follows it) removed."""
    tokens = list(statement.flatten())
    while tokens and (tokens[-1].is_whitespace or tokens[-1].ttype in T.Comment
                      or tokens[-1].match(T.Punctuation, ";")):
        tokens.pop()
    return "".join(t.value for t in tokens)


def _keywords(statement: Statement) -> list[tuple[object, str]]:
    return [(t.ttype, t.value.upper()) for t in statement.flatten() if t.ttype in T.Keyword]


def check_select(sql: str, allowed_binds: frozenset[str]) -> CheckedStatement:
    """Accept exactly one SELECT (or WITH … SELECT) that neither writes nor locks."""
    statement = _single(sql, "query")
    keywords = _keywords(statement)
    first = keywords[0][1] if keywords else ""
    if first not in ("SELECT", "WITH"):
        raise StatementRefused(
            f"the query must be a SELECT (or WITH … SELECT); it starts with {first or 'no keyword'!r}. "
            "clinicsync only reads from the source database")
    for ttype, word in keywords:
        if ttype in T.Keyword.DML and word != "SELECT":
            raise StatementRefused(f"the query contains {word}: only reading statements are allowed")
        if ttype in T.Keyword.DDL:
            raise StatementRefused(f"the query contains {word}: schema changes are not allowed")
        if word in _FORBIDDEN_KEYWORDS:
            raise StatementRefused(f"the query contains {word}: it may write or lock; only plain reads are allowed")
    binds = _binds(statement)
    unknown = sorted(binds - allowed_binds)
    if unknown:
        raise StatementRefused(f"unknown bind(s) {[':' + b for b in unknown]}; available: "
                               f"{[':' + b for b in sorted(allowed_binds)]}")
    return CheckedStatement(_text(statement), binds)


def check_update(sql: str, allowed_binds: frozenset[str]) -> CheckedStatement:
    """Accept exactly one UPDATE (the write-back statement): no DELETE, no DDL, no second statement."""
    statement = _single(sql, "write-back statement")
    keywords = _keywords(statement)
    if not keywords or keywords[0][1] != "UPDATE":
        raise StatementRefused("the write-back statement must be a single UPDATE")
    for ttype, word in keywords[1:]:
        if (ttype in T.Keyword.DML and word not in ("SELECT",)) or ttype in T.Keyword.DDL:
            raise StatementRefused(f"the write-back statement contains {word}: only one UPDATE is allowed")
        if word in _FORBIDDEN_KEYWORDS:
            raise StatementRefused(f"the write-back statement contains {word}: only one UPDATE is allowed")
    if not any(word == "WHERE" for _, word in keywords):
        raise StatementRefused("the write-back statement has no WHERE: it would update every row")
    binds = _binds(statement)
    unknown = sorted(binds - allowed_binds)
    if unknown:
        raise StatementRefused(f"unknown bind(s) {[':' + b for b in unknown]}; available: "
                               f"{[':' + b for b in sorted(allowed_binds)]}")
    return CheckedStatement(_text(statement), binds)
