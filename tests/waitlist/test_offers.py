"""Freed slots to offers to one winner, on SQLite and PostgreSQL, through the real stage and a
scripted notifier plugin: a patient cancels by SMS, the best waiting patients get an offer
(outside the quiet hours), the first to accept takes the slot, the others are told once; no
offer for a slot inside the lead time, none twice; the source's own cancel, un-cancel and
booking over the slot; sequential holds; 20 acceptances at once on PostgreSQL, one winner."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.accept import accept, decline
from clinicsync.sync.waitlist.offer_links import read_offer_token
from clinicsync.sync.waitlist.stage import run_waitlist
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import read_log

SERVER = "server:\n  public_url: https://clinic.example.org\n  secret_key: test-secret-not-for-production\n"
REMINDERS = "quiet_hours: {start: \"21:00\", end: \"08:00\"}\nagenda: {enabled: false}\noffsets: [1d]\n" \
            "channels: [sms, email]\nroutes: {sms: texts, email: mails}"
START = datetime(2030, 6, 12, 14, tzinfo=UTC)  # 10:00 in New York
NIGHT = datetime(2030, 6, 2, 2, tzinfo=UTC)  # 22:00 the evening before, in New York: quiet hours
DAY = datetime(2030, 6, 2, 16, tzinfo=UTC)  # 12:00 in New York
PHONE = "+12125550101"  # P1, who cancels
LEAD = timedelta(hours=4)


def waitlist(strategy: str = "batch", **more: Any) -> str:
    keys = {"enabled": "true", "lead_time": "4h", "strategy": strategy, "hold": "30m", "batch_size": 2, **more}
    return "waitlist:\n" + "".join(f"  {k}: {v}\n" for k, v in keys.items())


def make(reminder_settings: SettingsMaker, strategy: str = "batch", **more: Any) -> Settings:
    return reminder_settings(REMINDERS, extra_notifiers=SERVER + waitlist(strategy, **more))


def entry(store: Store, patient: str, *, priority: int = 0, since: datetime = datetime(2030, 1, 1, tzinfo=UTC),
          doctor: str | None = "D1", **more: Any) -> int:
    values = {"connector": "c1", "external_id": f"wl-{patient}", "patient_ref": patient, "practitioner_ref": doctor,
              "visit_type": None, "timezone": "America/New_York", "priority": priority, "waiting_since": since,
              "status": "waiting", "content_hash": "x", "updated_at": since, **more}
    with store.engine.begin() as connection:
        key = connection.execute(insert(WAITLIST_ENTRIES).values(values)).inserted_primary_key
        assert key is not None
        return int(key[0])


def waiting_patients(store: Store) -> dict[str, int]:
    """W1..W4 with a later visit each (their patient rows come with it); W4's is earlier than
    the slot; P1 (who cancels) waits too. Entry ids by patient."""
    later = START + timedelta(days=30)
    put(store, appointment("A1", START, patient="P1", phone=PHONE),
        *[appointment(f"B{i}", later + timedelta(days=i), patient=f"W{i}", phone=f"+1212555020{i}") for i in (1, 2, 3)],
        appointment("B4", START - timedelta(days=5), patient="W4", phone="+12125550204"))
    return {"W1": entry(store, "W1"), "W2": entry(store, "W2", priority=1),
            "W3": entry(store, "W3", since=datetime(2030, 2, 1, tzinfo=UTC)),
            "W4": entry(store, "W4", priority=5), "P1": entry(store, "P1", priority=9)}


def rows(store: Store, table: Any) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(table).order_by(table.c.id)))


def offers(store: Store) -> dict[int, Any]:
    """entry id -> its offer (one slot in these tests)."""
    return {o.entry_id: o for o in rows(store, WAITLIST_OFFERS)}


def texts(tmp_path: Path) -> list[dict[str, str]]:
    return read_log(tmp_path / "texts.jsonl")


def token_of(message: dict[str, str]) -> str:
    found = re.search(r"https://clinic\.example\.org/w/(\w+)", message["body"])
    assert found, message["body"]
    return found.group(1)


def test_a_cancel_by_sms_offers_the_slot_to_the_best_two_and_the_first_to_accept_takes_it(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = make(reminder_settings)
    ids = waiting_patients(store)
    assert run_waitlist(settings, store, DAY)["freed"] == 0  # nothing cancelled yet
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", NIGHT - timedelta(hours=1))

    night = run_waitlist(settings, store, NIGHT)
    assert night["freed"] == 1 and night["offered"] == 2 and night["sent"] == 0 and night["deferred"] == 2
    assert texts(tmp_path) == []  # quiet hours: chosen, not sent
    [slot] = rows(store, FREED_SLOTS)
    assert (slot.status, slot.freed_by, slot.start_utc, slot.practitioner_ref) == ("open", "patient", START, "D1")
    # W2 (priority 1), then W1 (waiting longer than W3); never W4 (booked earlier) nor P1 (freed it).
    chosen = offers(store)
    assert set(chosen) == {ids["W2"], ids["W1"]}
    assert chosen[ids["W2"]].rank == 1 and chosen[ids["W1"]].rank == 2

    day = run_waitlist(settings, store, DAY)
    assert day["sent"] == 2 and day["offered"] == 0
    sent = texts(tmp_path)
    assert sorted(m["to"] for m in sent) == ["+12125550201", "+12125550202"]
    assert all("an earlier slot is free" in m["body"] and "Wed, Jun 12 10:00 AM" in m["body"] for m in sent)
    assert not any("held" in m["body"] for m in sent)  # batch: no hold, none stated
    assert all(m["key"].startswith("waitlist:offer:") for m in sent)
    assert run_waitlist(settings, store, DAY + timedelta(minutes=1))["sent"] == 0  # never twice
    assert len(texts(tmp_path)) == 2

    by_phone = {m["to"]: read_offer_token(settings, token_of(m)) for m in sent}
    w1, w2 = by_phone["+12125550201"], by_phone["+12125550202"]
    assert accept(store.engine, w1, DAY, LEAD) == "won"
    assert accept(store.engine, w1, DAY, LEAD) == "won"  # a second tap changes nothing
    assert accept(store.engine, w2, DAY, LEAD) == "taken"
    [slot] = rows(store, FREED_SLOTS)
    assert (slot.status, slot.taken_offer_id, slot.booking_status) == ("taken", w1, "pending")
    assert {o.id: o.status for o in offers(store).values()} == {w1: "accepted", w2: "taken_by_other"}
    assert offers(store)[ids["W2"]].told_at is not None  # told on the page: no message
    assert {e.status for e in rows(store, WAITLIST_ENTRIES)} == {"waiting"}  # booking marks the winner's

    after = run_waitlist(settings, store, DAY + timedelta(minutes=2))
    assert after["offered"] == 0 and after["sent"] == 0 and after["told_taken"] == 0
    assert len(texts(tmp_path)) == 2


def test_the_others_of_a_batch_are_told_once_that_the_slot_was_taken(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = make(reminder_settings, batch_size=3)
    ids = waiting_patients(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY - timedelta(hours=1))
    run_waitlist(settings, store, DAY)
    assert len(texts(tmp_path)) == 3
    assert accept(store.engine, offers(store)[ids["W3"]].id, DAY, LEAD) == "won"
    told = run_waitlist(settings, store, DAY + timedelta(minutes=1))
    assert told["told_taken"] == 2
    notices = texts(tmp_path)[3:]
    assert sorted(m["to"] for m in notices) == ["+12125550201", "+12125550202"]
    assert all("has just been taken" in m["body"] and m["key"].startswith("waitlist:taken:") for m in notices)
    assert run_waitlist(settings, store, DAY + timedelta(minutes=2))["told_taken"] == 0
    assert len(texts(tmp_path)) == 5


def test_no_slot_inside_the_lead_time_and_an_open_slot_expires_when_its_start_comes_close(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = make(reminder_settings)
    waiting_patients(store)
    soon = DAY + timedelta(hours=3)  # inside the 4h lead time
    put(store, appointment("S1", soon, patient="P9", phone="+12125550109"))
    put(store, appointment("S1", soon, patient="P9", phone="+12125550109", status="cancelled"))
    assert run_waitlist(settings, store, DAY)["freed"] == 0
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    assert run_waitlist(settings, store, DAY)["sent"] == 2
    close = START - timedelta(hours=3)
    result = run_waitlist(settings, store, close)
    assert result["expired"] == 1 and result["offered"] == 0
    assert [s.status for s in rows(store, FREED_SLOTS)] == ["expired"]
    assert {o.status for o in rows(store, WAITLIST_OFFERS)} == {"expired"}
    assert accept(store.engine, rows(store, WAITLIST_OFFERS)[0].id, close, LEAD) == "closed"
    assert len(texts(tmp_path)) == 2


def test_the_sources_cancel_frees_a_slot_its_uncancel_withdraws_it_and_its_booking_fills_it(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = make(reminder_settings)
    waiting_patients(store)
    put(store, appointment("A1", START, patient="P1", phone=PHONE, status="cancelled"))
    first = run_waitlist(settings, store, DAY)
    assert first["freed"] == 1 and first["sent"] == 2
    assert [(s.freed_by, s.status) for s in rows(store, FREED_SLOTS)] == [("source", "open")]
    # The patient's own "cancel" arriving after the source's frees no second slot.
    assert run_waitlist(settings, store, DAY + timedelta(minutes=1))["freed"] == 0

    put(store, appointment("A1", START, patient="P1", phone=PHONE))  # un-cancelled at the source
    back = run_waitlist(settings, store, DAY + timedelta(minutes=2))
    assert back["withdrawn"] == 1
    assert {o.status for o in rows(store, WAITLIST_OFFERS)} == {"withdrawn"}
    assert accept(store.engine, rows(store, WAITLIST_OFFERS)[0].id, DAY, LEAD) == "closed"

    put(store, appointment("A1", START, patient="P1", phone=PHONE, status="cancelled"))  # a new version, a new slot
    assert run_waitlist(settings, store, DAY + timedelta(minutes=3))["freed"] == 1
    put(store, appointment("N1", START + timedelta(minutes=10), patient="P7", phone="+12125550107"))
    filled = run_waitlist(settings, store, DAY + timedelta(minutes=4))
    assert filled["filled_by_source"] == 1
    assert [s.status for s in rows(store, FREED_SLOTS)] == ["withdrawn", "filled_by_source"]


def test_a_desk_cancel_frees_the_slot(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = make(reminder_settings)
    waiting_patients(store)
    with store.engine.begin() as connection:
        a1 = connection.execute(select(WAITLIST_ENTRIES.c.id)).first()  # any row: the store is set up
        assert a1 is not None
        from clinicsync.sync.store.model import Appointment
        table = Appointment.__table__  # type: ignore[attr-defined]
        appointment_id, version = connection.execute(select(table.c.id, table.c.version).where(
            table.c.external_id == "A1")).one()
        connection.execute(insert(DESK_ACTIONS).values(appointment_id=appointment_id, version=version, action="cancel",
                                                       user="frontdesk", role="desk", source="queued", at=DAY))
    assert run_waitlist(settings, store, DAY)["freed"] == 1
    assert [s.freed_by for s in rows(store, FREED_SLOTS)] == ["desk"]


def test_sequential_offers_one_at_a_time_and_moves_on_after_the_hold_or_a_no_thanks(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = make(reminder_settings, "sequential")
    ids = waiting_patients(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    run_waitlist(settings, store, DAY)
    assert [m["to"] for m in texts(tmp_path)] == ["+12125550202"]  # W2 first
    # the SMS says until when it is held for W2, as the stored hold (sent at 12:00 EDT, held 30m)
    assert "earlier slot Wed, Jun 12 10:00 AM, held till 12:30 PM EDT: https://" in texts(tmp_path)[0]["body"]
    assert offers(store)[ids["W2"]].hold_until.replace(tzinfo=UTC) == DAY + timedelta(minutes=30)
    assert run_waitlist(settings, store, DAY + timedelta(minutes=29))["sent"] == 0  # still held for W2
    moved = run_waitlist(settings, store, DAY + timedelta(minutes=31))
    assert moved["hold_expired"] == 1 and moved["sent"] == 1
    assert texts(tmp_path)[1]["to"] == "+12125550201"  # W1
    assert decline(store.engine, offers(store)[ids["W1"]].id, DAY) == "declined"
    run_waitlist(settings, store, DAY + timedelta(minutes=32))
    assert texts(tmp_path)[2]["to"] == "+12125550203"  # W3
    # W2's hold ran out and the slot is held for W3 now: W2's late "take" never takes W3's promise
    # (issue 58) ...
    assert accept(store.engine, offers(store)[ids["W2"]].id, DAY + timedelta(minutes=40), LEAD) == "held_for_other"
    assert offers(store)[ids["W3"]].status == "sent" and rows(store, FREED_SLOTS)[0].status == "open"
    # ... but once W3's hold has run out too, the slot nobody took goes to the first late tap.
    assert accept(store.engine, offers(store)[ids["W2"]].id, DAY + timedelta(minutes=63), LEAD) == "won"
    assert offers(store)[ids["W3"]].status == "taken_by_other"
    assert offers(store)[ids["W1"]].status == "declined"  # said no: not told again


def test_max_offers_per_slot_and_an_unreachable_patient(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = make(reminder_settings, batch_size=5, max_offers_per_slot=2)
    ids = waiting_patients(store)
    with store.engine.begin() as connection:
        from clinicsync.sync.store.model import Patient
        patients = Patient.__table__  # type: ignore[attr-defined]
        connection.execute(update(patients).where(patients.c.external_id == "W2").values(channel="none"))
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    result = run_waitlist(settings, store, DAY)
    assert result["offered"] == 2 and result["failed"] == 1 and result["sent"] == 1
    assert offers(store)[ids["W2"]].status == "failed"
    assert run_waitlist(settings, store, DAY + timedelta(minutes=1))["offered"] == 0  # two offers in all


def test_sequential_after_a_failed_offer_the_slot_goes_to_the_next_patient(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """An offer that reached nobody (every channel refused for good; no channel at all) is no
    offer out: the next cycle offers the slot to the next patient waiting, until one is reached."""
    settings = reminder_settings(REMINDERS, outcomes='{"+12125550202": permanent, "ana@example.org": permanent}',
                                 extra_notifiers=SERVER + waitlist("sequential"))
    ids = waiting_patients(store)
    with store.engine.begin() as connection:
        from clinicsync.sync.store.model import Patient
        patients = Patient.__table__  # type: ignore[attr-defined]
        connection.execute(update(patients).where(patients.c.external_id == "W1").values(channel="none"))
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    assert run_waitlist(settings, store, DAY)["failed"] == 1  # W2: SMS and email refused for good
    assert offers(store)[ids["W2"]].status == "failed" and offers(store)[ids["W2"]].sent_at is not None
    assert run_waitlist(settings, store, DAY + timedelta(minutes=1))["failed"] == 1  # W1: no channel
    assert offers(store)[ids["W1"]].status == "failed" and offers(store)[ids["W1"]].sent_at is None
    assert run_waitlist(settings, store, DAY + timedelta(minutes=2))["sent"] == 1
    assert offers(store)[ids["W3"]].status == "sent"
    assert [m["to"] for m in texts(tmp_path)] == ["+12125550203"]
    assert rows(store, FREED_SLOTS)[0].status == "open"


def test_disabled_does_nothing(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(REMINDERS, extra_notifiers=SERVER)
    waiting_patients(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    assert run_waitlist(settings, store, DAY) == {"enabled": False}
    assert rows(store, FREED_SLOTS) == []


def test_twenty_acceptances_at_once_one_winner(store_url: str, reminder_settings: SettingsMaker) -> None:
    """Twenty threads, each on its own connection, accept twenty offers of one slot at the
    same moment (on PostgreSQL and on SQLite)."""
    engine = make_engine(store_url, pool_size=25)
    upgrade(engine)
    store = Store(engine)
    try:
        settings = make(reminder_settings, batch_size=20, max_offers_per_slot=20)
        later = START + timedelta(days=30)
        put(store, appointment("A1", START, patient="P1", phone=PHONE),
            *[appointment(f"B{i}", later, patient=f"W{i}", phone=f"+1212555{i:04d}") for i in range(20)])
        for i in range(20):
            entry(store, f"W{i}")
        handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
        assert run_waitlist(settings, store, DAY)["sent"] == 20
        offer_ids = [o.id for o in rows(store, WAITLIST_OFFERS)]
        barrier = threading.Barrier(20)
        outcomes: list[str] = []
        lock = threading.Lock()

        def take(offer_id: int) -> None:
            barrier.wait()
            outcome = accept(engine, offer_id, DAY, LEAD)
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=take, args=(offer_id,)) for offer_id in offer_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(outcomes) == ["taken"] * 19 + ["won"]
        [slot] = rows(store, FREED_SLOTS)
        statuses = [o.status for o in rows(store, WAITLIST_OFFERS)]
        assert slot.status == "taken" and statuses.count("accepted") == 1 and statuses.count("taken_by_other") == 19
        assert [o.id for o in rows(store, WAITLIST_OFFERS) if o.status == "accepted"] == [slot.taken_offer_id]
    finally:
        store.close()



def test_an_offer_that_cannot_be_sent_is_set_aside_and_the_next_patient_is_offered(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path, monkeypatch: Any) -> None:
    from clinicsync.sync.runs.setaside import SET_ASIDE, request_retry
    from clinicsync.sync.waitlist import offers as offers_module

    settings = make(reminder_settings, "sequential")
    ids = waiting_patients(store)
    real = offers_module.render_offer
    calls: list[str] = []

    def poisoned(renderer: Any, draft: Any, channel: str, settings: Settings, connector: str | None = None) -> Any:
        calls.append(draft.kind)
        if len(calls) == 1:
            raise KeyError("ana@example.org")  # a bug quoting patient data: the reason must not keep it
        return real(renderer, draft, channel, settings, connector)

    monkeypatch.setattr(offers_module, "render_offer", poisoned)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    first = run_waitlist(settings, store, DAY)
    assert first["failed"] == 1 and first["sent"] == 0
    assert offers(store)[ids["W2"]].status == "failed"
    [aside] = rows(store, SET_ASIDE)
    assert aside.stage == "waitlist" and aside.item.startswith("offer:") and "example.org" not in aside.reason
    run_waitlist(settings, store, DAY + timedelta(minutes=1))
    assert [m["to"] for m in texts(tmp_path)] == ["+12125550201"]  # W1, the next

    # staff press retry: the slot already went on, so the item closes; W2 is not offered twice
    assert request_retry(store.engine, "waitlist") == 1
    run_waitlist(settings, store, DAY + timedelta(minutes=2))
    [closed] = rows(store, SET_ASIDE)
    assert closed.status == "resolved"
    assert [m["to"] for m in texts(tmp_path)] == ["+12125550201"]


def test_a_patient_who_won_a_slot_is_offered_no_other_while_it_is_booked(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = make(reminder_settings, batch_size=1)
    ids = waiting_patients(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    run_waitlist(settings, store, DAY)
    assert accept(store.engine, offers(store)[ids["W2"]].id, DAY, LEAD) == "won"
    other = START + timedelta(hours=2)
    put(store, appointment("A2", other, patient="P8", phone="+12125550108"))
    put(store, appointment("A2", other, patient="P8", phone="+12125550108", status="cancelled"))
    run_waitlist(settings, store, DAY + timedelta(minutes=1))
    [second] = [o for o in rows(store, WAITLIST_OFFERS) if o.slot_id != offers(store)[ids["W2"]].slot_id]
    assert second.entry_id == ids["P1"] and second.entry_id != ids["W2"]  # W2 won the first slot


def test_a_visit_the_desk_rebooks_after_the_patients_cancel_frees_only_its_old_time(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The patient cancels by SMS; the desk calls them and moves the visit to a later time in
    its system. The old time is free (offered); the new one is the patient's again and is
    offered to nobody: their "cancel" was for the old time."""
    settings = make(reminder_settings)
    waiting_patients(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY - timedelta(hours=1))
    assert run_waitlist(settings, store, DAY)["freed"] == 1
    later = START + timedelta(days=2)
    put(store, appointment("A1", later, patient="P1", phone=PHONE))  # rebooked by the desk
    after = run_waitlist(settings, store, DAY + timedelta(minutes=1))
    assert after["freed"] == 0 and after["withdrawn"] == 0
    assert [(s.start_utc, s.status) for s in rows(store, FREED_SLOTS)] == [(START, "open")]


