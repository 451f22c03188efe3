"""A push source that reschedules by successor rows (`replaces`): whichever row comes first, and
whether the planner runs between the two pushes or after both, the patient is told one move.
With the old row first, its word cancels the visit for the moment between the pushes; the
successor brings it back as a move (an event `rescheduled`, not a re-booking), so the
cancellation notice not sent yet is withdrawn and one `rescheduled` notice goes, not a
cancellation and a second confirmation. The two pushes are seconds apart in real sources and
the planner runs after each sync: the test runs it between them, the worst order."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select, update

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.push import PushReceiver
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.sync.test_push_successors import events, settings, visit  # noqa: F401 - the fixture too

NOTICES = ("confirmation", "rescheduled", "cancelled", "confirmed")


def told(store: Store) -> Counter[str]:
    """The patient's notices that stand (planned or sent, not withdrawn), by kind."""
    with store.engine.connect() as connection:
        rows = connection.execute(select(REMINDERS.c.kind, REMINDERS.c.status).where(
            REMINDERS.c.recipient == "patient", REMINDERS.c.kind.in_(NOTICES))).all()
    return Counter(kind for kind, status in rows if status != "cancelled")


@pytest.mark.parametrize("order", ["new row first", "old row first", "old row first, planned between"])
def test_a_move_by_a_successor_row_is_told_once(settings: Settings, store: Store, order: str) -> None:  # noqa: F811
    receiver = PushReceiver(settings, store, settings.connectors[0])
    receiver.receive(visit("V1", "2030-03-12T09:30:00"), "1", quarantine_bad=False)
    plan(settings, store)
    assert told(store) == Counter({"confirmation": 1})
    with store.engine.begin() as connection:  # the booking's confirmation went out
        connection.execute(update(REMINDERS).where(REMINDERS.c.kind == "confirmation").values(status="sent"))
    new_row = visit("V2", "2030-03-14T11:00:00", replaces="V1")
    old_row = visit("V1", "2030-03-12T09:30:00", status="rescheduled")
    first, second = (new_row, old_row) if order == "new row first" else (old_row, new_row)
    receiver.receive(first, "2", quarantine_bad=False)
    if order.endswith("planned between"):
        plan(settings, store)  # the old row's cancellation planned, not sent yet
        assert told(store)["cancelled"] == 1
    receiver.receive(second, "3", quarantine_bad=False)
    plan(settings, store)
    assert told(store) == Counter({"confirmation": 1, "rescheduled": 1})
    assert [kind for visit_id, kind in events(store)][-1] == "rescheduled"
