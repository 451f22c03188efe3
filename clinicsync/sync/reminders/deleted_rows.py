"""Deletes before reminders: a visit deleted at the source minutes before its reminder is not
reminded.

A source that cancels by deleting the row (an incremental database read: a deleted row is never
read again) learns of the deletion from its delete sweep (sync/ingest/sweep.py), hourly by
default; until then the visit stays booked in the store, and a reminder due meanwhile would go
to a patient who cancelled. So before the dispatcher sends the patient reminders of such a
source, it lists the source's ids once (``Connector.list_ids``: the id columns alone, the
sweep's own cheap read) and holds back the reminders of visits the source no longer lists. The
sweep then deletes the visit and cancels its messages as usual. A listing that fails sends as
before: a source that is down must not silence every reminder.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

import structlog

from clinicsync.connectors.base import ConnectorError, ConnectorSettings
from clinicsync.connectors.registry import build_connector
from clinicsync.mappings.model import MappingLoadError
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.source_settings import mapping_for
from clinicsync.sync.ingest.supersede import listed_visits
from clinicsync.sync.store.store import Store

log = structlog.get_logger()

GONE_AT_SOURCE = "the source no longer holds this visit (deleted there): not reminded"


def gone_at_source(settings: Settings, store: Store, wanted: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Of ``wanted`` ((connector, appointment id) of reminders about to go), those whose connector
    finds deletes by its sweep and whose id its listing lacks. One listing per such connector."""
    by_connector: dict[str, set[str]] = {}
    for connector, external_id in wanted:
        by_connector.setdefault(connector, set()).add(external_id)
    gone: set[tuple[str, str]] = set()
    configs = {config.name: config for config in settings.connectors}
    for name, ids in by_connector.items():
        config = configs.get(name)
        if config is not None:
            gone.update((name, external_id) for external_id in _unlisted(settings, store, config, ids))
    return gone


def _unlisted(settings: Settings, store: Store, config: ConnectorSettings, ids: Collection[str]) -> set[str]:
    connector = build_connector(config)
    try:
        if connector.sweep_schedule() is None:  # deletes are read, or not looked for at all
            return set()
        mapping = mapping_for(settings, config)
        connector.id_columns = mapping.id_columns()
        listing = connector.list_ids()
    except (ConnectorError, MappingLoadError) as exc:  # the source or its mapping: send as before
        log.warning("reminders.source_unlisted", connector=config.name,
                    error=type(exc).__name__, detail="the source's ids could not be listed before its "
                    "reminders: they go as before, a visit deleted since the last sweep included")
        return set()
    finally:
        connector.close()
    listed = {external_id for record in listing.records if (external_id := mapping.peek_id(record)) is not None}
    if "replaces" in mapping.preset.fields:  # a moved visit is stored under its first row's id: listed
        listed = listed_visits(store, config.name, listed)  # by its newest row, as the sweep reads it
    return set(ids) - listed
