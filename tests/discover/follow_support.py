"""What the follow-to-the-person tests share: build a schema in one of the two servers, run
discover --write (which runs `check`), sync once, and compare every stored visit with what the
source means, field by field (names of the fields that differ, never values)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.discover import ehr_support as ehr
from tests.discover import sql_support as data

ZONE = "America/New_York"
STATUS = ["booked", "cancelled", "fulfilled", "noshow"]
Want = dict[str, dict[str, Any]]  # visit id -> {"patient": …, "phone": …, "doctor": …, "doctor_name": …}
PEOPLE_FIELDS = ("status", "patient", "name", "phone", "email", "doctor", "doctor_name", "doctor_email")
T = TypeVar("T")


def create(cursor: Any, dialect: str, ddl: str) -> None:
    for key, value in ehr.TYPES[dialect].items():
        ddl = ddl.replace("{" + key + "}", value)
    for statement in ddl.split(";"):
        if statement.strip():
            cursor.execute(statement)


def slots(count: int, seed: int) -> list[datetime]:
    return data.future_slots(ZONE, count, seed=seed)


def stamp() -> datetime:
    return datetime.now().replace(microsecond=0) - timedelta(days=3)


def discover_and_sync(url: str, tmp_path: Path, cli: Any,
                      agendas: bool = True) -> tuple[dict[str, Any], str, dict[str, dict[str, Any]]]:
    """discover --write (its `check` must find no problem), then sync --once: the mapping's
    fields, discover's output and the stored visits by id. ``agendas=False``: a source with no
    doctor, whose admin turns the doctors' agendas off (data.admin_settings)."""
    settings = data.admin_settings(tmp_path, ZONE, agendas)
    run = cli(settings)
    _, out, _ = run("discover", url, "--timezone", ZONE, "--write")
    assert "0 would be quarantined, 0 problems" in out, out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    fields = yaml.safe_load((tmp_path / "mappings" / f"{connector['name']}.yaml").read_text())["fields"]
    _, sync_out, _ = run("sync", "--once", "--json")
    report = json.loads(sync_out)["connectors"][connector["name"]]
    assert (report["error"], report["quarantined"]) == (None, 0), report
    return fields, out, data.stored(run)


def built_and_synced(server: ehr.Server, fill: Callable[[Any, str], T], tmp_path: Path,
                     cli: Any) -> tuple[T, dict[str, Any], dict[str, dict[str, Any]]]:
    """``fill(cursor, dialect)`` run in the test's server (it creates its tables and rows and
    returns what the store must hold), then discover_and_sync: what fill returned, the
    mapping's fields and the stored visits by id."""
    url, opener, dialect = server
    with opener() as cursor:
        filled = fill(cursor, dialect)
    fields, _, found = discover_and_sync(url, tmp_path, cli)
    return filled, fields, found


def wrong(found: dict[str, dict[str, Any]], want: Want, checked: Sequence[str]) -> dict[str, list[str]]:
    """The visits whose stored fields differ from what the source means (field names only)."""
    out = {}
    for key, expected in want.items():
        got = found.get(key)
        if got is None:
            out[key] = ["missing"]
            continue
        patient, doctor = got.get("patient") or {}, got.get("practitioner") or {}
        have = {"status": got["status"], "patient": patient.get("id"), "name": patient.get("name"),
                "phone": patient.get("phone"), "email": patient.get("email"), "doctor": doctor.get("id"),
                "doctor_name": doctor.get("name"), "doctor_email": doctor.get("email")}
        bad = [f for f in checked if have[f] != expected[f]]
        if bad:
            out[key] = bad
    return out


def right_share(found: dict[str, dict[str, Any]], want: Want, checked: Sequence[str]) -> float:
    return 1 - len(wrong(found, want, checked)) / len(want)
