"""sync/store/tables.py describes a few store tables as Core tables so that `status` need not import the
model (issue 31, obs 6). The SQLModel classes stay the schema's one source of truth: every table
there must equal the model's, column for column, and a failure prints the definition to paste."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Table, insert, select
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import clinicsync.sync.store.model  # noqa: F401 - registers every table in SQLModel.metadata
from clinicsync.common.types import UtcDateTime
from clinicsync.sync.store import tables
from clinicsync.sync.store.model.reminders import STATUSES
from clinicsync.sync.store.store import Store

CORE_TABLES = sorted(tables.METADATA.tables.values(), key=lambda table: table.name)


def _type(column: Column[Any]) -> str:
    """The column's type as sync/store/tables.py writes it (sqlmodel's AutoString is a String)."""
    kind = column.type
    if isinstance(kind, AutoString):
        return f"String({kind.length})" if kind.length else "String()"
    if isinstance(kind, UtcDateTime):
        return "UtcDateTime()"
    length = getattr(kind, "length", None)
    return f"{type(kind).__name__}({length})" if length else f"{type(kind).__name__}()"


def _column(column: Column[Any]) -> str:
    extra = ", primary_key=True" if column.primary_key else f", nullable={column.nullable}"
    if column.default is not None:
        extra += f", default={column.default.arg!r}"
    return f'Column("{column.name}", {_type(column)}{extra}),'


def _definition(table: Table) -> list[str]:
    return [_column(column) for column in table.columns]


def test_there_are_core_tables_to_check() -> None:
    assert {t.name for t in CORE_TABLES} >= {"syncrun", "quarantine", "run_stage", "reminder", "writeback",
                                             "set_aside", "event", "eventconsumer"}


@pytest.mark.parametrize("core", CORE_TABLES, ids=lambda table: table.name)
def test_each_core_table_equals_the_models(core: Table) -> None:
    model = SQLModel.metadata.tables[core.name]
    expected = _definition(model)
    paste = "\n".join(f"    {line}" for line in expected)
    assert _definition(core) == expected, (
        f"sync/store/tables.py's {core.name!r} differs from the model's; paste:\n{paste}")
    assert all(column.server_default is None for column in model.columns), "add server defaults to the rendering"


def test_the_reminder_states_are_one_list() -> None:
    assert STATUSES is tables.REMINDER_STATUSES


def test_a_row_written_through_the_model_reads_back_the_same_through_core(tmp_path: Any) -> None:
    """Same rows, same Python values (UTC-aware datetimes, defaults) through either description."""
    from datetime import UTC, datetime

    from clinicsync.sync.config.settings import StoreSettings

    store = Store.open(StoreSettings(url=f"sqlite:///{tmp_path / 'store.db'}"))
    engine_only = tables.StoreEngine.open(StoreSettings(url=f"sqlite:///{tmp_path / 'store.db'}"))
    try:
        now = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
        model_runs = SQLModel.metadata.tables["syncrun"]
        with store.engine.begin() as connection:
            connection.execute(insert(model_runs).values(run_id="r1", connector="desk", status="ok",
                                                         counts="{}", started_at=now))
            connection.execute(insert(tables.SET_ASIDE).values(stage="calendar", item="appointment:1",
                                                               reason="boom", first_at=now, last_at=now))
        with engine_only.engine.connect() as connection:
            run = connection.execute(select(tables.SYNC_RUNS)).one()
        with store.engine.connect() as connection:
            aside = connection.execute(select(SQLModel.metadata.tables["set_aside"])).one()
        assert run.started_at == now and run.started_at.tzinfo is not None and run.counts == "{}"
        assert (aside.status, aside.attempts) == ("open", 1)  # the Core table's defaults are the model's
    finally:
        engine_only.close()
        store.close()
