"""`discover` for a CSV export (issue 34): the demo's own drop format is proposed as
csv_default; a Spanish clinic's export (semicolons, Windows-1252, dd/mm/yyyy text, Spanish
status words) gets a mapping of its own; both are checked by the real `check`, and every
valid row maps through the real mapping engine."""

from __future__ import annotations

import csv
import os
import shutil
import time
from datetime import date
from pathlib import Path

import pytest

from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import MappingError
from clinicsync.sync.cli.demo import generate_rows, write_csv
from clinicsync.sync.discover.csv import discover_csv, read_sample
from tests.discover.files_support import check_proposal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "discover"
DEMO_BAD_IDS = {"", "BAD-DATE", "BAD-PATIENT", "BAD-END", "BAD-STATUS", "BAD-DST"}  # sync/cli/demo.py's _bad_rows


def test_the_demo_drop_file_is_proposed_as_csv_default(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    rows = generate_rows(date(2026, 3, 2))
    write_csv(rows, drop / "appointments.csv")

    proposal = discover_csv(str(drop), timezone="America/New_York")

    assert proposal.kind == "csv" and proposal.product == "csv_default"
    assert proposal.mapping_preset == "csv_default" and proposal.mapping is None
    assert proposal.connector == {"name": proposal.name, "kind": "csv", "drop_dir": str(drop.resolve()),
                                  "mode": "delta", "timezone": "America/New_York"}
    assert all(g.confidence == 1.0 for g in proposal.guesses)
    assert {g.field for g in proposal.guesses} >= {"external_id", "start", "status", "patient.phone"}
    # The demo's deliberately unknown word is listed, unmapped, with a note: never silent.
    assert ("maybe later", None) in {(w.value, w.status) for w in proposal.status_words}
    assert any("status word(s) csv_default does not know" in n for n in proposal.notes)

    compiled = load_mapping("csv_default", "America/New_York", "US")
    failed = set()
    with (drop / "appointments.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                compiled.apply(row)
            except MappingError:
                failed.add(row["appointment_id"])
    assert failed == DEMO_BAD_IDS  # only the rows the demo made bad on purpose


def test_a_spanish_export_gets_its_own_mapping_that_maps_every_row(tmp_path: Path) -> None:
    drop = tmp_path / "exportaciones"
    drop.mkdir()
    shutil.copy(FIXTURES / "citas_clinica_es.cp1252.txt", drop / "citas_clinica_es.csv")
    os.utime(drop / "citas_clinica_es.csv", (time.time() - 60, time.time() - 60))  # settled, as a dropped file is

    proposal = discover_csv(drop / "citas_clinica_es.csv", timezone="Europe/Madrid")

    assert proposal.product is None and proposal.mapping_preset is None
    assert proposal.name == "exportaciones"
    assert proposal.connector["delimiter"] == ";" and proposal.connector["encoding"] == "cp1252"
    assert proposal.mapping is not None
    placed = {g.field: g.source for g in proposal.guesses}
    assert placed == {
        "external_id": "Nº Cita", "start": "Fecha + Hora", "duration_minutes": "Duración", "status": "Estado",
        "type": "Tratamiento", "location": "Gabinete", "patient.external_id": "NHC", "patient.name": "Paciente",
        "patient.phone": "Móvil + Teléfono", "patient.email": "E-mail", "practitioner.name": "Profesional",
        "practitioner.external_id": "Profesional"}
    assert proposal.unplaced == ["Observaciones"]
    assert proposal.mapping["datetime_formats"] == ["%d/%m/%Y %H:%M"]
    assert {w.value: w.status for w in proposal.status_words} == {
        "Confirmada": "booked", "Pendiente": "pending", "Anulada": "cancelled", "No asistió": "noshow",
        "Atendida": "fulfilled", "Reservada": "booked"}

    result = check_proposal(proposal, tmp_path, "Europe/Madrid", "ES")
    assert result.problems == [] and result.ok, (result.problems, result.findings)
    assert result.whole and result.sampled == 36 and result.mapped == 36
    assert result.quarantined_count == 0


def test_the_sample_spans_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "when"])
        out.writerows([str(n), f"2026-03-02T09:{n % 60:02d}"] for n in range(5000))
    sample = read_sample(path)
    ids = [int(r["id"]) for r in sample.rows]
    assert sample.total == 5000 and len(ids) == 120
    assert ids[:40] == list(range(40)) and ids[-40:] == list(range(4960, 5000))
    middle = ids[40:80]
    assert middle == sorted(middle) and min(middle) >= 40 and max(middle) < 4960
    assert max(middle) - min(middle) > 2500  # spread through the middle, not bunched


def test_a_folder_without_an_export_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no \.csv file"):
        discover_csv(tmp_path)


def test_two_exports_listing_the_same_schedule_make_a_snapshot(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    rows = [r for r in generate_rows(date(2026, 3, 2)) if r["appointment_id"].startswith("A")]
    write_csv(rows[:200], drop / "export-1.csv")
    os.utime(drop / "export-1.csv", (time.time() - 86_400, time.time() - 86_400))
    write_csv(rows[20:220], drop / "export-2.csv")  # yesterday's schedule, moved on by a day

    proposal = discover_csv(drop)

    assert proposal.connector["mode"] == "snapshot"
    assert proposal.connector_notes["mode"].startswith("90% of the appointments in export-1.csv are listed again")

    write_csv(rows[200:], drop / "export-2.csv")  # only new bookings: a delta feed
    assert discover_csv(drop).connector["mode"] == "delta"
