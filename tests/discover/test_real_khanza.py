"""`discover` on the real shape of SIMRS Khanza in MariaDB (tests/fixtures/ehr/khanza, with its
SOURCE note), an Indonesian hospital system. What it has that nothing else here had: the booking
table `booking_registrasi` has a composite primary key, the patient's record number and the visit
date (one booking a patient a day); its status is an ENUM of Indonesian words ('Belum' not yet,
'Terdaftar' registered, 'Batal' cancelled, 'Dokter Berhalangan' doctor unavailable), of which the
vocabulary knows only 'Batal'; the visit's time is `waktu_kunjungan` while `tanggal_booking` + `jam_booking` say when
the booking was made; doctor, clinic (poliklinik) and patient are coded text references
(`kd_dokter`, `kd_poli`, `no_rkm_medis`), the location read as the clinic's name
(`poliklinik.nm_poli`), not its code; the phone is the patient's `no_tlp`, written
'0812-3456-7890', blank or '-'. Driven as the admin would: ``discover --write`` (which runs
``check``), the unknown words mapped in the mapping file, then ``sync --once``, every visit compared."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from clinicsync.mappings.engine import stand_in_id
from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "Asia/Jakarta"
WORDS = {"Belum": "booked", "Terdaftar": "checked-in", "Batal": "cancelled", "Dokter Berhalangan": "cancelled"}
ASKED = {w: s for w, s in WORDS.items() if w != "Batal"}  # 'Batal' is Indonesian's cancelled: known
DOCTORS = [("D0000001", "dr. Andi Wijaya, Sp.PD"), ("D0000002", "dr. Siti Rahmawati"),
           ("D0000003", "dr. Budi Santoso, Sp.A"), ("D0000004", "drg. Maya Lestari")]
CLINICS = [("U0001", "Poli Penyakit Dalam"), ("U0002", "Poli Umum"), ("U0003", "Poli Anak"), ("U0004", "Poli Gigi")]
FIRST = ["Agus", "Dewi", "Rina", "Joko", "Sri", "Bambang", "Wulan", "Hendra", "Fitri", "Yusuf"]
LAST = ["Saputra", "Lestari", "Hidayat", "Purnomo", "Kurniawan", "Sari", "Nugroho", "Wahyuni"]
VISITS = 150


def phone_cell(p: int) -> tuple[str, str | None]:
    """How Khanza's desk writes a patient's number, and the E.164 number it is: dashes, spaces,
    bare digits, +62; some blank or '-' (no phone)."""
    digits = f"812{10000000 + p * 7919 % 90000000:08d}"
    if p % 11 == 0:
        return "-", None
    if p % 13 == 0:
        return "", None
    shapes = (f"0{digits[:3]}-{digits[3:7]}-{digits[7:]}", f"0{digits}", f"+62 {digits[:3]} {digits[3:7]} {digits[7:]}")
    return shapes[p % 3], "+62" + digits


def build(cursor: Any, reachable: bool = True) -> dict[str, real.Want]:
    """The hospital's rows; not ``reachable``: no doctor has a name and no patient a phone."""
    real.load_schema(cursor, "khanza")
    rng = random.Random(62)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    real.insert_rows(cursor, "INSERT INTO poliklinik VALUES (%s, %s, 15000, 10000, '1')", CLINICS)
    real.insert_rows(cursor, "INSERT INTO dokter (kd_dokter, nm_dokter, jk, no_telp, status) "
                             "VALUES (%s, %s, 'L', '0274-512345', '1')",
                     DOCTORS if reachable else [(code, None) for code, _ in DOCTORS])
    patients: dict[str, tuple[str, str | None]] = {}
    rows = []
    for p in range(1, 61):
        record = f"{p:06d}"
        name = f"{FIRST[p % len(FIRST)]} {LAST[p % len(LAST)]}"
        cell, phone = phone_cell(p) if reachable else ("-", None)
        patients[record] = (name, phone)
        born = date(1960 + p % 40, 1 + p % 12, 1 + p % 27)
        rows.append((record, name, f"3404{p:012d}", "LP"[p % 2], "Yogyakarta", born, f"Ibu {LAST[p % len(LAST)]}",
                     f"Jl. Malioboro No. {p}", "-", "Wiraswasta", "MENIKAH", "Islam",
                     now.date() - timedelta(days=400 + p), cell, f"{20 + p % 40} Th", "SMA", "DIRI SENDIRI", "-",
                     "BPJ", "", ""))
    real.insert_rows(cursor, "INSERT INTO pasien (no_rkm_medis, nm_pasien, no_ktp, jk, tmp_lahir, tgl_lahir, nm_ibu, "
                             "alamat, gol_darah, pekerjaan, stts_nikah, agama, tgl_daftar, no_tlp, umur, pnd, "
                             "keluarga, namakeluarga, kd_pj, no_peserta, email) VALUES "
                             f"({', '.join(['%s'] * 21)})", rows)
    expected: dict[str, real.Want] = {}
    bookings, taken = [], set()
    words = list(WORDS)
    while len(bookings) < VISITS:
        record = f"{1 + rng.randrange(60):06d}"
        day = now.date() + timedelta(days=1 + rng.randrange(30))
        if (record, day) in taken:  # the key: one booking a patient a day
            continue
        taken.add((record, day))
        n = len(bookings)
        doctor = DOCTORS[n % len(DOCTORS)][0]
        clinic = CLINICS[n % len(CLINICS)][0]
        word = words[0] if n % 5 else words[1 + n // 5 % 3]  # mostly 'Belum', each other word present
        visit = datetime.combine(day, time(8 + n % 6, (0, 15, 30, 45)[n % 4]))
        booked = now - timedelta(days=2 + n % 20, hours=n % 9, minutes=n % 50)  # when the desk took the booking
        bookings.append((booked.date(), booked.time(), record, day, doctor, clinic, f"{1 + n % 40:03d}", "BPJ", 1,
                         visit, word))
        name, phone = patients[record]
        utc = visit.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC).isoformat().replace("+00:00", "Z")
        # The id is the key's two columns read together, hashed: the record number is no visit's public id.
        expected[stand_in_id(f"{record} {day.isoformat()}")] = (utc, WORDS[word], record, name, phone, doctor)
    real.insert_rows(cursor, "INSERT INTO booking_registrasi (tanggal_booking, jam_booking, no_rkm_medis, "
                             "tanggal_periksa, kd_dokter, kd_poli, no_reg, kd_pj, limit_reg, waktu_kunjungan, status) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", bookings)
    return expected


