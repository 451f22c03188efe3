"""A poll's own record in the store: its run row and its import stage row, written once the poll
has something to store, or one row for a poll that had nothing.

Most polls find nothing new. Each wrote a run row and a stage row, each inserted at the start
and updated at the end: four writes (on PostgreSQL four round trips, each costing more CPU than
the source's query) to say "polled, nothing". Now a poll that may be idle writes nothing at its
start. Its first batch with rows that name the run (visits, quarantine items, sightings) or that
may delete writes both rows first, as before, dated from the poll's start, and from then on the
run is recorded in full; so does a failure, or any count but fetched and unchanged rows at the
end. A batch of unchanged rows or a moved cursor alone (a re-export, a FHIR server's clock) is
stored without them. A poll that ends having stored
nothing, failed nothing and changed nothing is one statement (sync/store/run_log.py
``note_idle_poll``): the connector's last good run row, when it stands for idle polls and no
failure followed it, is moved to this poll; else one finished row. What `status`, /metrics and the stall checks read of
the run history stays true (latest run, last success, failures since), and a source that stops
polling stops moving it.

A poll that is not idle-capable writes its rows at once, as before: a first import (its baseline
must be recorded whatever it finds), a dry run, a poll that closes runs a dead worker left
running, and a poll while a condition of its connector stands (its end is a change worth a row).
While a poll has stored nothing, `status` shows no import running for it (the service's poll
schedule shows it held)."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING

from clinicsync.common.types import utcnow
from clinicsync.sync.runs.poll_state import PollState
from clinicsync.sync.runs.progress import ProgressObserver
from clinicsync.sync.store.records import Counts

if TYPE_CHECKING:
    from clinicsync.sync.store.store import Store

Lane = contextlib.AbstractContextManager[object]


class PollRecord:
    """One poll's run and stage rows (see the module's docstring). ``open`` before storing;
    ``finish`` at the end, outside the lane (each write takes it)."""

    def __init__(self, store: Store, run_id: str, connector: str, stage: str, progress: ProgressObserver,
                 lane: Lane, state: PollState, lazy: bool, abandon: bool = False) -> None:
        self.store, self.run_id, self.connector, self.stage = store, run_id, connector, stage
        self.progress, self.lane, self.state = progress, lane, state
        self.started: datetime = utcnow()
        self.row_id: int | None = None
        self.abandoned = 0
        if lazy and not (abandon and state.running) and not state.standing:
            progress.stage_started_lazily(stage)
            return
        with lane:
            if abandon and state.running:  # none left running (the usual case): the run's row alone
                self.row_id, self.abandoned = store.restart_run(run_id, connector)
            else:
                self.row_id = store.start_run(run_id, connector)
            progress.stage_started(stage)

    def open(self) -> None:
        """The run's rows, before its first write to the store (its batches refer to the run)."""
        if self.row_id is not None:
            return
        with self.lane:
            self.row_id = self.store.start_run(self.run_id, self.connector, self.started)
            self.progress.stage_storing(self.stage)

    def finish(self, counts: Counts, error: str | None, changed: bool = False) -> None:
        """The run's end. Idle (never opened, no ``error``, nothing ``changed``, no count but
        fetched and unchanged rows): one statement. A batch of unchanged rows or a moved cursor
        alone (a re-export, a FHIR server's clock) stores without opening the run."""
        if self.row_id is None and error is None and not changed and not _changes(counts):
            with self.lane:
                self.store.note_idle_poll(self.run_id, self.connector, self.started, counts, self.state.idle_run)
                self.progress.stage_finished(self.stage, None)
            return
        self.open()
        assert self.row_id is not None
        with self.lane:
            self.store.finish_run(self.row_id, counts, error)
            self.progress.stage_finished(self.stage, error)


def _changes(counts: Counts) -> bool:
    """Anything but rows fetched and found unchanged."""
    return any(value for key, value in counts.as_dict().items() if key not in ("fetched", "unchanged"))
