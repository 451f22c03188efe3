"""An idle poll of a SQL source asks for its rows-stamped-ahead condition in the poll's one state
read (sync/runs/poll_state.py), so it sends no read of its own for it: the condition's part is
the source's cursor column, a setting, which ``Connector.remembers`` (a class's constant) cannot
name. A condition that stood is still ended by the poll that finds no row ahead. A SQLite file
as the source, the store on SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
import yaml
from sqlalchemy import select

from clinicsync.connectors.sql_clock import FUTURE_STAMPS
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.runs.standing import Standing, head_of
from clinicsync.sync.service.jobs import ServiceContext, poll_connector_job
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import HOUSEKEEPING
from tests.connectors.test_sql import MAPPING, QUERY, Source, sqlite_source  # noqa: F401 (a fixture)
from tests.sync.conftest import statements_during

FUTURE = Standing(FUTURE_STAMPS, "connector")


@pytest.fixture
def context(tmp_path: Path, store: Store, store_url: str,
            sqlite_source: Source) -> ServiceContext:  # noqa: F811 (the imported fixture)
    """One incremental SQL source on updated_at (UTC stamps), imported once: the next poll is idle."""
    practice = sqlite_source
    practice.add(1, 2, updated_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(hours=1))
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({
        "clinic": {"timezone": "America/New_York", "default_region": "US"},
        "store": {"url": store_url},
        "connectors": [{"name": "emr", "kind": "sql", "url": practice.url, "query": QUERY, "mapping": str(MAPPING),
                        "cursor_column": "updated_at", "stored_times": "utc"}],
    }), encoding="utf-8")
    ctx = ServiceContext(load_settings(path), store)
    first = poll_connector_job(ctx, "emr")
    assert first is not None and first["emr"]["created"] == 2, first
    return ctx


def _said(store: Store) -> set[str]:
    with store.engine.connect() as connection:
        return {task for task in connection.execute(select(HOUSEKEEPING.c.task)).scalars()
                if task.startswith(head_of((FUTURE, "emr", "updated_at")))}


def test_an_idle_sql_poll_reads_no_condition_of_its_own(store: Store, context: ServiceContext) -> None:
    result, statements = statements_during(store, lambda: poll_connector_job(context, "emr"))
    assert result is not None and not result["failed"] and result["emr"]["fetched"] == 0, result
    assert not [s for s in statements if s.startswith("SELECT housekeeping.")], statements
    writes = [s for s in statements if not s.startswith("SELECT")]
    assert len(writes) == 1, statements  # the idle row moved (or written once)


def test_a_future_stamps_condition_that_stood_is_ended_by_the_idle_poll(store: Store,
                                                                       context: ServiceContext) -> None:
    FUTURE.seen(store.engine, structlog.get_logger("test"), "emr", part="updated_at", state="1 row stamped ahead")
    assert _said(store)
    result = poll_connector_job(context, "emr")
    assert result is not None and not result["failed"] and result["emr"]["fetched"] == 0, result
    assert not _said(store)  # resolved: no row is ahead now
