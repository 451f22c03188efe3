"""A row whose change stamp lies a day ahead must not carry the incremental cursor past the
changes made meanwhile (issue 57): the cursor holds at the database's own now, the row is
still read, the condition is noted, and a change made now to another row is read at the next
poll. On the real PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, insert, update

from clinicsync.connectors.sql import SqlConnector, decode_cursor_value
from clinicsync.connectors.sql_clock import FUTURE_STAMPS
from clinicsync.connectors.sql_settings import SqlSettings
from clinicsync.sync.db import make_engine

MAPPING = Path(__file__).parent / "data" / "sql_appointments.yaml"
QUERY = "SELECT id, patient_id, starts_at, minutes, status, updated_at FROM appts"
METADATA = MetaData()
APPTS = Table(
    "appts", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("patient_id", String(20)),
    Column("starts_at", DateTime),
    Column("minutes", Integer),
    Column("status", String(20)),
    Column("updated_at", DateTime),
)


@pytest.fixture(params=[pytest.param("mariadb", marks=pytest.mark.mariadb),
                        pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "mariadb":
        url = str(request.getfixturevalue("mariadb_database")["url"])
    else:
        url = str(request.getfixturevalue("postgres_url"))
    engine = make_engine(url)
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


def utc_now() -> datetime:
    """Naive UTC, the convention of these stamps (the source's clock is UTC here)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def test_a_row_stamped_a_day_ahead_does_not_hide_a_change_made_now(engine: Engine) -> None:
    now = utc_now()
    start = now + timedelta(days=3)
    with engine.begin() as connection:
        connection.execute(insert(APPTS), [
            {"id": i, "patient_id": f"p{i}", "starts_at": start + timedelta(hours=i), "minutes": 20,
             "status": "booked", "updated_at": stamp}
            for i, stamp in [(1, now - timedelta(hours=2)), (2, now - timedelta(hours=1)),
                             (3, now + timedelta(days=1))]])  # a writer's clock a day ahead
    settings = SqlSettings(name="src", mapping=str(MAPPING), url=str(engine.url.render_as_string(False)),
                           query=QUERY, cursor_column="updated_at", stored_times="utc")
    connector = SqlConnector(settings)
    try:
        batches = list(connector.fetch(None))
        assert sorted(r.data["id"] for b in batches for r in b.records) == [1, 2, 3]  # still read
        cursor = batches[-1].cursor
        assert cursor is not None
        held = decode_cursor_value(cursor["type"], cursor["value"])
        assert now - timedelta(hours=1) < held <= utc_now() + timedelta(seconds=5)  # not a day ahead
        condition = connector.conditions[(FUTURE_STAMPS, "updated_at")]
        assert condition.holds and condition.fields["rows"] == 1
        assert "23:5" in condition.fields["furthest_ahead"] and "stored_times" in condition.fields["detail"]

        with engine.begin() as connection:  # a real change, made now, before the stamp a day ahead
            connection.execute(update(APPTS).where(APPTS.c.id == 1).values(status="cancelled",
                                                                               updated_at=utc_now()))
        again = list(connector.fetch(cursor))
        read = {r.data["id"]: r.data["status"] for b in again for r in b.records}
        assert read.get(1) == "cancelled"

        # A cursor stored a day ahead by an earlier version is pulled back to now.
        ahead = dict(cursor, value=(now + timedelta(days=1)).isoformat(), seen=[])
        with engine.begin() as connection:
            connection.execute(update(APPTS).where(APPTS.c.id == 2).values(status="cancelled",
                                                                               updated_at=utc_now()))
        pulled = list(connector.fetch(ahead))
        assert 2 in {r.data["id"] for b in pulled for r in b.records}
    finally:
        connector.close()


def test_the_condition_ends_when_no_row_is_ahead(engine: Engine) -> None:
    now = utc_now()
    with engine.begin() as connection:
        connection.execute(insert(APPTS), [{"id": 1, "patient_id": "p1", "starts_at": now + timedelta(days=2),
                                            "minutes": 20, "status": "booked",
                                            "updated_at": now + timedelta(minutes=1)}])  # within the tolerance
    connector = SqlConnector(SqlSettings(name="src", mapping=str(MAPPING), url=engine.url.render_as_string(False),
                                         query=QUERY, cursor_column="updated_at", stored_times="utc"))
    try:
        assert [r.data["id"] for b in connector.fetch(None) for r in b.records] == [1]
        assert not connector.conditions[(FUTURE_STAMPS, "updated_at")].holds
    finally:
        connector.close()
