"""What a patient is told when the clinic changes the status (issue 22): confirmed by the
clinic (proposed/pending -> booked), cancelled by the clinic with a reason the clinic lets
patients see (from FHIR cancelationReason through the shipped mapping), and an optional
follow-up after a fulfilled visit; each planned from the outbox, never twice."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.common.hashing import content_hash
from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient
from clinicsync.sync.cli.template_check import check_templates
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.store import Store, _appointment_hash
from tests.sync.hash_support import PatientBefore
from tests.sync.reminders.conftest import SettingsMaker, appointment, put, states
from tests.sync.reminders.fakes import read_log

A = Appointment.__table__  # type: ignore[attr-defined]
BASE = "quiet_hours: null\nagenda: {enabled: false}\noffsets: []\nchannels: [sms, email]\n" \
       "routes: {sms: texts, email: mails}\n"
BOOKED_AT = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)  # 10:00 in New York


def sms(tmp_path: Path, kind: str) -> list[str]:
    return [line["body"] for line in read_log(tmp_path / "texts.jsonl") if f":{kind}:" in line["key"]]


def step(settings: Settings, store: Store, at: datetime, *appointments: NormalizedAppointment) -> dict[str, int]:
    """The source shows ``appointments``; a sync plans; the dispatcher runs."""
    if appointments:
        put(store, *appointments)
    plan(settings, store, at)
    return Dispatcher(settings, store, at).run().as_dict()


# -- confirmed by the clinic -------------------------------------------------------------------
def test_the_clinic_confirming_a_proposed_visit_tells_the_patient_once(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE)
    step(settings, store, BOOKED_AT, appointment("A1", START, status="proposed"))
    assert sms(tmp_path, "confirmation") and not sms(tmp_path, "confirmed")  # the request went first
    later = BOOKED_AT + timedelta(days=1)
    assert step(settings, store, later, appointment("A1", START, status="booked"))["sent"] == 1
    [text] = sms(tmp_path, "confirmed")
    assert text.startswith("clinic: Ana, the clinic confirmed your visit Fri, Jun 12 at 10:00 AM with Dr. Amelia Hart.")
    assert text.endswith("Reply STOP to opt out.")
    # Planning again, and a later change that is no confirmation, tell nothing more.
    assert step(settings, store, later)["sent"] == 0
    step(settings, store, later, appointment("A1", START, status="booked", type="Annual physical"))
    assert len(sms(tmp_path, "confirmed")) == 1
    assert states(store)["a1:patient:confirmed:v2"] == ("sent", None)


def test_a_confirmation_still_unsent_says_it_and_no_second_notice_goes(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START, status="pending"))
    plan(settings, store, BOOKED_AT)
    put(store, appointment("A1", START, status="booked"))
    plan(settings, store, BOOKED_AT)
    assert [key for key in states(store) if key.startswith("a1:patient")] == ["a1:patient:confirmation:v1"]


def test_a_pending_visit_confirmed_by_the_clinic_is_told_in_spanish(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE + "confirmation: false")
    step(settings, store, BOOKED_AT, appointment("A1", START, status="pending", language="es-MX"))
    step(settings, store, BOOKED_AT, appointment("A1", START, status="booked", language="es-MX"))
    [text] = sms(tmp_path, "confirmed")
    assert "Ana, su cita del vie 12 de jun, 10:00 a.m., con Dr. Amelia Hart, queda confirmada." in text
    assert text.endswith("STOP para darse de baja.")


def test_confirmed_notices_can_be_switched_off(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE + "confirmation: false\nnotices: {confirmed: false}")
    step(settings, store, BOOKED_AT, appointment("A1", START, status="proposed"))
    step(settings, store, BOOKED_AT, appointment("A1", START, status="booked"))
    assert states(store) == {}


# -- cancelled by the clinic, with a reason the clinic lets patients see ---------------------
REASONS = "https://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"


def fhir(external_id: str, status: str, reason: dict[str, Any] | None = None) -> NormalizedAppointment:
    """An R4 Appointment as the fhir connector yields it (participants resolved under
    ``_patient``/``_practitioner``), mapped by the shipped fhir_r4 preset."""
    resource: dict[str, Any] = {
        "resourceType": "Appointment", "id": external_id, "status": status,
        "start": "2026-06-12T10:00:00-04:00", "end": "2026-06-12T10:30:00-04:00",
        "participant": [{"actor": {"reference": "Patient/P1"}, "status": "accepted"},
                        {"actor": {"reference": "Practitioner/D1"}, "status": "accepted"}],
        "_patient": {"resourceType": "Patient", "id": "P1", "name": [{"given": ["Ana"], "family": "Ruiz"}],
                     "telecom": [{"system": "phone", "use": "mobile", "value": "+12125550101"}],
                     "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}]},
                                        "preferred": True}]},
        "_practitioner": {"resourceType": "Practitioner", "id": "D1", "name": [{"text": "Dr. Amelia Hart"}]},
        "_timezone": "America/New_York",
    }
    if reason is not None:
        resource["cancelationReason"] = reason
    return load_mapping("fhir_r4", "America/New_York", "US").apply(resource)


WEATHER = {"coding": [{"system": REASONS, "code": "oth-weath", "display": "Other: Weather"}]}
PERSONAL = {"coding": [{"system": REASONS, "code": "prov-pers", "display": "Provider: Personal"}]}


def test_the_fhir_mapping_reads_the_cancellation_reason_words_before_codes() -> None:
    assert fhir("W1", "cancelled", WEATHER).cancel_reason == "Other: Weather"
    assert fhir("W1", "cancelled", {**WEATHER, "text": "Snow storm"}).cancel_reason == "Snow storm"
    assert fhir("W1", "cancelled", {"coding": [{"system": REASONS, "code": "oth-weath"}]}).cancel_reason == "oth-weath"
    assert fhir("W1", "booked").cancel_reason is None


def test_a_cancellation_shows_only_a_reason_the_clinic_listed(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE + "confirmation: false\n"
                                 "notices: {cancel_reasons: {'other: weather': {en: bad weather, es: mal tiempo}}}")
    step(settings, store, BOOKED_AT, fhir("W1", "booked"), fhir("W2", "booked"))
    step(settings, store, BOOKED_AT, fhir("W1", "cancelled", WEATHER), fhir("W2", "cancelled", PERSONAL))
    with store.engine.connect() as connection:
        stored = dict(connection.execute(select(A.c.external_id, A.c.cancel_reason)).all())
    assert stored == {"W1": "Other: Weather", "W2": "Provider: Personal"}
    by_key = {line["key"]: line["body"] for line in read_log(tmp_path / "texts.jsonl")}
    weather, personal = by_key["a1:patient:cancelled:v2"], by_key["a2:patient:cancelled:v2"]
    assert "se ha cancelado (mal tiempo)." in weather
    assert "se ha cancelado." in personal and "Personal" not in personal and "(" not in personal


def test_no_reason_is_shown_unless_the_clinic_lists_one(store: Store, reminder_settings: SettingsMaker,
                                                        tmp_path: Path) -> None:
    settings = reminder_settings(BASE + "confirmation: false")
    step(settings, store, BOOKED_AT, fhir("W1", "booked"))
    step(settings, store, BOOKED_AT, fhir("W1", "cancelled", WEATHER))
    [text] = sms(tmp_path, "cancelled")
    assert "Weather" not in text and "tiempo" not in text


def test_an_appointment_without_a_reason_hashes_as_before_reasons_existed() -> None:
    """Upgrading must not make stored appointments look changed, with or without an answer."""
    later = {"cancel_reason", "visit_mode", "join_url", "provider_join_url", "dial_in",  # unset: left out
             "booked_at", "replaces", "former_id"}  # never content
    fields = [f for f in dataclasses.fields(NormalizedAppointment) if f.name not in later]
    Before = dataclasses.make_dataclass("Before", [(f.name, Any, dataclasses.field(default=f.default))
                                                   for f in fields], frozen=True, slots=True)
    # The patient as it was too (hash_support.PatientBefore): its fallback numbers, unset, are left out.
    values = ("A1", "booked", START, START + timedelta(minutes=30), "America/New_York", "Checkup", "Main",
              NormalizedPatient("P1", "Ann Lee", "+12015550100"), None, START)
    before = (*values[:7], PatientBefore("P1", "Ann Lee", "+12015550100"), *values[8:])
    assert _appointment_hash(NormalizedAppointment(*values, answer="accepted")) == \
        content_hash(Before(*before, answer="accepted"))
    assert _appointment_hash(NormalizedAppointment(*values, cancel_reason="Other: Weather")) != \
        _appointment_hash(NormalizedAppointment(*values))


# -- a follow-up after the visit ---------------------------------------------------------------
FOLLOWUP = BASE + ("confirmation: false\nnotices:\n  followup: {enabled: true, after: 2h, within: 3d, "
                   "url: 'https://survey.example.org/s/1', message: {es: '¿Cómo fue su visita?'}}")
END = START + timedelta(minutes=30)


@pytest.mark.parametrize(("language", "line"), [
    ("en", "clinic: Thank you for your visit, Ana. https://survey.example.org/s/1 Reply STOP to opt out."),
    # ó is not GSM-7: the SMS drops the accent and stays one GSM-7 segment (reminders.sms_accents)
    ("es", "clinic: ¿Como fue su visita? https://survey.example.org/s/1 STOP para darse de baja."),
])
def test_a_fulfilled_visit_gets_one_follow_up_after_it(store: Store, reminder_settings: SettingsMaker,
                                                       tmp_path: Path, language: str, line: str) -> None:
    settings = reminder_settings(FOLLOWUP)
    step(settings, store, BOOKED_AT, appointment("A1", START, language=language))
    done = END + timedelta(minutes=10)
    assert step(settings, store, done, appointment("A1", START, status="fulfilled", language=language))["sent"] == 0
    assert states(store)["a1:patient:followup:v0"] == ("pending", None)
    assert step(settings, store, END + timedelta(hours=2))["sent"] == 1
    assert sms(tmp_path, "followup") == [line]
    # The status flaps (fulfilled -> arrived -> fulfilled): still one follow-up per visit.
    step(settings, store, END + timedelta(hours=2, minutes=30), appointment("A1", START, status="arrived",
                                                                            language=language))
    step(settings, store, END + timedelta(hours=3), appointment("A1", START, status="fulfilled", language=language))
    assert len(sms(tmp_path, "followup")) == 1


def test_follow_ups_are_off_by_default_and_a_late_fulfilled_status_sends_none(
        store: Store, reminder_settings: SettingsMaker) -> None:
    off = reminder_settings(BASE + "confirmation: false")
    step(off, store, BOOKED_AT, appointment("A1", START))
    step(off, store, END, appointment("A1", START, status="fulfilled"))
    assert states(store) == {}
    on = reminder_settings(FOLLOWUP)
    step(on, store, BOOKED_AT, appointment("A2", START))
    step(on, store, END + timedelta(days=4), appointment("A2", START, status="fulfilled"))
    assert states(store) == {"a2:patient:followup:v0": ("skipped", "too late")}


def test_a_follow_up_is_not_sent_once_the_visit_is_no_longer_fulfilled(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(FOLLOWUP)
    step(settings, store, BOOKED_AT, appointment("A1", START))
    step(settings, store, END, appointment("A1", START, status="fulfilled"))
    put(store, appointment("A1", START, status="entered-in-error"))
    Dispatcher(settings, store, END + timedelta(hours=2)).run()
    assert states(store)["a1:patient:followup:v0"][0] == "skipped"



# check_templates renders templates and reads no store row: one store shows it.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_templates_check_sizes_the_sms_with_the_longest_listed_reason_and_the_follow_up(
        reminder_settings: SettingsMaker) -> None:
    long = "the building is closed for repairs after a water leak on the ground floor, sorry"
    settings = reminder_settings(BASE + f"notices:\n  cancel_reasons: {{'Other: Weather': '{long}'}}\n"
                                 "  followup: {enabled: true, url: 'https://survey.example.org/s/1'}")
    results = {(r.language, r.template, r.channel): r for r in check_templates(settings)}
    cancelled = results[("en", "cancelled", "sms")]
    assert cancelled.segments == 2 and "2 SMS segments" in cancelled.problems[0] and cancelled.failed
    assert results[("en", "followup", "sms")].segments == 1
    assert results[("es", "confirmed", "sms")].segments == 1
