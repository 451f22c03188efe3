"""`sites:` (issue 60): each source names its practice, and a practice's patients are written
to in its own name, zone and number; a file without `sites:` is one practice, as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinicsync.sync.config.config_loader import ConfigError, load_yaml_text
from clinicsync.sync.config.settings import Settings, validate_settings

GROUP = """
clinic: {name: Lakeside Group, timezone: America/Chicago, phone: "+13125550000", language: en-US}
sites:
  north:
    name: North Dental
    phone: "+13125550100"
    timezone: America/Denver
    sms_from: "+13125550101"
    quiet_hours: {start: "20:00", end: "09:00"}
  south: {name: South Dental, language: es-US}
connectors:
  - {name: north-pm, kind: csv, mapping: generic_csv, drop_dir: /tmp, site: north}
  - {name: south-pm, kind: csv, mapping: generic_csv, drop_dir: /tmp, SITE}
"""


def _load(text: str) -> Settings:
    return validate_settings(load_yaml_text(text, "settings.yaml"), "settings.yaml", Path("."))


def test_a_site_speaks_for_its_sources_and_takes_the_rest_from_the_clinic() -> None:
    settings = _load(GROUP.replace("SITE", "site: south"))
    north, south = settings.clinic_for("north-pm"), settings.clinic_for("south-pm")
    assert (north.name, north.phone, north.timezone) == ("North Dental", "+13125550100", "America/Denver")
    assert (south.name, south.phone, south.timezone) == ("South Dental", "+13125550000", "America/Chicago")
    assert south.locale_tag() == "es-US" and north.locale_tag() == "en-US"
    assert settings.site_of("north-pm") == "north" and settings.connectors_of("south") == ["south-pm"]
    assert settings.sites["north"].sms_from == "+13125550101"
    assert settings.clinic.name == "Lakeside Group"  # the group's own section is left as written


@pytest.mark.parametrize(("site", "problem"), [
    ("", "connectors[1].site (line 13): missing; once `sites:` is set every connector names its site "
         "(one of: north, south)"),
    ("site: east", "connectors[1].site (line 13): unknown site 'east' (one of: north, south)"),
])
def test_a_source_without_a_known_site_is_refused_by_its_key(site: str, problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        _load(GROUP.replace(", SITE", f", {site}" if site else ""))
    assert problem in str(refused.value)


def test_a_file_without_sites_is_one_practice_as_before() -> None:
    settings = _load("connectors: [{name: pm, kind: csv, mapping: generic_csv, drop_dir: /tmp}]")
    assert settings.site_of("pm") is None and settings.clinic_for("pm") is settings.clinic
    refused = r"connectors\[0\]\.site \(line 1\): unknown site 'x' \(`sites:` is not set\)"
    with pytest.raises(ConfigError, match=refused):
        _load("connectors: [{name: pm, kind: csv, mapping: generic_csv, drop_dir: /tmp, site: x}]")


def test_a_sites_sender_must_be_e164() -> None:
    with pytest.raises(ConfigError, match=r"sites\.north\.sms_from.*E\.164"):
        _load(GROUP.replace("SITE", "site: south").replace('"+13125550101"', '"555 0101"'))


def test_check_names_the_places_list_of_each_site() -> None:
    """`check`'s place warning points at the list a site's patients are told from: its own
    ``sites.<key>.places`` when it has one, else ``clinic.places``, and names the site."""
    from collections import Counter

    from clinicsync.sync.checks.source_check import SourceCheck
    from clinicsync.sync.cli.check import place_findings

    settings = _load(GROUP.replace("SITE", "site: south").replace(
        "  south: {name: South Dental, language: es-US}",
        "  south: {name: South Dental, language: es-US, places: {Annex: {address: 1 Annex Rd}}}"))
    results = [SourceCheck("north-pm", "csv", locations=Counter({"Annex": 3})),
               SourceCheck("south-pm", "csv", locations=Counter({"Annex": 2, "Loft": 1}))]
    messages = [finding.message for finding in place_findings(settings, results)]
    assert messages == [
        "location 'Annex' (3 record(s) of site north) has no entry in clinic.places: its patients are told to ask "
        "the clinic where to go (add it to clinic.places, or a '*' entry for a one-building clinic)",
        "location 'Loft' (1 record(s) of site south) has no entry in sites.south.places: its patients are told to "
        "ask the clinic where to go (add it to sites.south.places, or a '*' entry for a one-building clinic)"]
