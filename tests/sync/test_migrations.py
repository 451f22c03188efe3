"""The migrations create exactly what the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import sync.model  # noqa: F401 - registers every table
from sync.db import current_revision, ensure_schema, head_revision, make_engine, upgrade


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