def test_a_declined_visit_given_to_another_doctor_frees_that_doctors_time_for_their_waiting_patient(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The patient cancels by SMS; the source, not told, gives the visit to another doctor at the
    same time (the decline stands), then cancels it. Each doctor's time is free: the first
    doctor's slot stays open, and the second doctor's is a slot of its own, offered to the
    patient waiting for that doctor; the source's cancel frees no third."""
    settings = make(reminder_settings)
    waiting_patients(store)
    put(store, appointment("B5", START + timedelta(days=40), patient="W5", phone="+12125550205", doctor="D2"))
    w5 = entry(store, "W5", doctor="D2")
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY - timedelta(hours=1))
    assert run_waitlist(settings, store, DAY)["freed"] == 1
    assert w5 not in offers(store)  # D1's time: offered to D1's patients only

    put(store, appointment("A1", START, patient="P1", phone=PHONE, doctor="D2"))  # given to D2, still declined
    moved = run_waitlist(settings, store, DAY + timedelta(minutes=1))
    assert (moved["freed"], moved["withdrawn"]) == (1, 0)
    assert [(s.practitioner_ref, s.status) for s in rows(store, FREED_SLOTS)] == [("D1", "open"), ("D2", "open")]
    d2 = rows(store, FREED_SLOTS)[1].id
    assert [(o.entry_id, o.status) for o in rows(store, WAITLIST_OFFERS) if o.slot_id == d2] == [(w5, "sent")]
    assert "+12125550205" in [m["to"] for m in texts(tmp_path)]

    put(store, appointment("A1", START, patient="P1", phone=PHONE, doctor="D2", status="cancelled"))
    assert run_waitlist(settings, store, DAY + timedelta(minutes=2))["freed"] == 0  # D2's time is freed already
    assert len(rows(store, FREED_SLOTS)) == 2


