"""Generated appointment exports for the ingest benchmarks: realistic, deterministic by seed.

A clinic group of 50 doctors and 20,000 patients (patients repeat across rows, as in a
real export), in clinicsync's own CSV drop columns (sync/cli/demo.py COLUMNS), with a few
percent of bad rows of the kinds real exports carry: missing ids, unreadable dates,
invalid phones, times in a daylight-saving gap. Rows are produced as lists in COLUMNS
order, streamed straight to disk, so a million of them costs no memory.
"""

from __future__ import annotations

import csv
import functools
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.sync.cli.demo import AREA_CODES, COLUMNS, FIRST, LAST, TYPES

DOCTORS = 50
PATIENTS = 20_000
BAD_SHARE = 0.03  # a few percent of rows carry one mistake each
CHANGED_SHARE = 0.01
_START = datetime(2027, 1, 4, 8, 0)  # a Monday; the export covers the year from here
_LOCATIONS = ["Main Street Clinic", "Riverside Annex", "Lakeview Satellite", "Hillside Practice"]
_STATUSES = (["scheduled"] * 55 + ["confirmed"] * 35 + ["cancelled"] * 5 + ["Booked"] * 3
             + ["completed"] * 1 + ["no-show"] * 1)
_BAD_KINDS = ("missing_id", "bad_date", "bad_phone", "dst_gap", "end_before_start")
_COLUMN = {name: index for index, name in enumerate(COLUMNS)}


@dataclass(frozen=True)
class ExportStats:
    rows: int
    bad: int
    changed: int = 0


_LANGUAGES, _LANGUAGE_WEIGHTS = ("en", "es", "fr"), (70, 25, 5)
_CHANNELS, _CHANNEL_WEIGHTS = ("sms", "email", "whatsapp"), (60, 30, 10)
_DRAWS = 7  # a patient's draws: first name, last name, area code, exchange, line, language, channel


def _draw_patient(rng: random.Random, out: array[int]) -> None:
    """One patient's draws, as indices, in the order the pool has always drawn them:
    ``choice(seq)`` is ``randrange(len(seq))`` and ``choices(seq, weights)[0]`` one
    ``random()`` bisected on the weights, so the stream is the one the strings came from."""
    out.extend((rng.randrange(len(FIRST)), rng.randrange(len(LAST)), rng.randrange(len(AREA_CODES)),
                rng.randrange(200, 1000), rng.randrange(10_000),
                rng.choices(range(len(_LANGUAGES)), weights=_LANGUAGE_WEIGHTS)[0],
                rng.choices(range(len(_CHANNELS)), weights=_CHANNEL_WEIGHTS)[0]))


def _patient(index: int, draws: array[int]) -> tuple[str, ...]:
    first, last = FIRST[draws[0]], LAST[draws[1]]
    return (f"P{index:06d}", f"{first} {last}", f"({AREA_CODES[draws[2]]}) {draws[3]}-{draws[4]:04d}",
            f"{first}.{last}{index}@mail.example.com".lower().replace("'", ""),
            _LANGUAGES[draws[5]], _CHANNELS[draws[6]])


@functools.lru_cache(maxsize=4)
def _pool_draws(seed: int) -> tuple[array[int], tuple[object, ...]]:
    """Every draw of ``seed``'s ``PATIENTS`` patients, and the rng's state right after them.

    Drawing is ~3/4 of a pool's cost (~0.1 s here; a bench child or a test often writes two
    exports of one seed, W1's the first and the 1 %-changed one). Kept as small integers
    (280 KB), not as the pool's strings (7.6 MB): a bench child that generates its own export
    measures its peak RSS afterwards, and the strings are freed after each export as always."""
    rng = random.Random(seed)
    draws: array[int] = array("H")
    for _index in range(PATIENTS):
        _draw_patient(rng, draws)
    return draws, rng.getstate()


def _patient_pool(seed: int) -> tuple[list[tuple[str, ...]], random.Random]:
    """``seed``'s patients, and its rng where drawing them left it (where the rows' stream starts)."""
    draws, state = _pool_draws(seed)
    patients = [_patient(index, draws[at:at + _DRAWS])
                for index, at in enumerate(range(0, len(draws), _DRAWS), start=1)]
    rng = random.Random()
    rng.setstate(state)
    return patients, rng


def _doctor(index: int) -> list[str]:
    first, last = FIRST[index % len(FIRST)], LAST[(index * 7) % len(LAST)]
    return [f"D{index:03d}", f"Dr. {first} {last}", f"{first}.{last}.{index}@clinic.example.org".lower()
            .replace("'", ""), _LOCATIONS[index % len(_LOCATIONS)]]


