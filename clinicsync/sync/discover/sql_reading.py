"""Reading a source database for discover: the read-only connection, every statement through
the connector's SELECT guard, identifiers quoted by the dialect, the URL's password kept out of
the settings file, and the zone the visits are in when the database does not say.

Shared by the shape path (sql.py) and the known products' path (product_proposal.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from clinicsync.common.db_urls import driver_url
from clinicsync.common.timeutil import TimeError, zone
from clinicsync.connectors.sql_guard import check_select, sqlglot_dialect
from clinicsync.connectors.sql_session import describe, plain_value, read_only_connection, source_engine
from clinicsync.sync.discover.clock import current_options, server_zone_names

MAX_WORDS = 200  # distinct status words listed
# How an incremental read learns of a deleted row, and what guards the reminders meanwhile
# (sync/reminders/deleted_rows.py).
SWEEP_NOTE = ("the hourly delete sweep; until it runs, a reminder goes only if the source still lists its "
              "visit (one id read before sending)")


class DiscoverError(Exception):
    """Discovery cannot go on; the message says what to give or fix (never a password)."""


def secret_url(url: str, name: str) -> tuple[str, dict[str, str]]:
    """The URL as it goes into settings.yaml, without its password, and the environment
    variable (``NAME_DB_PASSWORD``) the connector's ``password:`` reads it from instead, with
    what it is for; ``{}`` when the URL has no password. A separate key, not ``${VAR}`` inside
    the URL: a password holding '@' or '/' would otherwise break the URL once substituted."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DiscoverError("not a database URL (e.g. mysql://user@host/db or postgresql://user@host/db)") from None
    if not parsed.password:
        return url, {}
    var = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") + "_DB_PASSWORD"
    bare = URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database,
                      parsed.query)
    return bare.render_as_string(hide_password=False), {
        var: f"the password of database user {parsed.username!r} (it was in the URL given to discover)"}


def default_name(url: URL) -> str:
    """A connector name from the database's name: lower case letters, digits and '-'."""
    base = Path(url.database or url.host or "source").stem
    cleaned = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
    return cleaned[:40] or "source"


@contextmanager
def reading(url: str, timeout: float) -> Iterator[Connection]:
    try:
        engine = source_engine(driver_url(url), timeout)
    except (ArgumentError, SQLAlchemyError, ImportError) as exc:
        raise DiscoverError(f"cannot use this database URL: {describe(exc)}") from None
    try:
        with read_only_connection(engine, timeout) as connection:
            yield connection
    except SQLAlchemyError as exc:
        raise DiscoverError(f"reading the database failed: {describe(exc)}") from None
    finally:
        engine.dispose()


def run_checked(connection: Connection, sql: str, binds: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """One statement built here, passed through the connector's SELECT guard first."""
    check_select(sql, frozenset({"cursor", "window_start", "window_end"}), sqlglot_dialect(connection.dialect.name))
    mysql = connection.dialect.name in ("mysql", "mariadb")
    return [tuple(plain_value(v, mysql) for v in row) for row in connection.execute(text(sql), dict(binds or {}))]


def quote_name(connection: Connection, name: str) -> str:
    """``name`` as one identifier, by the dialect's own quoting, its ':' escaped: SQLAlchemy's
    ``text()`` (discover's reads, the connector's query) takes ``:word`` for a bind parameter
    even inside quotes, and turns ``\\:`` back into ``:``. A name holding ``\\:`` itself
    cannot pass through ``text()`` unchanged and is refused."""
    if "\\:" in name:
        raise DiscoverError(f"the table or column {name!r} holds '\\:', which cannot be passed to the database "
                            "unchanged: rename it, or give a view without it with --table")
    return str(connection.dialect.identifier_preparer.quote(name)).replace(":", "\\:")


def valid_zone(value: str, where: str) -> str:
    try:
        zone(value)
    except TimeError:
        raise DiscoverError(f"{where}: {value!r} is not an IANA time zone (e.g. America/New_York)") from None
    return value


def server_zone(connection: Connection) -> str | None:
    """The database server's own zone when it names a region (Europe/Madrid); None for UTC,
    SYSTEM or an offset, which say nothing about the clinic's wall clock."""
    for value in server_zone_names(connection, run_checked):
        if "/" in value and not value.startswith("Etc/"):
            try:
                zone(value)
            except TimeError:
                continue
            return value
    return None


def visits_zone(connection: Connection, given: str | None, zone_column: str | None,
          notes: dict[str, str]) -> str | None:
    """The connector's ``timezone`` (the visits' zone): given, else the server's (a region),
    else None when each row carries its own zone or the settings file names clinic.timezone
    (a server on UTC says nothing about the clinic's zone: clock.py tells whether it keeps
    UTC, and notes the zone the visits are in); else ask."""
    if given:
        notes["timezone"] = "given with --timezone"
        return given
    if zone_column:
        return None
    guessed = server_zone(connection)
    if guessed:
        notes["timezone"] = "the database server's own zone (guess: give --timezone if the clinic's differs)"
        return guessed
    if current_options().clinic_zone:
        return None
    raise DiscoverError("the database keeps wall-clock times without a zone, and its server names none: give "
                        "the clinic's zone with --timezone (e.g. --timezone America/New_York)")
