"""The migrations create exactly what the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import clinicsync.sync.model  # noqa: F401 - registers every table
from clinicsync.sync.db import current_revision, ensure_schema, head_revision, make_engine, upgrade


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
