"""Whose contact a raw column holds, for `check`'s "likeliest columns" hint: the joined doctor's
table (by the prefix of the columns the mapping reads the doctor's name or email from, or by a
doctor's, staff's or emergency contact's word in the name) is never the patient's; the patient's
own table (the prefix of the patient's fields) comes first; the ids on the visit's own row mark
no table."""

from __future__ import annotations

from clinicsync.mappings.preset_schema import MappingPreset
from clinicsync.sync.ingest.plausibility.contact_columns import ContactColumns

PRESET = MappingPreset.model_validate({"name": "x", "fields": {
    "external_id": {"from": "id"}, "start": {"from": "starts"},
    "patient.external_id": {"from": "visit_patient_id"}, "patient.name": {"from": "user_fullName"},
    "practitioner.external_id": {"from": "visit_medic_id"}, "practitioner.name": {"from": "medic_name"},
    "practitioner.email": {"from": "medic_mail"}}})


def test_the_doctor_s_table_and_other_people_s_columns_are_never_the_patient_s() -> None:
    columns = ContactColumns(PRESET)
    for theirs in ("medic_phone", "medic_mail", "doctor_contactno", "doctor_docEmail", "docEmail", "staff_mobile",
                   "provider_phone", "emergency_contact_phone", "next_of_kin_phone", "EmergencyPhone",
                   "care_person_relative_phone", "spouse_mobile", "telefono_familiar"):
        assert columns.someone_else(theirs), theirs
    for ours in ("user_contactno", "visit_phone", "contact_email", "office_phone", "mobile_no", "notice_email"):
        assert not columns.someone_else(ours), ours
    assert columns.patients_own("user_contactno") and not columns.patients_own("visit_phone")
