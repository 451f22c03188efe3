"""SQL database connector: reads appointments from a practice-management database
(MariaDB/MySQL, PostgreSQL, anything SQLAlchemy reaches) through one read-only query.

Incremental mode reads ``cursor_column >= last value`` in cursor order and drops the
rows already stored at exactly that value (their content hashes travel in the
cursor, as dlt's boundary-safe incremental does): a row committed later with the same
updated-at as the previous maximum is read once, never skipped, never twice.
Snapshot mode reads the whole window every run; what disappeared from it is deleted
behind the same safety stop as the CSV snapshot mode.

``overlap_seconds`` (default 60) starts each read that much before the stored value
(``sql_cursor.overlap_start``): a row stamped before a later one but committed after it was read (a
short transaction on a busy database) is still read, and so are rows a naive wall-clock
column stamps in the hour repeated when clocks go back. What the overlap re-reads is known:
the cursor keeps the content hashes of the rows read at or after the next read's start
(``seen`` at the stored value, ``recent`` before it), so they are dropped here, before
the store or the quarantine sees them; the stored value only ever moves forward.

Rows stream from a server-side cursor (``stream_results`` + ``yield_per``), so memory
stays flat however large the table; each batch carries the cursor valid once it is
stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Connection, Engine, Select, column, literal_column, select, table, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.expression import ColumnClause

from clinicsync.common.hashing import content_hash
from clinicsync.common.schedule import Schedule
from clinicsync.common.timeutil import zone
from clinicsync.common.types import utcnow
from clinicsync.connectors import ical_text
from clinicsync.connectors.base import (
    Batch,
    CheckResult,
    Condition,
    Connector,
    ConnectorError,
    ConnectorSettings,
    Cursor,
    FatalConnectorError,
    IdListing,
    RawRecord,
    Rejected,
    Sample,
    WritebackAction,
    WritebackUnsupported,
    naive_zone,
)
from clinicsync.connectors.sql_clock import FUTURE_FIX, FUTURE_STAMPS, Ceiling, database_now
from clinicsync.connectors.sql_cursor import (
    encode_cursor_value,
    known_rows,
    overlap_start,
    rereads_by_time,
    stored_boundary,
)
from clinicsync.connectors.sql_passed import GUARD_KEY, CheckedStatement, mark_of, remembered, statement_digest
from clinicsync.connectors.sql_rows import occurrences, row_data, unread_row
from clinicsync.connectors.sql_series import expand
from clinicsync.connectors.sql_session import (
    apply_timeout,
    connector_error,
    guarded,
    is_mysql,
    plain_value,
    read_engine,
    read_only_connection,
    read_only_supported,
    source_engine,
)
from clinicsync.connectors.sql_settings import SqlSettings, engine_url, safe_url
from clinicsync.connectors.window import SWEEP_EDGE

if TYPE_CHECKING:  # imported by a booking (book_waitlist), not by every poll: ~10 M instructions
    from clinicsync.connectors.waitlist_booking import BookingRequest, BookingResult

QUERY_BINDS = frozenset({"cursor", "window_start", "window_end"})
# ``:window_end`` of an incremental read (``SqlConnector._params``): later than any visit, and a
# value every source's DATETIME/DATE accepts (MySQL's DATETIME ends at 9999-12-31).
WINDOW_END_UNBOUNDED = datetime(9999, 12, 31)
# In a cursor: it was stored by a read that took rows however far ahead (before, a read stopped
# at the window's end and a cursor without this key may have passed rows over: ``_incremental``).
AHEAD_ALL = "all"
log = structlog.get_logger("clinicsync.connectors")
WRITEBACK_BINDS = frozenset({"status", "external_id", "participant_status", "appointment_status", "patient_ref"})
BOOKING_BINDS = frozenset({"patient_id", "doctor_id", "location", "type", "mode", "start_local", "end_local",
                           "start_utc", "end_utc", "timezone", "slot_id", "entry_id"})
_SOURCE = "clinicsync_src"
# At most this many hashes of rows before the stored value travel in the cursor; older ones
# re-read are recognized by the store's fingerprints instead.
RECENT_LIMIT = 10_000


def _error_code(exc: SQLAlchemyError) -> str:
    """``IntegrityError 23505`` / ``IntegrityError 1062``: the driver's error class and its
    SQLSTATE or error number, never its message."""
    original = getattr(exc, "orig", None) or exc
    code = getattr(original, "sqlstate", None)
    if code is None:
        first = (getattr(original, "args", None) or (None,))[0]
        code = first if isinstance(first, int | str) and len(str(first)) <= 8 else None
    return f"{type(original).__name__}" + (f" {code}" if code is not None else "")


@lru_cache(maxsize=1024)
def _table_read(table_name: str, columns: tuple[str, ...], dialect: Dialect) -> CheckedStatement:
    """A ``table:`` source's read in its dialect, built and compiled once per table, columns and
    engine (a SQL source's engine serves its next polls: sql_session.read_engine), not at each poll;
    only once the dialect has met its server (MySQL's quoting follows the server's ``sql_mode``)."""
    schema, _, name = table_name.rpartition(".")
    source = table(name, *[column(c) for c in columns], schema=schema or None)
    query = select(*source.c) if columns else select(literal_column("*")).select_from(source)
    return CheckedStatement(str(query.compile(dialect=dialect)), frozenset())


class SqlConnector(Connector):
    kind = "sql"
    reads_current_state = True  # a read of the source as it is now (Connector.reads_current_state)
    rereads_window = True  # fetch(None) reads the window (Connector.rereads_window)
    settings_model = SqlSettings
    settings: SqlSettings

    @classmethod
    def remembered(cls, settings: ConnectorSettings) -> tuple[tuple[str, str], ...]:
        """Rows stamped ahead (``_note_future``) are noted for the cursor column at every
        incremental read: asked for with the poll's state, an idle poll need not read it apart."""
        column = getattr(settings, "cursor_column", None)
        return (*cls.remembers, (FUTURE_STAMPS, column)) if column else cls.remembers

    def __init__(self, settings: ConnectorSettings) -> None:
        super().__init__(settings)
        self._engine: Engine | None = None
        self._kept = False  # self._engine is kept across polls (sql_session.read_engine): not ours to dispose
        self._writer: Engine | None = None
        # The read's check that passed (its digest, its result) and its mark for the cursor (``_statement``).
        self._passed: tuple[str, CheckedStatement] | None = None
        self._guard_mark: dict[str, Any] | None = None
        self._json_columns = frozenset(self.settings.json_columns)
        self._ical_columns = frozenset(self.settings.ical_columns)
        # the columns whose value may be set aside (an event's text, a series' rule: sql_series.py)
        series = self.settings.series
        self._expanded = self._ical_columns | (frozenset({series.rule}) if series is not None else frozenset())

    # -- plumbing -----------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine, self._kept = read_engine(engine_url(self.settings.url, self.settings.password),
                                                   self.settings.timeout)
        return self._engine

    def close(self) -> None:
        for engine in (None if self._kept else self._engine, self._writer):
            if engine is not None:
                engine.dispose()
        self._engine = self._writer = None

    def _label(self) -> str:
        return self.settings.table or self.settings.query_preset or "query"

    def _statement(self, cursor: Cursor | None = None) -> CheckedStatement:
        """The configured read, checked; a refused statement never reaches the database.

        A check that passed is remembered (sql_passed): in this connector for its other reads,
        and in the cursor the fetch stores (``_guard_mark``). A stored ``cursor`` whose mark
        says this very check passed (same statement, dialect, binds, guard and sqlglot) spares
        the check, and sqlglot's import with it; anything else is checked as before."""
        s = self.settings
        if s.table:
            met = self.engine.dialect
            if getattr(met, "server_version_info", None) is None:  # not connected yet: its quoting may change
                return _table_read.__wrapped__(s.table, tuple(s.columns or ()), met)
            return _table_read(s.table, tuple(s.columns or ()), met)
        sql = s.preset.query if s.preset else s.query
        assert sql is not None  # settings guarantee one source
        dialect = self.engine.dialect.name
        digest = statement_digest("select", sql, QUERY_BINDS, dialect)
        if self._passed is not None and digest is not None and self._passed[0] == digest:
            return self._passed[1]
        checked = remembered((cursor or {}).get(GUARD_KEY), digest, sql, QUERY_BINDS)
        if checked is None:
            from clinicsync.connectors.sql_guard import StatementRefused, check_select, sqlglot_dialect

            try:
                checked = check_select(sql, QUERY_BINDS, sqlglot_dialect(dialect))
            except StatementRefused as exc:
                raise FatalConnectorError(f"connector {self.name}: query refused: {exc}") from None
        if digest is not None:
            self._passed = (digest, checked)
            self._guard_mark = mark_of(digest, sql, checked)
        return checked

    def _wrapped(self, inner: CheckedStatement, *, after_cursor: bool, probe: bool = False) -> str:
        """The configured read inside a derived table, so that the cursor filter and
        order apply whatever the query looks like (the newline ends a trailing comment)."""
        sql = f"SELECT * FROM (\n{inner.text}\n) AS {_SOURCE}"
        if probe:
            return sql + " WHERE 1 = 0"
        cursor_column = self.settings.cursor_column
        if self.settings.mode == "incremental" and cursor_column:
            # ':' escaped: text() would read ':name' inside the quotes as a bind parameter.
            quoted = f"{_SOURCE}.{self.engine.dialect.identifier_preparer.quote(cursor_column)}".replace(":", "\\:")
            if after_cursor:
                sql += f" WHERE {quoted} >= :cursor"
            sql += f" ORDER BY {quoted}"
        return sql

    def _params(self, inner: CheckedStatement, cursor_value: Any, wrapper_cursor: bool,
                changed_only: bool = False) -> dict[str, Any]:
        """The binds. ``changed_only``: an incremental read, whose ``:window_end`` is
        ``WINDOW_END_UNBOUNDED``: it reads the rows that changed, however far ahead they lie. A
        row it left out for lying past the window's end (a booking made seven months ahead, a
        visit moved there) would not change again when the window reached it, and its cursor
        value would be behind the cursor by then: never read, never reminded, never in a
        calendar; a visit moved there would stay at its old time, or be deleted by the sweep.
        ``ahead`` still bounds what a snapshot reads and what the delete sweep lists."""
        window = self.settings.window
        now = utcnow().astimezone(self._window_clock()).replace(tzinfo=None)
        params: dict[str, Any] = {"window_start": now - window.back_delta,
                                  "window_end": WINDOW_END_UNBOUNDED if changed_only else now + window.ahead_delta}
        if "cursor" in inner.binds or wrapper_cursor:
            if cursor_value is None:
                if self.settings.initial_cursor is None:
                    raise FatalConnectorError(
                        f"connector {self.name}: the query uses :cursor; set initial_cursor for the first run "
                        "(e.g. '1970-01-01 00:00:00' or 0)")
                cursor_value = self.settings.initial_cursor
            params["cursor"] = cursor_value
        return {k: v for k, v in params.items() if k in inner.binds or (k == "cursor" and wrapper_cursor)}

    def _columns(self, keys: Sequence[str]) -> list[str]:
        columns = list(keys)
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise FatalConnectorError(f"connector {self.name}: the query returns column(s) {repeated} more than "
                                      "once; give each an alias")
        needed = set(self.required_columns)
        if self.settings.mode == "incremental" and self.settings.cursor_column:
            needed.add(self.settings.cursor_column)
        missing = sorted(needed - set(columns))
        if missing:
            raise FatalConnectorError(f"connector {self.name}: the query returns no column(s) {missing} "
                                      f"(it returns {columns})")
        unknown = sorted(self._ical_columns - set(columns))
        if unknown:
            raise FatalConnectorError(f"connector {self.name}: ical_columns names {unknown}, which the query does "
                                      f"not return (it returns {columns})")
        return columns

    def _stream(self, connection: Connection, sql: str, params: dict[str, Any]
                ) -> Iterator[tuple[list[str], Sequence[Any]]]:
        """(columns, rows) partitions of ``fetch_size`` from a server-side cursor."""
        size = self.settings.fetch_size
        with guarded(connection):  # each call to the source under its hang guard (sql_session.HangGuard)
            result = connection.execution_options(stream_results=True, max_row_buffer=size).execute(text(sql),
                                                                                                     params)
        columns = list(result.keys())
        finished = False
        try:
            partitions = result.partitions(size)
            while True:
                with guarded(connection):
                    rows = next(partitions, None)
                if rows is None:
                    break
                yield columns, rows
            finished = True
        finally:
            if not finished:  # abandoned mid-stream (the run failed): release the cursor
                try:
                    result.close()
                except SQLAlchemyError:
                    connection.invalidate()

    def _probe(self, connection: Connection, inner: CheckedStatement, cursor_value: Any) -> list[str]:
        """Compile the query without reading a row, and check the columns it returns."""
        with guarded(connection):
            result = connection.execute(text(self._wrapped(inner, after_cursor=False, probe=True)),
                                        self._params(inner, cursor_value, False))
        return self._columns(list(result.keys()))

    # -- reading --------------------------------------------------------------------------
    def fetch(self, cursor: Cursor | None) -> Iterator[Batch]:
        inner = self._statement(cursor)
        try:
            with read_only_connection(self.engine, self.settings.timeout, self.name) as connection:
                mysql = is_mysql(connection)
                self._probe(connection, inner, stored_boundary(cursor, self.settings.cursor_column))
                if self.settings.mode == "snapshot":
                    yield from self._snapshot(connection, inner, cursor, mysql)
                else:
                    yield from self._incremental(connection, inner, cursor, mysql)
        except SQLAlchemyError as exc:
            raise connector_error(self.name, "reading the source", exc, self.settings.timeout) from None

    def _marked(self, cursor: Cursor | None) -> Cursor | None:
        """The stored cursor with this read's guard mark (``_statement``), when the mark is new
        or changed; None when the stored one has it already (or there is none to store)."""
        mark = self._guard_mark
        if mark is None or (cursor is not None and cursor.get(GUARD_KEY) == mark):
            return None
        return {**(cursor or {}), GUARD_KEY: mark}

    def _snapshot(self, connection: Connection, inner: CheckedStatement, cursor: Cursor | None,
                  mysql: bool) -> Iterator[Batch]:
        label = self._label()
        pending: list[RawRecord] | None = None
        number = 0
        between = self._span()
        for columns, rows in self._stream(connection, self._wrapped(inner, after_cursor=False),
                                          self._params(inner, None, False)):
            if pending is not None:
                yield Batch(pending, None, snapshot=True, source=label)
            pending, aside = [], []
            for row in rows:
                number += 1
                read = row_data(columns, row, mysql, self._json_columns, self._ical_columns, between)
                for data in self._occurrences(read, between) if self._expanded else (read,):
                    unread = unread_row(data, self._expanded, f"{label}:row {number}") if self._expanded \
                        else None
                    if unread is not None:
                        aside.append(unread)
                    else:
                        pending.append(RawRecord(data, f"{label}:row {number}"))
            if aside:
                yield Batch([], None, aside, snapshot=True, source=label)
        until = self.settings.window.sweep_until(utcnow()) if "window_end" in inner.binds else None
        # A snapshot keeps no cursor of its own: the stored one carries the guard's mark only.
        yield Batch(pending or [], self._marked(cursor), snapshot=True, snapshot_end=True,
                    max_delete_share=self.settings.max_delete_share,
                    min_delete_stop=self.settings.min_delete_stop, source=label, until=until)

    def past_window(self) -> list[RawRecord] | None:
        """The snapshot's read past its window's end (from a day before it, ``SWEEP_EDGE``, as
        the comparison stops there): the rows a visit moved past the end now is among."""
        if self.settings.mode != "snapshot":
            return None
        inner = self._statement()
        if "window_end" not in inner.binds:
            return None
        params = self._params(inner, None, False)
        if "window_start" in params:
            params["window_start"] = params["window_end"] - SWEEP_EDGE
        params["window_end"] = WINDOW_END_UNBOUNDED
        label, records = self._label(), list[RawRecord]()
        # A series' occurrences past the end: as far again as the window reaches ahead (``_span``).
        end = self._span()[1]
        between = (end - SWEEP_EDGE, end + self.settings.window.ahead_delta)
        try:
            with read_only_connection(self.engine, self.settings.timeout, self.name) as connection:
                mysql = is_mysql(connection)
                for columns, rows in self._stream(connection, self._wrapped(inner, after_cursor=False), params):
                    read = (row_data(columns, row, mysql, self._json_columns, self._ical_columns, between)
                            for row in rows)
                    records.extend(RawRecord(data, f"{label}:past the window") for whole in read
                                   for data in self._occurrences(whole, between)
                                   if not self._expanded or unread_row(data, self._expanded, "") is None)
        except SQLAlchemyError as exc:
            raise connector_error(self.name, "reading past the window", exc, self.settings.timeout) from None
        return records

    def _source_clock(self) -> ZoneInfo:
        """The zone of the source's naive date-times (UTC for stored_times: utc, ``naive_zone``)."""
        return zone(self.source_zone or naive_zone(self.settings, self.settings.timezone or "UTC"))

    def _occurrences(self, read: dict[str, Any], between: tuple[datetime, datetime]) -> list[dict[str, Any]]:
        """The records a fetched row gives (sql_rows.occurrences; a series row's occurrences inside
        ``between``: sql_series.py)."""
        series = self.settings.series
        clock = self._source_clock()
        return occurrences(read, self._ical_columns, None if series is None else
                           lambda data: expand(data, series, between, clock))

    def _span(self) -> tuple[datetime, datetime]:
        """The instants a recurring series in an ``ical_columns`` column is expanded between: the
        read window (now - ``window.back`` to now + ``window.ahead``), in every mode. A snapshot
        reads it each run, so a series' next occurrences come as the window moves on; the delete
        sweep lists the same span; never unbounded (an infinite series has no last occurrence)."""
        now, window = utcnow(), self.settings.window
        return now - window.back_delta, now + window.ahead_delta

    def _window_clock(self) -> ZoneInfo:
        """The zone of the :window_start/:window_end binds: ``window.timezone`` when given, else
        the source's clock. Why not the settings' default (UTC): a source whose zone is the
        clinic's (no ``timezone:`` of its own) keeps local wall time, and a window on a date
        column (``CAST(:window_start AS DATE)``) cut at UTC's date read the clinic's day before
        (or missed its yesterday) around midnight."""
        if "timezone" in self.settings.window.model_fields_set:
            return zone(self.settings.window.timezone)
        return self._source_clock()

    def _overlap_start(self, value: Any) -> Any:
        """The start of the read after ``value`` (``overlap_start``)."""
        # UTC for stored_times: utc (naive_zone): no hour repeats there, so only the overlap.
        return overlap_start(value, timedelta(seconds=self.settings.overlap_seconds), self._source_clock())

    def _incremental(self, connection: Connection, inner: CheckedStatement, cursor: Cursor | None,
                     mysql: bool) -> Iterator[Batch]:
        column_name = self.settings.cursor_column
        assert column_name is not None
        boundary = stored_boundary(cursor, column_name)
        if boundary is not None and cursor is not None and cursor.get("ahead") != AHEAD_ALL \
                and "window_end" in inner.binds:
            # A cursor stored while the read stopped at the window's end: rows past it then were
            # passed over for good (WINDOW_END_UNBOUNDED). Read the whole window once; what is
            # stored already is recognized unchanged, what was passed over is imported now.
            log.info("sql.catch_up", connector=self.name,
                     reason="the cursor predates reads past the window's end: the window is read once")
            boundary = None
        if boundary is not None and cursor is not None \
                and cursor.get("stored_times", "local") != self.settings.stored_times:
            # stored_times changed: every row reads as another instant now. Read them
            # all once, so that each stored visit is re-timed (the mapping epoch holds the
            # convention: none is taken for unchanged), not only the rows that change later.
            log.info("sql.reread", connector=self.name,
                     reason="stored_times changed since the cursor was stored: every row is read once")
            boundary = None
        # Rows the next read may read again (value, content hash): those the cursor knows,
        # then each row read; a row whose hash is known was stored (the hash covers the
        # cursor column, so a row changed since is never taken for it).
        kept = known_rows(cursor, boundary)
        already = frozenset(digest for _, digest in kept)
        # The cursor never passes the database's now (sql_clock): a row stamped ahead would
        # skip every change made before its stamp. A cursor stored ahead before is pulled back.
        ceiling = Ceiling.at(database_now(connection), self._source_clock())
        limit = ceiling.limit(boundary)
        if limit is not None and boundary > limit:
            boundary = limit
        start = self._overlap_start(boundary) if boundary is not None else None
        last = boundary
        ahead: list[timedelta] = []
        label = self._label()
        marked = False  # a batch stored the cursor with the guard's mark
        sql = self._wrapped(inner, after_cursor=start is not None)
        params = self._params(inner, start, start is not None, changed_only=True)
        between = self._span()
        for columns, rows in self._stream(connection, sql, params):
            records: list[RawRecord] = []
            rejected: list[Rejected] = []
            for row in rows:
                data = row_data(columns, row, mysql, self._json_columns, self._ical_columns, between)
                value = data[column_name]
                if value is None:
                    rejected.append(Rejected(
                        f"{label}:{column_name}=NULL",
                        f"{column_name} is empty, so this row cannot be read incrementally "
                        f"(use COALESCE({column_name}, created_at) in the query)"))
                    continue
                if (by := ceiling.ahead(value)) is not None:
                    ahead.append(by)
                digest = content_hash(data)
                if digest in already:
                    continue  # stored by an earlier batch: at this cursor value or re-read in the overlap
                limit = ceiling.limit(value)
                held = limit if limit is not None and value > limit else value
                if last is None or held > last:
                    last = held  # a late commit in the overlap leaves the cursor where it is
                kept.append((value, digest))
                for each in self._occurrences(data, between) if self._expanded else (data,):
                    unread = unread_row(each, self._expanded, f"{label}:{column_name}={value}") \
                        if self._expanded else None
                    if unread is not None:  # set aside once: the cursor moves past it as past a record
                        rejected.append(unread)
                        continue
                    records.append(RawRecord(each, f"{label}:{column_name}={value}"))
            if records or rejected:
                stored = self._cursor(column_name, last, kept)
                marked = marked or stored is not None
                yield Batch(records, stored, rejected, source=label)
        self._note_future(column_name, ahead)
        if not marked and (with_mark := self._marked(cursor)) is not None:
            # An idle read of a statement checked anew (changed, or a new guard): its mark is stored
            # with the cursor as it was, so that the next polls need not check it again.
            yield Batch([], with_mark, source=label)

    def _note_future(self, column_name: str, ahead: list[timedelta]) -> None:
        """Rows stamped past the database's now (``sql_clock.FUTURE_STAMPS``): a lasting condition
        while any is, ended by a read that finds none. Counts and a duration only, no row."""
        if not ahead:
            self.note_condition(Condition(FUTURE_STAMPS, column_name, holds=False))
            return
        self.note_condition(Condition(
            FUTURE_STAMPS, column_name, holds=True, state="stamps ahead of the database clock",
            fields={"rows": len(ahead), "furthest_ahead": str(max(ahead)),
                    "detail": f"the cursor holds at the database's now; these rows are re-read at each poll "
                              f"and changes made meanwhile are still read; fix: {FUTURE_FIX}"}))

    # -- delete sweep ----------------------------------------------------------------------
    def sweep_schedule(self) -> Schedule | None:
        """Incremental mode only: a snapshot already reads the whole window every run."""
        return self.settings.delete_sweep if self.settings.mode == "incremental" else None

    def _sweep_sql(self, inner: CheckedStatement) -> str:
        """The configured read (checked by the guard) with only the id column(s) selected
        from it: the same rows the fetch reads (same filter, same window), and nothing else
        of them. The database resolves the joins the ids do not need away where it can
        (MariaDB's table elimination of LEFT JOINs on a unique key)."""
        if not self.id_columns:
            raise FatalConnectorError(f"connector {self.name}: the mapping reads the appointment id from no column "
                                      "of its own, so the delete sweep cannot list ids; set delete_sweep: off")
        quote = self.engine.dialect.identifier_preparer.quote
        listed = ", ".join(f"{_SOURCE}.{quote(c)}" for c in self.id_columns).replace(":", "\\:")  # as in _wrapped
        return f"SELECT {listed} FROM (\n{inner.text}\n) AS {_SOURCE}"

    def list_ids(self) -> IdListing:
        inner = self._statement()
        sql = self._sweep_sql(inner)
        records: list[dict[str, Any]] = []
        try:
            with read_only_connection(self.engine, self.settings.timeout, self.name) as connection:
                mysql = is_mysql(connection)
                between = self._span()
                for columns, rows in self._stream(connection, sql, self._params(inner, None, False)):
                    # ids only; an id read from an ``ical_columns`` column (a series' occurrence ids) is expanded
                    events = self._ical_columns & set(columns)
                    read = (row_data(columns, row, mysql, self._json_columns, events, between) for row in rows)
                    records.extend({k: None if isinstance(v, ical_text.Unread) else v for k, v in data.items()}
                                   for whole in read for data in occurrences(whole, events))
        except SQLAlchemyError as exc:
            raise connector_error(self.name, "listing ids for the delete sweep", exc, self.settings.timeout) from None
        until = self.settings.window.sweep_until(utcnow())
        return IdListing(records, until, self.settings.max_delete_share, self.settings.min_delete_stop)

    def _cursor(self, column_name: str, value: Any, kept: list[tuple[Any, str]]) -> Cursor | None:
        """The cursor at ``value`` (the largest read), with the hashes of the rows the next read
        will read again: ``kept`` is pruned to them in place (memory stays flat)."""
        if value is None:
            return None
        start = self._overlap_start(value)
        below = [(v, digest) for v, digest in kept if start <= v != value]
        if len(below) > RECENT_LIMIT:  # a bulk change inside the overlap: the newest only
            below = sorted(below)[-RECENT_LIMIT:]
        at = [(v, digest) for v, digest in kept if v == value]
        kept[:] = below + at
        tag, encoded = encode_cursor_value(value)
        cursor: Cursor = {"column": column_name, "type": tag, "value": encoded,
                          "seen": sorted({digest for _, digest in at}), "ahead": AHEAD_ALL}
        if below:
            cursor["recent"] = [list(pair) for pair in sorted({(encode_cursor_value(v)[1], d) for v, d in below})]
        if self.settings.stored_times != "local":  # the clock its value is on (a local cursor keeps its shape)
            cursor["stored_times"] = self.settings.stored_times
        if self._guard_mark is not None:  # the read's check that passed (``_statement``)
            cursor[GUARD_KEY] = self._guard_mark
        return cursor

    # -- diagnosis -------------------------------------------------------------------------
    def check(self) -> CheckResult:
        try:
            inner = self._statement()
            with read_only_connection(self.engine, self.settings.timeout, self.name) as connection:
                columns = self._probe(connection, inner, None)
                dialect = connection.dialect.name
                a_value = self._a_cursor_value(connection, inner) if self.settings.mode == "incremental" else None
        except ConnectorError as exc:
            return CheckResult(False, str(exc))
        except SQLAlchemyError as exc:
            return CheckResult(False, str(connector_error(self.name, "checking the query", exc, self.settings.timeout)))
        guard = ("read-only transaction" if read_only_supported(dialect)
                 else "no read-only transaction on this database: the login must be read-only")
        detail = f"{safe_url(self.settings.url)}: {guard}, the query returns {len(columns)} columns"
        if self.settings.mode == "incremental":
            sweep = self.sweep_schedule()
            detail += (f"; rows deleted at the source are found by the delete sweep ({sweep.describe()})" if sweep
                       else "; delete_sweep is off: rows deleted at the source stay booked here")
            if a_value is not None and not rereads_by_time(a_value):
                detail += (f"; cursor_column {self.settings.cursor_column} holds "
                           f"{'integers' if isinstance(a_value, int) else 'values that are not date-times'}, so a row "
                           "committed late (after one with a larger value was read) is never read: use an updated-at "
                           "column as cursor_column (overlap_seconds re-reads by time), or mode: snapshot")
        if self.settings.writeback is not None:
            problem = self._check_writeback()
            if problem:
                return CheckResult(False, f"{detail}; write-back: {problem}")
            detail += "; write-back statement accepted"
        return CheckResult(True, detail)

    def _a_cursor_value(self, connection: Connection, inner: CheckedStatement) -> Any:
        """One cursor_column value the read returns (any row: the column has one type), to
        tell whether the overlap can re-read by time; None when the read returns none."""
        assert self.settings.cursor_column is not None
        quoted = self.engine.dialect.identifier_preparer.quote(self.settings.cursor_column)
        sql = f"SELECT * FROM (\n{inner.text}\n) AS {_SOURCE}"
        source = text(sql).columns().subquery(_SOURCE + "_one")
        named: ColumnClause[Any] = literal_column(f"{source.name}.{quoted}")
        one: Select[Any] = select(named).select_from(source).where(named.is_not(None)).limit(1)
        value = connection.execute(one, self._params(inner, None, False)).scalar()
        return plain_value(value, is_mysql(connection)) if value is not None else None

    def sample(self, limit: int) -> Sample | None:
        """The first ``limit`` rows of the configured read (its window, from ``initial_cursor``),
        with the exact columns it returns; the stored cursor is neither read nor moved."""
        inner = self._statement()
        sql = f"SELECT * FROM (\n{inner.text}\n) AS {_SOURCE}"
        limited: Select[Any] = select(literal_column("*")).select_from(
            text(sql).columns().subquery(_SOURCE + "_sample")).limit(limit)
        try:
            with read_only_connection(self.engine, self.settings.timeout, self.name) as connection:
                mysql = is_mysql(connection)
                result = connection.execute(limited, self._params(inner, None, False))
                columns = list(result.keys())
                rows = result.fetchall()
        except SQLAlchemyError as exc:
            raise connector_error(self.name, "reading a sample", exc, self.settings.timeout) from None
        label = self._label()
        records, aside = [], []
        between = self._span()
        for number, row in enumerate(rows, start=1):
            read = row_data(columns, row, mysql, self._json_columns, self._ical_columns, between)
            for data in self._occurrences(read, between) if self._expanded else (read,):
                unread = unread_row(data, self._expanded, f"{label}:row {number}") if self._expanded else None
                if unread is not None:
                    aside.append(unread)
                else:
                    records.append(RawRecord(data, f"{label}:row {number}"))
        return Sample(records, label, columns, aside)

    # -- write-back ------------------------------------------------------------------------
    def _writeback_statement(self) -> CheckedStatement:
        from clinicsync.connectors.sql_guard import check_update

        return self._checked_write(self.settings.writeback_statement, check_update, WRITEBACK_BINDS,
                                   "write-back statement")

    def _checked_write(self, statement: str | None, check: Callable[..., CheckedStatement], binds: frozenset[str],
                       what: str) -> CheckedStatement:
        """A configured write, checked in the writer's dialect; refused: a FatalConnectorError.
        Checked at each use: writes are rare, and never spared the parse (sql_passed)."""
        from clinicsync.connectors.sql_guard import StatementRefused, sqlglot_dialect

        assert statement is not None
        try:
            return check(statement, binds, sqlglot_dialect(self._writer_engine().dialect.name))
        except StatementRefused as exc:
            raise FatalConnectorError(f"connector {self.name}: {what} refused: {exc}") from None

    def _writer_engine(self) -> Engine:
        writeback = self.settings.writeback
        assert writeback is not None
        if self._writer is None:
            self._writer = source_engine(engine_url(writeback.url, writeback.password), writeback.timeout)
        return self._writer

    def _check_writeback(self) -> str | None:
        try:
            self._writeback_statement()
            with self._writer_engine().connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except ConnectorError as exc:
            return str(exc)
        except SQLAlchemyError as exc:
            return str(connector_error(self.name, "connecting for write-back", exc))
        return None

    def writeback(self, action: WritebackAction) -> None:
        """Run the configured UPDATE for one answer, in its own short transaction under
        the write-enabled login; it must change exactly one row or nothing is written."""
        writeback = self.settings.writeback
        if writeback is None:
            raise WritebackUnsupported(f"connector {self.name} (sql) has no writeback settings")
        if self.settings.writeback_statement is None:
            raise WritebackUnsupported(f"connector {self.name} (sql): writeback has no statement for answers "
                                       "(only waitlist_book_statement)")
        statement = self._writeback_statement()
        value = None
        for key in (action.appointment_status, action.participant_status):
            if key is not None and key in writeback.status_map:
                value = writeback.status_map[key]
                break
        if value is None:
            raise WritebackUnsupported(
                f"connector {self.name}: writeback.status_map has no entry for "
                f"{action.appointment_status or action.participant_status!r}; nothing written")
        params = {"status": value, "external_id": action.external_id,
                  "participant_status": action.participant_status,
                  "appointment_status": action.appointment_status, "patient_ref": action.patient_ref}
        params = {k: v for k, v in params.items() if k in statement.binds}
        try:
            with self._writer_engine().begin() as connection:
                apply_timeout(connection, writeback.timeout)
                changed = connection.execute(text(statement.text), params).rowcount
                if changed != 1:
                    raise FatalConnectorError(
                        f"connector {self.name}: write-back for appointment {action.external_id} matched "
                        f"{changed} rows, expected exactly one; nothing was written")
        except SQLAlchemyError as exc:
            raise connector_error(self.name, f"write-back for appointment {action.external_id}", exc) from None

    # -- waitlist booking -------------------------------------------------------------------
    def can_book(self) -> bool:
        return self.settings.waitlist_book_statement is not None

    def _booking_statement(self) -> CheckedStatement:
        from clinicsync.connectors.sql_guard import check_booking

        return self._checked_write(self.settings.waitlist_book_statement, check_booking, BOOKING_BINDS,
                                   "waitlist_book_statement")

    def booking_params(self, request: BookingRequest) -> dict[str, Any]:
        """The binds: refs as the source knows them, times as naive wall-clock in the source's
        zone (``timezone:``, else the slot's; UTC for ``stored_times: utc``) and as naive UTC."""
        local = zone(naive_zone(self.settings, self.settings.timezone or request.timezone))
        return {"patient_id": request.patient_ref, "doctor_id": request.practitioner_ref,
                "location": request.location_ref, "type": request.visit_type, "mode": request.visit_mode,
                "start_local": request.start_utc.astimezone(local).replace(tzinfo=None),
                "end_local": request.end_utc.astimezone(local).replace(tzinfo=None),
                "start_utc": request.start_utc.astimezone(zone("UTC")).replace(tzinfo=None),
                "end_utc": request.end_utc.astimezone(zone("UTC")).replace(tzinfo=None),
                "timezone": request.timezone, "slot_id": request.slot_id, "entry_id": request.entry_external_id}

    def book_waitlist(self, request: BookingRequest) -> BookingResult:
        """Run ``waitlist_book_statement`` once, in its own transaction under the write-enabled
        login of ``writeback:``. It should be idempotent on :slot_id (a unique column with ON
        CONFLICT DO NOTHING / INSERT IGNORE, or WHERE NOT EXISTS): then a first attempt that
        changes no row is a refusal, and a retry that changes none finds the row an earlier,
        interrupted attempt wrote."""
        from clinicsync.connectors.waitlist_booking import BookingRefused, BookingResult

        writeback = self.settings.writeback
        if writeback is None or writeback.waitlist_book_statement is None:
            raise WritebackUnsupported(f"connector {self.name} (sql) has no writeback.waitlist_book_statement")
        statement = self._booking_statement()
        params = {k: v for k, v in self.booking_params(request).items() if k in statement.binds}
        try:
            with self._writer_engine().begin() as connection:
                apply_timeout(connection, writeback.timeout)
                changed = connection.execute(text(statement.text), params).rowcount
        except SQLAlchemyError as exc:
            error = connector_error(self.name, f"booking waitlist slot {request.slot_id}", exc)
            if isinstance(error, FatalConnectorError):  # a constraint, a bad column: the source refuses
                # The driver's message may quote the values (a duplicate key names it): its class
                # and code only, which say enough to look the problem up.
                raise BookingRefused(f"connector {self.name}: waitlist_book_statement failed for slot "
                                     f"{request.slot_id}: {_error_code(exc)}") from None
            raise error from None
        if changed == 0 and request.attempt <= 1:
            raise BookingRefused(f"connector {self.name}: waitlist_book_statement changed no row for slot "
                                 f"{request.slot_id} (is the slot still free at the source?)")
        if changed > 1:
            raise BookingRefused(f"connector {self.name}: waitlist_book_statement changed {changed} rows for slot "
                                 f"{request.slot_id}; expected one (check its WHERE)")
        return BookingResult(None, None, {"rows": changed})
