"""The waitlist's promises (issue 58), on SQLite and PostgreSQL through the real stage: a patient
offered two freed slots wins one, however they tap (two threads on two connections at once);
a patient on the list twice for one need is one candidate (one offer, one place in a batch);
a late tap on an expired hold never takes a slot held for the next patient."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.sync.responses.offer_page import page
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.accept import accept, decline
from clinicsync.sync.waitlist.offer_links import make_offer_token
from clinicsync.sync.waitlist.stage import run_waitlist
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.waitlist.test_offers import DAY, LEAD, START, entry, make, rows

LATER = START + timedelta(days=30)


def two_freed_slots(store: Store) -> tuple[int, int]:
    """Two visits of D1 cancelled at the source (A1 at START, A2 an hour later); W1 and W2 wait
    for D1, each with a later visit. Their entry ids."""
    put(store, appointment("A1", START, patient="P1"), appointment("A2", START + timedelta(hours=1), patient="P2"),
        appointment("B1", LATER, patient="W1", phone="+12125550201"),
        appointment("B2", LATER, patient="W2", phone="+12125550202"))
    put(store, appointment("A1", START, patient="P1", status="cancelled"),
        appointment("A2", START + timedelta(hours=1), patient="P2", status="cancelled"))
    return entry(store, "W1", priority=2), entry(store, "W2", priority=1)


def offer_of(store: Store, entry_id: int, slot_id: int) -> Any:
    [found] = [o for o in rows(store, WAITLIST_OFFERS) if o.entry_id == entry_id and o.slot_id == slot_id]
    return found


def test_a_patient_offered_two_slots_who_takes_both_at_once_gets_one(
        store_url: str, reminder_settings: SettingsMaker) -> None:
    engine = make_engine(store_url, pool_size=4)
    upgrade(engine)
    store = Store(engine)
    try:
        settings = make(reminder_settings, batch_size=2)
        w1, w2 = two_freed_slots(store)
        result = run_waitlist(settings, store, DAY)
        assert result["freed"] == 2 and result["sent"] == 4  # both slots to both patients
        first, second = (s.id for s in rows(store, FREED_SLOTS))
        mine = [offer_of(store, w1, first).id, offer_of(store, w1, second).id]
        barrier = threading.Barrier(2)
        outcomes: dict[int, str] = {}

        def take(offer_id: int) -> None:
            barrier.wait()
            outcomes[offer_id] = accept(engine, offer_id, DAY + timedelta(minutes=5), LEAD)

        threads = [threading.Thread(target=take, args=(offer_id,)) for offer_id in mine]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(outcomes.values()) == ["have_one", "won"]
        won = next(offer_id for offer_id, outcome in outcomes.items() if outcome == "won")
        lost = next(offer_id for offer_id in mine if offer_id != won)
        slots = {s.id: s for s in rows(store, FREED_SLOTS)}
        assert sorted(s.status for s in slots.values()) == ["open", "taken"]  # one booking, not two
        assert [s.taken_offer_id for s in slots.values() if s.status == "taken"] == [won]
        statuses = {o.id: o.status for o in rows(store, WAITLIST_OFFERS)}
        assert statuses[won] == "accepted" and statuses[lost] == "withdrawn"
        # the other slot is still W2's to take; W1 is offered it no more
        open_slot = next(s.id for s in slots.values() if s.status == "open")
        assert offer_of(store, w2, open_slot).status == "sent"
        assert accept(engine, offer_of(store, w2, open_slot).id, DAY + timedelta(minutes=6), LEAD) == "won"
        # a tap later on W1's withdrawn offer is told politely, on the page too (409, not an error)
        assert accept(engine, lost, DAY + timedelta(minutes=7), LEAD) == "have_one"
        shown = page(settings, store, make_offer_token(settings, lost), "en")
        assert shown.status_code == 409, shown.body.decode()
        assert "You already took an earlier slot" in shown.body.decode(), shown.body.decode()
    finally:
        store.close()


def test_a_patient_on_the_list_twice_gets_one_offer_and_one_place(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """W1 waits twice for D1 (the API's entry and the desk's, say): batch of two goes to W1
    once and to W2, who would otherwise have lost the place to W1's second copy."""
    settings = make(reminder_settings, batch_size=2)
    put(store, appointment("A1", START, patient="P1"), appointment("B1", LATER, patient="W1", phone="+12125550201"),
        appointment("B2", LATER, patient="W2", phone="+12125550202"))
    put(store, appointment("A1", START, patient="P1", status="cancelled"))
    w1 = entry(store, "W1", priority=5)
    w1_again = entry(store, "W1", priority=4, external_id="desk-again", visit_type=None)
    w2 = entry(store, "W2", priority=1)
    result = run_waitlist(settings, store, DAY)
    assert result["offered"] == 2 and result["sent"] == 2
    assert sorted(o.entry_id for o in rows(store, WAITLIST_OFFERS)) == [w1, w2]
    # W1 says no thanks: the next place is not W1's copy either
    assert decline(store.engine, offer_of(store, w1, rows(store, FREED_SLOTS)[0].id).id, DAY) == "declined"
    again = run_waitlist(settings, store, DAY + timedelta(minutes=1))
    assert again["offered"] == 0
    assert w1_again not in {o.entry_id for o in rows(store, WAITLIST_OFFERS)}


