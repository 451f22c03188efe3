"""What patients are told about a location (issue 30, obs 9, 12): the clinic's main address
only for a visit with no location at all, never for a location `clinic.places` does not list
(it may be another building); place instructions and visit types per language, one plain
text still accepted; the pure list `check` can use of locations without a place."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from clinicsync.sync.config.clinic import ClinicSettings, Place, locations_without_place

CLINIC = ClinicSettings(
    address="1 Main Street, Springfield",
    places={"loc-1": Place(address="12 Main Street"), "North Annex": Place(address="4 Elm Road")},
    visit_types={"Follow-up": {"es": "Revisión", "es-MX": "Consulta de seguimiento"}})


@pytest.mark.parametrize(("ref", "name", "address"), [
    ("loc-1", "Main Street Clinic", "12 Main Street"),  # by id first
    ("loc-9", "North Annex", "4 Elm Road"),  # then by name
    (None, None, "1 Main Street, Springfield"),  # no location at all: the clinic's own address
    ("loc-9", "South Wing", None),  # not listed: nothing, never the main building
    (None, "South Wing", None),
])
def test_the_main_address_only_for_a_visit_without_a_location(ref: str | None, name: str | None,
                                                              address: str | None) -> None:
    place = CLINIC.place(ref, name)
    assert (place.address if place else None) == address
    assert CLINIC.place_known(ref, name) == (address is not None)


def test_a_clinic_with_one_building_lists_it_for_every_location() -> None:
    one = ClinicSettings(address="1 Main Street", places={"*": Place(address="1 Main Street")})
    place = one.place("anything", "Room 3")
    assert place is not None and place.address == "1 Main Street"
    assert locations_without_place(one, [("anything", "Room 3")]) == []


def test_locations_without_a_place_once_each_in_order() -> None:
    seen = [("loc-9", "South Wing"), ("loc-1", None), (None, None), ("loc-9", "South Wing"), (None, "Lab")]
    assert locations_without_place(CLINIC, seen) == [("loc-9", "South Wing"), (None, "Lab")]


def test_instructions_per_language_or_one_text() -> None:
    place = Place(instructions={"en": "Second floor.", "es": "Segunda planta.", "es-MX": "Segundo piso."})
    assert place.instructions_in("es-ES") == "Segunda planta."  # the base language
    assert place.instructions_in("es_MX") == "Segundo piso."  # the regional text first
    assert place.instructions_in("fr") == "Second floor."  # no French: English, as the page's words are
    assert Place(instructions={"es": "Segunda planta."}).instructions_in("fr") == "Segunda planta."
    assert Place(instructions="Second floor.").instructions_in("es") == "Second floor."  # one text, as before
    assert Place().instructions_in("es") is None


@pytest.mark.parametrize(("instructions", "named"), [
    ({"klingon-xx": "Qapla"}, "instructions: unknown language 'klingon-xx'"),
    ({"es": "x" * 501}, "longer than 500 characters"),
    ("x" * 501, "longer than 500 characters"),
])
def test_bad_instructions_name_the_problem(instructions: object, named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        Place(instructions=instructions)  # type: ignore[arg-type]


def test_visit_types_in_the_readers_language() -> None:
    assert CLINIC.visit_type_in("Follow-up", "es") == "Revisión"
    assert CLINIC.visit_type_in("Follow-up", "es-MX") == "Consulta de seguimiento"
    assert CLINIC.visit_type_in("Follow-up", "en") == "Follow-up"  # as the source sends it
    assert CLINIC.visit_type_in("Vaccination", "es") == "Vaccination"
    assert CLINIC.visit_type_in(None, "es") is None
