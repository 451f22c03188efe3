"""Connector kinds, discovered through the ``clinicsync.connectors`` entry-point group
so a site can add its own without forking."""

from __future__ import annotations

from functools import cache

from clinicsync.common.plugins import discover
from clinicsync.connectors.base import Connector, ConnectorSettings

GROUP = "clinicsync.connectors"


@cache
def connector_kinds() -> dict[str, type[Connector]]:
    kinds = discover(GROUP, Connector)
    if not kinds:
        raise RuntimeError("no connector kinds registered: is clinicsync installed (pip install -e .)?")
    return kinds


@cache
def connector_kind(kind: str) -> type[Connector]:
    """One kind, importing only its own module: `status` asking whether a csv source is
    polled need not import boto3, sqlglot and the FHIR auth stack, so it starts faster."""
    found = discover(GROUP, Connector, {kind})
    return found[kind] if kind in found else connector_kinds()[kind]  # unknown: KeyError, as before


def is_polled(settings: ConnectorSettings) -> bool:
    """Does a sync poll this connector (a push source is not)?"""
    return connector_kind(settings.kind).polled


def build_connector(settings: ConnectorSettings) -> Connector:
    return connector_kind(settings.kind)(settings)
