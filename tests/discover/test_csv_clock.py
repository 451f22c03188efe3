"""`discover` on a CSV export tells an export in UTC without an offset (a web application's:
Django, Rails, booking tools) from one in local wall-clock time (sync/discover/csv_clock.py),
reading the visits' times as the proposed mapping reads them: one start column, or a date and
a time column joined. Read as Chicago's wall clock, a UTC export would store every visit six
hours late; `check` fails it then, on its night visits."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from clinicsync.sync.discover.csv import discover_csv
from tests.discover.files_support import check_proposal

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime.now(UTC).replace(microsecond=0)
NOW_HOURS = f"{-NOW.astimezone(CHICAGO).utcoffset().total_seconds() / 3600:.1f} h"  # type: ignore[union-attr]
VISITS = [datetime(2030, 3, 4 + n // 20, 9, 0, tzinfo=CHICAGO) + timedelta(minutes=27 * (n % 20)) for n in range(40)]


def _export(folder: Path, *, utc: bool, split: bool = False, offsets: bool = False,
            copied_later: bool = False) -> Path:
    """40 visits from 09:00 to 17:33 in Chicago over two days, written in UTC or Chicago's wall
    clock, each row updated 3 minutes before the file was written (or the file copied later)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "appointments.csv"
    updated = NOW - timedelta(minutes=4)
    zone = UTC if utc else CHICAGO
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        times = ["visit_date", "visit_time"] if split else ["start_time"]
        writer.writerow(["appointment_id", *times, "patient_id", "patient_name", "patient_phone", "doctor",
                         "status", "updated_at"])
        for n, start in enumerate(VISITS):
            moment = start.astimezone(zone)
            if split:
                written = [moment.strftime("%m/%d/%Y"), moment.strftime("%H:%M")]
            else:
                written = [moment.isoformat() if offsets else moment.strftime("%Y-%m-%d %H:%M:%S")]
            writer.writerow([f"V{n}", *written, f"P{n % 15}", f"Patient {n % 15}", f"+1 312 555 01{n % 15:02d}",
                             "Dr. Grey", "booked", updated.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")])
    written_at = NOW + timedelta(days=7) if copied_later else NOW - timedelta(minutes=1)
    os.utime(path, (written_at.timestamp(), written_at.timestamp()))
    return folder


def test_an_export_in_utc_is_told_by_its_stamps_and_visit_hours(tmp_path: Path) -> None:
    proposal = discover_csv(_export(tmp_path / "drop", utc=True), clinic_zone="America/Chicago")
    assert proposal.connector["stored_times"] == "utc" and "timezone" not in proposal.connector
    why = proposal.connector_notes["stored_times"]
    assert why.startswith("the export writes UTC without an offset: ")
    assert f"the newest updated_at would lie {NOW_HOURS} in the future read as local time in America/Chicago" in why
    assert "fall at night (22:00-05:59) read as local time" in why
    result = check_proposal(proposal, tmp_path, "America/Chicago", "US")
    assert result.problems == [] and result.ok, (result.problems, result.findings)


def test_a_date_and_a_time_column_are_read_as_the_mapping_joins_them(tmp_path: Path) -> None:
    """A file copied a week later: the visit hours alone, through the proposed mapping's
    date-and-time join (no column holds a whole start)."""
    proposal = discover_csv(_export(tmp_path / "drop", utc=True, split=True, copied_later=True),
                            timezone="America/Chicago")
    assert proposal.connector["stored_times"] == "utc" and proposal.connector["timezone"] == "America/Chicago"
    assert proposal.connector_notes["timezone"] == ("given to discover: the zone of the visits (the export's "
                                                    "times are UTC)")
    why = proposal.connector_notes["stored_times"]
    assert "fall at night" in why and "updated_at" not in why
    result = check_proposal(proposal, tmp_path, "America/Chicago", "US")
    assert result.problems == [] and result.ok, (result.problems, result.findings)


def test_an_export_in_local_time_keeps_the_default(tmp_path: Path) -> None:
    proposal = discover_csv(_export(tmp_path / "drop", utc=False), timezone="America/Chicago")
    assert "stored_times" not in proposal.connector
    note = next(n for n in proposal.notes if n.startswith("stored_times: local (the default): "))
    assert "the export writes local time" in note and "before the file's write time read as local time" in note
    result = check_proposal(proposal, tmp_path, "America/Chicago", "US")
    assert result.problems == [] and result.ok, (result.problems, result.findings)


def test_starts_with_their_own_offset_need_no_convention(tmp_path: Path) -> None:
    proposal = discover_csv(_export(tmp_path / "drop", utc=True, offsets=True), timezone="America/Chicago")
    assert "stored_times" not in proposal.connector
    assert not any("stored_times" in note for note in proposal.notes)


def test_the_admins_word_wins(tmp_path: Path) -> None:
    proposal = discover_csv(_export(tmp_path / "drop", utc=True), timezone="America/Chicago", stored_times="local")
    assert proposal.connector["stored_times"] == "local"
    assert proposal.connector_notes["stored_times"] == "given with --stored-times"
