"""Statements the guard (connectors/sql_guard.py) passed, remembered in the connector's cursor,
so that an idle poll of an unchanged statement neither imports sqlglot nor parses it again.

The guard reads the configured query with sqlglot before anything is sent. Under cron (`sync
--once` every few minutes) each poll is a new process, and sqlglot's import, the
dialect's load and the parse were a fifth of an idle SQL poll's CPU, spent to reach the same
verdict on the same text every time. A memory in the process would help `run` only, and a file
next to the store has no place on a PostgreSQL store (several replicas, no shared disk). The
cursor is the connector's own row in the store (``connectorstate``), read by every poll anyway
(sync/runs/poll_state.py) and written in the batch's transaction, so the mark lives there, under
``GUARD_KEY``: the digest of what was checked and what the check gave (the statement's span in
the configured text, the binds it uses).

The digest covers everything the verdict depends on: the statement's text, the kind of check,
the binds it may use, the source's SQLAlchemy dialect, the guard's own source code (a release
that changes a rule) and sqlglot's installed metadata (a parser that reads differently). Any of them
changed, the statement is checked again before it is sent; a refused one is refused exactly as
before, and a mark is only ever written after a check passed. A mark that does not match is
simply not used. The store is trusted as the settings file is (it holds the patients' data); the
source's read-only transaction (sql_session.read_only_connection) stays the guard that stops a
write either way.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

from clinicsync.common.hashing import content_hash, content_hash_bytes

#: The cursor key of the mark (``SqlConnector._cursor``).
GUARD_KEY = "guard"
_GUARD_SOURCE = Path(__file__).with_name("sql_guard.py")


class CheckedStatement(NamedTuple):
    """One statement, without its trailing semicolon, and the named binds it uses. A named
    tuple, not a dataclass: one class built on import instead of a method compiled per
    dunder (a frozen dataclass costs ~3 M instructions on each start that reads a SQL source)."""

    text: str
    binds: frozenset[str]


@lru_cache(maxsize=1)
def _guard_version() -> str | None:
    """The guard's code and sqlglot's installed metadata (its version among it); None when
    either cannot be read (then nothing is remembered: every poll checks, as before).

    The metadata file's digest, not ``metadata.version``: that parses the whole file (sqlglot's
    carries its README, ~25 kB) with the email parser, ~4 M instructions of an idle poll's;
    any other release of sqlglot has another file."""
    try:
        code = _GUARD_SOURCE.read_bytes()
        parser = metadata.distribution("sqlglot").read_text("METADATA")
    except (OSError, metadata.PackageNotFoundError):
        return None
    if parser is None:
        return None
    return f"{content_hash_bytes(code)} sqlglot={content_hash_bytes(parser.encode())}"


def statement_digest(kind: str, sql: str, allowed_binds: frozenset[str], dialect: str) -> str | None:
    """The digest of one check: ``kind`` (which check), the statement, the binds it may use,
    the source's SQLAlchemy dialect name and the guard's version. None: not rememberable."""
    version = _guard_version()
    if version is None:
        return None
    return content_hash([version, kind, dialect, sorted(allowed_binds), sql])


def remembered(mark: Any, digest: str | None, sql: str, allowed_binds: frozenset[str]) -> CheckedStatement | None:
    """What the check of ``sql`` gave, if ``mark`` (a cursor's ``GUARD_KEY``) says that this
    very check passed; None otherwise (no mark, another statement, dialect or guard, a mark of
    another shape)."""
    if digest is None or not isinstance(mark, dict) or mark.get("digest") != digest:
        return None
    span, binds = mark.get("span"), mark.get("binds")
    if not (isinstance(span, list) and len(span) == 2 and all(type(end) is int for end in span)
            and 0 <= span[0] < span[1] <= len(sql)):
        return None
    if not (isinstance(binds, list) and all(isinstance(name, str) for name in binds)
            and set(binds) <= allowed_binds):
        return None
    return CheckedStatement(sql[span[0]:span[1]], frozenset(binds))


def mark_of(digest: str | None, sql: str, checked: CheckedStatement) -> dict[str, Any] | None:
    """The mark that a check of ``sql`` passed with ``checked`` (the statement is a part of
    ``sql``: the guard cuts comments and a semicolon at its ends); None: not rememberable."""
    start = sql.find(checked.text)
    if digest is None or start < 0 or not checked.text:
        return None
    return {"digest": digest, "span": [start, start + len(checked.text)], "binds": sorted(checked.binds)}