def test_a_visit_given_to_another_doctor_that_holds_its_time_again_withdraws_only_that_doctors_slot(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """The source cancels the visit, its time is offered, then the source books it again with
    another doctor at the same start: the visit holds the second doctor's time, not the first's,
    which is still free in the first doctor's day; its slot stays open, its offers still out.
    Moved back onto the first doctor, the visit holds that time again and the slot is withdrawn."""
    settings = make(reminder_settings)
    waiting_patients(store)
    put(store, appointment("A1", START, patient="P1", phone=PHONE, status="cancelled"))
    assert run_waitlist(settings, store, DAY)["sent"] == 2
    put(store, appointment("A1", START, patient="P1", phone=PHONE, doctor="D2"))  # booked again, with D2
    moved = run_waitlist(settings, store, DAY + timedelta(minutes=1))
    assert (moved["freed"], moved["withdrawn"]) == (0, 0)
    assert [(s.practitioner_ref, s.status) for s in rows(store, FREED_SLOTS)] == [("D1", "open")]
    assert {o.status for o in rows(store, WAITLIST_OFFERS)} == {"sent"}
    put(store, appointment("A1", START, patient="P1", phone=PHONE))  # back with D1: D1's time is held again
    assert run_waitlist(settings, store, DAY + timedelta(minutes=2))["withdrawn"] == 1
    assert [(s.practitioner_ref, s.status) for s in rows(store, FREED_SLOTS)] == [("D1", "withdrawn")]
