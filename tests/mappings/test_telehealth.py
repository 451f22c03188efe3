"""Telehealth in the shipped mappings (issue 22): the visit mode, the join link and the dial-in
from each FHIR shape the research documented (Oracle Health's contained virtual meeting
rooms, R5 virtualService, the R4 cross-version extension) and from CSV columns, on the
project-authored fixtures in tests/fixtures/telehealth (see their SOURCE.md). An unusable
value is dropped with a data-quality note, never a quarantine."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import pytest

from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.mappings.transforms import TransformError, as_join_url, as_visit_mode

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telehealth"
PATIENT_LINK = "https://telehealth.example.org/visit/join?room=7Q2XK&role=patient&tk=pt-4f9c1e"
PROVIDER_LINK = "https://telehealth.example.org/visit/join?room=7Q2XK&role=host&tk=pr-88a0d2"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def fhir(record: dict[str, Any]) -> NormalizedAppointment:
    return load_mapping("fhir_r4", "America/Chicago", "US").apply(record)


def csv_rows() -> list[dict[str, str]]:
    with (FIXTURES / "visits.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("name", ["oracle_health_video_visit.json", "oracle_health_video_visit_provider_first.json"])
def test_oracle_health_video_visit_gives_the_patient_room_to_patients(name: str) -> None:
    appointment = fhir(fixture(name))
    assert appointment.visit_mode == "video"
    assert appointment.join_url == PATIENT_LINK  # chosen by label, wherever it sits in `contained`
    assert appointment.provider_join_url == PROVIDER_LINK
    assert appointment.dial_in is None and appointment.notes == ()


def test_oracle_health_video_visit_before_the_links_are_patched_in_is_still_video() -> None:
    appointment = fhir(fixture("oracle_health_video_visit_no_links.json"))
    assert (appointment.visit_mode, appointment.join_url, appointment.provider_join_url) == ("video", None, None)
    assert appointment.notes == ()


def test_r5_virtual_service_video_and_phone() -> None:
    video = fhir(fixture("r5_virtual_service_video.json"))
    assert video.visit_mode == "video"
    assert video.join_url == "https://zoom.example.org/j/81234567890?pwd=Q2xpbmljU3luYw"
    phone = fhir(fixture("r5_virtual_service_phone.json"))
    assert (phone.visit_mode, phone.join_url, phone.dial_in) == ("phone", None, "+13125550188")


@pytest.mark.parametrize("address_url", ["address", "address[x]", "addressUrl"])
def test_r4_cross_version_extension_is_read_leniently(address_url: str) -> None:
    record = fixture("r4_xver_virtual_service_video.json")
    record["extension"][0]["extension"][1]["url"] = address_url
    appointment = fhir(record)
    assert appointment.visit_mode == "video"
    assert appointment.join_url == "https://teams.example.org/l/meetup-join/19%3ameeting_Y2xpbmlj%40thread.v2/0"
    phone = fhir(fixture("r4_xver_virtual_service_phone.json"))
    assert (phone.visit_mode, phone.dial_in) == ("phone", "+13125550199")


def test_a_vendor_channel_code_names_its_mode_or_is_dropped_with_a_note() -> None:
    record = fixture("r5_virtual_service_video.json")
    vendor = {"system": "https://fhir.example.org/vst", "code": "twilio-video-rooms"}
    record["virtualService"][0]["channelType"] = vendor
    assert fhir(record).visit_mode == "video" and fhir(record).notes == ()
    record["virtualService"][0]["channelType"]["code"] = "acme-room"
    appointment = fhir(record)
    assert appointment.visit_mode == "video" and appointment.notes == ()  # the join link marks it: no note
    del record["virtualService"][0]["addressUrl"], record["class"]
    appointment = fhir(record)
    assert appointment.visit_mode is None  # nothing else says what it is
    assert appointment.notes == ("visit_mode: dropped 'acme-room' (not a visit mode (in_person, video or phone; "
                                 "map the source's words with map:))",)


def test_a_link_that_is_not_https_is_dropped_with_a_note_not_quarantined() -> None:
    record = fixture("r5_virtual_service_video.json")
    record["virtualService"][0]["addressUrl"] = "javascript:alert(1)"
    appointment = fhir(record)
    assert appointment.visit_mode == "video" and appointment.join_url is None
    assert appointment.notes == ("join_url: dropped (not an https link)",)  # the value is never shown


def test_an_appointment_no_shape_speaks_of_is_in_person_as_before() -> None:
    record = copy.deepcopy(fixture("r5_virtual_service_video.json"))
    del record["virtualService"], record["class"]
    appointment = fhir(record)
    assert (appointment.visit_mode, appointment.join_url, appointment.provider_join_url, appointment.dial_in) == (
        None, None, None, None)


def test_csv_columns() -> None:
    mapping = load_mapping("csv_default", "America/Chicago", "US")
    video, phone, in_person, insecure = (mapping.apply(row) for row in csv_rows())
    assert (video.visit_mode, video.join_url, video.notes) == ("video", "https://vc.example.org/j/58210", ())
    assert (phone.visit_mode, phone.join_url, phone.dial_in) == ("phone", None, None)
    assert (in_person.visit_mode, in_person.join_url) == (None, None)
    assert (insecure.visit_mode, insecure.join_url) == ("video", None)
    assert insecure.notes == ("join_url: dropped (not an https link)",)


def test_a_link_or_a_number_alone_implies_the_mode() -> None:
    mapping = load_mapping("csv_default", "America/Chicago", "US")
    row = {**csv_rows()[2], "join_url": "https://vc.example.org/j/1"}
    assert mapping.apply(row).visit_mode == "video"
    assert mapping.apply({**csv_rows()[2], "dial_in": "312 555 0100"}).visit_mode == "phone"
    assert mapping.apply({**csv_rows()[2], "visit_mode": "in person"}).visit_mode == "in_person"


@pytest.mark.parametrize(("word", "mode"), [
    ("in-person", "in_person"), ("Office", "in_person"), ("AMB", "in_person"), ("videoconference", "video"),
    ("Video Visit", "video"), ("zoom", "video"), ("ms-teams", "video"), ("VR", "video"),
    ("Patient Virtual Meeting Room", "video"), ("https://x.example.org/j", "video"), ("telephone", "phone"),
    ("Audio only", "phone"), ("tel:+13125550100", "phone"), ("Telephone follow-up", "phone"),
])
def test_visit_mode_words(word: str, mode: str) -> None:
    assert as_visit_mode(word) == mode


@pytest.mark.parametrize("value", ["walk-in", "", "surgery"])
def test_visit_mode_refuses_other_words(value: str) -> None:
    with pytest.raises(TransformError):
        as_visit_mode(value)


@pytest.mark.parametrize("value", ["http://x.example.org/j", "javascript:alert(1)", "https://", "https://a b.org/",
                                   "meet.example.org/j/1", "https://[::1", "https://x.example.org/" + "a" * 2100])
def test_join_url_refuses_what_is_not_a_secure_link(value: str) -> None:
    with pytest.raises(TransformError):
        as_join_url(value)


def test_the_documented_site_mapping_adds_a_tenant_visit_type(tmp_path: Path) -> None:
    """docs/mappings.md's example: a tenant's serviceType text as the fallback."""
    (tmp_path / "ehr.yaml").write_text('''name: ehr
extends: fhir_r4
fields:
  visit_mode:
    quote: true
    from:
      - virtualService.channelType.code
      - "virtualService.addressContactPoint[system=phone].system"
      - virtualService.addressUrl
      - "contained[resourceType=HealthcareService][type.text=Patient Virtual Meeting Room].type.text"
    fallback:
      from: serviceType[0].text
      map: {"Video Visit": video, "Telephone Visit": phone}
''', encoding="utf-8")
    mapping = load_mapping("ehr.yaml", "America/Chicago", "US", tmp_path)
    base = fixture("r5_virtual_service_phone.json")
    del base["virtualService"]
    for text, mode in (("Telephone Visit", "phone"), ("Video Visit", "video"), ("Office Visit", None)):
        appointment = mapping.apply({**base, "serviceType": [{"text": text}]})
        assert (appointment.visit_mode, appointment.notes) == (mode, ()), text
    assert mapping.apply(fixture("oracle_health_video_visit.json")).visit_mode == "video"


def test_a_contained_endpoint_is_the_join_link_and_supporting_information_the_place() -> None:
    """Issue 57 obs 8: the link in a contained Endpoint (referenced '#vv1'), the place only in
    supportingInformation (its display here; the connector reads the Location itself)."""
    appointment = fhir(fixture("contained_endpoint_video.json"))
    assert appointment.join_url == "https://video.example.org/room/3KX9?role=patient&tk=ep-51c2"
    assert appointment.visit_mode == "video"
    assert appointment.location == "Main Street Clinic"
    assert appointment.notes == ()
    resolved = fhir({**fixture("contained_endpoint_video.json"), "_location": {"resourceType": "Location",
                                                                              "name": "Main Street Clinic, Suite 2"}})
    assert resolved.location == "Main Street Clinic, Suite 2"  # the Location read wins over the display


def test_an_endpoint_that_is_off_is_no_link() -> None:
    record = fixture("contained_endpoint_video.json")
    record["contained"][0]["status"] = "off"
    appointment = fhir(record)
    assert (appointment.join_url, appointment.visit_mode) == (None, None)