def one_slot_two_waiting(store: Store) -> tuple[int, int]:
    """A1 (P1's) cancelled at the source; W1 (first) and W2 wait for D1. Their entry ids."""
    put(store, appointment("A1", START, patient="P1"), appointment("B1", LATER, patient="W1", phone="+12125550201"),
        appointment("B2", LATER, patient="W2", phone="+12125550202"))
    put(store, appointment("A1", START, patient="P1", status="cancelled"))
    return entry(store, "W1", priority=2), entry(store, "W2", priority=1)


@pytest.mark.parametrize("late", [timedelta(minutes=31), timedelta(minutes=59)])
def test_a_late_tap_on_an_expired_hold_never_takes_the_slot_held_for_the_next(
        store: Store, reminder_settings: SettingsMaker, late: timedelta) -> None:
    """Sequential, hold 30m: W1 is offered at 12:00 (held till 12:30), W2 at 12:30:30 (held till
    13:00:30). W1's tap at 12:31 or 12:59 is refused (``held_for_other``); W2's tap wins: the
    slot is W2's."""
    settings = make(reminder_settings, "sequential")
    w1, w2 = one_slot_two_waiting(store)
    run_waitlist(settings, store, DAY)
    moved = run_waitlist(settings, store, DAY + timedelta(minutes=30, seconds=30))
    assert moved["hold_expired"] == 1 and moved["sent"] == 1
    [slot] = rows(store, FREED_SLOTS)
    assert accept(store.engine, offer_of(store, w1, slot.id).id, DAY + late, LEAD) == "held_for_other"
    assert rows(store, FREED_SLOTS)[0].status == "open"
    assert accept(store.engine, offer_of(store, w2, slot.id).id, DAY + late + timedelta(seconds=1), LEAD) == "won"
    assert rows(store, FREED_SLOTS)[0].taken_offer_id == offer_of(store, w2, slot.id).id


def test_a_late_tap_whose_hold_ran_out_unmarked_is_refused_while_another_holds_it(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """The hold ran out but no cycle has marked W1's offer expired yet (status still ``sent``);
    W2 holds the slot by a later cycle's offer: still refused."""
    settings = make(reminder_settings, "sequential")
    w1, w2 = one_slot_two_waiting(store)
    run_waitlist(settings, store, DAY)
    run_waitlist(settings, store, DAY + timedelta(minutes=31))
    [slot] = rows(store, FREED_SLOTS)
    with store.engine.begin() as connection:  # as if W1's expiry had not been written
        connection.execute(WAITLIST_OFFERS.update().where(WAITLIST_OFFERS.c.entry_id == w1).values(status="sent"))
    assert accept(store.engine, offer_of(store, w1, slot.id).id, DAY + timedelta(minutes=32), LEAD) == "held_for_other"
    with store.engine.connect() as connection:
        assert connection.execute(select(FREED_SLOTS.c.status)).scalar() == "open"
    assert offer_of(store, w2, slot.id).status == "sent"
