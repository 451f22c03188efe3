"""The migrations create exactly what the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import clinicsync.sync.store.model  # noqa: F401 - registers every table
from clinicsync.sync.store.db import current_revision, ensure_schema, head_revision, make_engine, upgrade


def test_migrated_schema_matches_the_models(store_url: str) -> None:
    engine = make_engine(store_url)
    upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_a_fresh_sqlite_store_is_migrated_automatically(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'store.db'}")
    ensure_schema(engine)
    assert current_revision(engine) == head_revision()


def test_0007_collapses_repeated_quarantine_rows_and_keeps_running_connectors_live(store_url: str) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    engine = make_engine(store_url)
    upgrade(engine, "0006")
    rows = [("r1", "c1", "a.csv:2", "B7", "status", "unknown status word", f"2026-11-0{day} 10:00:00")
            for day in (1, 2, 3)]
    rows.append(("r1", "c1", "a.csv:3", "B8", "status", "unknown status word", "2026-11-02 10:00:00"))
    rows.append(("r1", "c1", "a.csv:9", None, None, "row has 3 fields; the header has 5", "2026-11-02 10:00:00"))
    with engine.begin() as connection:
        for row in rows:
            connection.execute(text(
                "INSERT INTO quarantine (run_id, connector, position, record_id, field, reason, created_at) "
                "VALUES (:r, :c, :p, :i, :f, :why, :at)"),
                dict(zip(("r", "c", "p", "i", "f", "why", "at"), row, strict=True)))
        connection.execute(text("INSERT INTO connectorstate (connector, cursor, updated_at) "
                                "VALUES ('c1', '{}', '2026-11-03 10:00:00')"))
    upgrade(engine)
    with engine.connect() as connection:
        items = connection.execute(text(
            "SELECT record_id, status, seen_count, created_at, last_seen FROM quarantine ORDER BY id")).all()
        live = connection.execute(text("SELECT connector FROM connectorbaseline")).scalars().all()
    engine.dispose()
    as_utc = [(r[0], r[1], r[2], *(d if isinstance(d, datetime) else datetime.fromisoformat(d) for d in r[3:]))
              for r in items]
    assert [(r[0], r[1], r[2], r[3].replace(tzinfo=UTC).day, r[4].replace(tzinfo=UTC).day) for r in as_utc] == [
        ("B7", "open", 3, 1, 3), ("B8", "open", 1, 2, 2), (None, "open", 1, 2, 2)]
    assert live == ["c1"]


def test_0019_merges_unnamed_items_of_the_same_row_and_keys_them_as_the_code_does(store_url: str) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    from clinicsync.sync.store import quarantine
    from clinicsync.sync.store.quarantine import QuarantineEntry

    engine = make_engine(store_url)
    upgrade(engine, "0018")
    same_row, other_row = '["A8","2026-12-01 13:00","30","booked"]', '["A9","x"]'
    rows = [  # position, record id, raw, status, count, first seen, last seen (day of November)
        ("a.csv:4", None, same_row, "open", 1, 1, 1),
        ("b.csv:6", None, same_row, "open", 2, 2, 3),
        ("c.csv:9", None, other_row, "open", 1, 2, 2),
        ("c.csv:2", "B7", '{"status":"Confirmd"}', "open", 4, 1, 3),
        ("d.csv:1", None, None, "dismissed", 1, 2, 2),
    ]
    with engine.begin() as connection:
        for n, (position, record_id, raw, status, count, first, last) in enumerate(rows):
            connection.execute(text(
                "INSERT INTO quarantine (run_id, connector, position, record_id, field, reason, raw, item_key, "
                "status, seen_count, created_at, last_seen) VALUES "
                "('r1', 'c1', :p, :i, NULL, 'why', :raw, :key, :s, :n, :first, :last)"),
                {"p": position, "i": record_id, "raw": raw, "key": f"old-{n}", "s": status, "n": count,
                 "first": f"2026-11-0{first} 10:00:00", "last": f"2026-11-0{last} 10:00:00"})
    upgrade(engine)
    with engine.connect() as connection:
        items = connection.execute(text(
            "SELECT position, record_id, status, seen_count, created_at, last_seen, item_key "
            "FROM quarantine ORDER BY id")).all()
    day = [(r[0], r[1], r[2], r[3], *(
        (d if isinstance(d, datetime) else datetime.fromisoformat(d)).replace(tzinfo=UTC).day for d in r[4:6]))
        for r in items]
    assert day == [("b.csv:6", None, "open", 3, 1, 3), ("c.csv:9", None, "open", 1, 2, 2),
                   ("c.csv:2", "B7", "open", 4, 1, 3), ("d.csv:1", None, "dismissed", 1, 2, 2)]
    assert items[2].item_key == "old-3"  # a named item keeps its key
    assert [items[0].item_key, items[1].item_key, items[3].item_key] == [
        quarantine.item_key(QuarantineEntry(p, "why", raw=raw)) for p, raw in (
            ("e.csv:1", same_row), ("e.csv:2", other_row), ("d.csv:1", None))]
    # The next sighting of the merged row, in another file, is that item seen again.
    with engine.begin() as connection:
        quarantine.record(connection, "c1", "r2", [QuarantineEntry("e.csv:7", "why", raw=same_row)],
                          datetime(2026, 11, 4, 10, tzinfo=UTC))
        counts = connection.execute(text("SELECT position, seen_count FROM quarantine ORDER BY id")).all()
    engine.dispose()
    assert [tuple(c) for c in counts] == [("e.csv:7", 4), ("c.csv:9", 1), ("c.csv:2", 4), ("d.csv:1", 1)]


def test_0031_gives_each_event_clinicsync_wrote_its_visit_end_and_none_to_an_adopted_one(store_url: str) -> None:
    _ends_filled(store_url)


@pytest.mark.mariadb
def test_0031_on_mariadb(mariadb_database: dict[str, object]) -> None:
    _ends_filled(str(mariadb_database["url"]))


def _ends_filled(store_url: str) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    engine = make_engine(store_url)
    upgrade(engine, "0030")
    at = "2026-08-01 10:00:00"
    with engine.begin() as connection:
        for n, end in ((1, "2026-08-03 09:30:00"), (2, "2026-09-04 15:00:00")):
            connection.execute(text(
                "INSERT INTO appointment (id, connector, external_id, status, start_utc, end_utc, timezone, version, "
                "content_hash, created_at, updated_at) "
                "VALUES (:n, 'csv', :x, 'booked', :e, :e, 'UTC', 1, 'h', :at, :at)"),
                {"n": n, "x": f"A{n}", "e": end, "at": at})
            connection.execute(text(
                "INSERT INTO calendarlink (appointment_id, provider, account, calendar_id, event_id, state, attempts, "
                "updated_at) VALUES (:n, 'ics', '', 'dr.ics', :e, 'present', 0, :at)"),
                {"n": n, "e": f"ev{n}", "at": at})
        for event_uid in ("ev1@clinicsync", "ev2@clinicsync", "lunch@doctor"):
            connection.execute(text(
                "INSERT INTO icsevent (calendar_id, uid, sequence, cancelled, vevent, updated_at) "
                "VALUES ('dr.ics', :u, 0, FALSE, 'BEGIN:VEVENT', :at)"), {"u": event_uid, "at": at})
    upgrade(engine)
    with engine.connect() as connection:
        ends = dict(connection.execute(text("SELECT uid, ends_at FROM icsevent")).all())
        retired = connection.execute(text("SELECT count(*) FROM icsfile WHERE retired_at IS NOT NULL")).scalar_one()
    engine.dispose()
    day = {uid: None if end is None else (end if isinstance(end, datetime) else datetime.fromisoformat(end))
           .replace(tzinfo=UTC) for uid, end in ends.items()}
    assert day == {"ev1@clinicsync": datetime(2026, 8, 3, 9, 30, tzinfo=UTC),
                   "ev2@clinicsync": datetime(2026, 9, 4, 15, tzinfo=UTC), "lunch@doctor": None}
    assert retired == 0


# A link column a migration added to the write-back queue: the revision before it, the column, its
# index, and the foreign keys the queue keeps once the downgrade has dropped it.
_WRITEBACK_LINKS = {
    "0046": ("0045", "desk_action_id", "ix_writeback_desk_action", ["appointment"]),
    "0047": ("0046", "freed_slot_id", "ix_writeback_freed_slot", ["appointment", "desk_action"]),
}


@pytest.mark.parametrize("revision", sorted(_WRITEBACK_LINKS))
def test_a_write_back_link_leaves_rows_before_it_unlinked_and_goes_back_cleanly(store_url: str,
                                                                                revision: str) -> None:
    """writeback.desk_action_id (0046) and writeback.freed_slot_id (0047): a row written before
    the migration keeps its values with no link (the desk's Undo and the Undo of *Booked by hand*
    take the time rule for those); the downgrade drops the column, its index and its foreign key,
    and the row and the earlier links stay."""
    _writeback_link(store_url, revision)


@pytest.mark.mariadb
@pytest.mark.parametrize("revision", sorted(_WRITEBACK_LINKS))
def test_a_write_back_link_on_mariadb(mariadb_database: dict[str, object], revision: str) -> None:
    """MariaDB refuses to drop an index its foreign key still needs: the downgrade drops the key first."""
    _writeback_link(str(mariadb_database["url"]), revision)


def _writeback_link(store_url: str, revision: str) -> None:
    from alembic import command
    from sqlalchemy import inspect, text

    from clinicsync.sync.store.db import alembic_config

    before, column, index, kept_keys = _WRITEBACK_LINKS[revision]
    engine = make_engine(store_url)
    upgrade(engine, before)
    at = "2026-11-01 10:00:00"
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO appointment (id, connector, external_id, status, start_utc, end_utc, timezone, version, "
            "content_hash, created_at, updated_at) "
            "VALUES (1, 'csv', 'A1', 'booked', :at, :at, 'UTC', 1, 'h', :at, :at)"), {"at": at})
        connection.execute(text(
            "INSERT INTO writeback (appointment_id, connector, external_id, participant_status, status, attempts, "
            "next_at, created_at) VALUES (1, 'csv', 'A1', 'declined', 'pending', 0, :at, :at)"), {"at": at})
    upgrade(engine)
    with engine.connect() as connection:
        row = connection.execute(text(f"SELECT participant_status, status, {column} FROM writeback")).one()
    assert tuple(row) == ("declined", "pending", None)
    command.downgrade(alembic_config(engine), before)
    with engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("writeback")}
        indexes = {i["name"] for i in inspect(connection).get_indexes("writeback")}
        keys = inspect(connection).get_foreign_keys("writeback")
        kept = connection.execute(text("SELECT participant_status FROM writeback")).scalar_one()
    engine.dispose()
    assert column not in columns and index not in indexes and kept == "declined"
    assert sorted(k["referred_table"] for k in keys) == kept_keys
