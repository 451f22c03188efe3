"""The column scorer (issue 34, "unknown schemas by their shape"): names in several languages,
declared types and sampled values place columns on the mapping's fields, each with a
confidence; the proposal then maps the sample through the real mapping engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from clinicsync.mappings.engine import load_mapping, stand_in_id
from clinicsync.mappings.model import MappingError
from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.scoring import Scored, mapping_from, score_columns
from clinicsync.sync.discover.statuses import status_words
from clinicsync.sync.discover.values import profile

FIXTURES_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "third_party" / "csv"

# A Spanish clinic's export as its own system names it: dates as dd/mm/yyyy text, a separate
# time column, status words in Spanish, two phone columns, names split in two.
SPANISH_HEADER = ["Nº Cita", "Fecha", "Hora inicio", "Hora fin", "Estado", "Tipo de visita", "Consultorio",
                  "Código paciente", "Nombre", "Apellidos", "Teléfono móvil", "Teléfono fijo", "Correo electrónico",
                  "Idioma", "Médico", "Email médico", "Fecha de nacimiento", "Observaciones"]
SPANISH_ROWS = [
    ["48211", "02/03/2026", "09:00", "09:30", "Confirmada", "Primera visita", "Consulta 1", "P-0912", "Lucía",
     "Fernández Ruiz", "612 345 678", "91 123 45 67", "lucia.fr@example.es", "es", "Dra. Marta Soler",
     "m.soler@clinica.example.es", "14/07/1985", ""],
    ["48212", "02/03/2026", "09:30", "10:00", "Anulada", "Revisión", "Consulta 2", "P-0377", "Jordi",
     "Puig", "+34 622 111 222", "", "", "ca", "Dr. Pablo Ortega", "p.ortega@clinica.example.es", "03/11/1972",
     "llamar antes"],
    ["48230", "17/03/2026", "16:15", "16:45", "No asistió", "Revisión", "Consulta 1", "P-1204", "Ana", "Gil",
     "633 987 654", "", "ana.gil@example.com", "es", "Dra. Marta Soler", "m.soler@clinica.example.es",
     "22/01/1990", ""],
    ["48244", "23/03/2026", "11:00", "11:20", "Reservada", "Vacunación", "Enfermería", "P-0912", "Lucía",
     "Fernández Ruiz", "612 345 678", "", "lucia.fr@example.es", "es", "Dra. Marta Soler",
     "m.soler@clinica.example.es", "14/07/1985", ""],
    ["48250", "30/03/2026", "12:40", "13:00", "Atendida", "Primera visita", "Consulta 2", "P-1500", "Carmen",
     "Navarro", "", "93 222 33 44", "", "es", "Dr. Pablo Ortega", "p.ortega@clinica.example.es", "30/05/2001",
     ""],
    ["48251", "31/03/2026", "17:00", "17:30", "Pendiente", "Revisión", "Consulta 1", "P-0377", "Jordi",
     "Puig", "+34 622 111 222", "", "", "ca", "Dra. Marta Soler", "m.soler@clinica.example.es", "03/11/1972",
     ""],
]

# What a human would map, field by field (the source it reads).
HUMAN = {
    "external_id": "Nº Cita",
    "start": "Fecha + Hora inicio",
    "end": "Fecha + Hora fin",
    "status": "Estado",
    "type": "Tipo de visita",
    "location": "Consultorio",
    "patient.external_id": "Código paciente",
    "patient.name": "Nombre + Apellidos",
    "patient.phone": "Teléfono móvil + Teléfono fijo",
    "patient.email": "Correo electrónico",
    "patient.language": "Idioma",
    "practitioner.name": "Médico",
    "practitioner.email": "Email médico",
}


def columns(header: list[str], rows: list[list[str]], types: list[str | None] | None = None) -> list[ColumnSample]:
    return [ColumnSample(name, (types or [None] * len(header))[i], [row[i] or None for row in rows])
            for i, name in enumerate(header)]


def map_rows(mapping: dict[str, Any], rows: list[dict[str, Any]], tmp_path: Path, region: str,
             zone: str = "Europe/Madrid") -> tuple[list[Any], list[MappingError]]:
    """The proposal's mapping written as its file and loaded with the project's loader, then
    every row mapped: what maps, and what would be quarantined."""
    (tmp_path / "proposed.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    compiled = load_mapping("proposed.yaml", zone, region, base_dir=tmp_path)
    mapped, failed = [], []
    for row in rows:
        try:
            mapped.append(compiled.apply(row))
        except MappingError as exc:
            failed.append(exc)
    return mapped, failed


def corrections(scored: Scored, human: dict[str, str]) -> list[str]:
    """The fields an admin would have to fix by hand: missing, or read from another column."""
    placed = {g.field: g.source for g in scored.guesses}
    return sorted(field for field, source in human.items() if placed.get(field) != source)


def test_spanish_export_every_field_a_human_maps_is_placed_with_a_confidence(tmp_path: Path) -> None:
    scored = score_columns(columns(SPANISH_HEADER, SPANISH_ROWS), region="ES")

    assert corrections(scored, HUMAN) == []  # the fields corrected by hand: none
    for guess in scored.guesses:
        assert 0.0 < guess.confidence <= 1.0, guess
        assert guess.why
    confidence = {g.field: g.confidence for g in scored.guesses}
    assert confidence["external_id"] >= 0.8 and confidence["start"] >= 0.7 and confidence["status"] >= 0.8
    # Nothing guessed silently: what no field took is listed.
    assert scored.unplaced == ["Fecha de nacimiento", "Observaciones"]
    # Dates are read day first: values above 12 in the first place say so.
    assert scored.datetime_formats == ["%d/%m/%Y %H:%M"]
    assert not scored.notes
    words = {w.value: (w.status, w.count) for w in scored.status_words}
    assert words == {"Confirmada": ("booked", 1), "Anulada": ("cancelled", 1), "No asistió": ("noshow", 1),
                     "Reservada": ("booked", 1), "Atendida": ("fulfilled", 1), "Pendiente": ("pending", 1)}
    # Reasons name columns and value classes, never a value (a sample row is patient data).
    text = " ".join(g.why for g in scored.guesses)
    assert "Lucía" not in text and "612" not in text and "@" not in text

    mapping = mapping_from(scored, "clinica")
    records = [dict(zip(SPANISH_HEADER, row, strict=True)) for row in SPANISH_ROWS]
    mapped, failed = map_rows(mapping, records, tmp_path, "ES")
    assert failed == []
    first = mapped[0]
    assert first.external_id == "48211"
    assert first.start.isoformat() == "2026-03-02T08:00:00+00:00"  # 09:00 in Madrid (CET)
    assert first.end.isoformat() == "2026-03-02T08:30:00+00:00"
    assert first.patient is not None and first.patient.name == "Lucía Fernández Ruiz"
    assert first.patient.phone == "+34612345678"
    assert first.patient.email == "lucia.fr@example.es"
    assert first.practitioner is not None and first.practitioner.email == "m.soler@clinica.example.es"
    assert [m.status for m in mapped] == ["booked", "cancelled", "noshow", "booked", "fulfilled", "pending"]
    assert mapped[4].patient is not None and mapped[4].patient.phone == "+34932223344"  # the landline fallback


def test_unknown_status_word_is_listed_unmapped() -> None:
    words = status_words(["Confirmada", "Confirmada", "Bloqueo agenda", None, "confirmada"])
    assert [(w.value, w.status, w.count) for w in words] == [
        ("Confirmada", "booked", 2), ("Bloqueo agenda", None, 1), ("confirmada", "booked", 1)]
    assert words[1].confidence == 0.0


@pytest.mark.parametrize(("values", "region", "expected", "certain"), [
    (["03/04/2026", "25/04/2026"], "US", "%d/%m/%Y", True),   # 25 can only be a day
    (["04/03/2026", "04/25/2026"], "ES", "%m/%d/%Y", True),   # 25 in second place: month first
    (["03/04/2026", "05/06/2026"], "US", "%m/%d/%Y", False),  # never said: the region's order
    (["03/04/2026", "05/06/2026"], "FR", "%d/%m/%Y", False),
    (["03.04.26", "28.04.26"], "DE", "%d.%m.%y", True),
    (["2026/03/02 09:30", "2026/12/25 10:00"], "JP", "%Y/%m/%d", True),  # year first
])
def test_local_dates_day_or_month_first_by_values(values: list[str], region: str, expected: str,
                                                 certain: bool) -> None:
    found = profile(values, region)
    assert found.date_format == expected
    assert found.date_order_certain is certain


def test_ambiguous_date_order_is_a_note() -> None:
    scored = score_columns([ColumnSample("id", None, ["1", "2"]),
                            ColumnSample("appointment date", None, ["03/04/2026 10:00", "05/06/2026 11:30"])],
                           region="GB")
    assert [g.field for g in scored.guesses] == ["external_id", "start", "duration_minutes"]
    assert scored.datetime_formats == ["%d/%m/%Y %H:%M"]
    assert any("check a date after the 12th" in note for note in scored.notes)
    # No end, no duration: a stated default, low confidence, and a note (never silent).
    assert scored.guesses[2].spec == {"value": 30} and scored.guesses[2].confidence <= 0.3
    assert any("no end or duration column" in note for note in scored.notes)


@pytest.mark.parametrize(("header", "field"), [
    ("dataConsulta", "start"), ("horário", "start"), ("telefone_celular", "patient.phone"),
    ("e-mail do paciente", "patient.email"), ("statut", "status"), ("Termin Status", "status"),
    ("Behandler", "practitioner.name"), ("salle", "location"), ("Dauer", "duration_minutes"),
    ("patientEmail", "patient.email"), ("DoctorName", "practitioner.name"), ("Sprache", "patient.language"),
    ("langue", "patient.language"), ("PatientID", "patient.external_id"), ("zona_horaria", "timezone"),
])
def test_names_in_several_languages_and_cases(header: str, field: str) -> None:
    samples = {
        "start": ["2026-03-02T09:00:00", "2026-03-03T10:00:00"],
        "patient.phone": ["+351 912 345 678", "+351 913 456 789"],
        "patient.email": ["a@example.pt", "b@example.pt"],
        "status": ["confirmé", "annulé"],
        "practitioner.name": ["Dr. Weber", "Dr. Fischer"],
        "location": ["Salle 1", "Salle 2"],
        "duration_minutes": ["30", "45"],
        "patient.language": ["de", "fr"],
        "patient.external_id": ["1001", "1002"],
        "timezone": ["Europe/Madrid", "Atlantic/Canary"],
    }[field]
    scored = score_columns([ColumnSample(header, None, samples)], region="PT")
    assert [(g.field, g.source) for g in scored.guesses if g.field == field] == [(field, header)]


def test_values_place_columns_whose_names_say_nothing() -> None:
    scored = score_columns([
        ColumnSample("c1", None, ["ana@example.org", "luis@example.org"]),
        ColumnSample("c2", None, ["Europe/Lisbon", "Europe/Lisbon"]),
        ColumnSample("c3", None, ["2026-03-02T09:00:00+01:00", "2026-03-05T11:00:00+01:00"]),
        ColumnSample("c4", None, ["booked", "cancelled"]),
        ColumnSample("c5", None, ["x", "y"]),
    ])
    placed = {g.field: g for g in scored.guesses}
    assert {f: placed[f].source for f in ("patient.email", "timezone", "start", "status")} == {
        "patient.email": "c1", "timezone": "c2", "start": "c3", "status": "c4"}
    assert all(g.confidence < 0.8 for g in scored.guesses)  # values alone: lower confidence
    assert scored.unplaced == ["c5"]


def test_declared_sql_types_and_iso_date_time_pair() -> None:
    scored = score_columns([
        ColumnSample("id", "INTEGER", ["1", "2"]),
        ColumnSample("visit_date", "DATE", ["2026-03-02", "2026-03-03"]),
        ColumnSample("visit_time", "TIME", ["09:00:00", "10:30:00"]),
        ColumnSample("updated_at", "DATETIME", [None, None]),
        ColumnSample("phone", "VARCHAR(20)", ["(212) 555-0100", "(917) 555-0111"]),
        ColumnSample("pid", "INTEGER", ["10", "11"], table="patients"),
    ])
    placed = {g.field: g for g in scored.guesses}
    assert placed["start"].spec == {"date": "visit_date", "time": "visit_time"}
    assert placed["source_updated_at"].source == "updated_at"
    assert placed["patient.phone"].source == "phone"
    assert placed["patient.external_id"].source == "pid"  # a column of the patients table
    assert scored.datetime_formats == []


def test_a_column_with_dots_is_quoted_as_a_path(tmp_path: Path) -> None:
    scored = score_columns([ColumnSample("Cita.ID", None, ["7", "8"]),
                            ColumnSample("Fecha/Hora", None, ["2026-03-02 09:00", "2026-03-02 10:00"])])
    mapping = mapping_from(scored, "dots")
    assert mapping["fields"]["external_id"]["from"] == "`Cita.ID`"
    mapped, failed = map_rows(mapping, [{"Cita.ID": "7", "Fecha/Hora": "2026-03-02 09:00"}], tmp_path, "ES")
    assert failed == [] and mapped[0].external_id == "7"


# docs/mappings.md's "A CSV export" example: the header and the mapping a human wrote for it.
DOCS_HEADER = ["Appt ID", "Appt Date/Time", "Length", "specialty", "MRN", "First Name", "Last Name", "Cell Phone",
               "Home Phone", "Contact Pref", "Confirmed", "Visit Type", "Video Link", "Status"]
DOCS_ROWS = [
    ["A1", "03/14/2026 09:30 AM", "30 min", "Cardiology", "M100", "Ann", "Lee", "(212) 555-0100", "(212) 555-0101",
     "Text", "Y", "Office", "", "Confirmed"],
    ["A2", "03/15/2026 02:00 PM", "45 min", "Dermatology", "M101", "Bo", "Kim", "(917) 555-0102", "", "Email", "N",
     "Video", "https://meet.example.com/a2", "No Show"],
    ["A3", "03/16/2026 10:15 AM", "30 min", "Cardiology", "M102", "Cy", "Ray", "", "(718) 555-0103",
     "Do not contact", "", "Phone", "", "Cancelled"],
]
DOCS_HUMAN = {"external_id": "Appt ID", "start": "Appt Date/Time", "duration_minutes": "Length", "type": "specialty",
              "patient.external_id": "MRN", "patient.name": "First Name + Last Name",
              "patient.phone": "Cell Phone + Home Phone", "patient.channel": "Contact Pref", "answer": "Confirmed",
              "visit_mode": "Visit Type", "join_url": "Video Link", "status": "Status"}


def test_the_docs_csv_example_is_placed_as_its_human_mapping(tmp_path: Path) -> None:
    scored = score_columns(columns(DOCS_HEADER, DOCS_ROWS), region="US")
    assert corrections(scored, DOCS_HUMAN) == []
    assert scored.unplaced == []
    placed = {g.field: g for g in scored.guesses}
    assert placed["duration_minutes"].spec == {"from": "Length", "type": "duration"}  # "30 min"
    assert placed["patient.channel"].spec["map"] == {"Do not contact": "none", "Email": "email", "Text": "sms"}
    assert scored.datetime_formats == ["%m/%d/%Y %I:%M %p"]
    mapped, failed = map_rows(mapping_from(scored, "desk"), [dict(zip(DOCS_HEADER, r, strict=True)) for r in DOCS_ROWS],
                              tmp_path, "US", "America/New_York")
    assert failed == []
    assert [m.status for m in mapped] == ["booked", "noshow", "cancelled"]
    assert mapped[1].start.isoformat() == "2026-03-15T18:00:00+00:00"  # 2 PM EDT
    assert [m.visit_mode for m in mapped] == ["in_person", "video", "phone"]
    assert mapped[0].patient is not None and mapped[0].patient.channel == "sms"
    assert mapped[2].patient is not None and mapped[2].patient.phone == "+17185550103"


def test_openemr_report_export_without_ids_still_maps_with_low_confidence_stand_ins(tmp_path: Path) -> None:
    """OpenEMR's Appointments Report CSV (header from tests/fixtures/third_party/csv): no
    appointment or patient id, status titles with a one-character marker."""
    header = (FIXTURES_CSV / "openemr_appointments_report_export_header.csv").read_text().strip().split(",")
    rows = [["Smith, John", "2026-03-16", "09:30", "Doe, Jane", "1 Main St", "1980-01-02", "Office Visit",
             "x Canceled"],
            ["Smith, John", "2026-03-16", "10:00", "Roe, Rick", "2 Main St", "1975-05-06", "Established Patient",
             "@ Arrived"],
            ["Jones, Amy", "2026-03-17", "14:15", "Poe, Ed", "3 Main St", "1990-07-08", "New Patient", "- None"]]
    scored = score_columns(columns(header, rows), region="US")
    placed = {g.field: g for g in scored.guesses}
    assert placed["external_id"].spec == {"concat": ["Date", "Time", "Patient", "Provider"]}
    assert placed["external_id"].confidence <= 0.3 and placed["patient.external_id"].confidence <= 0.3
    assert placed["start"].spec == {"date": "Date", "time": "Time"}
    assert scored.unplaced == ["Address", "DOB"]
    assert [(w.value, w.status) for w in scored.status_words] == [
        ("x Canceled", "cancelled"), ("@ Arrived", "arrived"), ("- None", "booked")]  # OpenEMR's '-': booked
    assert any("no appointment id column" in n for n in scored.notes)
    mapping = mapping_from(scored, "openemr-report")
    mapped, failed = map_rows(mapping, [dict(zip(header, r, strict=True)) for r in rows[:2]], tmp_path, "US",
                              "America/New_York")
    # The stand-in id holds no name: a hash of its readable form (kept aside for the store's re-key).
    assert failed == [] and mapped[0].former_id == "2026-03-16 09:30 Doe, Jane Smith, John"
    assert mapped[0].external_id == stand_in_id(mapped[0].former_id) and "Doe" not in mapped[0].external_id


def test_a_joined_spanish_schema_as_the_sql_discoverer_samples_it(tmp_path: Path) -> None:
    """citas joined with pacientes and medicos: joined columns carry their table's name
    (``table=``) and a stem (``paciente_nombre``); a MySQL TIME reads as ``9:30:00``."""
    samples = [
        ColumnSample("id", "INTEGER", ["7", "8", "9"]),
        ColumnSample("fecha", "DATE", ["2026-03-02", "2026-03-02", "2026-03-03"]),
        ColumnSample("hora", "TIME", ["9:30:00", "10:00:00", "16:15:00"]),
        ColumnSample("estado", "VARCHAR(20)", ["confirmada", "anulada", "pendiente"]),
        ColumnSample("paciente_id", "INTEGER", ["1", "2", "1"]),
        ColumnSample("medico_id", "INTEGER", ["4", "4", "5"]),
        ColumnSample("actualizado", "DATETIME", ["2026-02-20 10:00:00", "2026-02-21 11:00:00", "2026-02-22 09:00:00"]),
        ColumnSample("paciente_nombre", "VARCHAR(80)", ["Ana Gil", "Luis Martín", "Ana Gil"], table="pacientes"),
        ColumnSample("paciente_telefono", "VARCHAR(20)", ["612345678", "622111222", "612345678"], table="pacientes"),
        ColumnSample("paciente_email", "VARCHAR(80)", ["ana@example.es", None, "ana@example.es"], table="pacientes"),
        ColumnSample("medico_nombre", "VARCHAR(80)", ["Dra. Soler", "Dra. Soler", "Dr. Ortega"], table="medicos"),
        ColumnSample("medico_email", "VARCHAR(80)", ["soler@example.es", "soler@example.es", "ortega@example.es"],
                     table="medicos"),
        # The patient's own "estado" (a Mexican address's state) is no appointment status.
        ColumnSample("paciente_estado", "VARCHAR(20)", ["Jalisco", "activo", "Jalisco"], table="pacientes"),
    ]
    scored = score_columns(samples, region="ES")
    human = {"external_id": "id", "start": "fecha + hora", "status": "estado", "patient.external_id": "paciente_id",
             "practitioner.external_id": "medico_id", "source_updated_at": "actualizado",
             "patient.name": "paciente_nombre", "patient.phone": "paciente_telefono",
             "patient.email": "paciente_email", "practitioner.name": "medico_nombre",
             "practitioner.email": "medico_email"}
    assert corrections(scored, human) == []
    assert "paciente_estado" in scored.unplaced
    assert scored.datetime_formats == ["%Y-%m-%d %H:%M:%S"]  # 9:30:00 is no ISO time: read by format
    records = [{s.name: s.values[i] for s in samples} for i in range(3)]
    mapped, failed = map_rows(mapping_from(scored, "citas"), records, tmp_path, "ES")
    assert failed == []
    assert mapped[0].start.isoformat() == "2026-03-02T08:30:00+00:00"
    assert [m.status for m in mapped] == ["booked", "cancelled", "pending"]


def test_name_words_and_regions() -> None:
    from clinicsync.sync.discover.naming import region_of
    from clinicsync.sync.discover.vocab import name_tokens

    assert name_tokens("fechaCita") == ["fecha", "cita"]
    assert name_tokens("Teléfono móvil") == ["telefono", "movil"]
    assert name_tokens("PATIENT_ID") == ["patient", "id"]
    assert name_tokens("Nº Cita") == ["no", "cita"]
    assert region_of("Europe/Madrid") == "ES" and region_of("America/Sao_Paulo") == "BR"
    assert region_of(None) == "US" and region_of("Etc/UTC", "GB") == "GB"


def test_openemr_report_titles_map_by_their_code() -> None:
    """OpenEMR's Appointments Report exports the status list's titles (``- None``, ``* Reminder
    done``, ``AVM Confirmed``; header in ../shared/fixtures/csv, interface/reports/
    appointments_report.php): each means what the shipped openemr mapping maps its code to.
    Found on a trial export, where three of six titles were left unknown and 18 of 40 rows
    would have been quarantined."""
    from clinicsync.sync.discover.values import status_of

    assert [status_of(t) for t in ("- None", "* Reminder done", "AVM Confirmed", "x Canceled", "? No show",
                                   "% Canceled < 24h", "> Checked out")] == [
        "booked", "booked", "booked", "cancelled", "noshow", "cancelled", "fulfilled"]
    assert status_of("no asistió") == "noshow" and status_of("zz top") is None


def test_unix_seconds_in_a_whole_number_column_are_the_visit_times() -> None:
    """NOSH keeps a visit's start and end as Unix seconds in INT columns, and the row's MySQL
    TIMESTAMP beside them: the start is `start` read as `unix_seconds`, the stamp is the change
    time. Ten-digit numbers in a text column are phone numbers, never times."""
    scored = score_columns([
        ColumnSample("appt_id", "INTEGER", ["1", "2", "3"]),
        ColumnSample("start", "INTEGER", ["1796133600", "1796137200", "1796140800"]),
        ColumnSample("end", "INTEGER", ["1796135400", "1796139000", "1796142600"]),
        ColumnSample("timestamp", "TIMESTAMP", ["2026-11-27 10:00:00", "2026-11-27 10:05:00", "2026-11-27 10:09:00"]),
        ColumnSample("phone_cell", "VARCHAR(100)", ["3125550101", "3125550102", "3125550103"]),
        ColumnSample("phone_home", "VARCHAR(100)", ["3125550201", "3125550202", "3125550203"]),
        ColumnSample("emergency_phone", "VARCHAR(100)", ["3125550301", "3125550302", "3125550303"]),
        ColumnSample("cell_carrier", "VARCHAR(100)", ["Verizon", "Verizon", "T-Mobile"]),
    ])
    placed = {g.field: g for g in scored.guesses}
    assert placed["start"].spec == {"from": "start", "type": "unix_seconds"}
    assert placed["end"].spec == {"from": "end", "type": "unix_seconds"}
    assert "Unix times" in placed["start"].why
    assert placed["source_updated_at"].source == "timestamp"
    assert placed["patient.phone"].spec == {"from": ["phone_cell", "phone_home"]}  # the mobile first
    assert {"emergency_phone", "cell_carrier"} <= set(scored.unplaced)


def test_a_person_tables_other_columns_are_not_the_persons_name() -> None:
    """A joined providers table's `provider_license` (no value sampled) is no doctor's name."""
    scored = score_columns([
        ColumnSample("appt_id", "INTEGER", ["1", "2"]),
        ColumnSample("provider_id", "INTEGER", ["2", "3"]),
        ColumnSample("provider_license", "VARCHAR(100)", [None, None], table="providers"),
        ColumnSample("provider_npi", "VARCHAR(100)", ["1000000002", "1000000003"], table="providers"),
    ])
    placed = {g.field: g for g in scored.guesses}
    assert "practitioner.name" not in placed and {"provider_license", "provider_npi"} <= set(scored.unplaced)
    medico = score_columns([ColumnSample("medico", "VARCHAR(100)", ["Dra. Ruiz", "Dr. Gil"])])
    assert [g.source for g in medico.guesses if g.field == "practitioner.name"] == ["medico"]  # the word alone


def test_nosh_status_words() -> None:
    assert [(w.value, w.status) for w in status_words(["DNKA", "LMC", "Attended", "Pending"])] == [
        ("DNKA", "noshow"), ("LMC", "cancelled"), ("Attended", "fulfilled"), ("Pending", "pending")]


def test_a_stamp_is_no_visit_start_by_its_values_alone() -> None:
    """FreeMED's scheduler keeps the visit as a date, an hour and a minute, and `calcreated` (a
    name no word of which discover knows) as the row's creation time: its values alone must not
    make it the start. Visit starts fall on a booking grid; a stamp falls on any second."""
    stamps = ["2026-11-27 14:35:45", "2026-11-27 14:35:46", "2026-11-20 09:12:07", "2026-11-21 16:02:31"]
    visits = ["2026-11-27 14:30:00", "2026-11-28 09:15:00", "2026-11-20 09:00:00", "2026-11-21 16:45:00"]
    assert not any(g.field == "start" for g in score_columns([ColumnSample("calcreated", "TIMESTAMP", stamps)]).guesses)
    assert [g.source for g in score_columns([ColumnSample("c3", "DATETIME", visits)]).guesses
            if g.field == "start"] == ["c3"]
    named = score_columns([ColumnSample("start_time", "TIMESTAMP", stamps)])  # its name says start: taken
    assert [g.source for g in named.guesses if g.field == "start"] == ["start_time"]


def test_one_code_on_every_row_is_no_language_by_its_values_alone() -> None:
    """OSCAR's `ver` (a health card's version code, 'AB' on every row) or a country column ('CA')
    read as a language by its values would send every message in Abkhazian or Catalan: one code on
    every row says nothing of each patient and is left out; codes that vary are still read."""
    assert not any(g.field == "patient.language" for g in score_columns([ColumnSample("ver", "CHAR(3)",
                                                                                      ["AB"] * 40)]).guesses)
    varied = score_columns([ColumnSample("c7", "VARCHAR(5)", ["es", "en", "fr", "es"] * 10)])
    assert [g.source for g in varied.guesses if g.field == "patient.language"] == ["c7"]


def test_a_column_whose_values_contradict_the_field_is_never_placed() -> None:
    """A 0/1 SMS-consent flag named like a phone, beside the patient table's prefixed phone column:
    the phone column wins and the flag is left out, its reason naming what was looked at."""
    flags = ["0", "1"] * 25
    scored = score_columns([
        ColumnSample("id", "INTEGER", [str(n) for n in range(50)]),
        ColumnSample("sms_phone", "TINYINT", flags),
        ColumnSample("patient_pat_mobile", "VARCHAR(30)", [f"(212) 555-{n:04d}" for n in range(50)],
                     table="patient", prefixes=("pat",)),
    ])
    placed = {g.field: g for g in scored.guesses}
    assert placed["patient.phone"].source == "patient_pat_mobile"
    assert "sms_phone" in scored.unplaced


def test_a_phone_named_column_of_flags_alone_is_left_out_with_the_reason() -> None:
    scored = score_columns([ColumnSample("id", "INTEGER", ["1", "2", "3"]),
                            ColumnSample("sms_phone", "TINYINT", ["0", "1", "1"])])
    assert "patient.phone" not in {g.field for g in scored.guesses}
    assert any(n.startswith("patient.phone: left out") and "0% of 3 sampled values are phone numbers" in n
               for n in scored.notes), scored.notes


def test_a_name_is_never_made_of_a_change_stamp_or_numbers() -> None:
    scored = score_columns([
        ColumnSample("patient_firstname", "VARCHAR(40)", ["Ana", "Luis"], table="patient"),
        ColumnSample("patient_lastname", "VARCHAR(40)", ["Diaz", "Rey"], table="patient"),
        ColumnSample("patient_lastname_modified", "DATETIME", ["2023-08-29 13:10:00", "2023-08-30 10:00:00"],
                     table="patient"),
        ColumnSample("doctor_name", "INTEGER", ["17", "18"]),
    ])
    placed = {g.field: g for g in scored.guesses}
    assert placed["patient.name"].spec == {"concat": ["patient_firstname", "patient_lastname"]}
    assert "practitioner.name" not in placed  # numbers are no name


def test_empty_columns_are_never_placed() -> None:
    scored = score_columns([
        ColumnSample("id", "INTEGER", ["1", "2"]),
        ColumnSample("start", "DATETIME", ["2026-03-02 09:00:00", "2026-03-02 10:00:00"]),
        ColumnSample("visit_type", "VARCHAR(40)", [None, None]),
        ColumnSample("location", "VARCHAR(40)", [None, None]),
        ColumnSample("duration", "INTEGER", [None, None]),
    ])
    placed = {g.field: g for g in scored.guesses}
    assert "type" not in placed and "location" not in placed
    assert placed["duration_minutes"].spec == {"value": 30}  # the default, said so: not the empty column
    assert any(n.startswith("type: left out") and "no value in 2 sampled rows" in n for n in scored.notes)


def test_a_joined_rows_settings_are_no_visits_answer_mode_or_link() -> None:
    """An event type's "requires confirmation", its booking form's mode and its redirect URL are
    shared by every visit of the type: never the patient's answer, the visit's mode or join link."""
    scored = score_columns([
        ColumnSample("id", "INTEGER", ["1", "2", "3"]),
        ColumnSample("type_requires_confirmation", "TINYINT", ["1", "1", "0"], table="event_type"),
        ColumnSample("type_booking_mode", "VARCHAR(20)", ["phone", "phone", "phone"], table="event_type"),
        ColumnSample("type_redirect_url", "VARCHAR(90)", ["https://example.org/a"] * 3, table="event_type"),
        ColumnSample("cancellation_reason", "VARCHAR(90)", ["ill", "moved", "other"]),
    ])
    fields = {g.field for g in scored.guesses}
    assert not fields & {"answer", "visit_mode", "join_url", "type"}, fields
    assert any(n.startswith("answer: left out") and "joined table 'event_type'" in n for n in scored.notes)


def test_the_visits_own_answer_column_is_still_placed() -> None:
    scored = score_columns([ColumnSample("id", "INTEGER", ["1", "2"]),
                            ColumnSample("confirmed", "VARCHAR(3)", ["yes", "no"])])
    assert {g.field: g.source for g in scored.guesses}["answer"] == "confirmed"


def test_a_status_lookup_tables_name_is_the_visits_status() -> None:
    """Read through the visit's own status code, a status table's word is the visit's own."""
    scored = score_columns([ColumnSample("id", "INTEGER", ["1", "2", "3"]),
                            ColumnSample("status_name", "VARCHAR(20)", ["booked", "cancelled", "booked"],
                                         table="appointment_status")])
    assert {g.field: g.source for g in scored.guesses}["status"] == "status_name"


