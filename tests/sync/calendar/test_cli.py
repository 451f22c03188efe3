"""Done-when, through the CLI a user runs: `sync --once` pushes every booked appointment of
a mapped doctor exactly once, moves it, removes it, and then calls nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from clinicsync.sync.calendar import push as push_module
from clinicsync.sync.calendar.provider import event_id
from tests.sync.calendar.fake_google import FakeGoogle
from tests.sync.calendar.helpers import DOCTORS, base_time

AMELIA, RAFAEL = DOCTORS["D01"][1], DOCTORS["D02"][1]
HEADER = ("appointment_id,start,duration_minutes,timezone,status,type,patient_id,patient_name,patient_phone,"
          "patient_email,doctor_id,doctor_name,doctor_email\n")


def row(appointment: str, when: str, doctor: str, email: str, status: str = "booked") -> str:
    return (f"{appointment},{when},30,America/New_York,{status},Follow-up,P1,Jamal Weber,(201) 555-0165,"
            f"jamal.weber@mail.example.com,{doctor},Dr. X,{email}\n")


def test_sync_once_pushes_moves_removes_then_calls_nothing(tmp_path: Path, cli, write_settings, key_file: Path,
                                                           fake_google: FakeGoogle) -> None:  # type: ignore[no-untyped-def]
    drop = tmp_path / "drop"
    drop.mkdir()
    day = (base_time() + timedelta(days=1)).date().isoformat()
    (drop / "01.csv").write_text(HEADER + row("A1", f"{day} 09:00", "D01", AMELIA)
                                 + row("A2", f"{day} 10:00", "D02", RAFAEL)
                                 + row("A3", f"{day} 11:00", "D03", DOCTORS["D03"][1])
                                 + row("A4", f"{day} 12:00", "D09", ""))
    config = write_settings(
        connectors=f"- name: csv\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop}\n  settle_seconds: 0\n",
        extra=f"calendar:\n  provider: google\n  calendars:\n    - practitioner: D03\n      skip: true\n"
              f"  google:\n    key_file: {key_file}\n    api_root: {fake_google.url}\n"
              f"    retry: {{attempts: 3, initial_seconds: 0.001, max_seconds: 0.01}}\n")
    run = cli(config)
    run("db", "upgrade")

    _, out, err = run("sync", "--once", "--json")
    assert json.loads(out)["calendar"] == {"inserted": 2, "patched": 0, "deleted": 0, "unchanged": 0,
                                           "failed": 0, "skipped": 2}
    assert list(fake_google.live(AMELIA)) == [event_id("csv", "A1")]
    assert list(fake_google.live(RAFAEL)) == [event_id("csv", "A2")]
    assert set(fake_google.calendars) == {AMELIA, RAFAEL}
    assert "calendar.pushed" in err  # the logs are here, and carry no PHI:
    assert "Jamal" not in err and "555-0165" not in err and AMELIA not in err

    fake_google.reset_counts()
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["calendar"]["unchanged"] == 2
    assert fake_google.api_requests == [] and fake_google.token_requests == 0

    (drop / "02.csv").write_text(HEADER + row("A1", f"{day} 15:30", "D01", AMELIA)
                                 + row("A2", f"{day} 10:00", "D02", RAFAEL, status="cancelled"))
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["calendar"] == {"inserted": 0, "patched": 1, "deleted": 1, "unchanged": 0,
                                           "failed": 0, "skipped": 2}
    [event] = fake_google.live(AMELIA).values()
    assert event["start"] == {"dateTime": f"{day}T15:30:00{event['start']['dateTime'][-6:]}",
                              "timeZone": "America/New_York"}
    assert not fake_google.live(RAFAEL)

    fake_google.reset_counts()
    _, out, _ = run("sync", "--once", "--json")
    assert fake_google.api_requests == [] and json.loads(out)["calendar"]["unchanged"] == 2

    _, out, _ = run("calendar", "status", "--json")
    status = json.loads(out)
    assert status["unmapped"] == [{"practitioner": "csv/D03", "appointments": 1},
                                  {"practitioner": "csv/D09", "appointments": 1}]
    assert {c["calendar"]: (c["present"], c["deleted"]) for c in status["calendars"]} == {
        AMELIA: (1, 0), RAFAEL: (0, 1)}
    assert {c["calendar"]: c["patient_cancelled"] for c in status["calendars"]} == {AMELIA: 0, RAFAEL: 0}
    _, out, _ = run("calendar", "status")
    assert "no calendar" in out and "cancelled by patient" in " ".join(out.split())


def test_calendar_commands_need_a_provider(tmp_path: Path, cli, write_settings) -> None:  # type: ignore[no-untyped-def]
    run = cli(write_settings())
    run("db", "upgrade")
    _, _, err = run("calendar", "reconcile", expect=2)
    assert "calendar.provider is none" in err
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["calendar"] == {"inserted": 0, "patched": 0, "deleted": 0, "unchanged": 0,
                                           "failed": 0, "skipped": 0}


def test_an_admin_switches_from_ics_to_google_then_removes_the_section(  # type: ignore[no-untyped-def]
        tmp_path: Path, cli, write_settings, key_file: Path, fake_google: FakeGoogle) -> None:
    """Months after go-live, as an admin does it: settings.yaml edited between two `sync --once`.
    The old feed empties when Google holds the visits; with the section removed, the events no
    one can reach any more are shown by `calendar status`, not silently kept."""
    drop = tmp_path / "drop"
    drop.mkdir()
    day = (base_time() + timedelta(days=1)).date().isoformat()
    (drop / "01.csv").write_text(HEADER + row("A1", f"{day} 09:00", "D01", AMELIA))
    connectors = f"- name: csv\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop}\n  settle_seconds: 0\n"
    google = (f"  google:\n    key_file: {key_file}\n    api_root: {fake_google.url}\n"
              f"    retry: {{attempts: 3, initial_seconds: 0.001, max_seconds: 0.01}}\n")
    feed = tmp_path / "calendars" / f"{AMELIA}.ics"
    files = "  ics: {directory: calendars}\n"
    run = cli(write_settings(connectors=connectors, extra="calendar:\n  provider: ics\n" + files))
    run("db", "upgrade")
    run("sync", "--once")
    assert "STATUS:CONFIRMED" in feed.read_text()

    run = cli(write_settings(connectors=connectors, extra="calendar:\n  provider: google\n" + files + google))
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["calendar"]["retired"] == 1
    assert list(fake_google.live(AMELIA)) == [event_id("csv", "A1")]
    assert "STATUS:CONFIRMED" not in feed.read_text() and "STATUS:CANCELLED" in feed.read_text()

    run = cli(write_settings(connectors=connectors))  # the calendar section removed
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["calendar"]["left"] == 1
    _, out, _ = run("calendar", "status")
    assert "left in calendars no longer kept up to date" in " ".join(out.split()) and AMELIA in out


def test_an_admin_edits_the_title_template_and_status_shows_what_is_left(  # type: ignore[no-untyped-def]
        tmp_path: Path, cli, write_settings, key_file: Path, fake_google: FakeGoogle,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """settings.yaml's `summary` edited between two `sync --once`: Google takes a bounded number
    of re-rendered events a run (2 here, RERENDER_PER_RUN), the soonest first; the JSON and
    `calendar status` say how many still show the old title, and the next run takes them."""
    monkeypatch.setattr(push_module, "RERENDER_PER_RUN", 2, raising=False)
    drop = tmp_path / "drop"
    drop.mkdir()
    day = (base_time() + timedelta(days=1)).date().isoformat()
    (drop / "01.csv").write_text(HEADER + "".join(row(f"A{h}", f"{day} {h:02d}:00", "D01", AMELIA)
                                                  for h in (9, 10, 11)))
    connectors = f"- name: csv\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop}\n  settle_seconds: 0\n"
    google = (f"  google:\n    key_file: {key_file}\n    api_root: {fake_google.url}\n"
              f"    retry: {{attempts: 3, initial_seconds: 0.001, max_seconds: 0.01}}\n")
    run = cli(write_settings(connectors=connectors, extra="calendar:\n  provider: google\n" + google))
    run("db", "upgrade")
    run("sync", "--once")
    run = cli(write_settings(connectors=connectors,
                             extra="calendar:\n  provider: google\n  summary: 'Visit'\n" + google))
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["calendar"]["rerender_left"] == 1
    titles = {e["id"]: e["summary"] for e in fake_google.live(AMELIA).values()}
    assert [titles[event_id("csv", f"A{h}")] == "Visit" for h in (9, 10, 11)] == [True, True, False]
    _, out, _ = run("calendar", "status", "--json")
    assert [c["rerender_left"] for c in json.loads(out)["calendars"]] == [1]
    _, out, _ = run("calendar", "status")
    assert "old settings" in " ".join(out.split())
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["calendar"]["patched"] == 1 and "rerender_left" not in json.loads(out)["calendar"]