def mapped_by_hand(path: Path) -> int:
    """The admin's answer to discover's question: each unknown status word given its status in the
    mapping file's status_map, one typed line a word. The lines typed."""
    mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    mapping["status_map"] = {**(mapping.get("status_map") or {}), **ASKED}
    path.write_text(yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return len(ASKED)


@pytest.mark.mariadb
def test_khanza_composite_key_indonesian_words_and_coded_references(mariadb_database: dict[str, Any],
                                                                   tmp_path: Path, cli: Any) -> None:
    expected, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, "ID", cli)
    command = [str(mariadb_database["url"]), "--stored-times", "local"]
    # Three of the four status words are unknown: it asks, and `check` fails until the admin answers.
    _, out, _ = run("discover", *command, "--write", expect=1)
    print(out)
    for word, rows in (("Belum", 120), ("Terdaftar", 10), ("Dokter Berhalangan", 10)):
        assert f"{word!r}" in out and f"? (unknown: give it a status in the mapping file)  ({rows} row(s)" in out, word
    assert "140 would be quarantined (reasons: status x140)" in out  # asked, never guessed as booked
    mapping_path = real.mapping_file(tmp_path)
    mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
    fields = mapping["fields"]
    assert fields["external_id"]["concat"] == ["no_rkm_medis", "tanggal_periksa"]  # the key, both columns
    assert "table 'booking_registrasi' has the primary key 'no_rkm_medis' and 'tanggal_periksa'" in out
    assert fields["start"] == {"from": "waktu_kunjungan"}  # the visit's time, never the booking's jam_booking
    assert "jam_booking" not in str(fields)
    assert fields["practitioner.external_id"] == {"from": "kd_dokter"}
    assert fields["practitioner.name"]["from"].endswith("nm_dokter")  # through the doctor's code
    assert fields["patient.phone"]["from"].endswith("no_tlp")
    assert fields["location"] == {"from": "poli_nm_poli"}  # the clinic's name, not its code 'U0001'
    assert fields["duration_minutes"] == {"value": 30}  # no end column: the clinic's default length, said so
    assert "no end or duration column" in out
    assert mapping.get("status_map") == {"Batal": "cancelled"}  # Indonesian's cancelled, known
    edits = mapped_by_hand(mapping_path)
    # What the admin typed beyond getting-started's settings file: the URL, the answer to the
    # clock question, and one line a status word.
    assert data.admin_lines("", command, edits) <= 6
    _, checked, _ = run("check")
    assert "0 would be quarantined, 0 problems" in checked, checked
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    found = real.sync_and_compare(run, connector, expected, ZONE)
    assert {v.get("location") for v in found.values()} == {name for _, name in CLINICS}, \
        {v.get("location") for v in found.values()}
    assert {k for k, v in found.items() if v["status"] == "cancelled"} == \
        {k for k, want in expected.items() if want[1] == "cancelled"}


@pytest.mark.mariadb
def test_khanza_without_doctors_names_or_phones_fails_check(mariadb_database: dict[str, Any], tmp_path: Path,
                                                            cli: Any) -> None:
    """The same hospital where no doctor row has a name and every phone is '-': nothing reaches a
    doctor or reminds a patient, and `check` says so and fails, status words mapped or not."""
    _, _, run = real.admin_start(mariadb_database, lambda cursor: build(cursor, reachable=False), tmp_path, ZONE,
                                 "ID", cli)
    run("discover", str(mariadb_database["url"]), "--stored-times", "local", "--write", expect=1)
    mapping_path = real.mapping_file(tmp_path)
    fields = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))["fields"]
    assert "practitioner.name" not in fields and "patient.phone" not in fields  # no values: left out
    mapped_by_hand(mapping_path)
    _, checked, _ = run("check", expect=1)
    print(checked)
    errors = [line for line in checked.splitlines() if ": error: " in line]
    assert any("practitioner.name, practitioner.email: none of the" in line for line in errors), checked
