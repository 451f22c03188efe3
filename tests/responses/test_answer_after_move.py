"""An answer is for the time it was given (issue: a rebooked visit kept its old "declined").

The patient said no by SMS; the front desk, having called them, moves the visit in its own
system to another time. The patient's "no" was about the old time: the moved visit awaits an
answer again, so the next reply reaches it, the doctor's calendar shows it as booked (not
"Cancelled by patient"), and the answer page offers its choices."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.responses.test_record import BASE, START, participation, reply
from tests.sync.reminders.conftest import SettingsMaker, appointment, put


def test_a_decline_does_not_outlive_a_move_to_another_time(store: Store, reminder_settings: SettingsMaker) -> None:
    settings: Settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    assert reply(settings, store, "NO", "SM1").outcome == "applied"
    assert participation(store) == {"A1": "declined"}
    put(store, appointment("A1", START + timedelta(days=2)))  # the desk rebooked it
    assert participation(store) == {"A1": None}
    assert reply(settings, store, "C", "SM2").outcome == "applied"
    assert participation(store) == {"A1": "accepted"}


def test_a_confirmation_does_not_outlive_a_move_to_another_time(store: Store,
                                                                reminder_settings: SettingsMaker) -> None:
    settings: Settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    reply(settings, store, "yes", "SM1")
    put(store, appointment("A1", START + timedelta(hours=3)))
    assert participation(store) == {"A1": None}


def test_other_changes_keep_the_answer(store: Store, reminder_settings: SettingsMaker) -> None:
    settings: Settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    reply(settings, store, "yes", "SM1")
    put(store, appointment("A1", START, type="Annual"))  # same time, another visit type
    put(store, appointment("A1", START, doctor="D2"))  # same time, another doctor
    assert participation(store) == {"A1": "accepted"}


def test_an_answer_does_not_outlive_a_visit_given_to_another_patient(store: Store,
                                                                     reminder_settings: SettingsMaker) -> None:
    """The first patient's "no" was theirs: the visit the source gave to another patient
    (same time, a booking corrected) awaits that patient's answer, is not "Cancelled by
    patient" in the doctor's calendar, and the new patient's reminders are not stopped."""
    from dataclasses import replace

    from clinicsync.mappings.model import NormalizedPatient

    settings: Settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    assert reply(settings, store, "NO", "SM1").outcome == "applied"
    assert participation(store) == {"A1": "declined"}
    put(store, replace(appointment("A1", START),
                       patient=NormalizedPatient("P2", "Luis Ortega", "+12125550199", "luis@example.org", "en")))
    assert participation(store) == {"A1": None}


def test_a_doctors_declined_notice_not_yet_sent_does_not_outlive_a_move(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The patient said no; before the doctor's `declined` email went (a stopped dispatcher),
    the desk moved the visit. The "no" was for the old time and is cleared: the email would tell
    the doctor that the patient declined the visit at its new time. It is skipped instead."""
    from clinicsync.sync.reminders.dispatch import Dispatcher
    from tests.responses.test_record import NOW
    from tests.sync.reminders.fakes import read_log

    settings: Settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    assert reply(settings, store, "NO", "SM1").outcome == "applied"
    put(store, appointment("A1", START + timedelta(days=2)))  # the desk rebooked it
    Dispatcher(settings, store, NOW + timedelta(minutes=5)).run()
    assert [m for m in read_log(tmp_path / "mails.jsonl") if "declined" in m["key"]] == []
    with store.engine.connect() as connection:
        [row] = connection.execute(select(REMINDERS).where(REMINDERS.c.kind == "declined")).all()
    assert (row.status, row.reason) == ("skipped", "the patient's answer no longer stands: the visit moved")
