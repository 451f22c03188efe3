"""What a configured SQL statement may be, decided by parsing it with sqlglot in the
source database's own dialect, not by pattern-matching text: comments, quoted strings
and identifiers cannot hide a second statement or a write, and a word is judged by the
part it plays in the statement (``t.delete`` is a column, ``DELETE`` in a CTE is a write).

sqlglot replaced a sqlparse token walk with a keyword list: it knows each
dialect's quoting (MySQL backticks and double-quoted strings, PostgreSQL ``::`` casts
and ``$1``), gives a syntax tree in which writes, locking clauses, ``SELECT … INTO`` and
function calls are nodes rather than guesses, and is maintained against the dialects'
grammars. The database's read-only transaction is the real guard; this one gives the IT
person a clear error before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from clinicsync.connectors.sql_passed import CheckedStatement

# The dialects a statement is read in when the source database is not known: a statement
# passes only if at least one of them can read it and none that can finds anything refused.
DIALECTS = ("sqlite", "postgres", "mysql")
# SQLAlchemy dialect names → sqlglot dialect names, where they differ.
_SQLALCHEMY_NAMES = {"postgresql": "postgres", "mariadb": "mysql", "mssql": "tsql"}

# Nodes that write, lock, change the session or schema, or leave the statement.
_REFUSED_NODES: tuple[type[exp.Expr], ...] = (
    exp.DML, exp.DDL, exp.Drop, exp.Alter, exp.TruncateTable, exp.Command, exp.Into, exp.Lock,
    exp.Set, exp.Pragma, exp.Transaction, exp.Commit, exp.Rollback, exp.Use, exp.Grant, exp.Revoke,
    exp.LoadData, exp.Kill, exp.Analyze, exp.Cache, exp.Uncache, exp.Refresh, exp.LockingStatement,
)
_NODE_WORDS = {"TruncateTable": "TRUNCATE", "LoadData": "LOAD", "LockingStatement": "LOCK"}

# Functions with effects beyond reading: sequences, locks, files, session settings, other
# connections. Checked by name (lower case); a prefix entry ends with '*'. Sleeps only take
# time, which the statement timeout bounds, so they are not here.
_SIDE_EFFECT_FUNCTIONS = frozenset({
    # PostgreSQL
    "nextval", "setval", "set_config", "pg_notify", "pg_advisory_*", "pg_try_advisory_*",
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "pg_read_file",
    "pg_read_binary_file", "pg_ls_dir", "pg_stat_reset*", "lo_*", "dblink*", "query_to_xml*",
    # MySQL / MariaDB
    "get_lock", "release_lock", "release_all_locks", "load_file",
    # SQLite
    "load_extension", "writefile", "readfile",
})
_BIND = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StatementRefused(ValueError):
    """The statement is not the kind this setting allows; the message says why."""


class _Unreadable(StatementRefused):
    """The dialect cannot read the statement (as opposed to: it read it and found a write)."""


def sqlglot_dialect(sqlalchemy_name: str) -> str | None:
    """The sqlglot dialect for a SQLAlchemy dialect name, or None when sqlglot has none."""
    name = _SQLALCHEMY_NAMES.get(sqlalchemy_name, sqlalchemy_name)
    try:
        Dialect.get_or_raise(name)
    except ValueError:
        return None
    return name


@dataclass(frozen=True)
class _Parsed:
    tokens: list[Token]
    tree: exp.Expr
    text: str


def _chunks(tokens: list[Token]) -> list[list[Token]]:
    """The tokens split into statements at ';' (empty statements dropped)."""
    chunks: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            chunks.append([])
        else:
            chunks[-1].append(token)
    return [c for c in chunks if c]


def _first_word(tokens: list[Token]) -> str:
    for token in tokens:
        if token.token_type != TokenType.L_PAREN:
            return token.text.upper()
    return ""


def _parse(sql: str, dialect: str, what: str, first_words: tuple[str, ...], expected: str) -> _Parsed:
    """One statement of `sql`, read in `dialect`, whose first word is one of `first_words`."""
    reader = Dialect.get_or_raise(dialect)
    try:
        tokens = reader.tokenize(sql)
    except TokenError as exc:
        raise _Unreadable(f"the {what} cannot be read as {dialect} SQL: {exc}") from None
    for token in tokens:
        if any(comment.startswith("!") for comment in token.comments):
            raise StatementRefused(f"the {what} contains a /*! … */ comment, which MySQL runs as SQL; "
                                   "remove it")
    chunks = _chunks(tokens)
    if not chunks:
        raise StatementRefused(f"the {what} is empty")
    if len(chunks) > 1:
        raise StatementRefused(f"the {what} must be one statement; found {len(chunks)} separated by ';'")
    statement = chunks[0]
    first = _first_word(statement)
    if first not in first_words:
        raise StatementRefused(f"the {what} must be {expected}; it starts with {first or 'no keyword'!r}")
    try:
        trees = reader.parser().parse(statement, sql)
    except ParseError as exc:
        error = exc.errors[0] if exc.errors else {}
        raise _Unreadable(
            f"the {what} contains {error.get('highlight', '?')} at line {error.get('line', '?')}, column "
            f"{error.get('col', '?')}, which {dialect} SQL does not accept there "
            f"({error.get('description', exc)})") from None
    tree = trees[0] if trees else None
    if tree is None:
        raise StatementRefused(f"the {what} is empty")
    text = sql[statement[0].start:statement[-1].end + 1]
    return _Parsed(statement, tree, text)


def _word(node: exp.Expr, tokens: list[Token]) -> str:
    """The SQL word that names a refused node, as the IT person wrote it."""
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.Lock):
        if any(t.token_type == TokenType.LOCK for t in tokens):
            return "LOCK"
        return "UPDATE" if node.args.get("update") else "SHARE"
    name = type(node).__name__
    return _NODE_WORDS.get(name, name.upper())


def _side_effect(function: exp.Func) -> str | None:
    name = (function.name if isinstance(function, exp.Anonymous) else function.sql_name()).lower()
    for entry in _SIDE_EFFECT_FUNCTIONS:
        if name == entry or (entry.endswith("*") and name.startswith(entry[:-1])):
            return name
    return None


def _refusals(parsed: _Parsed, root_allowed: type[exp.Expr]) -> Iterator[str]:
    """Why the statement is refused: each write, lock or side-effect function in it."""
    for node in parsed.tree.walk():
        if node is parsed.tree and isinstance(node, root_allowed):
            continue
        if isinstance(node, _REFUSED_NODES):
            yield _word(node, parsed.tokens)
        elif isinstance(node, exp.Func) and (name := _side_effect(node)):
            yield f"{name}()"


def _binds(parsed: _Parsed, allowed: frozenset[str], dialect: str) -> frozenset[str]:
    names = set()
    for node in parsed.tree.walk():
        if isinstance(node, exp.Placeholder):
            name = node.this
            if not isinstance(name, str) or node.args.get("jdbc") or not _BIND.match(name):
                raise StatementRefused(f"unsupported placeholder {node.sql(dialect)!r}; "
                                       "use named binds such as :cursor")
            names.add(name)
        elif isinstance(node, exp.Parameter) or (
                isinstance(node, exp.Identifier) and not node.quoted and node.name.startswith("$")):
            raise StatementRefused(f"unsupported placeholder {node.sql(dialect)!r}; use named binds such as :cursor")
    unknown = sorted(names - allowed)
    if unknown:
        raise StatementRefused(f"unknown bind(s) {[':' + b for b in unknown]}; available: "
                               f"{[':' + b for b in sorted(allowed)]}")
    return frozenset(names)


def _in_dialects(check: Callable[[str], CheckedStatement], dialect: str | None) -> CheckedStatement:
    """Run `check` in `dialect`, or (source not known) in each of DIALECTS: refused if any
    dialect that can read the statement refuses it, or if none can read it."""
    if dialect is not None:
        return check(dialect)
    accepted: CheckedStatement | None = None
    unreadable: _Unreadable | None = None
    for name in DIALECTS:
        try:
            result = check(name)
        except _Unreadable as exc:
            unreadable = unreadable or exc
            continue
        accepted = accepted or result
    if accepted is None:
        assert unreadable is not None
        raise unreadable
    return accepted


_SELECT = "a SELECT (or WITH … SELECT); clinicsync only reads from the source database"


def check_select(sql: str, allowed_binds: frozenset[str], dialect: str | None = None) -> CheckedStatement:
    """Accept exactly one SELECT (or WITH … SELECT) that neither writes, locks nor calls a
    function with side effects. `dialect` is the sqlglot dialect of the source database."""

    def check(name: str) -> CheckedStatement:
        parsed = _parse(sql, name, "query", ("SELECT", "WITH"), _SELECT)
        for word in _refusals(parsed, exp.Query):
            raise StatementRefused(f"the query contains {word}: it may write, lock or have side effects; "
                                   "only plain reads are allowed")
        if not isinstance(parsed.tree, exp.Query):
            raise StatementRefused(f"the query must be {_SELECT}")
        return CheckedStatement(parsed.text, _binds(parsed, allowed_binds, name))

    return _in_dialects(check, dialect)


def check_update(sql: str, allowed_binds: frozenset[str], dialect: str | None = None) -> CheckedStatement:
    """Accept exactly one UPDATE (the write-back statement) with a WHERE: no DELETE, no DDL,
    no second statement, no side-effect function."""

    def check(name: str) -> CheckedStatement:
        parsed = _parse(sql, name, "write-back statement", ("UPDATE",), "a single UPDATE")
        for word in _refusals(parsed, exp.Update):
            raise StatementRefused(f"the write-back statement contains {word}: only one UPDATE is allowed")
        if not isinstance(parsed.tree, exp.Update):
            raise StatementRefused("the write-back statement must be a single UPDATE")
        if parsed.tree.args.get("where") is None:
            raise StatementRefused("the write-back statement has no WHERE: it would update every row")
        return CheckedStatement(parsed.text, _binds(parsed, allowed_binds, name))

    return _in_dialects(check, dialect)


def check_booking(sql: str, allowed_binds: frozenset[str], dialect: str | None = None) -> CheckedStatement:
    """Accept exactly one INSERT (or one UPDATE with a WHERE, for a schema that marks a free
    slot row as taken): the waitlist booking statement. Its own reads (``INSERT …
    SELECT … WHERE NOT EXISTS``) are allowed; a second write, DDL or side-effect function is not."""

    def check(name: str) -> CheckedStatement:
        parsed = _parse(sql, name, "booking statement", ("INSERT", "UPDATE"), "a single INSERT or UPDATE")
        for word in _refusals(parsed, exp.Insert | exp.Update):  # type: ignore[arg-type]
            raise StatementRefused(f"the booking statement contains {word}: only one INSERT or UPDATE is allowed")
        if not isinstance(parsed.tree, exp.Insert | exp.Update):
            raise StatementRefused("the booking statement must be a single INSERT or UPDATE")
        if isinstance(parsed.tree, exp.Update) and parsed.tree.args.get("where") is None:
            raise StatementRefused("the booking statement is an UPDATE without WHERE: it would update every row")
        return CheckedStatement(parsed.text, _binds(parsed, allowed_binds, name))

    return _in_dialects(check, dialect)