def _good_row(rng: random.Random, serial: int, patients: list[tuple[str, ...]],
              doctors: list[list[str]]) -> list[str]:
    """Appointment ``serial``: a slot of a doctor's working year (no two share a slot)."""
    doctor_index = serial % len(doctors)
    slot = serial // len(doctors)  # 36 quarter-hour slots a day (08:00-17:00), six days a week
    day, quarter = divmod(slot, 36)
    week, weekday = divmod(day, 6)
    local = _START + timedelta(days=week * 7 + weekday, minutes=15 * quarter)
    duration = rng.choice((15, 15, 30, 30, 30, 45, 60))
    row = [""] * len(COLUMNS)
    doctor = doctors[doctor_index]
    patient = patients[rng.randrange(len(patients))]
    row[_COLUMN["appointment_id"]] = f"A{serial:08d}"
    if serial % 4 == 0:  # some exports carry offsets and ends, most local starts and durations
        row[_COLUMN["start"]] = local.strftime("%Y-%m-%dT%H:%M:00-05:00")
        row[_COLUMN["end"]] = (local + timedelta(minutes=duration)).strftime("%Y-%m-%dT%H:%M:00-05:00")
    else:
        row[_COLUMN["start"]] = local.strftime("%Y-%m-%d %H:%M")
        row[_COLUMN["duration_minutes"]] = str(duration)
    if doctor[3] == "Lakeview Satellite":
        row[_COLUMN["timezone"]] = "America/Chicago"
    row[_COLUMN["status"]] = rng.choice(_STATUSES)
    row[_COLUMN["type"]] = rng.choice(TYPES)
    for name, value in zip(COLUMNS[7:13], patient, strict=True):
        row[_COLUMN[name]] = value
    for name, value in zip(("doctor_id", "doctor_name", "doctor_email", "location"), doctor, strict=True):
        row[_COLUMN[name]] = value
    return row


def _spoil(rng: random.Random, row: list[str]) -> None:
    kind = rng.choice(_BAD_KINDS)
    if kind == "missing_id":
        row[_COLUMN["appointment_id"]] = ""
    elif kind == "bad_date":
        row[_COLUMN["start"]] = rng.choice(("next tuesday-ish", "2027-02-30 09:00", "31/12/2027 9am"))
        row[_COLUMN["end"]] = ""
    elif kind == "bad_phone":
        row[_COLUMN["patient_phone"]] = rng.choice(("555-12", "n/a", "(212) 555"))
    elif kind == "dst_gap":  # 02:30 on the spring-forward Sunday does not exist in New York
        row[_COLUMN["start"]], row[_COLUMN["end"]], row[_COLUMN["timezone"]] = "2027-03-14 02:30", "", ""
        row[_COLUMN["duration_minutes"]] = "30"
    else:
        start = row[_COLUMN["start"]][:16].replace("T", " ")
        row[_COLUMN["start"]], row[_COLUMN["end"]] = start, start[:11] + "07:00"
        row[_COLUMN["duration_minutes"]] = ""


def _change(row: list[str]) -> None:
    """What an edit at the front desk does: a new status (every changed row is a real change)."""
    status = _COLUMN["status"]
    row[status] = "cancelled" if row[status] != "cancelled" else "confirmed"


def rows(count: int, seed: int = 1, changed: float = 0.0,
         doctors: int = DOCTORS) -> Iterator[tuple[list[str], bool, bool]]:
    """``(row, bad, changed)`` for ``count`` appointments. With ``changed``, that share of the
    good rows differs from the ``changed=0`` export of the same seed, the rest is identical.
    ``doctors``: how many share the appointments (W6 compares a two-doctor practice with 50)."""
    patients, rng = _patient_pool(seed)
    practice = [_doctor(index) for index in range(1, doctors + 1)]
    pick = random.Random(seed + 1)  # its own stream: changing rows never shifts the others
    for serial in range(1, count + 1):
        row = _good_row(rng, serial, patients, practice)
        bad = rng.random() < BAD_SHARE
        if bad:
            _spoil(rng, row)
        hit = pick.random() < changed and not bad
        if hit:
            _change(row)
        yield row, bad, hit


def write_export(path: Path, count: int, seed: int = 1, changed: float = 0.0,
                 line_end: str = "\r\n", doctors: int = DOCTORS) -> ExportStats:
    """Write the export; ``line_end`` lets a re-export of the same rows differ byte-wise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bad = hits = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=line_end)
        writer.writerow(COLUMNS)
        for row, is_bad, is_changed in rows(count, seed, changed, doctors):
            bad += is_bad
            hits += is_changed
            writer.writerow(row)
    return ExportStats(count, bad, hits)