def test_all_capital_glued_names_a_length_in_hours_and_minutes_and_an_end_with_gaps() -> None:
    """Names written in capitals glue their words (PLANNEDEND), a length is kept as '0:30' (a clock
    before 05:00 is no visit's time of day), and an end empty on some rows needs a length beside it."""
    from clinicsync.sync.discover.vocab import name_tokens

    assert name_tokens("OC_PLANNING_PLANNEDEND") == ["oc", "planning", "planned", "end"]
    assert name_tokens("BK_SLOTS_CLIENTUID") == ["bk", "slots", "client", "uid"]
    assert name_tokens("candidate") == ["candidate"]  # a lower-case word is never cut
    scored = score_columns([
        ColumnSample("BK_BEGIN", "DATETIME", ["2026-03-02 09:00:00", "2026-03-03 10:30:00", "2026-03-04 11:00:00"]),
        ColumnSample("BK_PLANNEDEND", "DATETIME", ["2026-03-02 09:30:00", None, "2026-03-04 11:45:00"]),
        ColumnSample("BK_ESTIMATE", "VARCHAR(10)", ["0:30", "1:00", "0:45"]),
    ])
    placed = {g.field: g for g in scored.guesses}
    assert placed["end"].source == "BK_PLANNEDEND"
    assert placed["duration_minutes"].spec == {"from": "BK_ESTIMATE", "type": "duration"}
    without = score_columns([
        ColumnSample("BK_BEGIN", "DATETIME", ["2026-03-02 09:00:00", "2026-03-03 10:30:00"]),
        ColumnSample("BK_PLANNEDEND", "DATETIME", ["2026-03-02 09:30:00", None]),
    ])
    length = next(g for g in without.guesses if g.field == "duration_minutes")
    assert length.spec == {"value": 30} and "where the end is empty" in length.why


