"""What the desk's actions need to know of a source and of a visit's moment: whether the source
takes answers back, the clinic's name for it, and which actions close a visit."""

from __future__ import annotations

from clinicsync.sync.config.settings import Settings

CLOSING = ("no_show", "arrived", "cancel")  # a desk action that ends the visit for the desk
OPEN_AT_START = ("booked", "pending", "proposed")  # started and not yet closed: the source says no more


# Does this source take answers back: the settings' rule (Settings.writes_back), under the name
# the desk's callers use, writes_back(settings, connector).
writes_back = Settings.writes_back


def source_kind(settings: Settings, connector: str) -> str:
    """The clinic's name for the system a connector reads, for "cancel it in OpenEMR": its
    ``label:``, else its kind (csv, sql, fhir …), else the connector's own name."""
    config = next((c for c in settings.connectors if c.name == connector), None)
    return config.system_name() if config is not None else connector
