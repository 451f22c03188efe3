"""The guard on every outgoing message (issue 16): a source value that is several lines of
CSV-like text is never sent; the reminder fails with a reason naming the field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from clinicsync.sync.reminders.guard import suspicious
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment
from tests.sync.reminders.fakes import read_log
from tests.sync.reminders.test_dispatch import BASE, START, book, reminders, run

SWALLOWED = ("Main Street\nA1002,2026-06-12 10:00,,30,,scheduled,Follow-up,P0007,Zoe Quist,+12125550199,"
             "zoe@example.org,en,sms,D01,Dr. Amelia Hart,hart@clinic.example.org,Main Street Clinic")


@pytest.mark.parametrize(("value", "refused"), [
    ("Main Street Clinic", False),
    ("Main Street Clinic, Suite 4, 2nd floor", False),  # commas on one line: an address
    ("Main Street Clinic\nSecond floor, room 4", False),  # a two-line address
    (SWALLOWED, True),
    ("Main\r\nA1,B,C", True),
    ("Annex\nP1;Ana;+1212", True),
    ("Annex\tP1\tAna\nx", True),
    ("one\ntwo\nthree", True),  # three lines: multi-line content
    ("Main\u2028A1,B,C", True),  # a Unicode line separator is a line break too
])
def test_what_is_refused(value: str, refused: bool) -> None:
    assert suspicious(value) is refused


def test_a_swallowed_row_in_a_location_is_not_sent(store: Store, reminder_settings: SettingsMaker,
                                                   tmp_path: Path) -> None:
    settings = reminder_settings(BASE)
    book(store, settings, replace(appointment("A1", START), location=SWALLOWED),
         replace(appointment("A2", START, patient="P2"), location="Main Street Clinic\nSecond floor, room 4"))
    assert run(settings, store) == {"sent": 1, "failed": 1, "skipped": 0, "unknown": 0}
    row = reminders(store)["a1:patient:confirmation:v1"]
    assert row.status == "failed" and "location" in row.reason and row.tried == "sms,email"
    assert "Zoe" not in row.reason and "A1002" not in row.reason
    sent = read_log(tmp_path / "texts.jsonl")
    assert [line["key"] for line in sent] == ["a2:patient:confirmation:v1"]
    assert not (tmp_path / "mails.jsonl").exists() or not read_log(tmp_path / "mails.jsonl")


def test_the_guard_names_the_patient_name_field(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    book(store, settings, appointment("A1", START))
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE patient SET name = :n"), {"n": "Ana\nP2,Bo,+1212555"})
    run(settings, store)
    row = reminders(store)["a1:patient:confirmation:v1"]
    assert row.status == "failed" and "patient name" in row.reason and "Bo" not in row.reason
