"""Provider `ics`: one RFC 5545 file per doctor that calendar apps (and icalendar) read."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from sync.calendar.ics import IcsCalendar, uid_for
from sync.calendar.provider import Target, event_id
from sync.calendar.push import push
from sync.calendar.settings import CalendarSettings
from sync.demo import generate_rows, write_csv
from sync.store import Store
from tests.conftest import ROOT
from tests.sync.calendar.helpers import DOCTORS, apply, appointment, base_time, moved

AMELIA = DOCTORS["D01"][1]


def events_of(path: Path) -> dict[str, dict[str, object]]:
    calendar = Calendar.from_ical(path.read_bytes())
    return {str(e["uid"]): {"status": str(e["status"]), "sequence": int(e["sequence"]),
                            "start": e.decoded("dtstart"), "summary": str(e["summary"])}
            for e in calendar.walk("VEVENT")}


@pytest.fixture
def ics_settings(tmp_path: Path) -> CalendarSettings:
    return CalendarSettings.model_validate({"provider": "ics", "ics": {"directory": "calendars"}},
                                           context={"base_dir": tmp_path})


def run(settings: CalendarSettings, store: Store) -> dict[str, int]:
    return push(settings, store.engine, IcsCalendar(settings.ics)).as_dict()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_files_per_doctor_with_stable_uids_and_sequence(ics_settings: CalendarSettings, store: Store,
                                                        tmp_path: Path) -> None:
    a1 = appointment("A1")
    apply(store, a1, appointment("A2", doctor="D02", timezone="America/Chicago"))
    assert run(ics_settings, store)["inserted"] == 2
    files = sorted(p.name for p in (tmp_path / "calendars").iterdir())
    assert files == [f"{AMELIA}.ics", f"{DOCTORS['D02'][1]}.ics"]
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    uid = uid_for(event_id("csv", "A1"))
    [(found_uid, event)] = events_of(path).items()
    assert found_uid == uid and event["status"] == "CONFIRMED" and event["sequence"] == 0
    assert str(event["start"].tzinfo) == "America/New_York" and event["start"] == a1.start
    calendar = Calendar.from_ical(path.read_bytes())
    assert [str(t["tzid"]) for t in calendar.walk("VTIMEZONE")] == ["America/New_York"]

    apply(store, moved(a1, 60))
    assert run(ics_settings, store)["patched"] == 1
    event = events_of(path)[uid]
    assert event["sequence"] == 1 and event["start"] == a1.start + timedelta(minutes=60)

    apply(store, appointment("A1", start=a1.start + timedelta(minutes=60), status="cancelled"))
    assert run(ics_settings, store)["deleted"] == 1
    event = events_of(path)[uid]
    assert event["status"] == "CANCELLED" and event["sequence"] == 2

    apply(store, moved(a1, 60))  # re-booked: the same UID comes back, newer than the cancellation
    assert run(ics_settings, store)["patched"] == 1
    event = events_of(path)[uid]
    assert event["status"] == "CONFIRMED" and event["sequence"] == 3
    assert len(events_of(path)) == 1
    assert run(ics_settings, store) == {"inserted": 0, "patched": 0, "deleted": 0, "unchanged": 2, "failed": 0,
                                        "skipped": 0}
    assert not list((tmp_path / "calendars").glob("*.part"))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_list_events_reads_the_file_back(ics_settings: CalendarSettings, store: Store) -> None:
    apply(store, appointment("A1"), appointment("A2", start=base_time() + timedelta(hours=1)))
    run(ics_settings, store)
    provider = IcsCalendar(ics_settings.ics)
    events = provider.list_events(Target("ics", "", AMELIA), base_time() - timedelta(days=1))
    assert sorted(e.private["clinicsync_external_id"] for e in events) == ["A1", "A2"]
    assert all(not e.cancelled and e.start is not None for e in events)


def test_the_demo_writes_calendar_files_that_parse(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    drop = tmp_path / "drop"
    rows = generate_rows(date.today() + timedelta(days=1), "America/New_York")
    write_csv(rows, drop / "appointments.csv")
    settings = (ROOT / "settings.yaml").read_text().replace("drop_dir: examples/drop", f"drop_dir: {drop}")
    (tmp_path / "settings.yaml").write_text(settings)
    _, out, _ = cli(tmp_path / "settings.yaml")("sync", "--once", "--json")
    report = json.loads(out)
    created = report["connectors"]["demo-csv"]["created"]
    assert report["calendar"]["inserted"] > 200 and report["calendar"]["failed"] == 0
    files = sorted((tmp_path / ".clinicsync" / "calendars").glob("*.ics"))
    assert len(files) == 6  # one per doctor of the sample
    total = 0
    people = {r[k] for r in rows for k in ("patient_name", "patient_phone", "patient_email") if r[k]}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not [p for p in people if p in text]  # privacy by default: initials only
        calendar = Calendar.from_ical(path.read_bytes())
        assert str(calendar["version"]) == "2.0" and calendar.walk("VTIMEZONE")
        events = calendar.walk("VEVENT")
        assert events and len({str(e["uid"]) for e in events}) == len(events)
        for event in events:
            assert event.decoded("dtend") > event.decoded("dtstart")
            assert str(event["status"]) == "CONFIRMED"
        total += len(events)
    assert total == report["calendar"]["inserted"] <= created


def test_reconcile_restores_a_lost_ics_file(tmp_path: Path, cli, write_settings) -> None:  # type: ignore[no-untyped-def]
    drop = tmp_path / "drop"
    drop.mkdir()
    day = (base_time() + timedelta(days=1)).date().isoformat()
    (drop / "a.csv").write_text("appointment_id,start,duration_minutes,status,type,doctor_id,doctor_email\n"
                                f"A1,{day} 09:00,30,booked,Follow-up,D01,{AMELIA}\n")
    config = write_settings(
        connectors=f"- name: csv\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop}\n  settle_seconds: 0\n",
        extra="calendar:\n  provider: ics\n  ics:\n    directory: calendars\n")
    run = cli(config)
    run("db", "upgrade")
    _, out, _ = run("calendar", "push", "--json")
    assert json.loads(out)["inserted"] == 0  # nothing in the store yet
    run("sync", "--once")
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    path.unlink()
    _, out, _ = run("calendar", "reconcile", "--json", expect=1)
    assert [(f["kind"], f["appointment"]) for f in json.loads(out)["findings"]] == [("missing", "csv/A1")]
    run("calendar", "reconcile", "--fix")
    assert list(events_of(path)) == [uid_for(event_id("csv", "A1"))]
    run("calendar", "reconcile")
