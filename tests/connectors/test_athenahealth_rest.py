"""athenahealth's proprietary REST API rows (real captures of athenaOne v1, MIT-licensed:
tests/fixtures/athenahealth/SOURCE.md) imported with a site mapping over the generic path:
the rows landed flat in a CSV drop folder, read by the csv connector and mapped by
examples/mappings/athenahealth_rest.yaml. clinicsync does not call athena's REST API
itself; this shows what such rows need (MM/DD/YYYY + HH:MM, duration as a string or a
number or absent, status codes x/f/o/2/3/4, the zone from the department) and that each
row imports or is quarantined with a reason."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import MappingError
from tests.connectors.csv_support import settle

ROOT = Path(__file__).resolve().parents[2]
SITE_MAPPING = ROOT / "examples" / "mappings" / "athenahealth_rest.yaml"
FIXTURES = ROOT / "tests" / "fixtures" / "athenahealth"
MAPPING = load_mapping(str(SITE_MAPPING), "America/Chicago", "US")


def rows(name: str) -> list[dict[str, Any]]:
    """A capture's appointment rows: a list answer ({"appointments": [...]}) or a bare array."""
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data["appointments"] if isinstance(data, dict) else data  # type: ignore[no-any-return]


BOOKED_2016 = rows("htd-health-athena_health/booked_appointments.response-body.json")


# (case, row, id, status, start in UTC, minutes, type)
ROW_CASES: list[tuple[str, dict[str, Any], str, str, str, int, str]] = [
    ("2016 booked list: duration a string, status f", BOOKED_2016[0],
     "695324", "booked", "2016-04-03T04:00:00+00:00", 10, "Office Visit"),
    ("a single GET answers a bare array; status 2, two type names",
     rows("htd-health-athena_health/find_appointment.response-body.json")[0],
     "150777", "checked-in", "2016-06-02T16:00:00+00:00", 5, "VIDEO CHAT"),
    ("2020 booked list: duration a number", rows("eleanorhealth-go-athenahealth/ListBookedAppointments.json")[0],
     "3132", "booked", "2020-10-25T13:30:00+00:00", 30, "FOLLOW UP 30 - Virtual"),
    ("changed list: status x", rows("eleanorhealth-go-athenahealth/ListChangedAppointments.json")[0],
     "1050322", "cancelled", "2020-06-02T14:00:00+00:00", 15, "Any 15"),
    ("a patient's appointments: no duration (the type's), no patientid",
     rows("htd-health-athena_health/patient_appointments.response-body.json")[0],
     "660077", "booked", "2016-04-07T12:45:00+00:00", 30, "Follow Up Appointment"),
    ("status 3 (checked out)", {**BOOKED_2016[0], "appointmentstatus": "3"},
     "695324", "fulfilled", "2016-04-03T04:00:00+00:00", 10, "Office Visit"),
]


@pytest.mark.parametrize(("row", "rid", "status", "start", "minutes", "kind"), [c[1:] for c in ROW_CASES],
                         ids=[c[0] for c in ROW_CASES])
def test_athena_rows_map(row: dict[str, Any], rid: str, status: str, start: str, minutes: int, kind: str) -> None:
    result = MAPPING.apply(row)
    assert (result.external_id, result.status, result.start.isoformat()) == (rid, status, start)
    assert (result.end - result.start).total_seconds() == minutes * 60
    assert result.timezone == "America/New_York" and result.type == kind


def test_every_row_of_the_2016_booked_list_maps() -> None:
    mapped = [MAPPING.apply(row) for row in BOOKED_2016]
    assert len(mapped) == 103
    assert {a.status for a in mapped} == {"booked", "checked-in"}
    assert all(a.patient is not None and a.practitioner is not None for a in mapped)


# (case, row, field, reason)
QUARANTINE_CASES = [
    ("status o is an open slot", rows("eleanorhealth-go-athenahealth/GetAppointment.json")[0], "status",
     "no usable value (required): athenahealth status 'o' is an open slot"),
    ("a status code athena does not document", {**BOOKED_2016[0], "appointmentstatus": "z"}, "status",
     "value 'z' not in the mapping's value map"),
    ("a department whose zone the site did not map", {**BOOKED_2016[0], "departmentid": "999"}, "timezone",
     "value not in the mapping's value map"),
]


@pytest.mark.parametrize(("row", "field", "reason"), [c[1:] for c in QUARANTINE_CASES],
                         ids=[c[0] for c in QUARANTINE_CASES])
def test_athena_rows_that_cannot_import_say_why(row: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(MappingError) as caught:
        MAPPING.apply(row)
    assert caught.value.field == field and caught.value.reason.startswith(reason)


def test_a_department_the_site_named_no_location_for_imports_without_one_and_a_note() -> None:
    """Optional data: the location is dropped with a note, the appointment imports."""
    result = MAPPING.apply(rows("eleanorhealth-go-athenahealth/ListChangedAppointments.json")[0])
    assert result.location is None and result.timezone == "America/New_York"
    assert len(result.notes) == 1 and result.notes[0].startswith("location: dropped")
    assert MAPPING.apply(BOOKED_2016[0]).location == "Foo Bar Health Boston"


def test_landed_as_csv_the_rows_import_through_the_csv_connector(
        write_settings: Callable[..., Path], drop_dir: Path, cli: Any) -> None:
    """The generic path end to end: athena's rows as a CSV file (its keys the header), the
    csv connector, the site mapping, the store. The duplicate row of the 2020 list (same
    appointmentid twice) is one appointment."""
    data = [*BOOKED_2016, *rows("eleanorhealth-go-athenahealth/ListBookedAppointments.json"),
            *rows("eleanorhealth-go-athenahealth/GetAppointment.json")]
    columns = sorted({key for row in data for key in row if not isinstance(row[key], (dict, list))})
    path = drop_dir / "athena-booked.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(data)
    settle(path)
    run = cli(write_settings(f"- name: athena\n  kind: csv\n  mapping: {SITE_MAPPING}\n  drop_dir: {drop_dir}\n"))
    report = json.loads(run("sync", "--once", "--json")[1])["connectors"]["athena"]
    assert (report["created"], report["quarantined"], report["error"]) == (103 + 1, 1, None)
