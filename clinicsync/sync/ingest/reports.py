"""What a run reports: each source's counts or error, and the run's extras (zone rules, orphans).

Read by the CLI's report, the service's stages and the rehearsal; kept apart from the engine so
that a reader of a report needs none of the run's machinery.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clinicsync.sync.store.store import Counts

if TYPE_CHECKING:
    from clinicsync.sync.ingest.plausibility import ProfileReport


@dataclass
class ConnectorReport:
    counts: Counts = field(default_factory=Counts)
    error: str | None = None
    skipped: str | None = None  # why this worker did not poll it (not a failure)
    # A dry run only: mapped fields no record of the run filled (a misspelt column?), and of how many.
    empty_fields: list[str] = field(default_factory=list)
    mapped_records: int = 0
    plausibility: ProfileReport | None = None  # a dry run only: the mapped visits as a whole (sync/plausibility)

    def as_dict(self) -> dict[str, Any]:
        return {**self.counts.as_dict(), "error": self.error, "skipped": self.skipped}


@dataclass
class RunReport:
    run_id: str
    connectors: dict[str, ConnectorReport] = field(default_factory=dict)
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)  # sibling keys from pipeline stages

    @property
    def failed(self) -> bool:
        return any(r.error for r in self.connectors.values()) or any(
            e.get("error") for e in self.extras.values())

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "connectors": {k: v.as_dict() for k, v in self.connectors.items()},
                **self.extras}


def new_run_id() -> str:
    return uuid.uuid4().hex
