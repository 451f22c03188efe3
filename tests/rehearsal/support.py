"""Shared pieces of the rehearsal tests: a CSV export of a few visits, and its settings."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

HEADER = ["appointment_id", "start", "end", "status", "type", "location", "patient_id", "patient_name",
          "patient_phone", "patient_email", "patient_language", "doctor_id", "doctor_name"]
PHONE = "+12125550123"


def visit_start(days: int = 2) -> datetime:
    """A visit at 15:00 UTC (10:00 or 11:00 in New York) ``days`` ahead: no quiet hours near it."""
    day = (datetime.now(UTC) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, 15, tzinfo=UTC)


def row(serial: int, start: datetime, **changes: str) -> dict[str, str]:
    base = {"appointment_id": f"A{serial}", "start": start.isoformat(timespec="minutes"),
            "end": (start + timedelta(minutes=30)).isoformat(timespec="minutes"), "status": "scheduled",
            "type": "Follow-up", "location": "Main Street Clinic", "patient_id": f"P{serial}",
            "patient_name": f"Zelda Quill{serial}", "patient_phone": f"+1212555{serial % 10000:04d}",
            "patient_email": f"patient{serial}@example.org",
            "patient_language": "es", "doctor_id": "D01", "doctor_name": "Dr. Ada Stone"}
    return {**base, **changes}


def write_export(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        out.writeheader()
        out.writerows(rows)
    return path


MAPPING = """\
name: rehearsal_export
extends: csv_default
fields:
  patient.phone: {{from: {phone_column}}}
"""


def mapping(folder: Path, phone_column: str = "patient_phone") -> Path:
    path = folder / "mapping.yaml"
    path.write_text(MAPPING.format(phone_column=phone_column), encoding="utf-8")
    return path


def csv_connector(drop_dir: Path, mapping_file: Path, announce: bool = False) -> str:
    """``announce``: the first sync confirms what it finds (else a quiet go-live baseline)."""
    return (f"- name: export\n  kind: csv\n  mapping: {mapping_file}\n  drop_dir: {drop_dir}\n"
            f"  settle_seconds: 0\n  announce_existing: {str(announce).lower()}\n")
