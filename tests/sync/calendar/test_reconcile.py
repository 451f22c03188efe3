"""`calendar reconcile`: what was changed by hand in Google is found, and --fix restores it."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest

from clinicsync.connectors.csv_drop import CsvDropSettings
from clinicsync.sync.calendar.google import GoogleCalendar
from clinicsync.sync.calendar.provider import event_id
from clinicsync.sync.calendar.push import push
from clinicsync.sync.calendar.reconcile import reconcile
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.store import Store
from tests.sync.calendar.fake_google import FakeGoogle
from tests.sync.calendar.helpers import DOCTORS, apply, appointment, base_time

AMELIA, RAFAEL = DOCTORS["D01"][1], DOCTORS["D02"][1]


@pytest.fixture
def settings(google_calendar_settings) -> Settings:  # type: ignore[no-untyped-def]
    csv = CsvDropSettings(name="csv", kind="csv", mapping="csv_default", drop_dir=Path("."))
    return Settings(calendar=google_calendar_settings(), connectors=[csv])


def provider(settings: Settings) -> GoogleCalendar:
    return GoogleCalendar(settings.calendar.google, sleep=lambda _: None)


def hand_edits(fake: FakeGoogle) -> None:
    """What people do in Google Calendar: delete, drag, retitle, and copy events around."""
    amelia = fake.calendars[AMELIA]
    amelia[event_id("csv", "A1")]["status"] = "cancelled"  # deleted by hand
    moved = amelia[event_id("csv", "A2")]
    moved["start"]["dateTime"] = moved["start"]["dateTime"].replace("T09:", "T11:")  # dragged
    amelia[event_id("csv", "A3")]["summary"] = "Lunch"
    orphan = copy.deepcopy(amelia[event_id("csv", "A4")])
    orphan["id"] = event_id("csv", "GONE")
    orphan["extendedProperties"]["private"]["clinicsync_external_id"] = "GONE"
    amelia[orphan["id"]] = orphan
    foreign = copy.deepcopy(orphan)
    foreign["id"] = event_id("other-site", "X1")
    foreign["extendedProperties"]["private"].update(clinicsync_connector="other-site", clinicsync_external_id="X1")
    amelia[foreign["id"]] = foreign
    del fake.calendars[RAFAEL][event_id("csv", "B1")]  # gone entirely


def test_reconcile_reports_and_fixes(settings: Settings, store: Store, fake_google: FakeGoogle) -> None:
    start = base_time()
    apply(store, *(appointment(f"A{i}", start=start + timedelta(days=i)) for i in range(1, 6)),
          appointment("B1", doctor="D02"))
    push(settings.calendar, store.engine, provider(settings))
    assert reconcile(settings, store.engine, provider(settings)).findings == []

    hand_edits(fake_google)
    report = reconcile(settings, store.engine, provider(settings))
    found = {(f.kind, f.appointment) for f in report.findings}
    assert found == {("deleted", "csv/A1"), ("moved", "csv/A2"), ("changed", "csv/A3"), ("orphan", "csv/GONE"),
                     ("foreign", "other-site/X1"), ("missing", "csv/B1")}
    assert report.calendars[AMELIA] == {"events": 6, "expected": 5}
    assert report.fixed is None and len(fake_google.live(AMELIA)) == 6  # reporting changes nothing

    fixed = reconcile(settings, store.engine, provider(settings), fix=True)
    assert fixed.fixed is not None and fixed.fixed.failed == 0
    assert fixed.fixed.as_dict() == {"inserted": 1, "patched": 3, "deleted": 0, "unchanged": 2, "failed": 0,
                                          "skipped": 0}
    assert fixed.orphans_deleted == 1
    after = reconcile(settings, store.engine, provider(settings))
    assert [(f.kind, f.appointment) for f in after.findings] == [("foreign", "other-site/X1")]
    live = fake_google.live(AMELIA)
    assert live[event_id("csv", "A2")]["start"]["dateTime"].split("T")[1].startswith("09:")
    assert live[event_id("csv", "A3")]["summary"] == "Follow-up (J.W.)"
    assert event_id("csv", "GONE") not in live and event_id("other-site", "X1") in live
    assert event_id("csv", "B1") in fake_google.live(RAFAEL)


def test_cli_reconcile_exit_codes(tmp_path: Path, cli, key_file: Path, fake_google: FakeGoogle,
                                  write_settings) -> None:  # type: ignore[no-untyped-def]
    drop = tmp_path / "drop"
    drop.mkdir()
    day = (base_time() + timedelta(days=1)).date().isoformat()
    (drop / "a.csv").write_text(
        "appointment_id,start,duration_minutes,status,type,patient_id,patient_name,doctor_id,doctor_email\n"
        f"A1,{day} 09:00,30,booked,Follow-up,P1,Jamal Weber,D01,{AMELIA}\n")
    config = write_settings(
        connectors=f"- name: csv\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop}\n  settle_seconds: 0\n",
        extra=f"calendar:\n  provider: google\n  google:\n    key_file: {key_file}\n"
              f"    api_root: {fake_google.url}\n    retry: {{attempts: 2, initial_seconds: 0.001}}\n")
    run = cli(config)
    run("db", "upgrade")
    run("sync", "--once")
    _, out, _ = run("calendar", "reconcile", "--json")
    assert json.loads(out)["findings"] == []
    fake_google.calendars[AMELIA][event_id("csv", "A1")]["status"] = "cancelled"
    _, out, _ = run("calendar", "reconcile", expect=1)
    assert "deleted" in out
    run("calendar", "reconcile", "--fix")
    assert event_id("csv", "A1") in fake_google.live(AMELIA)
    run("calendar", "reconcile")
