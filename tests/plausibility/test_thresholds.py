"""Each plausibility finding's thresholds, on visits built in memory: what trips it, and
what a real practice does that must not (3 visits of one patient, a night clinic's few
night visits, an evening clinic, a clock change)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner
from clinicsync.mappings.preset_schema import MappingPreset
from clinicsync.sync.ingest.plausibility import Profile, ProfileReport

NY = "America/New_York"
NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)
DAY = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17]  # a clinic's start hours


def visit(n: int, hour: int, minute: int = 0, zone: str = NY, day: int = 0, **changes: Any) -> NormalizedAppointment:
    local = datetime(2026, 11, 10, tzinfo=ZoneInfo(zone)) + timedelta(days=day + n // 10)
    start = local.replace(hour=hour, minute=minute).astimezone(UTC)
    fields: dict[str, Any] = {
        "external_id": f"A{n}", "status": "booked", "start": start, "end": start + timedelta(minutes=30),
        "timezone": zone, "type": "Follow-up",
        "patient": NormalizedPatient(f"P{n}", f"Zelda Quill{n}", f"+1212555{n:04d}", f"z{n}@example.org"),
        "practitioner": NormalizedPractitioner(f"D{n % 3}", f"Dr. Ada Stone{n % 3}")}
    fields.update(changes)
    return NormalizedAppointment(**fields)


def profile(visits: list[NormalizedAppointment], records: list[dict[str, Any]] | None = None,
            preset: MappingPreset | None = None, clinic: str = NY) -> ProfileReport:
    p = Profile(preset, clinic, now=NOW)
    for index, appointment in enumerate(visits):
        p.add(records[index] if records else {}, appointment)
    return p.report()


def checks(report: ProfileReport, level: str = "error") -> list[str]:
    return [f.check for f in report.findings if f.level == level]


def clinic_day(count: int = 100, shift: int = 0, zone: str = NY) -> list[NormalizedAppointment]:
    """``count`` visits on the quarter hours of 08:00-17:45, every start moved ``shift`` hours."""
    out = []
    for n in range(count):
        hour, minute = DAY[n % len(DAY)], 15 * (n % 4)
        moved = datetime(2026, 1, 1, hour, minute) + timedelta(hours=shift)
        out.append(visit(n, moved.hour, moved.minute, zone))
    return out


def test_a_clinic_day_is_plausible() -> None:
    report = profile(clinic_day())
    assert report.findings == [] and report.visits == 100
    assert "local start hours 08:00-17:59, 0 of 100 at night" in report.summary


def test_starts_five_hours_late_name_the_shift_and_the_settings() -> None:
    report = profile(clinic_day(shift=5))  # naive UTC read as New York time
    (finding,) = report.errors
    assert (finding.check, finding.field) == ("start_hours", "start")
    assert "shifted by +5 hours" in finding.message and "08:00-17:59" in finding.message
    assert "`stored_times: utc`" in finding.message and "`timezone:`" in finding.message


def test_starts_five_hours_early_name_the_shift_and_the_settings() -> None:
    report = profile(clinic_day(shift=-5))  # New York wall-clock times read as UTC
    (finding,) = report.errors
    assert "shifted by -5 hours" in finding.message and "5 hours later" in finding.message
    assert "`stored_times: local`" in finding.message and "`timezone:`" in finding.message


def test_a_night_clinic_with_a_few_real_night_visits_passes() -> None:
    visits = [*clinic_day(60), visit(900, 22, 30), visit(901, 23), visit(902, 2, 15), visit(903, 4)]
    report = profile(visits)
    assert report.findings == [], report.findings
    assert "4 of 64 at night" in report.summary


def test_an_evening_clinic_passes_with_a_question() -> None:
    report = profile(clinic_day(shift=4))  # 12:00-21:45: late, not shifted
    assert checks(report) == [] and checks(report, "warning") == ["start_hours"]  # "in the morning?"


def test_no_morning_visits_that_a_shift_would_make_a_morning_warn() -> None:
    day = [visit(n, (8, 9, 10, 11, 13, 14, 15, 16)[n % 8], 15 * (n % 4)) for n in range(80)]  # 08:00-16:45
    late = [visit(n, a.start.astimezone(ZoneInfo(NY)).hour + 5, 15 * (n % 4)) for n, a in enumerate(day)]
    report = profile(late)  # 13:00-21:45: no night visit to prove it
    assert checks(report) == [] and checks(report, "warning") == ["start_hours"]
    assert "no visit starts in the morning" in report.findings[0].message
    assert "times are shifted by +5 hours" in report.findings[0].message and "08:00-16:59" in report.findings[0].message
    assert "`stored_times: utc`" in report.findings[0].message
    assert profile(day).findings == []
    assert profile(late[:19]).findings == []  # too few to say


def test_too_few_visits_or_one_slot_say_nothing() -> None:
    assert profile(clinic_day(19, shift=-5)).findings == []  # 19 visits: below MIN_VISITS
    assert profile([visit(n, 2, 30) for n in range(30)]).findings == []  # every visit at 02:30: a slot, not a day


def test_a_shift_across_a_clock_change_is_found_with_each_visit_s_own_offset() -> None:
    visits = []
    for n in range(80):  # 08:00-17:00 New York around 1 Nov 2026 (EDT -4, then EST -5), stored as UTC
        local = datetime(2026, 10, 30, 8 + n % 10, tzinfo=ZoneInfo(NY)) + timedelta(days=n // 10)
        wall_utc = local.astimezone(UTC).replace(tzinfo=None)  # the source's naive UTC ...
        misread = wall_utc.replace(tzinfo=ZoneInfo(NY)).astimezone(UTC)  # ... read as New York time
        visits.append(visit(n, 0, start=misread, end=misread + timedelta(minutes=20)))
    (finding,) = profile(visits).errors
    assert "`stored_times: utc`" in finding.message and "they would all start 08:00-17:59" in finding.message


def test_visits_in_utc_for_a_clinic_elsewhere_fail() -> None:
    visits = [visit(n, DAY[n % 10], zone="UTC") for n in range(20)]
    (finding,) = profile(visits).errors
    assert (finding.check, finding.field) == ("visit_zone", "timezone")
    assert "clinic.timezone is America/New_York" in finding.message and "`stored_times: utc`" in finding.message
    assert profile(visits, clinic="Etc/UTC").findings == []  # a clinic that lives in UTC


def test_a_shift_no_offset_explains_is_estimated() -> None:
    visits = clinic_day(80, shift=-6, zone="Europe/London")  # winter: London is UTC+0, no offset to blame
    (finding,) = profile(visits, clinic="Europe/London").errors
    assert "shifted by about -6 hours (about 6 hours early)" in finding.message and "stored_times" in finding.message


def test_a_day_of_dates_without_times_is_a_warning_not_a_shift() -> None:
    visits = [visit(n, 0) for n in range(20)]
    assert checks(profile(visits)) == [] and checks(profile(visits), "warning") == ["start_hours"]


def test_three_visits_of_one_patient_are_a_small_practice() -> None:
    patient = NormalizedPatient("P1", "Zelda Quill", "+12125550100")
    visits = [visit(n, 10, patient=patient) for n in range(3)]
    assert profile(visits).findings == []


def test_the_row_s_creator_as_the_patient_fails() -> None:
    visits = [visit(n, DAY[n % 10], patient=NormalizedPatient(f"U{n % 2}", f"Front Desk {n % 2}")) for n in range(40)]
    report = profile(visits)
    assert [(f.check, f.field) for f in report.errors] == [("patient_identity", "patient.external_id")]
    assert "2 distinct patient(s) for 40 visits" in report.errors[0].message


def test_a_patient_on_most_visits_fails_even_among_others() -> None:
    visits = [visit(n, DAY[n % 10], patient=NormalizedPatient("U1" if n % 3 else f"P{n}")) for n in range(30)]
    assert checks(profile(visits)) == ["patient_identity"]


def test_many_visits_of_a_few_regular_patients_pass() -> None:  # a physiotherapy practice: 12 patients, 60 visits
    visits = [visit(n, DAY[n % 10], patient=NormalizedPatient(f"P{n % 12}", f"Zelda Quill{n % 12}",
                                                              f"z{n % 12}@example.org")) for n in range(60)]
    assert profile(visits).findings == []


def test_the_appointment_key_as_the_patient_id_fails() -> None:
    visits = [visit(n, DAY[n % 10], patient=NormalizedPatient(f"A{n}", f"Zelda Quill{n}")) for n in range(12)]
    preset = MappingPreset.model_validate({"name": "m", "fields": {"external_id": {"from": "id"},
                                                                   "patient.external_id": {"from": "id"}}})
    (finding,) = profile(visits, preset=preset).errors
    assert finding.field == "patient.external_id" and "12 of 12 (100%)" in finding.message
    assert "(the mapping reads `id`)" in finding.message
    few = [visit(n, DAY[n % 10], patient=NormalizedPatient(f"A{n}")) for n in range(4)]
    assert profile(few).findings == []  # 4 visits prove nothing


def test_ids_that_match_by_coincidence_pass() -> None:  # appointment 1..80 of patients 1..80, then again
    visits = [visit(n, DAY[n % 10], external_id=str(n), patient=NormalizedPatient(str(n % 80), email="z@example.org"))
              for n in range(200)]
    assert profile(visits).findings == []


def test_the_service_name_as_the_patient_name_fails() -> None:
    visits = [visit(n, DAY[n % 10], type="Consultation",
                    patient=NormalizedPatient(f"P{n}", "Consultation", f"+1212555{n:04d}")) for n in range(30)]
    report = profile(visits)
    assert [(f.check, f.field) for f in report.errors] == [("patient_identity", "patient.name")]
    assert "equals the visit type" in report.errors[0].message
    spaced = [visit(n, DAY[n % 10], type="Consultation", patient=NormalizedPatient(f"P{n}", " consultation "))
              for n in range(30)]
    assert checks(profile(spaced)) == ["patient_identity"]  # case and spaces aside


def test_a_handful_of_names_for_many_patients_fails() -> None:
    visits = [visit(n, DAY[n % 10], type=None, patient=NormalizedPatient(f"P{n}", ["Checkup", "Vaccine"][n % 2]))
              for n in range(30)]
    (finding,) = profile(visits).errors
    assert "2 distinct name(s) for 30 different patients" in finding.message


def test_soft_deleted_rows_mapped_as_live_fail_naming_the_column() -> None:
    visits = clinic_day(20)
    records = [{"voided": 1 if n < 3 else 0, "status": "scheduled"} for n in range(20)]
    (finding,) = profile(visits, records).errors
    assert (finding.check, finding.field) == ("soft_deleted", "status")
    assert "`voided` on 3" in finding.message and "`WHERE NOT voided` (or `voided = 0`)" in finding.message


def test_each_way_of_marking_a_row_deleted() -> None:
    visits = clinic_day(4)
    for record in ({"is_deleted": "true"}, {"active": "0"}, {"ACTIVE": False}, {"deleted_at": "2026-01-02 10:00"},
                   {"retired": b"\x01"}, {"active": "00"}):
        assert checks(profile(visits, [record] * 4)) == ["soft_deleted"], record
    for record in ({"is_deleted": "0"}, {"active": 1}, {"deleted_at": None}, {"deleted_at": "0000-00-00 00:00:00"},
                   {"voided_by": 7}, {"deleted": "maybe"}, {"active": "01"}):
        assert profile(visits, [record] * 4).findings == [], record
    cancelled = [visit(n, 10, status="cancelled") for n in range(4)]
    assert profile(cancelled, [{"voided": 1}] * 4).findings == []  # withdrawn and said so


def test_upcoming_visits_nobody_can_remind_warn() -> None:
    visits = [visit(n, DAY[n % 10], patient=NormalizedPatient(f"P{n}", f"Zelda Quill{n}",
                                                                 "+12125550100" if n < 2 else None)) for n in range(10)]
    report = profile(visits)
    assert checks(report) == [] and checks(report, "warning") == ["reach"]
    assert "only 2 of 10 (20%) upcoming visits" in report.findings[0].message
    doctorless = [visit(n, DAY[n % 10], practitioner=None) for n in range(10)]
    assert [f.field for f in profile(doctorless).findings] == ["practitioner.external_id"]
    past = [visit(n, 10, day=-30) for n in range(10)]
    assert "no upcoming visits" in profile(past).summary


def test_one_status_for_many_source_words_warns() -> None:
    preset = MappingPreset.model_validate({"name": "m", "fields": {"external_id": {"from": "id"},
                                                                   "status": {"from": "state"}}})
    visits = clinic_day(30)
    mixed = [{"state": ["scheduled", "cancelled", "no show"][n % 3]} for n in range(30)]
    report = profile(visits, mixed, preset)
    assert checks(report, "warning") == ["statuses"] and "3 different words" in report.findings[0].message
    assert profile(visits, [{"state": "scheduled"}] * 30, preset).findings == []  # the source has one word
    constant = MappingPreset.model_validate({"name": "m", "fields": {"external_id": {"from": "id"},
                                                                     "status": {"value": "booked"}}})
    assert "a constant in the mapping" in profile(visits, mixed, constant).findings[0].message
    assert profile(visits[:19], mixed, constant).findings == []  # 19 visits: below MIN_RECORDS


def test_zero_and_very_long_visits_warn() -> None:
    visits = clinic_day(20)
    zero = [visit(n, 10, end=v.start) for n, v in enumerate(visits)]
    report = profile(zero)
    assert checks(report, "warning") == ["durations"] and "last zero minutes" in report.findings[0].message
    long = [*visits[:19], visit(99, 10, end=visit(99, 10).start + timedelta(hours=13))]
    assert "last over 12 hours" in profile(long).findings[0].message
    assert profile([*clinic_day(40)[:39], zero[0]]).findings == []  # one in 40: below 5 %, a slip of the data


def test_findings_carry_no_patient_data() -> None:
    visits = [visit(n, 3 + n % 9, type="Consultation", patient=NormalizedPatient("U1", "Consultation"))
              for n in range(40)]
    report = profile(visits, [{"voided": 1}] * 40)
    assert len(report.errors) >= 3
    text = " ".join(f.message for f in report.findings) + report.summary
    assert "Consultation" not in text and "U1" not in text and "Quill" not in text and "+1212" not in text


def test_table_prefixed_flags_mark_rows_deleted_and_a_lone_prefix_does_not() -> None:
    """``APT_ACTIVE`` among ``APT_*`` columns is the row's active flag (0 or 'N': withdrawn); an
    ``sms_enabled`` beside columns sharing no ``sms_`` is a preference, never a deletion."""
    visits = clinic_day(4)
    row = {"APT_ID": 1, "APT_START": "x", "APT_STATUS": "booked", "APT_PATIENT": 7}
    for flag in ({"APT_ACTIVE": 0}, {"APT_ACTIVE": "N"}, {"APT_DELETED": "Y"}, {"APT_DELETED": "true"}):
        assert checks(profile(visits, [{**row, **flag}] * 4)) == ["soft_deleted"], flag
    for flag in ({"APT_ACTIVE": "Y"}, {"APT_DELETED": "N"}, {"APT_DELETED": "false"}):
        assert profile(visits, [{**row, **flag}] * 4).findings == [], flag
    assert profile(visits, [{"id": 1, "start": "x", "sms_enabled": 0}] * 4).findings == []
