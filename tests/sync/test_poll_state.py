"""A poll's reads of its own state are one statement (sync/runs/poll_state.py): its baseline, cursor,
last sweep, whether it has open quarantine items and which conditions it may end stand. The two
reads those flags let an idle poll skip (the open items, the ended conditions) are still made, and
still act, when there is something to find. On SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import structlog
from sqlalchemy import insert, select

from clinicsync.common.types import utcnow
from clinicsync.sync.ingest.engine import CRASHING, FAILING
from clinicsync.sync.runs.poll_state import read_poll_state
from clinicsync.sync.runs.standing import Standing, end_all, head_of
from clinicsync.sync.service.jobs import ServiceContext, poll_connector_job
from clinicsync.sync.store.quarantine import OPEN
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import HOUSEKEEPING, QUARANTINE, SYNC_RUNS
from tests.sync.conftest import statements_during

log = structlog.get_logger("test")


def _open_item(store: Store, connector: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(insert(QUARANTINE).values(
            connector=connector, run_id="r", position="a.csv:9", record_id="gone-1", reason="start: not a date",
            raw="{}", item_key="k-gone-1", status=OPEN, created_at=utcnow(), last_seen=utcnow()))


def _tasks(store: Store) -> set[str]:
    with store.engine.connect() as connection:
        return set(connection.execute(select(HOUSEKEEPING.c.task)).scalars())


def test_the_state_says_what_is_open_and_what_stands(store: Store) -> None:
    subjects = [(FAILING, "emr", ""), (CRASHING, "emr", "")]
    state = read_poll_state(store.engine, "emr", subjects)
    assert (state.go_live, state.cursor, state.swept_at, state.open_quarantine, state.running, state.standing) == \
        (None, None, None, False, False, frozenset())
    FAILING.seen(store.engine, log, "emr", state="the folder is gone")
    FAILING.seen(store.engine, log, "other", state="the folder is gone")  # another source's: not this one's
    _open_item(store, "other")
    state = read_poll_state(store.engine, "emr", subjects)
    assert state.standing == {head_of((FAILING, "emr", ""))} and not state.open_quarantine
    _open_item(store, "emr")
    assert read_poll_state(store.engine, "emr", subjects).open_quarantine
    with store.engine.begin() as connection:  # a run a dead worker left running
        connection.execute(insert(SYNC_RUNS).values(run_id="dead", connector="emr", status="running", counts="{}",
                                                    started_at=utcnow()))
    assert read_poll_state(store.engine, "emr", subjects).running
    assert not read_poll_state(store.engine, "other", subjects).running
    assert read_poll_state(store.engine, "emr").standing == frozenset()  # nothing asked, nothing said


def test_an_idle_poll_reads_no_open_items_and_no_conditions_and_closes_no_runs_when_none_are(
        store: Store, poll_context: ServiceContext) -> None:
    """Counted in statements: the old poll read the open items and the conditions, and closed the
    runs left running, at every poll."""
    poll_connector_job(poll_context, "emr")
    result, statements = statements_during(store, lambda: poll_connector_job(poll_context, "emr"))
    assert result is not None and not result["failed"] and result["emr"]["created"] == 0
    assert not [s for s in statements if s.startswith("SELECT quarantine.")], statements
    assert not [s for s in statements if s.startswith("SELECT housekeeping.")], statements
    assert not [s for s in statements if s.startswith("UPDATE syncrun") and "finished_at=" in s
                and "counts=" not in s], statements  # the abandoned runs' update: none was running
    writes = [s for s in statements if not s.startswith("SELECT")]
    assert len(writes) == 1 and writes[0].startswith("INSERT INTO syncrun"), statements  # one row, finished


def test_a_condition_standing_at_the_start_ends_and_an_open_item_is_still_read(
        store: Store, poll_context: ServiceContext) -> None:
    poll_connector_job(poll_context, "emr")
    FAILING.seen(store.engine, log, "emr", state="the folder is gone")  # as a failed poll leaves it
    assert head_of((FAILING, "emr", "")) in _tasks(store)
    _open_item(store, "emr")
    result, statements = statements_during(store, lambda: poll_connector_job(poll_context, "emr"))
    assert result is not None and not result["failed"]
    assert not [task for task in _tasks(store) if task.startswith(head_of((FAILING, "emr", "")))]  # ended
    assert [s for s in statements if s.startswith("SELECT quarantine.")]  # the open items were read for the run


def test_a_condition_the_state_did_not_ask_for_is_still_ended(store: Store) -> None:
    """A connector reports conditions it does not remember across runs (a SQL source's future
    stamps per column, a FHIR server's refused id search): the poll's state did not ask for them,
    so ``end_all`` reads them even when none of those it asked for stood."""
    future = Standing("connector.future_stamps", "connector")
    future.seen(store.engine, log, "emr", part="updated_at", state="3 rows stamped ahead")
    asked = [(FAILING, "emr", ""), (CRASHING, "emr", "")]
    state = read_poll_state(store.engine, "emr", asked)
    assert state.standing == frozenset()
    end_all(store.engine, log, [*asked, (future, "emr", "updated_at")], standing=state.standing, asked=state.asked)
    assert not [task for task in _tasks(store) if task.startswith(head_of((future, "emr", "updated_at")))]
    # What was asked and did not stand is not read again.
    _, statements = statements_during(
        store, lambda: end_all(store.engine, log, asked, standing=state.standing, asked=state.asked))
    assert statements == []
