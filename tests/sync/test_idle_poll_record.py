"""A poll that finds nothing writes one statement to the run history (sync/runs/poll_record.py):
a finished row marked ``idle_polls``, then the same row moved to each later idle poll. What the
readers take from the history stays true: `status` and /metrics see the source polled now, the
silent-source stall does not fire, a failure is counted and ends with the next good poll, and a
poll that stored something keeps its own row. Through the service's poll job, on SQLite and
PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select, update

from clinicsync.common.types import utcnow
from clinicsync.sync.checks.queries import connector_health, connector_status
from clinicsync.sync.checks.stalls import find_stalls
from clinicsync.sync.runs.run_progress import STAGES
from clinicsync.sync.service.jobs import ServiceContext, poll_connector_job
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import SYNC_RUNS
from tests.reliability.harness import write_drop
from tests.sync.conftest import statements_during


def _runs(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(SYNC_RUNS).where(SYNC_RUNS.c.connector == "emr")
                                       .order_by(SYNC_RUNS.c.id)))


def _import_stages(store: Store) -> int:
    with store.engine.connect() as connection:
        return len(connection.execute(select(STAGES.c.id).where(STAGES.c.stage == "import emr")).all())


def _writes(store: Store, ctx: ServiceContext) -> list[str]:
    result, statements = statements_during(store, lambda: poll_connector_job(ctx, "emr"))
    assert result is not None
    return [s for s in statements if not s.startswith("SELECT")]


def _age_history(store: Store, by: timedelta) -> None:
    """Every run of emr as if it had been that long ago (a source that then stopped polling)."""
    with store.engine.begin() as connection:
        for row in connection.execute(select(SYNC_RUNS)).all():
            connection.execute(update(SYNC_RUNS).where(SYNC_RUNS.c.id == row.id).values(
                started_at=row.started_at - by, finished_at=row.finished_at and row.finished_at - by))


def test_idle_polls_write_one_row_then_move_it(store: Store, poll_context: ServiceContext) -> None:
    ctx = poll_context
    poll_connector_job(ctx, "emr")  # the first import: its full record
    assert [(r.status, orjson.loads(r.counts)["created"]) for r in _runs(store)] == [("ok", 20)]
    stages = _import_stages(store)

    writes = _writes(store, ctx)
    assert len(writes) == 1 and writes[0].startswith("INSERT INTO syncrun"), writes
    first, idle = _runs(store)
    assert orjson.loads(first.counts)["created"] == 20  # the import's row is never folded over
    assert idle.status == "ok" and idle.finished_at is not None and orjson.loads(idle.counts)["idle_polls"] == 1

    _age_history(store, timedelta(hours=3))
    writes = _writes(store, ctx)
    assert len(writes) == 1 and writes[0].startswith("UPDATE syncrun"), writes
    rows = _runs(store)
    assert [r.id for r in rows] == [first.id, idle.id]
    assert orjson.loads(rows[1].counts)["idle_polls"] == 2
    assert utcnow() - rows[1].started_at < timedelta(minutes=1)  # moved to this poll
    assert _import_stages(store) == stages  # no stage row for a poll that stored nothing

    with store.engine.connect() as connection:
        health = connector_health(connection)["emr"]
    assert health.failing_runs == 0 and health.last_success is not None
    assert utcnow() - health.last_success < timedelta(minutes=1)
    assert utcnow() - health.last_started < timedelta(minutes=1)
    assert not [s for s in find_stalls(store, ctx.settings) if s.kind == "source_silent"]
    (status,) = connector_status(store)
    assert status["last_status"] == "ok" and status["failing_runs"] == 0


def test_a_source_that_stops_polling_is_still_reported(store: Store, poll_context: ServiceContext) -> None:
    """The idle row moves only when a poll happens: hours without one, the stall is seen."""
    ctx = poll_context
    poll_connector_job(ctx, "emr")
    poll_connector_job(ctx, "emr")
    poll_connector_job(ctx, "emr")
    _age_history(store, timedelta(hours=3))
    assert [s.subject for s in find_stalls(store, ctx.settings) if s.kind == "source_silent"] == ["emr"]


def test_a_failure_gets_its_row_and_the_next_idle_poll_ends_it(tmp_path: Path, store: Store,
                                                                poll_context: ServiceContext) -> None:
    ctx = poll_context
    poll_connector_job(ctx, "emr")
    poll_connector_job(ctx, "emr")  # idle
    drop = tmp_path / "drop"
    drop.rename(tmp_path / "away")  # the folder is gone: the poll fails
    poll_connector_job(ctx, "emr")
    poll_connector_job(ctx, "emr")
    rows = _runs(store)
    assert [r.status for r in rows] == ["ok", "ok", "failed", "failed"]  # each failure its own row
    with store.engine.connect() as connection:
        assert connector_health(connection)["emr"].failing_runs == 2
    (tmp_path / "away").rename(drop)
    poll_connector_job(ctx, "emr")  # the failure ends (a change of standing): a full row
    poll_connector_job(ctx, "emr")  # idle: a row of its own, never a fold over the failures
    poll_connector_job(ctx, "emr")  # and the next one folds into it
    rows = _runs(store)
    assert [r.status for r in rows] == ["ok", "ok", "failed", "failed", "ok", "ok"]
    assert "idle_polls" not in orjson.loads(rows[-2].counts)
    assert orjson.loads(rows[-1].counts)["idle_polls"] == 2
    with store.engine.connect() as connection:
        assert connector_health(connection)["emr"].failing_runs == 0
    # seven polls in six rows: the history's count of them, as the readers of "polls since" take it
    assert store.polls_recorded(["emr", "other"]) == {"emr": 7, "other": 0}
    poll_connector_job(ctx, "emr")
    assert len(_runs(store)) == 6 and store.polls_recorded(["emr"]) == {"emr": 8}


def test_a_poll_with_something_new_gets_its_full_record(tmp_path: Path, store: Store,
                                                        poll_context: ServiceContext) -> None:
    ctx = poll_context
    poll_connector_job(ctx, "emr")
    poll_connector_job(ctx, "emr")  # idle: its row
    stages = _import_stages(store)
    write_drop(tmp_path / "drop", "b.csv", 5, prefix="Q-")
    poll_connector_job(ctx, "emr")
    rows = _runs(store)
    assert len(rows) == 3 and "idle_polls" not in orjson.loads(rows[-1].counts)
    assert orjson.loads(rows[-1].counts)["created"] == 5
    assert _import_stages(store) == stages + 1  # its import stage row too, with its rows
    with store.engine.connect() as connection:
        stage = connection.execute(select(STAGES).where(STAGES.c.stage == "import emr")
                                   .order_by(STAGES.c.id.desc()).limit(1)).one()
    assert stage.status == "ok" and stage.rows > 0 and stage.started_at <= rows[-1].finished_at
    poll_connector_job(ctx, "emr")  # idle after it: a new row, the import's row is kept
    assert len(_runs(store)) == 4


def test_a_re_export_of_the_same_rows_is_an_idle_poll(tmp_path: Path, store: Store,
                                                      poll_context: ServiceContext) -> None:
    """A byte-different file of the same rows: every row read and found unchanged, the file's
    new digest stored, and the run recorded as idle (no import stage row)."""
    ctx = poll_context
    poll_connector_job(ctx, "emr")
    stages = _import_stages(store)
    export = tmp_path / "drop" / "a.csv"
    text = export.read_bytes()
    export.write_bytes(text.replace(b"\r\n", b"\n") if b"\r\n" in text else text.replace(b"\n", b"\r\n"))
    writes = _writes(store, ctx)
    assert [w for w in writes if "syncrun" in w] and all(w.startswith("INSERT INTO syncrun") for w in writes
                                                         if "syncrun" in w), writes
    assert not [w for w in writes if "run_stage" in w], writes
    rows = _runs(store)
    counts = orjson.loads(rows[-1].counts)
    assert counts["idle_polls"] == 1 and counts["unchanged"] == 20 and counts["created"] == 0
    assert _import_stages(store) == stages
