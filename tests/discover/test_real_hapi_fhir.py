"""`discover` on the real shape of HAPI FHIR's own PostgreSQL database (tests/fixtures/ehr/hapi_fhir,
with its SOURCE note), the most used open-source FHIR server, which a clinic's EHR may run on and
whose database an admin may point clinicsync at instead of its FHIR API. What it has: one
generic table of resources (``HFJ_RESOURCE``, the type in ``RES_TYPE``), their versions with the
resource gzip-compressed in a large object (``HFJ_RES_VER.RES_TEXT``), and search-index tables
(``HFJ_SPIDX_DATE``: every resource's dates, an appointment's start among them; ``HFJ_RES_LINK``:
references). No table is a visit: the index rows are dates of any resource. Discover says what
the database is and points to the FHIR API; nothing is written."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.discover import real_ehr_support as real

ZONE, REGION = "America/Chicago", "US"
FIXTURE = real.FIXTURES / "hapi_fhir" / "schema.sql"


def _build(connection: psycopg.Connection[Any]) -> int:
    """Practitioners, patients and appointments as HAPI stores them; the appointments ahead."""
    for statement in FIXTURE.read_text(encoding="utf-8").split(";"):
        lines = [line for line in statement.splitlines() if not line.startswith("--")]
        if "".join(lines).strip():
            connection.execute("\n".join(lines))
    now = datetime.now().replace(microsecond=0)
    ids = iter(range(1, 100_000))
    index = iter(range(1, 100_000))

    def resource(kind: str, body: dict[str, Any], dates: list[tuple[str, datetime]],
                 links: list[tuple[str, int, str]]) -> int:
        rid = next(ids)
        blob = gzip.compress(json.dumps({"resourceType": kind, "id": str(rid), **body}).encode())
        connection.execute("INSERT INTO HFJ_RESOURCE (RES_ID, HAS_TAGS, RES_PUBLISHED, RES_UPDATED, RES_TYPE, RES_VER, "
                           "RES_VERSION, SP_DATE_PRESENT) VALUES (%s, false, %s, %s, %s, 1, 'R4', %s)",
                           (rid, now, now, kind, bool(dates)))
        connection.execute("INSERT INTO HFJ_RES_VER (PID, HAS_TAGS, RES_PUBLISHED, RES_UPDATED, RES_ENCODING, "
                           "RES_TEXT, RES_ID, RES_TYPE, RES_VER, RES_VERSION) VALUES (%s, false, %s, %s, 'JSONC', "
                           "lo_from_bytea(0, %s), %s, %s, 1, 'R4')", (rid, now, now, blob, rid, kind))
        for name, value in dates:
            connection.execute("INSERT INTO HFJ_SPIDX_DATE (SP_ID, SP_MISSING, SP_NAME, RES_ID, RES_TYPE, SP_UPDATED, "
                               "SP_VALUE_LOW, SP_VALUE_HIGH) VALUES (%s, false, %s, %s, %s, %s, %s, %s)",
                               (next(index), name, rid, kind, now, value, value))
        for path, target, target_kind in links:
            connection.execute("INSERT INTO HFJ_RES_LINK (PID, SRC_PATH, SRC_RESOURCE_ID, SOURCE_RESOURCE_TYPE, "
                               "TARGET_RESOURCE_ID, TARGET_RESOURCE_TYPE, SP_UPDATED) "
                               "VALUES (%s, %s, %s, %s, %s, %s, %s)", (next(index), path, rid, kind, target,
                                                                        target_kind, now))
        return rid

    doctors = [resource("Practitioner", {"name": [{"family": f"Doc{d}"}]}, [], []) for d in range(4)]
    patients = [resource("Patient", {"name": [{"family": f"Family{p}", "given": [f"Given{p}"]}],
                                     "telecom": [{"system": "phone", "value": f"+1312555{p:04d}"}]},
                         [("birthdate", datetime(1950 + p, 1 + p % 12, 1))], []) for p in range(60)]
    ahead = 0
    for n in range(150):
        start = (now + timedelta(days=n // 8 - 3, hours=n % 8)).replace(minute=0, second=0)
        ahead += start > now
        resource("Appointment", {"status": "booked", "start": start.isoformat()},
                 [("date", start)], [("Appointment.participant.actor", patients[n % 60], "Patient"),
                                     ("Appointment.participant.actor", doctors[n % 4], "Practitioner")])
    for n in range(200):  # observations: more dated rows than the visits
        resource("Observation", {"status": "final"}, [("date", now - timedelta(days=n))],
                 [("Observation.subject", patients[n % 60], "Patient")])
    return ahead


@pytest.mark.postgres
def test_hapi_fhir_store_is_named_and_the_fhir_api_pointed_to(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    """Read by its shape, the date index was taken for the visits. Discover now knows a FHIR
    server's store by a column whose values are FHIR resource types, says so, and points to the
    server's FHIR API; the settings file is left as it was."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        assert _build(connection) >= 100
    settings = real.settings_file(tmp_path, ZONE, REGION)
    before = settings.read_text(encoding="utf-8")
    _, out, err = cli(settings)("discover", postgres_url, "--write", expect=2)
    assert "names each row's FHIR resource type" in err and "FHIR base URL" in err and "kind: fhir" in err, (out, err)
    assert settings.read_text(encoding="utf-8") == before and not (tmp_path / "mappings").exists()
