"""Shared by the tests that run discover on the real shape of two open-source EHRs (issue 57's
held-out schemas: Bahmni on OpenMRS, GNU Health on Tryton): the admin's settings file, the
fixture's DDL run statement by statement, and the per-visit comparison with the store."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ehr"
Want = tuple[str, str, str, str, str | None, str]  # UTC start, status, patient id, name, E.164 phone, doctor id


def settings_file(folder: Path, zone: str, region: str) -> Path:
    """What the admin writes before `discover`: the clinic's zone and region, the store."""
    path = folder / "settings.yaml"
    path.write_text(textwrap.dedent(f"""\
        clinic:
          timezone: {zone}
          default_region: {region}
        store:
          url: "sqlite:///{folder / 'store.db'}"
        connectors: []
        """), encoding="utf-8")
    return path


def load_schema(cursor: Any, product: str) -> None:
    """The product's trimmed DDL (tests/fixtures/ehr/<product>/schema.sql), comments aside."""
    text = (FIXTURES / product / "schema.sql").read_text(encoding="utf-8")
    ddl = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    for statement in ddl.split(";"):
        if statement.strip():
            cursor.execute(statement)


def wrong_fields(got: dict[str, Any] | None, want: Want, zone: str) -> list[str]:
    """Which of a visit's fields the store holds differently (field names, never values)."""
    if got is None:
        return ["missing"]
    patient, doctor = got.get("patient") or {}, got.get("practitioner") or {}
    have = (got["start"], got["status"], patient.get("id"), patient.get("name"), patient.get("phone"),
            doctor.get("id"))
    names = ("start", "status", "patient", "name", "phone", "doctor")
    bad = [f for f, h, w in zip(names, have, want, strict=True) if h != w]
    return bad + (["zone"] if got.get("timezone") != zone else [])