def test_a_column_reached_through_the_patients_reference_is_no_visit_field() -> None:
    """A joined person table no name calls the patient's ('Admin'), reached through the patient's
    reference: its 'person_type' is the person's kind, not the visit's type."""
    scored = score_columns([
        ColumnSample("BK_BEGIN", "DATETIME", ["2026-03-02 09:00:00", "2026-03-03 10:30:00"]),
        ColumnSample("BK_PATIENT_person_type", "CHAR(1)", ["Patient", "Patient"], table="Admin"),
        ColumnSample("visit_type", "VARCHAR(20)", ["Consultation", "Follow-up"]),
    ])
    placed = {g.field: g for g in scored.guesses}
    assert placed["type"].source == "visit_type"
    alone = score_columns([
        ColumnSample("BK_BEGIN", "DATETIME", ["2026-03-02 09:00:00", "2026-03-03 10:30:00"]),
        ColumnSample("BK_PATIENT_person_type", "CHAR(1)", ["Patient", "Patient"], table="Admin"),
    ])
    assert "type" not in {g.field for g in alone.guesses}


def test_a_users_table_reached_as_the_doctor_gives_the_doctor_its_email() -> None:
    """A login table is anyone's: reached as the patient (``patient_email``) its columns are the
    patient's; reached as the doctor (the join named its columns ``doctor_*``, Django's
    ``users_user``, Cal.com's ``users``) its email is the doctor's, not a patient's."""
    emails = ["ana@clinic.example", "ben@clinic.example", "", "ana@clinic.example"]
    for table in ("users_user", "users"):
        scored = score_columns([ColumnSample("id", "integer", ["1", "2", "3", "4"]),
                                ColumnSample("doctor_email", "varchar(254)", emails, table, ("users",)),
                                ColumnSample("patient_email", "varchar(254)", ["p1@mail.example", "p2@mail.example",
                                                                               None, "p4@mail.example"],
                                             "patients", ())])
        placed = {g.field: g.source for g in scored.guesses}
        assert placed.get("practitioner.email") == "doctor_email", (table, placed)
        assert placed.get("patient.email") == "patient_email", (table, placed)


