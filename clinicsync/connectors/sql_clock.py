"""How far an incremental SQL cursor may go: the source database's own "now", not ours.

A row whose change stamp lies in the future (a writer's clock set wrong, a typo, stamps kept
in another convention than ``stored_times`` says) would carry the cursor past it, and every
real change made before that moment would be skipped, silently, until the clock caught up.
So the cursor the connector stores never goes past the database's now, read once per poll in
the database itself (its clock is the one the stamps are compared with, not this host's) and
put in the convention of the cursor values: an aware date-time as it is, a naive one as wall
time in the source's clock (``naive_zone``: UTC for ``stored_times: utc``), a date as that
wall clock's date. Rows stamped ahead are still read, and again at each poll until now passes
them (the store recognizes them unchanged); more than ``FUTURE_TOLERANCE`` ahead is a lasting
condition the clinic must fix (``FUTURE_STAMPS``). Integers and text cursors are not times:
no limit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from clinicsync.common.types import utcnow
from clinicsync.connectors.sql_session import is_mysql

#: Stamps this far ahead of the database's now are not yet a condition: writers whose clocks
#: drift a little from the database's (their rows are still re-read until now passes them).
FUTURE_TOLERANCE = timedelta(minutes=5)
#: The lasting condition (``Connector.note_condition``) of rows stamped past it.
FUTURE_STAMPS = "sql.cursor.future_stamps"
FUTURE_FIX = ("correct the clock of whatever writes these rows, or their stamps; if every row is ahead by "
              "whole hours, the column may keep another convention than stored_times says (utc or local)")


def database_now(connection: Connection) -> datetime:
    """The database's own clock, as an aware UTC instant: PostgreSQL ``now()`` (the transaction's
    start, aware), MySQL/MariaDB ``UTC_TIMESTAMP(6)`` (independent of the session's time_zone),
    SQLite ``'now'`` (UTC); any other database: this host's clock."""
    if connection.dialect.name == "postgresql":
        value = connection.execute(text("SELECT now()")).scalar_one()
    elif is_mysql(connection):
        value = connection.execute(text("SELECT UTC_TIMESTAMP(6)")).scalar_one()
    elif connection.dialect.name == "sqlite":
        value = datetime.fromisoformat(connection.execute(
            text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one())
    else:
        return utcnow()
    if not isinstance(value, datetime):  # a driver that returns text
        value = datetime.fromisoformat(str(value))
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)


class Ceiling(NamedTuple):
    """The database's now in each shape a cursor value takes, and the point past which a stamp
    is a condition (now plus ``FUTURE_TOLERANCE``), computed once per poll, not per row. A
    named tuple rather than a frozen dataclass: cheaper to define on each start."""

    aware: datetime
    naive: datetime
    day: date
    tolerance: timedelta

    @classmethod
    def at(cls, now: datetime, source_zone: ZoneInfo, tolerance: timedelta = FUTURE_TOLERANCE) -> Ceiling:
        wall = now.astimezone(source_zone).replace(tzinfo=None)
        return cls(now, wall, wall.date(), tolerance)

    def limit(self, value: Any) -> Any | None:
        """The largest cursor value a read may store for values like ``value`` (None: no limit)."""
        if isinstance(value, datetime):
            return self.naive if value.tzinfo is None else self.aware
        if isinstance(value, date):
            return self.day
        return None

    def ahead(self, value: Any) -> timedelta | None:
        """How far ``value`` lies past now, when it lies past the tolerance; else None."""
        if isinstance(value, datetime):
            by = value - (self.naive if value.tzinfo is None else self.aware)
        elif isinstance(value, date):
            by = datetime.combine(value, datetime.min.time()) - self.naive  # ahead of midnight
        else:
            return None
        return by if by > self.tolerance else None
