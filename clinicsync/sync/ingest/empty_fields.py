"""Mapped fields that stay empty on every record: the sign of a misspelt column.

A mapping that reads ``phone`` from an export whose column is ``mobile`` maps every row
without an error (a phone is optional), and every reminder is quietly planned without one.
Both ``check`` and ``sync --once --dry-run`` count, per mapped field, how many records gave
it a value; a field no record filled is reported by name and count, never with a value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from clinicsync.mappings.engine import CompiledMapping
from clinicsync.mappings.model import NormalizedAppointment

# Set on every mapped appointment (required, or derived): never "empty".
ALWAYS_SET = frozenset({"external_id", "status", "start", "end", "duration_minutes", "timezone"})


def _filled(appointment: NormalizedAppointment, target: str) -> bool:
    owner, _, name = target.rpartition(".")
    holder = getattr(appointment, owner) if owner else appointment
    return holder is not None and getattr(holder, name, None) not in (None, "")


class FieldFill:
    """Counts, per field the mapping reads, the mapped records that gave it a value."""

    def __init__(self, mapping: CompiledMapping) -> None:
        self.targets = tuple(t for t in mapping.preset.fields if t not in ALWAYS_SET)
        self.filled: Counter[str] = Counter()
        self.records = 0

    def add(self, appointments: Iterable[NormalizedAppointment]) -> None:
        for appointment in appointments:
            self.records += 1
            self.filled.update(t for t in self.targets if _filled(appointment, t))

    def empty(self) -> list[str]:
        """The fields no record filled (none when no record was mapped: nothing to say)."""
        if not self.records:
            return []
        return sorted(t for t in self.targets if not self.filled[t])
