"""The calendar stage's driver-level bookkeeping (sync/store/bulk.py: insert_ignoring, update_by_id,
select_where_in) stores what the SQLAlchemy statements it replaced stored, on SQLite and
PostgreSQL: the same values read back through the table (bools, aware UTC), duplicates skipped, updates by id."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from clinicsync.sync.store import bulk
from clinicsync.sync.store.db import insert_ignoring_duplicates
from clinicsync.sync.store.model.calendar import ICS_EVENTS
from clinicsync.sync.store.store import Store

NOW = datetime(2027, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
NAMES = ("calendar_id", "uid", "sequence", "cancelled", "tzid", "vevent", "updated_at")


def _table(store: Store, calendar_id: str) -> list[tuple[object, ...]]:
    c = ICS_EVENTS.c
    with store.engine.connect() as connection:
        return [tuple(r) for r in connection.execute(
            select(c.uid, c.sequence, c.cancelled, c.tzid, c.vevent, c.updated_at)
            .where(c.calendar_id == calendar_id).order_by(c.uid))]


def test_driver_rows_are_stored_as_sqlalchemy_stores_them(store: Store) -> None:
    events = [("u1", 0, False, "America/New_York", "BEGIN:VEVENT\r\nA\r\n"), ("u2", 3, True, None, "é😀")]
    with store.engine.begin() as connection:
        connection.execute(insert_ignoring_duplicates(connection, ICS_EVENTS), [
            dict(zip(NAMES, ("orm", *event, NOW), strict=True)) for event in events])
        stamp = bulk.bind_value(connection, ICS_EVENTS.c.updated_at, NOW)
        bulk.insert_ignoring(connection, ICS_EVENTS, NAMES, [("drv", *event, stamp) for event in events])
        bulk.insert_ignoring(connection, ICS_EVENTS, NAMES, [("drv", "u1", 9, True, None, "again", stamp)])  # skipped
    assert _table(store, "drv") == _table(store, "orm")
    assert _table(store, "drv")[1] == ("u2", 3, True, None, "é😀", NOW)

    with store.engine.begin() as connection:
        found = bulk.select_where_in(connection, ICS_EVENTS, ("id", "uid", "cancelled", "updated_at"), "uid",
                               ["u2", "u1", "absent"], where={"calendar_id": "drv"}, chunk=1)
        by_uid = {uid: (id_, cancelled, updated) for id_, uid, cancelled, updated in found}
        assert {uid: value[1:] for uid, value in by_uid.items()} == {"u1": (False, NOW), "u2": (True, NOW)}
        later = bulk.bind_value(connection, ICS_EVENTS.c.updated_at, NOW.replace(year=2028))
        bulk.update_by_id(connection, ICS_EVENTS, ("sequence", "vevent", "updated_at"),
                          [(7, "changed", later, by_uid["u1"][0])], constants="tzid = NULL")
        assert bulk.select_where_in(connection, ICS_EVENTS, ("id",), "uid", []) == []
    assert _table(store, "drv") == [("u1", 7, False, None, "changed", NOW.replace(year=2028)),
                                    ("u2", 3, True, None, "é😀", NOW)]
