"""One plausibility finding: which check, how bad, which mapped field, what to do.

A finding's message is built from counts, field names, column names, setting names and
hours only — never a record's value — so it is safe in a terminal, a log or a ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clinicsync.mappings.audit import field_paths
from clinicsync.mappings.preset_schema import MappingPreset

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """``error``: the mapping would send patients a wrong message (a wrong time, a wrong
    person, a deleted visit): `check` fails. ``warning``: worth a look, nothing wrong is sent."""

    check: str  # start_hours | visit_zone | patient_identity | reach | soft_deleted | statuses | durations
    level: Level
    field: str  # the mapped field it is about, e.g. "start" or "patient.external_id"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "level": self.level, "field": self.field, "message": self.message}


def share(part: int, whole: int) -> str:
    """``12 of 120 (10%)``: counts as a reader checks them."""
    return f"{part} of {whole} ({round(100 * part / whole) if whole else 0}%)"


def reads(preset: MappingPreset | None, target: str) -> str:
    """`` (the mapping reads `created_by`)``: the column(s) or path(s) a field is mapped from —
    names the admin wrote, never a value; empty when the field is a constant or unmapped."""
    spec = preset.fields.get(target) if preset is not None else None
    if spec is None:
        return ""
    paths = [path for field, path in field_paths(preset) if field == target] if preset is not None else []
    if spec.column is not None:
        paths += [spec.column] if isinstance(spec.column, str) else list(spec.column)
    return f" (the mapping reads {', '.join(f'`{p}`' for p in paths)})" if paths else ""
