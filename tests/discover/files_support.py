"""For the CSV, FHIR and HL7 discover tests: a proposal written as a site would have it (the
connector block in settings.yaml, the mapping file beside it) and checked with the real
``check`` (sync/checks/source_check.py): the settings load, the source is read and mapped."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from clinicsync.sync.checks.source_check import SourceCheck, check_connector
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.discover.proposal import Proposal


def write_proposal(proposal: Proposal, folder: Path, timezone: str, region: str) -> Path:
    """settings.yaml (and mappings/NAME.yaml when the proposal has a mapping file) in ``folder``."""
    connector: dict[str, Any] = dict(proposal.connector)
    if proposal.mapping is not None:
        mapping = {"name": proposal.name, **proposal.mapping}
        (folder / "mappings").mkdir(exist_ok=True)
        (folder / "mappings" / f"{proposal.name}.yaml").write_text(
            yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False), encoding="utf-8")
        connector["mapping"] = f"mappings/{proposal.name}.yaml"
    elif proposal.mapping_preset is not None:
        connector["mapping"] = proposal.mapping_preset
    settings = {"clinic": {"timezone": timezone, "default_region": region},
                "store": {"url": f"sqlite:///{folder / 'store.db'}"},
                "connectors": [connector]}
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def check_proposal(proposal: Proposal, folder: Path, timezone: str, region: str) -> SourceCheck:
    settings = load_settings(write_proposal(proposal, folder, timezone, region))
    config = next(c for c in settings.connectors if c.name == proposal.name)
    return check_connector(settings, config)


def window_rows(postgres_url: str, query: str, start: datetime) -> list[dict[str, Any]]:
    """The rows a proposal's query returns on PostgreSQL for a window around ``start`` (as a
    sync binds it), to map them one by one with the written mapping."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(query), {"window_start": start - timedelta(days=1),
                                                    "window_end": start + timedelta(days=60)}).mappings().all()
    finally:
        engine.dispose()
    return [dict(row) for row in rows]