def test_a_named_date_and_time_pair_beats_a_stamp_read_as_a_start_by_its_values() -> None:
    """OSCAR's ``createdatetime`` (a name the scorer does not read) written on the quarter hour
    looks like visit starts by its values alone; ``appointment_date`` + ``start_time``, named
    so, are the start whatever minute the rows were created at."""
    rows = [[f"2026-12-{1 + n % 20:02d}", f"{9 + n % 8:02d}:{15 * (n % 4):02d}:00",
             f"2026-11-{1 + n % 9:02d} 22:30:00", str(n)] for n in range(40)]
    scored = score_columns(columns(["appointment_date", "start_time", "createdatetime", "appointment_no"], rows,
                                   ["DATE", "TIME", "DATETIME", "INTEGER"]))
    start = next(g for g in scored.guesses if g.field == "start")
    assert start.spec == {"date": "appointment_date", "time": "start_time"}, start


def test_a_code_or_number_word_in_front_of_a_reference_is_no_part_of_its_stem() -> None:
    """The stem a joined table's columns are named by: a code's or number's word in front
    (Khanza's ``kd_dokter``, ``no_rkm_medis``) is taken off like one behind (``patient_id``), so
    ``dokter_nm_dokter`` reads as a name and not, by its ``kd``, as an id; and Indonesian
    column words are known (``nm`` name, ``tlp`` phone, ``poli`` a clinic, ``pasien``, ``dokter``)."""
    from clinicsync.sync.discover.kinds import kind_of
    from clinicsync.sync.discover.readplan import stem_of
    from clinicsync.sync.discover.vocab import token_role

    assert (stem_of("kd_dokter", "dokter"), stem_of("no_rkm_medis", "pasien")) == ("dokter", "rkm_medis")
    assert (stem_of("patient_id", "p"), stem_of("demographic_no", "d"), stem_of("pid", "demographics")) == \
        ("patient", "demographic", "demographics")
    assert [token_role(t) for t in ("nm", "tlp", "poli", "tanggal", "jam")] == \
        ["name", "phone", "location", "date", "time"]
    assert (kind_of("pasien"), kind_of("dokter")) == ("patient", "provider")


def test_a_joined_doctors_columns_are_never_cited_for_the_patients_fields() -> None:
    """A doctor's users row joined beside the visit brings its ``language`` and ``tz`` settings
    (Vtiger's ``vtiger_users``, empty on every row): they could never be the patient's language or
    the visit's zone, so the "left out, not guessed" notes do not cite them as if they had been
    weighed and refused."""
    now = ["2030-01-07 09:00:00", "2030-01-07 09:30:00", "2030-01-08 10:00:00"] * 4
    scored = score_columns([
        ColumnSample("id", "INTEGER", [str(n) for n in range(12)]),
        ColumnSample("date_start", "DATETIME", now),
        ColumnSample("doctor_language", "VARCHAR(36)", [None] * 12, table="vtiger_users"),
        ColumnSample("doctor_tz", "VARCHAR(200)", [None] * 12, table="vtiger_users"),
        ColumnSample("doctor_user_preferences", "TEXT", [None] * 12, table="vtiger_users"),
    ])
    assert not any("doctor_" in n for n in scored.notes), scored.notes
    assert not any(g.source.startswith("doctor_") and not g.field.startswith("practitioner.")
                   for g in scored.guesses), scored.guesses
