"""A doctor the source gives no email gets no calendar, and is named — once — with the fix
(issue 57 obs 6: EHRs often keep no email for their providers; `sync` said nothing and the
doctor simply had no calendar). `sync --once` logs `calendar.doctor_without_calendar` when the
doctor is first seen (not at every run), `check` lists the doctor with the fix, and a calendar
given in settings ends it (`….resolved`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.sync.calendar.test_cli import HEADER, row

AMELIA = "amelia.hart@clinic.example.org"
EVENT = "calendar.doctor_without_calendar"


def test_a_doctor_without_an_email_is_named_once_with_the_fix(
        tmp_path: Path, write_settings: Any, cli: Any) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    (drop / "01.csv").write_text(HEADER + row("A1", f"{day} 09:00", "D01", AMELIA)
                                 + row("A2", f"{day} 10:00", "D09", "") + row("A3", f"{day} 11:00", "D09", ""))
    connectors = f"- name: csv\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop}\n  settle_seconds: 0\n"
    ics = "calendar:\n  provider: ics\n  ics: {directory: calendars}\n"
    run = cli(write_settings(connectors=connectors, extra=ics))
    _, _, err = run("sync", "--once")
    said = [json.loads(line) for line in err.splitlines() if EVENT in line]
    assert len(said) == 1 and said[0]["practitioner"] == "csv/D09" and said[0]["visits"] == 2
    assert "practitioner.email" in said[0]["fix"] and "calendar.calendars" in said[0]["fix"]
    assert sorted(p.name for p in (tmp_path / "calendars").glob("*.ics")) == [f"{AMELIA}.ics"]
    _, _, err = run("sync", "--once")
    assert EVENT not in err  # named once, not at every run

    _, out, _ = run("check", "--offline", "--json")
    [finding] = [f for f in json.loads(out)["findings"] if f["part"] == "calendars"]
    assert "'D09'" in finding["message"] and "has no email, so no calendar" in finding["message"]
    assert finding["level"] == "warning"

    # The fix in settings: the doctor's own calendar file.
    rule = "  calendars:\n    - {practitioner: D09, connector: csv, calendar_id: dr-nine}\n"
    run = cli(write_settings(connectors=connectors, extra=ics + rule))
    _, _, err = run("sync", "--once")
    assert f"{EVENT}.resolved" in err
    assert (tmp_path / "calendars" / "dr-nine.ics").exists()
    _, out, _ = run("check", "--offline", "--json")
    assert not [f for f in json.loads(out)["findings"] if f["part"] == "calendars"]
