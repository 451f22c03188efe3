"""The desk's cancel and the waiting list: its Undo is refused, and not offered on the
"Recorded" line, only when the time is out to a waiting patient (an offer sent and still
answerable, or the slot taken): offers all declined, or withdrawn, promise nothing. A slot
freed and offered to nobody is no promise: the cancel is undone and the next waitlist cycle
withdraws the slot. A cancel that put back the patient's own decline is undone
even when the time was offered: the decline keeps it free. Through the real desk actions and
the real waitlist stage, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from clinicsync.sync.desk.actions import (
    Refused,
    actions_of,
    record_action,
    seen_of,
    undo_action,
    undo_offer,
    undoable,
)
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.accept import accept, decline
from clinicsync.sync.waitlist.book_tasks import answer_task
from clinicsync.sync.waitlist.stage import run_waitlist
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.waitlist.test_offers import DAY, PHONE, START, entry, make, waiting_patients

A = Appointment.__table__  # type: ignore[attr-defined]


def _visit(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(A.c.id).where(A.c.external_id == "A1")).scalar_one())


def _cancel(settings: Any, store: Store, target: int, at: Any) -> int:
    done = record_action(settings, store, target, "cancel", "desk1", "front_desk", at,
                         seen=seen_of(store, [target])[target].digest, reason="patient_asked")
    assert done is not None
    return int(done["id"])


def _undo(settings: Any, store: Store, target: int, action: int, at: Any) -> None:
    undo_action(settings, store, action, "desk1", at, seen_of(store, [target])[target].digest)


def _state(store: Store, target: int) -> tuple[Any, list[str], int]:
    """The visit's answer, its freed slots' statuses and the offers sent."""
    with store.engine.connect() as connection:
        answer = connection.execute(select(A.c.participation).where(A.c.id == target)).scalar()
        slots = list(connection.execute(select(FREED_SLOTS.c.status).order_by(FREED_SLOTS.c.id)).scalars())
        sent = len(connection.execute(select(WAITLIST_OFFERS.c.id).where(WAITLIST_OFFERS.c.sent_at.is_not(None))).all())
    return answer, slots, sent


def test_a_cancel_whose_time_went_out_to_the_waiting_list_offers_no_undo_and_refuses_one(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = make(reminder_settings)
    waiting_patients(store)
    target = _visit(store)
    cancel = _cancel(settings, store, target, DAY)
    assert run_waitlist(settings, store, DAY)["sent"] == 2  # freed by the desk's cancel and offered
    later = DAY + timedelta(minutes=5)
    assert undo_offer(store, cancel, later) is None  # no Undo on the "Recorded" line
    with pytest.raises(Refused, match="waiting list already has this time"):
        _undo(settings, store, target, cancel, later)
    assert _state(store, target) == ("declined", ["open"], 2)


def test_a_cancel_whose_freed_time_nobody_was_offered_is_undone_and_the_slot_withdrawn(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = make(reminder_settings)
    waiting_patients(store)
    with store.engine.begin() as connection:  # nobody waits: the time is freed and offered to no one
        connection.execute(delete(WAITLIST_ENTRIES))
    target = _visit(store)
    cancel = _cancel(settings, store, target, DAY)
    assert run_waitlist(settings, store, DAY)["freed"] == 1
    later = DAY + timedelta(minutes=5)
    assert undo_offer(store, cancel, later) is not None
    _undo(settings, store, target, cancel, later)
    assert run_waitlist(settings, store, later + timedelta(minutes=1))["withdrawn"] == 1
    assert _state(store, target) == (None, ["withdrawn"], 0)


def test_undoing_a_desk_cancel_of_a_visit_the_patient_declined_leaves_the_offered_time_free(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """The patient cancelled by SMS, the waiting list offered the time, then the desk recorded
    the cancel too: its Undo puts back the patient's decline, which keeps the time free, so it
    takes nothing from the patients holding offers."""
    settings = make(reminder_settings)
    waiting_patients(store)
    target = _visit(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY - timedelta(hours=1))
    assert run_waitlist(settings, store, DAY)["sent"] == 2
    cancel = _cancel(settings, store, target, DAY + timedelta(minutes=1))
    later = DAY + timedelta(minutes=5)
    assert undo_offer(store, cancel, later) is not None
    _undo(settings, store, target, cancel, later)
    run_waitlist(settings, store, later + timedelta(minutes=1))
    assert _state(store, target) == ("declined", ["open"], 2)  # the offers still stand


def test_cancel_undo_cancel_frees_the_time_again_for_a_patient_who_joined_meanwhile(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """The first cancel's slot, offered to nobody, was withdrawn by its Undo; the cancel taken
    again frees the same time again (the same row, open), and the patient now waiting gets it."""
    settings = make(reminder_settings)
    waiting_patients(store)
    with store.engine.begin() as connection:
        connection.execute(delete(WAITLIST_ENTRIES))
    target = _visit(store)
    first = _cancel(settings, store, target, DAY)
    run_waitlist(settings, store, DAY)
    _undo(settings, store, target, first, DAY + timedelta(minutes=5))
    run_waitlist(settings, store, DAY + timedelta(minutes=6))
    entry(store, "W1")
    _cancel(settings, store, target, DAY + timedelta(minutes=10))
    again = run_waitlist(settings, store, DAY + timedelta(minutes=11))
    assert (again["freed"], again["sent"]) == (1, 1)
    assert _state(store, target) == ("declined", ["open"], 1)


def test_a_time_another_visit_filled_when_the_desk_cancelled_is_freed_by_the_sources_cancel_once_it_left(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """The desk cancels a visit while the source has a second one on the doctor's same time: the
    slot closes at once, filled by that visit (the doctor is still busy), and the desk takes its
    cancel back. The source then moves the second visit away and cancels the first: that frees
    the time, a slot of its own offered to the patients waiting (seed 9997's F00001: counted as
    freed already by the filled row, it was never offered)."""
    settings = make(reminder_settings)
    waiting_patients(store)
    put(store, appointment("N1", START, patient="P7", phone="+12125550107"))  # D1's time, booked twice
    target = _visit(store)
    cancel = _cancel(settings, store, target, DAY)
    filled = run_waitlist(settings, store, DAY)
    assert (filled["freed"], filled["filled_by_source"], filled["offered"]) == (1, 1, 0)
    _undo(settings, store, target, cancel, DAY + timedelta(minutes=5))
    put(store, appointment("N1", START + timedelta(days=2), patient="P7", phone="+12125550107"))  # moved away
    put(store, appointment("A1", START, patient="P1", phone=PHONE, status="cancelled"))
    freed = run_waitlist(settings, store, DAY + timedelta(days=1))
    assert (freed["freed"], freed["sent"]) == (1, 2)
    assert _state(store, target)[1:] == (["filled_by_source", "open"], 2)



def test_the_desks_cancel_frees_the_time_as_the_desks_and_after_a_patients_decline_as_theirs(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """The desk's cancel declines the visit too: the slot still says the desk freed it (the
    Waitlist page's "who freed it", docs/waitlist.md's table). Recorded on a visit its patient had
    declined by SMS (before the waitlist's cycle), the time is the patient's freeing."""
    settings = make(reminder_settings)
    waiting_patients(store)
    target = _visit(store)
    _cancel(settings, store, target, DAY)
    handle_reply(settings, store, "sms", "+12125550201", "cancel", "SM1", DAY - timedelta(hours=1))  # W1's B1
    with store.engine.connect() as connection:
        b1 = int(connection.execute(select(A.c.id).where(A.c.external_id == "B1")).scalar_one())
    _cancel(settings, store, b1, DAY)
    assert run_waitlist(settings, store, DAY)["freed"] == 2
    with store.engine.connect() as connection:
        freed = dict(connection.execute(select(FREED_SLOTS.c.appointment_id, FREED_SLOTS.c.freed_by)).all())
    assert freed == {target: "desk", b1: "patient"}


def _only_those_offered_wait(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(delete(WAITLIST_ENTRIES).where(WAITLIST_ENTRIES.c.id.not_in(
            select(WAITLIST_OFFERS.c.entry_id))))


def _decline_all(store: Store, at: Any) -> None:
    with store.engine.connect() as connection:
        sent = list(connection.execute(select(WAITLIST_OFFERS.c.id).where(
            WAITLIST_OFFERS.c.status == "sent")).scalars())
    for offer in sent:
        assert decline(store.engine, offer, at) == "declined"


def test_a_cancel_whose_offers_all_came_back_declined_is_undone_and_so_is_the_same_cancel_again(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """The time went out and both patients said "No thanks": nothing is out any more, so the
    Undo stands (offered on the "Recorded" line too) and the slot is withdrawn. The cancel taken
    again opens the same row, which keeps those old answered offers: they promise nothing
    either, and its Undo is not refused for them."""
    settings = make(reminder_settings)
    waiting_patients(store)
    target = _visit(store)
    first = _cancel(settings, store, target, DAY)
    assert run_waitlist(settings, store, DAY)["sent"] == 2
    _decline_all(store, DAY + timedelta(minutes=1))
    _only_those_offered_wait(store)
    later = DAY + timedelta(minutes=5)
    assert undo_offer(store, first, later) is not None
    _undo(settings, store, target, first, later)
    assert run_waitlist(settings, store, later + timedelta(minutes=1))["withdrawn"] == 1
    again = _cancel(settings, store, target, DAY + timedelta(minutes=10))
    assert run_waitlist(settings, store, DAY + timedelta(minutes=11))["sent"] == 0  # both said no to this time
    assert _state(store, target) == ("declined", ["open"], 2)  # the same row, its two old offers
    assert undo_offer(store, again, DAY + timedelta(minutes=12)) is not None
    _undo(settings, store, target, again, DAY + timedelta(minutes=12))
    assert run_waitlist(settings, store, DAY + timedelta(minutes=13))["withdrawn"] == 1
    assert _state(store, target) == (None, ["withdrawn"], 2)


def test_a_cancel_whose_offer_ran_out_of_its_hold_while_the_slot_is_open_still_refuses_the_undo(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """Sequential offers: the first patient's hold ran out unanswered. Their late tap may still
    take the slot nobody took (accept.py), so the time is still out and the cancel stands."""
    settings = make(reminder_settings, strategy="sequential", hold="5m")
    waiting_patients(store)
    target = _visit(store)
    cancel = _cancel(settings, store, target, DAY)
    assert run_waitlist(settings, store, DAY)["sent"] == 1
    _only_those_offered_wait(store)  # nobody else to offer it to once the hold runs out
    later = DAY + timedelta(minutes=9)
    run_waitlist(settings, store, later)
    with store.engine.connect() as connection:
        assert list(connection.execute(select(WAITLIST_OFFERS.c.status)).scalars()) == ["expired"]
    assert undo_offer(store, cancel, later) is None
    with pytest.raises(Refused, match="waiting list already has this time"):
        _undo(settings, store, target, cancel, later)


def test_an_offer_whose_hold_ran_out_is_withdrawn_with_its_slot_and_takes_nothing_once_the_row_opens_again(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """Sequential offers: the patient cancelled by SMS, the first waiting patient's hold ran out
    unanswered (a late tap could still take the open slot). The desk then confirms the visit by
    phone: the slot is withdrawn, and that run-out offer with it. The desk's cancel later opens the
    same row again: the old offer can no longer take it, so it is not out, and the Undo stands."""
    settings = make(reminder_settings, strategy="sequential", hold="5m")
    waiting_patients(store)
    target = _visit(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY - timedelta(hours=1))
    assert run_waitlist(settings, store, DAY)["sent"] == 1
    _only_those_offered_wait(store)
    run_waitlist(settings, store, DAY + timedelta(minutes=9))  # the hold ran out
    record_action(settings, store, target, "confirmed_by_phone", "desk1", "front_desk", DAY + timedelta(minutes=10),
                  seen=seen_of(store, [target])[target].digest)
    assert run_waitlist(settings, store, DAY + timedelta(minutes=11))["withdrawn"] == 1
    with store.engine.connect() as connection:
        old = connection.execute(select(WAITLIST_OFFERS.c.id, WAITLIST_OFFERS.c.status)).one()
    assert old.status == "withdrawn"
    again = _cancel(settings, store, target, DAY + timedelta(minutes=20))
    assert run_waitlist(settings, store, DAY + timedelta(minutes=21))["sent"] == 0
    assert _state(store, target) == ("declined", ["open"], 1)  # the same row, its old offer
    assert accept(store.engine, old.id, DAY + timedelta(minutes=22), timedelta(hours=4)) == "closed"
    assert undo_offer(store, again, DAY + timedelta(minutes=22)) is not None
    _undo(settings, store, target, again, DAY + timedelta(minutes=22))


def test_the_desks_booking_of_the_waiting_patient_does_not_hide_the_undo_of_a_cancel_the_patient_declined(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """The patient cancelled by SMS, a waiting patient took the time, the desk recorded the cancel
    and then answered the waitlist task "book this patient" (a source not written to). The
    answer is kept on the freed visit's row but is the booking's, with its own Undo: the cancel's
    Undo is still offered and stands (the decline is put back, the booking is untouched), and
    the visit's page never offers to take back the booking as if it were a step on the visit."""
    settings = make(reminder_settings)
    waiting_patients(store)
    target = _visit(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY - timedelta(hours=1))
    assert run_waitlist(settings, store, DAY)["sent"] == 2
    with store.engine.connect() as connection:
        first = connection.execute(select(WAITLIST_OFFERS.c.id).order_by(WAITLIST_OFFERS.c.id)).scalars().first()
    assert accept(store.engine, first, DAY + timedelta(minutes=1), timedelta(hours=4)) == "won"
    with store.engine.begin() as connection:  # the booking stage's answer for a source it cannot write
        slot = connection.execute(select(FREED_SLOTS.c.id)).scalar_one()
        connection.execute(update(FREED_SLOTS).values(booking_status="desk_task"))
    cancel = _cancel(settings, store, target, DAY + timedelta(minutes=2))
    recorded = undo_offer(store, cancel, DAY + timedelta(minutes=2))  # the "Recorded … Undo" line, drawn now
    assert recorded is not None
    booked = answer_task(settings, store, "book", slot, "booked", "desk2", "front_desk", DAY + timedelta(minutes=3))
    assert booked is not None
    later = DAY + timedelta(minutes=5)
    assert undoable(actions_of(store, target), later).id == cancel  # the visit's own latest step
    with pytest.raises(Refused, match="waitlist task"):
        _undo(settings, store, target, booked, later)
    assert undo_offer(store, cancel, later) is not None
    undo_action(settings, store, cancel, "desk1", later, recorded["seen"])  # pressed on the line drawn before
    with store.engine.connect() as connection:
        rows = {r.action: r.undone_at for r in connection.execute(select(DESK_ACTIONS))}
        booking = connection.execute(select(FREED_SLOTS.c.status, FREED_SLOTS.c.booking_status)).one()
    assert rows == {"cancel": later, "waitlist_booked": None}
    assert tuple(booking) == ("taken", "written")
    assert _state(store, target)[0] == "declined"  # the patient's own decline, put back
