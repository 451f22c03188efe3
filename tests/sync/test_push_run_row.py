"""A push's run row is written by a statement built once per dialect (sync/ingest/push.py
``_run_insert``, issue 32): the row stored is the one ``bulk.insert_rows`` stored, column by
column as the driver reads it back, for a run that succeeded and one that failed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from clinicsync.sync.ingest import push
from clinicsync.sync.store.bulk import insert_rows
from clinicsync.sync.store.store import Counts, Store

STARTED = datetime(2030, 3, 12, 9, 30, 1, 123456, tzinfo=UTC)
FINISHED = datetime(2030, 3, 12, 9, 30, 2, 654321, tzinfo=UTC)


def _raw(store: Store, run_id: str) -> tuple[Any, ...]:
    with store.engine.connect() as connection:
        names = ", ".join(name for name in push._RUN_COLUMNS if name != "run_id")
        return tuple(connection.exec_driver_sql(f"SELECT {names} FROM syncrun WHERE run_id = '{run_id}'").one())


@pytest.mark.parametrize("error", [None, "store error (OperationalError)"])
def test_the_run_row_is_the_one_insert_rows_wrote(
    store: Store, monkeypatch: pytest.MonkeyPatch, error: str | None
) -> None:
    monkeypatch.setattr(push, "utcnow", lambda: FINISHED)
    counts = Counts(fetched=1, created=1)
    with store.engine.begin() as connection:
        push._run_recorder("new-way", "website", STARTED)(connection, counts, error)
        insert_rows(
            connection,
            push.RUNS,
            push._RUN_COLUMNS,
            [
                (
                    "old-way",
                    "website",
                    "failed" if error else "ok",
                    orjson.dumps(counts.as_dict()).decode(),
                    error,
                    STARTED,
                    FINISHED,
                )
            ],
        )
    assert _raw(store, "new-way") == _raw(store, "old-way")
    assert _raw(store, "new-way")[:2] == ("website", "failed" if error else "ok")
