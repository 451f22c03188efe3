"""`discover` on the real shape of Open Hospital in MariaDB (tests/fixtures/ehr/openhospital, with
its SOURCE note), a product whose visits name a ward, not a doctor. What it has that nothing else
here had: the ward owns the calendar; `VST_ACTIVE` (0 = inactive) and the patient's text
`PAT_DELETED` 'Y'/'N' mark rows gone; `VST_SMS` is a 0/1 consent flag beside the visit while the
phone is the joined patient's `PAT_TELE`, sometimes two numbers in one cell; `VST_DURATION` is
empty on most visits and the ward's `WRD_VISIT_DURATION` is their length; `PAT_NAME` repeats
`PAT_FNAME` and `PAT_SNAME`. Driven as the admin would: ``discover --write`` (which runs
``check``), then ``sync --once``, every visit compared."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "Africa/Kampala"
WARDS = [("MW", "MATERNITY WARD", 30), ("OPD", "OPD", 20), ("PED", "PEDIATRIC", 45)]
FIRST = ["Aisha", "Brian", "Grace", "Moses", "Sarah", "Joseph", "Esther", "Peter"]
LAST = ["Nakato", "Okello", "Namubiru", "Mugisha", "Achieng", "Ssemanda", "Atim"]


def build(cursor: Any, ends: dict[str, str]) -> dict[str, real.Want]:
    real.load_schema(cursor, "openhospital")
    rng = random.Random(66)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    real.insert_rows(cursor, "INSERT INTO oh_ward (WRD_ID_A, WRD_NAME, WRD_NBEDS, WRD_NQUA_NURS, WRD_NDOC, "
                             "WRD_CREATED_DATE, WRD_VISIT_DURATION) VALUES (%s, %s, 20, 5, 2, %s, %s)",
                     [(w, name, now - timedelta(days=400), minutes) for w, name, minutes in WARDS])
    patients: dict[int, tuple[str, str | None, bool]] = {}
    for p in range(1, 41):
        first, last = FIRST[p % len(FIRST)], LAST[p % len(LAST)]
        mobile = f"0772{100000 + p:06d}"
        tele = (f"0414 {500000 + p:06d} / {mobile[:4]} {mobile[4:]}" if p % 7 == 0 else None if p % 9 == 0
                else mobile)  # a landline then the mobile in one cell; no phone; the mobile
        deleted = p % 13 == 0
        cursor.execute("INSERT INTO oh_patient (PAT_ID, PAT_NAME, PAT_FNAME, PAT_SNAME, PAT_SEX, PAT_CITY, PAT_TELE, "
                       "PAT_DELETED, PAT_CREATED_DATE, PAT_LAST_MODIFIED_DATE) "
                       "VALUES (%s, %s, %s, %s, 'F', 'Kampala', %s, %s, %s, %s)",
                       (p, f"{first} {last}", first, last, tele, "Y" if deleted else "N", now - timedelta(days=300),
                        now - timedelta(days=30 + p)))
        patients[p] = (f"{first} {last}", None if tele is None else "+256" + mobile[1:], deleted)
    expected: dict[str, real.Want] = {}
    rows = []
    for v in range(1, 121):
        patient = 1 + rng.randrange(40)
        ward, _, ward_minutes = WARDS[v % len(WARDS)]
        day = now.date() + timedelta(days=1 + v % 25)
        start = datetime(day.year, day.month, day.day, 8 + v % 8, 15 * (v % 4))
        own = (15, 60)[v % 2] if v % 3 == 0 else None
        active = v % 17 != 0
        rows.append((v, patient, start, v % 2, now - timedelta(days=20), now - timedelta(days=3, minutes=v),
                     1 if active else 0, ward, own))
        name, phone, deleted = patients[patient]
        if active and not deleted:
            utc = start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
            expected[str(v)] = (utc.isoformat().replace("+00:00", "Z"), "booked", str(patient), name, phone, ward)
            ends[str(v)] = (utc + timedelta(minutes=own or ward_minutes)).isoformat().replace("+00:00", "Z")
    real.insert_rows(cursor, "INSERT INTO oh_visits (VST_ID, VST_PAT_ID, VST_DATE, VST_SMS, VST_CREATED_DATE, "
                             "VST_LAST_MODIFIED_DATE, VST_ACTIVE, VST_WRD_ID_A, VST_DURATION) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return expected


@pytest.mark.mariadb
def test_open_hospital_wards_flags_and_default_lengths(mariadb_database: dict[str, Any], tmp_path: Path,
                                                       cli: Any) -> None:
    ends: dict[str, str] = {}
    expected = real.built(mariadb_database, lambda cursor: build(cursor, ends))
    settings = real.settings_file(tmp_path, ZONE, "UG")
    run = cli(settings)
    # Nothing in the rows says how the hospital writes its times (stamps days old, a server on
    # UTC): discover asks, and the admin answers as the hospital's staff would (wall clock).
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"]), "--stored-times", "local"])
    mapping = real.written_mapping(tmp_path)
    fields = mapping["fields"]
    assert "VST_SMS" not in str(fields.get("patient.phone"))  # the consent flag is no phone
    assert fields["practitioner.external_id"] == {"from": "VST_WRD_ID_A"}  # the ward owns the calendar
    assert "VST_ACTIVE" in connector["query"] and "PAT_DELETED" in connector["query"]
    found = real.sync_and_compare(run, connector, expected, ZONE)
    wrong_ends = [k for k, end in ends.items() if found[k]["end"] != end]
    assert wrong_ends == []  # the visit's own length, else its ward's
    assert {found[k]["practitioner"]["name"] for k in found} == {"MATERNITY WARD", "OPD", "PEDIATRIC"}
