"""A row whose change stamp lies a day ahead must not carry the incremental cursor past the
changes made meanwhile (issue 57): the cursor holds at the database's own now, the row is
still read, the condition is noted, and a change made now to another row is read at the next
poll. On the real PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from clinicsync.connectors.sql import SqlConnector
from clinicsync.connectors.sql_clock import FUTURE_STAMPS
from clinicsync.connectors.sql_cursor import decode_cursor_value
from clinicsync.connectors.sql_settings import SqlSettings
from clinicsync.sync.store.db import make_engine
from tests.connectors.test_sql import MAPPING, METADATA, QUERY, Source


@pytest.fixture(params=[pytest.param("mariadb", marks=pytest.mark.mariadb),
                        pytest.param("postgres", marks=pytest.mark.postgres)])
def source(request: pytest.FixtureRequest) -> Iterator[Source]:
    """The table `appts` (test_sql.py) in a fresh MariaDB database or PostgreSQL schema."""
    if request.param == "mariadb":
        url = str(request.getfixturevalue("mariadb_database")["url"])
    else:
        url = str(request.getfixturevalue("postgres_url"))
    engine = make_engine(url)
    METADATA.create_all(engine)
    yield Source(request.param, url, engine)
    engine.dispose()


def connector(source: Source) -> SqlConnector:
    """Incremental on updated_at, whose naive stamps are UTC (the source's clock is UTC)."""
    return SqlConnector(SqlSettings(name="src", mapping=str(MAPPING), url=source.url, query=QUERY,
                                    cursor_column="updated_at", stored_times="utc"))


def utc_now() -> datetime:
    """Naive UTC, the convention of these stamps (the source's clock is UTC here)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def test_a_row_stamped_a_day_ahead_does_not_hide_a_change_made_now(source: Source) -> None:
    now = utc_now()
    source.add(1, updated_at=now - timedelta(hours=2))
    source.add(2, updated_at=now - timedelta(hours=1))
    source.add(3, updated_at=now + timedelta(days=1))  # a writer's clock a day ahead
    reader = connector(source)
    try:
        batches = list(reader.fetch(None))
        assert sorted(r.data["id"] for b in batches for r in b.records) == [1, 2, 3]  # still read
        cursor = batches[-1].cursor
        assert cursor is not None
        held = decode_cursor_value(cursor["type"], cursor["value"])
        assert now - timedelta(hours=1) < held <= utc_now() + timedelta(seconds=5)  # not a day ahead
        condition = reader.conditions[(FUTURE_STAMPS, "updated_at")]
        assert condition.holds and condition.fields["rows"] == 1
        assert "23:5" in condition.fields["furthest_ahead"] and "stored_times" in condition.fields["detail"]

        source.set(1, status="cancelled", updated_at=utc_now())  # a real change, made now
        again = list(reader.fetch(cursor))
        read = {r.data["id"]: r.data["status"] for b in again for r in b.records}
        assert read.get(1) == "cancelled"

        # A cursor stored a day ahead by an earlier version is pulled back to now.
        ahead = dict(cursor, value=(now + timedelta(days=1)).isoformat(), seen=[])
        source.set(2, status="cancelled", updated_at=utc_now())
        pulled = list(reader.fetch(ahead))
        assert 2 in {r.data["id"] for b in pulled for r in b.records}
    finally:
        reader.close()


def test_the_condition_ends_when_no_row_is_ahead(source: Source) -> None:
    source.add(1, updated_at=utc_now() + timedelta(minutes=1))  # within the tolerance
    reader = connector(source)
    try:
        assert [r.data["id"] for b in reader.fetch(None) for r in b.records] == [1]
        assert not reader.conditions[(FUTURE_STAMPS, "updated_at")].holds
    finally:
        reader.close()
