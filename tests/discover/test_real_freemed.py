"""`discover` on the real shape of FreeMED 0.9 in MariaDB (tests/fixtures/ehr/freemed, with its
SOURCE note), a schema it had not met: every column named with its table's prefix (`calpatient`,
`ptlname`, `phyfname`), the visit kept as a date, an hour and a minute in whole numbers, the row's
creation TIMESTAMP the only full date-time of the appointment (it must not become the start), the
patient and doctor by plain integer columns, and a MariaDB server on UTC while the practice writes
its wall-clock times. Driven as the admin would: ``discover --write`` (which runs ``check``), then
``sync --once``, every visit compared."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "America/Chicago"
STATUS = {"scheduled": "booked", "confirmed": "booked", "attended": "fulfilled", "cancelled": "cancelled",
          "noshow": "noshow"}
PATIENTS, DOCTORS, VISITS = 50, 3, 150


def build(cursor: Any) -> dict[str, real.Want]:
    real.load_schema(cursor, "freemed")
    put = real.insert_rows
    put(cursor, "INSERT INTO patient (id, ptlname, ptfname, pthphone, ptwphone, ptemail, ptsex, ptdob, ptid) "
                "VALUES (%s, %s, %s, %s, %s, %s, 'f', '1980-01-01', %s)",
        [(p, f"Family{p}", f"Given{p}", f"312555{p:04d}" if p % 5 else "", f"(773) 555-{p:04d}",
          f"p{p}@example.org", f"PT{p:04d}") for p in range(1, PATIENTS + 1)])
    put(cursor, "INSERT INTO physician (id, phylname, phyfname, phymname, phytitle) VALUES (%s, %s, %s, '', 'MD')",
        [(d, f"Doc{d}", f"First{d}") for d in range(1, DOCTORS + 1)])
    today, words = date.today(), list(STATUS)
    rows, expected = [], {}
    for n in range(1, VISITS + 1):
        day = today + timedelta(days=n % 30 - 10)
        hour, minute, patient, doctor = 8 + n % 9, 15 * (n % 4), 1 + n % PATIENTS, 1 + n % DOCTORS
        status = words[n % 5]
        rows.append((n, day, hour, minute, 30, doctor, patient, status))
        start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
        phone = f"+1312555{patient:04d}" if patient % 5 else f"+1773555{patient:04d}"  # home, else work
        expected[str(n)] = (start.isoformat().replace("+00:00", "Z"), STATUS[status], str(patient),
                            f"Given{patient} Family{patient}", phone, str(doctor))
    put(cursor, "INSERT INTO scheduler (id, caldateof, calcreated, calhour, calminute, calduration, calphysician, "
                "calpatient, calstatus, calprenote) VALUES (%s, %s, NOW(), %s, %s, %s, %s, %s, %s, 'note')", rows)
    return expected


@pytest.mark.mariadb
def test_freemed_on_mariadb_through_discover_check_and_sync(mariadb_database: dict[str, Any], tmp_path: Path,
                                                            cli: Any) -> None:
    expected = real.built(mariadb_database, build)
    settings = real.settings_file(tmp_path, ZONE, "US")
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert connector.get("stored_times", "local") == "local"  # the server's UTC TIMESTAMPs say nothing of it
    notes = (tmp_path / "settings.yaml").read_text(encoding="utf-8")
    assert "change stamp in the future" not in notes  # the TIMESTAMP cursor is the server's clock: no false alarm
    mapping = real.written_mapping(tmp_path)
    assert mapping["fields"]["start"] == {"concat": ["caldateof", "calhour", "calminute"]}
    assert mapping["datetime_formats"] == ["%Y-%m-%d %H %M"]
    assert mapping["fields"]["patient.external_id"] == {"from": "calpatient"}
    assert mapping["fields"]["duration_minutes"] == {"from": "calduration"}
    real.sync_and_compare(run, connector, expected, ZONE)
