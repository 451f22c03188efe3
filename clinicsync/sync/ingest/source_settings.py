"""A source's settings as a run reads them: its zone, its time convention, its compiled mapping.

Asked by the run, by `check`, by the push paths and by the waiting list: each must read a
source's naive times and mapping exactly as its poll does.
"""

from __future__ import annotations

from datetime import datetime

from clinicsync.connectors.base import ConnectorSettings, naive_zone
from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.store import Store


def live_from(store: Store, config: ConnectorSettings) -> datetime | None:
    """The go-live moment that new records of this connector are judged against (None: all
    are announced: ``announce_existing``, or no baseline yet). Go-live is a boundary, not a
    phase a bad first run ends: a booking clinicsync knew before it is never announced."""
    return None if config.announce_existing else store.go_live(config.name)


def source_timezone(settings: Settings, config: ConnectorSettings) -> str:
    """The zone of the source's visits when the record gives none: the connector's
    ``timezone:`` when it has one, else its site's, else the clinic's (clinic_for). With
    ``stored_times: local`` (the default) also the zone of its naive date-times
    (``source_clock``). A zone the mapping reads from the record wins over both."""
    return getattr(config, "timezone", None) or settings.clinic_for(config.name).timezone


def stored_times(config: ConnectorSettings) -> str:
    """The connector's time convention: ``local`` or ``utc`` (``stored_times:``)."""
    return str(getattr(config, "stored_times", "local"))


def source_clock(settings: Settings, config: ConnectorSettings) -> str:
    """The zone the source writes naive date-times in (its cursor values, window binds): UTC
    for ``stored_times: utc``, else ``source_timezone``."""
    return naive_zone(config, source_timezone(settings, config))


def mapping_for(settings: Settings, config: ConnectorSettings) -> CompiledMapping:
    """The connector's mapping, compiled with its source zone as the default zone and its
    time convention (with its site's places' zones, else clinic.places', for a source that stores UTC)."""
    clinic = settings.clinic_for(config.name)
    return load_mapping(config.mapping, source_timezone(settings, config), clinic.default_region,
                        settings.base_dir, clinic.plausible_dates.window(), stored_times(config),
                        clinic.place_zones(), clinic.default_visit_minutes)

