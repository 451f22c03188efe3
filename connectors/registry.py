"""Connector kinds, discovered through the ``clinicsync.connectors`` entry-point group
so a site can add its own without forking."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from connectors.base import Connector, ConnectorSettings

GROUP = "clinicsync.connectors"


@cache
def connector_kinds() -> dict[str, type[Connector]]:
    kinds: dict[str, type[Connector]] = {}
    for entry in entry_points(group=GROUP):
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise TypeError(f"entry point {entry.name} = {entry.value} is not a Connector subclass")
        kinds[entry.name] = cls
    if not kinds:
        raise RuntimeError("no connector kinds registered: is clinicsync installed (pip install -e .)?")
    return dict(sorted(kinds.items()))


def build_connector(settings: ConnectorSettings) -> Connector:
    return connector_kinds()[settings.kind](settings)
