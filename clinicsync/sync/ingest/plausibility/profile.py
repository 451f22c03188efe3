"""The plausibility profile of one source: what its mapped visits look like as a whole.

`check` maps every record and refuses the ones that do not map; a mapping can still be
valid and wrong — times shifted by the zone's offset, the row's creator as the patient, the
service's name as the patient's, deleted rows as live visits. None of that shows in one
record; all of it shows over many. The profile is fed each raw record with the visit it
mapped to (``add``), keeps only counters (bounded: a million records cost a few counters
and at most a few thousand distinct ids), and ends in findings: errors for what would send
a wrong message, warnings for the rest. Used by `check` (and so by `discover --write`) and
by `sync --once --dry-run`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clinicsync.common.types import utcnow
from clinicsync.connectors.base import RawRecord
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.mappings.preset_schema import MappingPreset
from clinicsync.sync.ingest.plausibility.finding import Finding
from clinicsync.sync.ingest.plausibility.hours import StartHours
from clinicsync.sync.ingest.plausibility.identity import PatientIdentity
from clinicsync.sync.ingest.plausibility.reach import Needs, Reach
from clinicsync.sync.ingest.plausibility.shape import Durations, Statuses
from clinicsync.sync.ingest.plausibility.soft_deleted import SoftDeleted


@dataclass
class ProfileReport:
    """What the profile found over ``visits`` mapped visits."""

    visits: int
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    def as_dict(self) -> dict[str, Any]:
        return {"visits": self.visits, "summary": self.summary, "figures": self.figures, "ok": not self.errors,
                "findings": [f.as_dict() for f in self.findings]}

    def lines(self, connector: str) -> list[str]:
        """The profile as `check` and the dry run print it: one summary line, one per finding."""
        return [f"{connector}: plausibility: {self.summary}",
                *(f"{connector}: {f.level}: {f.message}" for f in self.findings)]


class Profile:
    def __init__(self, preset: MappingPreset | None, clinic_timezone: str, now: datetime | None = None,
                 needs: Needs | None = None) -> None:
        """``needs``: what the settings ask of each visit (reminders on, calendars or agendas on)."""
        self.clinic_timezone = clinic_timezone
        self.hours = StartHours()
        self.identity = PatientIdentity(preset)
        self.reach = Reach(now or utcnow(), needs, preset)
        self.soft_deleted = SoftDeleted()
        self.statuses = Statuses(preset)
        self.durations = Durations()
        self.visits = 0

    def add(self, record: Mapping[str, Any] | None, appointment: NormalizedAppointment) -> None:
        """One mapped visit, with the raw record it came from (None when not at hand)."""
        self.visits += 1
        self.hours.add(appointment)
        self.identity.add(appointment)
        self.reach.add(appointment, record)
        self.soft_deleted.add(record, appointment)
        self.statuses.add(record, appointment)
        self.durations.add(appointment)

    def add_batch(self, records: Sequence[RawRecord], mapped: Iterable[tuple[str, NormalizedAppointment]]) -> None:
        """A batch's mapped visits, each ``(position, appointment)``, met with its raw record by position."""
        raw = {record.position: record.data for record in records}
        for position, appointment in mapped:
            self.add(raw.get(position), appointment)

    def report(self) -> ProfileReport:
        if not self.visits:
            return ProfileReport(0, "no visit mapped: nothing to judge")
        summary = "; ".join((f"{self.visits} visits", self.hours.describe(), self.identity.describe(),
                             self.reach.describe()))
        figures = {"hours": self.hours.summary(), "patients": self.identity.summary(), "reach": self.reach.summary(),
                   "soft_deleted": self.soft_deleted.summary(), "statuses": self.statuses.summary(),
                   "durations": self.durations.summary()}
        findings = [*self.hours.findings(self.clinic_timezone), *self.identity.findings(),
                    *self.soft_deleted.findings(), *self.reach.findings(), *self.statuses.findings(),
                    *self.durations.findings()]
        findings.sort(key=lambda f: f.level != "error")  # errors first, each group in check order
        return ProfileReport(self.visits, summary, figures, findings)
