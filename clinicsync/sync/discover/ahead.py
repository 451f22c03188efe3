"""Change stamps in the future (seen on an OpenMRS whose rows were stamped ahead of
its clock): an incremental read keeps its cursor at the largest stamp it read, so one row
stamped hours ahead holds the cursor there and every change made before that hour is passed
over — a patient's new phone never reaches the store, and nothing fails. `discover` counts the
rows whose cursor value lies past the database's clock (read in the convention it chose) and
says so, with the fix, instead of proposing a cursor that would silently stall."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from clinicsync.common.timeutil import zone
from clinicsync.sync.discover.proposal import Proposal

Runner = Callable[..., list[tuple[Any, ...]]]  # (connection, sql, binds) -> rows
AHEAD = timedelta(minutes=10)  # a change stamp this far past the database's clock is in the future
_WIDE = {"window_start": datetime(1900, 1, 1), "window_end": datetime(2200, 1, 1), "cursor": None}


def clock_in(now_utc: datetime, stored_times: str, visit_zone: str | None) -> datetime:
    """The database's clock (naive UTC) as the rows' stamps are written: UTC, or local time."""
    if stored_times == "utc" or not visit_zone:
        return now_utc
    return now_utc.replace(tzinfo=UTC).astimezone(zone(visit_zone)).replace(tzinfo=None)


def future_cursor_note(connection: Connection, run: Runner, proposal: Proposal, now_utc: datetime,
                       visit_zone: str | None) -> str | None:
    """A note when rows' cursor values lie in the future; None when none does (or no cursor)."""
    connector = proposal.connector
    column, query = connector.get("cursor_column"), connector.get("query")
    if connector.get("mode") != "incremental" or not isinstance(column, str) or not isinstance(query, str):
        return None
    stored_times = str(connector.get("stored_times") or "local")
    limit = clock_in(now_utc, stored_times, visit_zone) + AHEAD
    name = connection.dialect.identifier_preparer.quote(column)
    binds = {k: v for k, v in _WIDE.items() if f":{k}" in query}
    # A literal of our own making (the guard allows the connector's binds only).
    rows = run(connection, f"SELECT COUNT(*), MAX(clinicsync_q.{name}) FROM ({query}) AS clinicsync_q "
                           f"WHERE clinicsync_q.{name} > '{limit.strftime('%Y-%m-%d %H:%M:%S')}'", binds)
    count, newest = (rows[0] if rows else (0, None))
    if not count or not isinstance(newest, datetime):
        return None
    ahead = newest - (limit - AHEAD)
    hours = ahead.total_seconds() / 3600
    return (f"the cursor '{column}': {count} row(s) carry a change stamp in the future (the latest {hours:.1f} h "
            f"past the database's clock read as {stored_times} time): an incremental read would stay there and "
            "pass over every change made before then; correct those stamps (or the clock that wrote them), "
            "check stored_times, or set mode: snapshot")
