"""`stored_times`: a source's time convention apart from its visits' zone (issue 57). With
`utc`, naive date-times are UTC instants and each visit's zone is the record's, else its
location's (clinic.places), else the connector's/clinic's default; with `local` (the default)
naive times are wall clock in the visit's zone, as before. Both engines (the generated code,
the interpreted reference, the text-only code of CSV rows) must agree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.mappings.model import MappingError, NormalizedAppointment
from clinicsync.mappings.preset_schema import MappingPreset

CHICAGO, DENVER, BERLIN = "America/Chicago", "America/Denver", "Europe/Berlin"
PLACES = (("*", None), ("North", DENVER), ("Annex", None))
ENGINES: dict[str, Callable[[CompiledMapping], Callable[[dict[str, Any]], NormalizedAppointment]]] = {
    "generated": lambda m: m.apply,
    "interpreted": lambda m: m.apply_interpreted,
    "texts": lambda m: m.applier(texts=True),
}


def row(**values: str) -> dict[str, str]:
    return {"appointment_id": "A1", "start": "2026-11-30 14:30", "duration_minutes": "30", "patient_id": "p1",
            **values}


def mapped(engine: str, record: dict[str, str], stored: str = "utc", default_zone: str = CHICAGO,
           places: tuple[tuple[str, str | None], ...] = ()) -> NormalizedAppointment:
    mapping = load_mapping("csv_default", default_zone, "US", stored_times=stored, place_zones=places)
    return ENGINES[engine](mapping)(record)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_naive_utc_start_is_that_instant_in_the_default_zone(engine: str) -> None:
    visit = mapped(engine, row())
    assert visit.start == datetime(2026, 11, 30, 14, 30, tzinfo=UTC)  # 8:30 AM CST
    assert visit.timezone == CHICAGO
    assert visit.end == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("engine", ENGINES)
def test_local_is_todays_reading_wall_clock_in_the_zone(engine: str) -> None:
    visit = mapped(engine, row(), stored="local")
    assert visit.start == datetime(2026, 11, 30, 20, 30, tzinfo=UTC)  # 14:30 CST
    assert visit.timezone == CHICAGO


@pytest.mark.parametrize("engine", ENGINES)
def test_the_location_zone_is_the_visit_zone_of_a_utc_source(engine: str) -> None:
    visit = mapped(engine, row(location="North"), places=PLACES)
    assert (visit.start, visit.timezone) == (datetime(2026, 11, 30, 14, 30, tzinfo=UTC), DENVER)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_place_without_a_zone_and_no_location_fall_back_to_the_default(engine: str) -> None:
    assert mapped(engine, row(location="Annex"), places=PLACES).timezone == CHICAGO
    assert mapped(engine, row(location="Elsewhere"), places=PLACES).timezone == CHICAGO  # '*' has no zone
    assert mapped(engine, row(), places=PLACES).timezone == CHICAGO


@pytest.mark.parametrize("engine", ENGINES)
def test_the_every_location_entry_gives_unlisted_locations_its_zone(engine: str) -> None:
    places = (("*", DENVER), ("Annex", None))
    assert mapped(engine, row(location="Elsewhere"), places=places).timezone == DENVER
    assert mapped(engine, row(location="Annex"), places=places).timezone == CHICAGO  # listed: its own (none)
    assert mapped(engine, row(), places=places).timezone == CHICAGO  # no location: no place


@pytest.mark.parametrize("engine", ENGINES)
def test_the_row_zone_wins_over_place_and_default_and_the_time_stays_utc(engine: str) -> None:
    visit = mapped(engine, row(location="North", timezone=BERLIN), places=PLACES)
    assert (visit.start, visit.timezone) == (datetime(2026, 11, 30, 14, 30, tzinfo=UTC), BERLIN)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("stored", ["local", "utc"])
def test_an_aware_value_is_the_instant_it_says_either_way(engine: str, stored: str) -> None:
    visit = mapped(engine, row(start="2026-11-30T08:30:00-06:00", location="North"), stored=stored, places=PLACES)
    assert visit.start == datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
    assert visit.timezone == (DENVER if stored == "utc" else CHICAGO)


@pytest.mark.parametrize("engine", ENGINES)
def test_place_zones_are_ignored_for_a_local_source(engine: str) -> None:
    visit = mapped(engine, row(location="North"), stored="local", places=PLACES)
    assert (visit.start, visit.timezone) == (datetime(2026, 11, 30, 20, 30, tzinfo=UTC), CHICAGO)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_utc_source_has_no_skipped_or_repeated_hour(engine: str) -> None:
    """02:30 on 2026-03-08 does not exist in Chicago (a local source refuses it), and 01:30
    on 2026-11-01 happens twice there; in UTC both are plain instants."""
    with pytest.raises(MappingError, match="start"):
        mapped(engine, row(start="2026-03-08 02:30"), stored="local")
    assert mapped(engine, row(start="2026-03-08 02:30")).start == datetime(2026, 3, 8, 2, 30, tzinfo=UTC)
    assert mapped(engine, row(start="2026-11-01 01:30")).start == datetime(2026, 11, 1, 1, 30, tzinfo=UTC)


def _updated_mapping(stored: str) -> CompiledMapping:
    preset = MappingPreset.model_validate({"name": "stamps", "fields": {
        "external_id": {"from": "id"}, "start": {"from": "start"}, "duration_minutes": {"from": "minutes"},
        "source_updated_at": {"from": "updated"}, "booked_at": {"from": "booked"}}})
    return CompiledMapping(preset, CHICAGO, "US", stored_times=stored)


@pytest.mark.parametrize("engine", ["generated", "interpreted"])
def test_update_and_booking_stamps_follow_the_convention(engine: str) -> None:
    record = {"id": "1", "start": datetime(2026, 11, 30, 14, 30), "minutes": 30,
              "updated": datetime(2026, 11, 20, 9, 0), "booked": datetime(2026, 11, 19, 9, 0)}
    utc = ENGINES[engine](_updated_mapping("utc"))(record)
    assert utc.source_updated_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert utc.booked_at == datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
    local = ENGINES[engine](_updated_mapping("local"))(record)
    assert local.source_updated_at == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert local.booked_at == datetime(2026, 11, 19, 15, 0, tzinfo=UTC)


def test_the_convention_is_part_of_the_compiled_mapping_cache_key() -> None:
    local = load_mapping("csv_default", CHICAGO, "US")
    utc = load_mapping("csv_default", CHICAGO, "US", stored_times="utc")
    placed = load_mapping("csv_default", CHICAGO, "US", stored_times="utc", place_zones=PLACES)
    assert (local.stored_times, utc.stored_times) == ("local", "utc")
    assert len({id(local), id(utc), id(placed)}) == 3
    assert placed.place_zones == PLACES


def test_places_without_zones_or_a_local_source_leave_no_place_zones() -> None:
    """Nothing to look up then, and nothing in the mapping epoch: an address added to
    clinic.places does not re-map every row."""
    unzoned = load_mapping("csv_default", CHICAGO, "US", stored_times="utc", place_zones=(("Main", None),))
    assert unzoned.place_zones == ()
    assert load_mapping("csv_default", CHICAGO, "US", place_zones=PLACES).place_zones == ()


def test_an_unknown_convention_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="stored_times 'gmt'"):
        load_mapping("csv_default", CHICAGO, "US", stored_times="gmt")
