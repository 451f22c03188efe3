"""The Undo of *Booked by hand* and the release of the patient's later visit: the release is the
write-back linked to the slot whose booking made it (``writeback.freed_slot_id``), never "a cancel
of the later visit written since the booking's moment". A patient's own decline of that visit in
the same second is theirs: it does not stand in for a release, and the booking is undone. On
SQLite and PostgreSQL, through the desk's answer, the reply path's ``apply_answer`` and the Undo."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.reminders.answers import apply_answer
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.responses import WRITEBACKS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.book import run_booking
from clinicsync.sync.waitlist.book_tasks import answer_task
from clinicsync.sync.waitlist.book_undo import NotUndone, undo_booked
from tests.waitlist.book_rows import NOW, entry_row, seed, slot_row, with_booking

A = Appointment.__table__  # type: ignore[attr-defined]
WINDOW = timedelta(minutes=10)
SAME_SECOND = NOW + timedelta(milliseconds=400)


@pytest.fixture
def settings(write_settings: Callable[..., Path], drop_dir: Path, tmp_path: Path) -> Settings:
    """A CSV source that takes answers back (its responses file) and cannot book: a desk task.
    A decline cancels at the source too, so a patient's own decline is a cancel of the visit."""
    loaded = load_settings(write_settings(connectors=f"""
        - name: clinic
          kind: csv
          drop_dir: {drop_dir}
          mapping: csv_default
          responses_file: {tmp_path / 'answers.csv'}
        """))
    return loaded.model_copy(update={"responses": loaded.responses.model_copy(update={"decline_cancels": True})})


def _patient_answers(settings: Settings, store: Store, appointment_id: int, action: str) -> None:
    """The patient's own answer to their later visit, recorded as the reply path records it."""
    with store.engine.begin() as connection:
        visit = connection.execute(select(A).where(A.c.id == appointment_id)).one()
        apply_answer(connection, settings, visit, action, SAME_SECOND)


def _writebacks(store: Store, appointment_id: int) -> list[tuple[Any, ...]]:
    W = WRITEBACKS
    with store.engine.connect() as connection:
        return [tuple(r) for r in connection.execute(
            select(W.c.participant_status, W.c.appointment_status, W.c.status, W.c.freed_slot_id)
            .where(W.c.appointment_id == appointment_id).order_by(W.c.id))]


def test_a_patients_decline_of_the_later_visit_in_the_same_second_leaves_the_booking_undoable(
        settings: Settings, store: Store) -> None:
    settings = with_booking(settings, release_later="ask")  # the booking releases nothing itself
    seeded = seed(store, "clinic", later=True)
    assert seeded.later_appointment_id is not None
    run_booking(settings, store, NOW)
    action = answer_task(settings, store, "book", seeded.slot_id, "booked", "desk", "front_desk", NOW)
    assert action is not None
    _patient_answers(settings, store, seeded.later_appointment_id, "decline")  # by SMS, 0.4 s later
    assert _writebacks(store, seeded.later_appointment_id) == [("declined", "cancelled", "pending", None)]

    assert undo_booked(store, action, "desk", NOW + timedelta(minutes=1), WINDOW) == seeded.slot_id
    assert slot_row(store, seeded.slot_id).booking_status == "desk_task"  # the task is back, as it was
    assert _writebacks(store, seeded.later_appointment_id) == [("declined", "cancelled", "pending", None)]


def test_the_release_carries_its_slot_and_refuses_the_undo_and_the_patients_answer_stays_theirs(
        settings: Settings, store: Store) -> None:
    settings = with_booking(settings, release_later="auto")
    seeded = seed(store, "clinic", later=True)
    assert seeded.later_appointment_id is not None
    run_booking(settings, store, NOW)
    action = answer_task(settings, store, "book", seeded.slot_id, "booked", "desk", "front_desk", NOW)
    assert action is not None
    _patient_answers(settings, store, seeded.later_appointment_id, "confirm")  # the same second, by SMS
    assert _writebacks(store, seeded.later_appointment_id) == [
        ("declined", "cancelled", "pending", seeded.slot_id),  # the release, linked to the slot booked
        ("accepted", None, "pending", None)]  # the patient's own answer, as they gave it

    with pytest.raises(NotUndone, match="already released"):
        undo_booked(store, action, "desk", NOW + timedelta(minutes=1), WINDOW)
    assert slot_row(store, seeded.slot_id).booking_status == "written"
    assert entry_row(store, seeded.entry_id).status == "booked"


def test_a_release_written_before_the_link_still_refuses_the_undo_by_its_moment(settings: Settings,
                                                                                store: Store) -> None:
    """A booking answered just before the upgrade: its release has no link; it was written at the
    booking's very moment, and that is how it is still known."""
    settings = with_booking(settings, release_later="ask")
    seeded = seed(store, "clinic", later=True)
    assert seeded.later_appointment_id is not None
    run_booking(settings, store, NOW)
    action = answer_task(settings, store, "book", seeded.slot_id, "booked", "desk", "front_desk", NOW)
    assert action is not None
    with store.engine.begin() as connection:  # what release.py wrote before migration 0047
        visit = connection.execute(select(A).where(A.c.id == seeded.later_appointment_id)).one()
        connection.execute(WRITEBACKS.insert().values(
            appointment_id=visit.id, connector=visit.connector, external_id=visit.external_id,
            patient_ref=visit.patient_ref, participant_status="declined", appointment_status="cancelled",
            status="pending", attempts=0, next_at=NOW, created_at=NOW))
    with pytest.raises(NotUndone, match="already released"):
        undo_booked(store, action, "desk", NOW + timedelta(minutes=1), WINDOW)
