"""A visit the source gives to another patient (a booking made under the wrong patient, then
corrected): the messages planned for the first patient must not go to them, and the patient
who now has the visit is told as a new booking (docs/reminders.md, *What planning does*)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from clinicsync.mappings.model import NormalizedPatient
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.store.model.responses import RESPONSES
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import read_log
from tests.sync.reminders.test_dispatch import BASE, BOOKED_AT, PHONE, START, book, reminders, run

OTHER_PHONE = "+12125550199"


def given_to_another_patient() -> Any:
    """A1 as the source now has it: same time and doctor, another patient (P2, Luis)."""
    return replace(appointment("A1", START),
                   patient=NormalizedPatient("P2", "Luis Ortega", OTHER_PHONE, "luis@example.org", "en", "sms"))


def responses(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(RESPONSES).order_by(RESPONSES.c.id)))


def texts(tmp_path: Path) -> list[tuple[str, str]]:
    return [(line["to"], line["key"]) for line in read_log(tmp_path / "texts.jsonl")]


def kinds_by_phone(tmp_path: Path) -> dict[str, list[str]]:
    """The kinds of the texts each of the two patients got, in order."""
    kinds: dict[str, list[str]] = {PHONE: [], OTHER_PHONE: []}
    for to, key in texts(tmp_path):
        kinds[to].append(key.split(":")[2])
    return kinds


def told_then_changed(store: Store, settings: Settings, visit: Any) -> datetime:
    """P1's visit booked and its confirmation sent; an hour later the source holds ``visit``,
    which is planned and dispatched then. Returns that time."""
    book(store, settings)
    run(settings, store)  # P1: confirmation
    at = BOOKED_AT + timedelta(hours=1)
    put(store, visit)
    plan(settings, store, at)
    run(settings, store, at)
    return at


def given_away_while_dispatch_is_down(store: Store, settings: Settings) -> datetime:
    """P1's visit booked and its confirmation sent; an hour later given to P2 and planned (P1:
    a cancellation notice, P2: a confirmation and a reminder), nothing sent since. Returns
    that time."""
    book(store, settings)
    run(settings, store)  # P1: confirmation
    at = BOOKED_AT + timedelta(hours=1)
    put(store, given_to_another_patient())
    plan(settings, store, at)
    return at


def test_nothing_sent_yet_the_first_patient_hears_nothing_and_the_new_one_is_booked(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE)
    book(store, settings)
    later = BOOKED_AT + timedelta(minutes=5)
    put(store, given_to_another_patient())
    plan(settings, store, later)
    rows = reminders(store)
    first = {k: (r.status, r.reason) for k, r in rows.items() if r.recipient_ref == "P1"}
    assert first and all(status == "cancelled" and reason == "appointment given to another patient"
                         for status, reason in first.values()), first
    second = {r.kind for r in rows.values() if r.recipient_ref == "P2" and r.status == "pending"}
    assert second == {"confirmation", "reminder"}
    run(settings, store, later)
    run(settings, store, START - timedelta(days=1))
    sent = texts(tmp_path)
    assert [to for to, _ in sent] == [OTHER_PHONE, OTHER_PHONE], sent
    assert PHONE not in {to for to, _ in sent}


def test_a_first_patient_already_told_is_told_it_is_cancelled(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE)
    told_then_changed(store, settings, given_to_another_patient())
    run(settings, store, START - timedelta(days=1))
    sent = texts(tmp_path)
    to_first = [key for to, key in sent if to == PHONE]
    to_second = [key for to, key in sent if to == OTHER_PHONE]
    assert [k.split(":")[2] for k in to_first] == ["confirmation", "cancelled"], sent
    assert [k.split(":")[2] for k in to_second] == ["confirmation", "reminder"], sent
    # The cancellation names the first patient, never the one who has the visit now.
    [notice] = [line for line in read_log(tmp_path / "texts.jsonl") if ":cancelled:" in line["key"]]
    assert "Luis" not in notice["body"] and "Ana" in notice["body"]


def test_before_planning_has_seen_the_change_nothing_goes_to_the_first_patient(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """A dispatcher run between the sync that stored the change and its planning (another
    cron job) skips the first patient's reminder at send time."""
    settings = reminder_settings(BASE + "\nconfirmation: false")
    book(store, settings)
    put(store, given_to_another_patient())  # stored; not planned yet
    run(settings, store, START - timedelta(days=1))
    assert texts(tmp_path) == []
    [row] = [r for r in reminders(store).values() if r.kind == "reminder"]
    assert (row.recipient_ref, row.status, row.reason) == ("P1", "skipped", "appointment given to another patient")


def test_given_back_to_the_first_patient_each_is_told_once(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE)
    at = told_then_changed(store, settings, given_to_another_patient())  # P1: cancelled; P2: confirmation
    at += timedelta(hours=1)
    put(store, appointment("A1", START))  # back to P1
    plan(settings, store, at)
    run(settings, store, at)  # P2: cancelled; P1: confirmation again
    plan(settings, store, at + timedelta(minutes=5))  # nothing new to plan: nobody is told twice
    run(settings, store, START - timedelta(days=1))  # P1: the reminder
    kinds = kinds_by_phone(tmp_path)
    assert kinds == {PHONE: ["confirmation", "cancelled", "confirmation", "reminder"],
                     OTHER_PHONE: ["confirmation", "cancelled"]}


