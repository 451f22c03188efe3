"""links.insert_shared on MariaDB (INSERT IGNORE, backslashes in text literals)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine

from clinicsync.sync.store.model.calendar import ICS_EVENTS


def test_shared_values_are_stored_as_bound_ones_on_mariadb(mariadb_database: dict[str, Any]) -> None:
    from tests.sync.calendar.test_ics_first_push import _shared_rows_stored_as_bound_rows

    engine = create_engine(str(mariadb_database["url"]))
    try:
        ICS_EVENTS.create(engine)
        _shared_rows_stored_as_bound_rows(engine)
    finally:
        engine.dispose()
