"""Doctors' calendars with `sites:` (issue 60): each event speaks for its visit's practice
(its name in the body, its address as the place of an in-person visit without one, the
`site*` names for templates), renaming one site re-renders that site's events only, and a
file without sites renders and keys every event as before sites existed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from icalendar import Calendar

from clinicsync.sync.calendar.desired import RENDERING, Renderer, _version
from clinicsync.sync.calendar.google import GoogleCalendar
from clinicsync.sync.calendar.ics import uid_for
from clinicsync.sync.calendar.provider import event_id
from clinicsync.sync.calendar.push import push
from clinicsync.sync.calendar.status import calendar_status
from clinicsync.sync.config.config_loader import load_yaml_text
from clinicsync.sync.config.settings import Settings, validate_settings
from clinicsync.sync.config.settings.calendar import DEFAULT_DESCRIPTION, DEFAULT_SUMMARY, CalendarSettings
from clinicsync.sync.store.store import Store
from tests.sync.calendar.helpers import DOCTORS, apply, appointment, push_ics

NORTH_ADDRESS = "12 North Avenue, Chicago IL 60601"
SOUTH_ADDRESS = "40 Ocean Drive, Miami FL 33139"
SITES = f"""
clinic: {{name: Lakeside Group, timezone: America/Chicago, phone: "+13125550000", address: 1 Group Plaza}}
sites:
  north: {{name: North Dental, phone: "+13125550100", address: "{NORTH_ADDRESS}"}}
  south: {{name: Clínica Sur, address: "{SOUTH_ADDRESS}"}}
connectors:
  - {{name: north-pm, kind: csv, mapping: generic_csv, drop_dir: /tmp, site: north}}
  - {{name: south-pm, kind: csv, mapping: generic_csv, drop_dir: /tmp, site: south}}
"""
NO_SITES = """
clinic: {name: Lakeside Group, timezone: America/Chicago, phone: "+13125550000", address: 1 Group Plaza}
connectors: [{name: csv, kind: csv, mapping: generic_csv, drop_dir: /tmp}]
"""


def settings_of(text: str, folder: Path, **calendar: Any) -> Settings:
    section = {"provider": "ics", "ics": {"directory": str(folder / "calendars")}, **calendar}
    return validate_settings(load_yaml_text(text + "calendar: " + orjson.dumps(section).decode(), "settings.yaml"),
                             "settings.yaml", folder)


def events(folder: Path) -> dict[str, dict[str, str | None]]:
    """Each event of Dr. Hart's .ics file by UID: its title, body and place."""
    calendar = Calendar.from_ical((folder / "calendars" / f"{DOCTORS['D01'][1]}.ics").read_bytes())
    return {str(e["uid"]): {"summary": str(e["summary"]), "description": str(e["description"]),
                            "location": str(e["location"]) if "location" in e else None}
            for e in calendar.walk("VEVENT")}


def visits(store: Store) -> None:
    """Dr. Hart works in both practices: two north visits (one without a place), one south."""
    apply(store, replace(appointment("N1"), location=None), appointment("N2"), connector="north-pm")
    apply(store, replace(appointment("S1", kind="Cleaning"), location=None), connector="south-pm")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_each_event_speaks_for_its_site_and_a_rename_rerenders_that_site_only(store: Store, tmp_path: Path) -> None:
    visits(store)
    summary = "{{ type }} · {{ site_name }} ({{ site }}, {{ site_phone }})"
    settings = settings_of(SITES, tmp_path, summary=summary)
    assert push_ics(settings.calendar, store)["inserted"] == 3
    found = events(tmp_path)
    north, with_place, south = (found[uid_for(event_id(c, a))] for c, a in
                                (("north-pm", "N1"), ("north-pm", "N2"), ("south-pm", "S1")))
    assert north["summary"] == "Follow-up · North Dental (north, (312) 555-0100)"
    assert south["summary"] == "Cleaning · Clínica Sur (south, (312) 555-0000)"  # its phone: the group's
    assert north["description"].endswith("edit the appointment in North Dental's system, not here.")
    assert south["description"].endswith("edit the appointment in Clínica Sur's system, not here.")
    # Where to go: the site's address when the source gives no place; the source's place as it is.
    assert (north["location"], with_place["location"], south["location"]) == (
        NORTH_ADDRESS, "Main Street Clinic", SOUTH_ADDRESS)

    renamed = settings_of(SITES.replace("North Dental", "Northside Dental"), tmp_path, summary=summary)
    [calendar] = calendar_status(renamed.calendar, store.engine)["calendars"]
    assert calendar["rerender_left"] == 2  # north's two events, not south's
    assert push_ics(renamed.calendar, store)["patched"] == 2
    again = events(tmp_path)
    assert again[uid_for(event_id("north-pm", "N1"))]["summary"].startswith("Follow-up · Northside Dental")
    assert again[uid_for(event_id("south-pm", "S1"))] == south
    assert calendar_status(renamed.calendar, store.engine)["calendars"][0]["rerender_left"] == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_file_without_sites_renders_and_keys_events_as_before(store: Store, tmp_path: Path) -> None:
    apply(store, replace(appointment("A1"), location=None), appointment("A2"))
    settings = settings_of(NO_SITES, tmp_path)
    renderer = Renderer(settings.calendar)
    # The key (the first half of every link's rendered_from) holds what it held before sites
    # existed, and nothing else: an upgrade re-renders nobody's calendar.
    assert orjson.loads(renderer.key) == {
        "summary": DEFAULT_SUMMARY, "description": DEFAULT_DESCRIPTION, "invite": False, "mark_cancelled": False,
        "patient_cancelled": "mark", "create_meet": False, "provider": "ics", "rendering": RENDERING,
        "version": _version()}
    assert renderer.keys == {renderer.keyed} == {Renderer(CalendarSettings(provider="ics")).keyed}
    push_ics(settings.calendar, store)
    found = events(tmp_path)
    bare = found[uid_for(event_id("csv", "A1"))]
    assert bare["location"] is None  # no place given, none made up: the clinic's address is not put in
    assert bare["description"] == ("Follow-up with J.W.\n"
                                   "Managed by clinicsync: edit the appointment in the clinic's system, not here.")
    assert found[uid_for(event_id("csv", "A2"))]["location"] == "Main Street Clinic"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_google_events_carry_the_sites_address_and_name(store: Store, tmp_path: Path, fake_google: Any,
                                                        google_calendar_settings: Any) -> None:
    visits(store)
    calendar = google_calendar_settings()
    learned = settings_of(SITES, tmp_path).calendar  # what the settings' validation told their own calendar
    calendar.learn_sites(learned.clinic_site, learned.sites)
    provider = GoogleCalendar(calendar.google)
    try:
        assert push(calendar, store.engine, provider).as_dict()["inserted"] == 3
    finally:
        provider.close()
    live = fake_google.live(DOCTORS["D01"][1])
    south = live[event_id("south-pm", "S1")]
    assert south["location"] == SOUTH_ADDRESS and "Clínica Sur's system" in south["description"]
    assert live[event_id("north-pm", "N2")]["location"] == "Main Street Clinic"