def test_given_away_and_cancelled_together_tells_only_the_patient_who_knew(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE)
    told_then_changed(store, settings, replace(given_to_another_patient(), status="cancelled"))
    assert [(to, key.split(":")[2]) for to, key in texts(tmp_path)] == [(PHONE, "confirmation"), (PHONE, "cancelled")]


def test_a_reminder_that_went_to_the_first_patient_does_not_stand_in_for_the_new_ones_confirmation(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """A sent reminder makes an unsent confirmation moot, but only the patient's own: the
    first patient's reminder told the new patient nothing (simulation seed 11, PATIENT_CHANGES)."""
    settings = reminder_settings(BASE)
    book(store, settings)
    run(settings, store)  # P1: confirmation
    run(settings, store, START - timedelta(days=1))  # P1: the reminder
    at = START - timedelta(hours=20)
    put(store, given_to_another_patient())
    plan(settings, store, at)
    run(settings, store, at)
    kinds = kinds_by_phone(tmp_path)
    assert kinds == {PHONE: ["confirmation", "reminder", "cancelled"], OTHER_PHONE: ["confirmation"]}


def test_the_first_patients_notice_stands_when_the_visit_changes_again_before_it_goes(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The dispatcher is down between the give-away and a move: the next planning pass must not
    cancel the first patient's cancellation notice as a row of a patient who no longer has the
    visit, nor book the new patient a second time."""
    settings = reminder_settings(BASE)
    at = given_away_while_dispatch_is_down(store, settings)
    at += timedelta(hours=1)
    put(store, replace(given_to_another_patient(), start=START + timedelta(hours=2)))
    plan(settings, store, at)
    run(settings, store, at)
    kinds = kinds_by_phone(tmp_path)
    assert kinds == {PHONE: ["confirmation", "cancelled"], OTHER_PHONE: ["confirmation"]}


def test_the_new_patients_no_leaves_the_first_patients_notice_standing(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The new patient declines before the dispatcher has sent the first patient's cancellation
    notice: their answer cancels their own pending messages, not the notice owed to the patient
    who no longer has the visit (simulation seed 96, 45 days, PATIENT_CHANGES with replies)."""
    settings = reminder_settings(BASE)
    at = given_away_while_dispatch_is_down(store, settings)
    assert handle_reply(settings, store, "sms", OTHER_PHONE, "No", "SM1", at).outcome == "applied"
    run(settings, store, at)
    run(settings, store, START - timedelta(days=1))
    kinds = kinds_by_phone(tmp_path)
    assert kinds == {PHONE: ["confirmation", "cancelled"], OTHER_PHONE: []}
    [reply] = responses(store)
    assert reply.reminder_id is None  # P2 was sent nothing: the answer is not put on P1's message


def test_an_answer_is_put_on_the_last_message_its_own_patient_was_sent(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The reply's message is the one that went to the patient who answered, never a message
    the first patient was sent about the same visit."""
    settings = reminder_settings(BASE)
    at = told_then_changed(store, settings, given_to_another_patient())  # P1: confirmation, cancelled; P2: confirmation
    assert handle_reply(settings, store, "sms", OTHER_PHONE, "Yes", "SM1", at).outcome == "applied"
    [reply] = responses(store)
    rows = reminders(store)
    assert {r.id: (r.recipient_ref, r.kind) for r in rows.values()}[reply.reminder_id] == ("P2", "confirmation")


def test_given_back_before_anyone_was_told_the_first_patient_hears_nothing_new(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """Given to another patient and back again (the desk undid its correction) while the
    dispatcher was down: the first patient's cancellation notice never went, so for them
    nothing changed — no cancellation, no second confirmation; the other patient, never told,
    hears nothing; the first patient's reminder still goes."""
    settings = reminder_settings(BASE)
    at = given_away_while_dispatch_is_down(store, settings)
    at += timedelta(hours=1)
    put(store, appointment("A1", START))  # back to P1
    plan(settings, store, at)
    run(settings, store, at)
    run(settings, store, START - timedelta(days=1))
    kinds = kinds_by_phone(tmp_path)
    assert kinds == {PHONE: ["confirmation", "reminder"], OTHER_PHONE: []}
    [notice] = [r for r in reminders(store).values() if r.kind == "cancelled"]
    assert (notice.recipient_ref, notice.status, notice.reason) == (
        "P1", "cancelled", "the visit is booked for this patient again")


def test_given_away_after_the_first_patient_declined_books_the_new_one(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The first patient said no before anything went to them (every message of theirs
    cancelled), then the desk gave the slot to another patient: nothing of the first's is
    live any more, and the new patient is booked all the same (simulation seed 126, 120 days)."""
    settings = reminder_settings(BASE)
    book(store, settings)
    assert handle_reply(settings, store, "sms", PHONE, "No", "SM1", BOOKED_AT).outcome == "applied"
    at = BOOKED_AT + timedelta(hours=1)
    put(store, given_to_another_patient())
    plan(settings, store, at)
    run(settings, store, at)
    run(settings, store, START - timedelta(days=1))
    kinds = kinds_by_phone(tmp_path)
    assert kinds == {PHONE: [], OTHER_PHONE: ["confirmation", "reminder"]}
    plan(settings, store, at + timedelta(minutes=5))  # a later pass books nobody again
    assert sum(r.kind == "confirmation" for r in reminders(store).values()) == 2
