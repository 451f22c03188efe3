"""Statuses that never vary and visit lengths no clinic has: warnings, not failures.

Every record the same status while the source's own status column holds several words
means the status map sends all of them to one (a cancelled visit reminded as booked would
be caught by a real status; this is the hint to look). A visit of zero minutes (end read
from the start column) or of more than 12 hours (a date read as the end) is a mapping slip.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.mappings.preset_schema import MappingPreset
from clinicsync.sync.ingest.plausibility.finding import Finding, reads, share

MIN_RECORDS = 20
KEEP_WORDS = 50
LONG = timedelta(hours=12)
ODD_SHARE = 0.05  # warn when this share of visits (or more) have an odd length


def status_column(preset: MappingPreset | None) -> str | None:
    """The raw column status is read from, when it is one plain column (else None)."""
    spec = preset.fields.get("status") if preset is not None else None
    if spec is None:
        return None
    source = spec.column if spec.column is not None else spec.from_
    if isinstance(source, list):
        source = source[0] if len(source) == 1 else None
    return source if isinstance(source, str) else None


def _constant(preset: MappingPreset | None) -> bool:
    """The mapping gives status no column to read: a constant ``value:`` (or only a default)."""
    spec = preset.fields.get("status") if preset is not None else None
    return spec is not None and spec.value is not None


class Statuses:
    def __init__(self, preset: MappingPreset | None = None) -> None:
        self.preset, self.column, self.constant = preset, status_column(preset), _constant(preset)
        self.mapped: Counter[str] = Counter()
        self.raw: set[Any] = set()  # the column's values as read (normalized once, at the end)

    def add(self, record: Mapping[str, Any] | None, appointment: NormalizedAppointment) -> None:
        self.mapped[appointment.status] += 1
        if self.column is not None and isinstance(record, Mapping) and len(self.raw) < KEEP_WORDS:
            word = record.get(self.column)
            if isinstance(word, str | int):
                self.raw.add(word)

    @property
    def words(self) -> set[str]:
        return {w for w in (str(raw).strip().lower() for raw in self.raw) if w}

    def summary(self) -> dict[str, Any]:
        return {"statuses": dict(self.mapped), "source_words": len(self.words)}

    def findings(self) -> list[Finding]:
        total, words = sum(self.mapped.values()), self.words
        if total >= MIN_RECORDS and self.constant:
            return [Finding("statuses", "warning", "status",
                            f"status: a constant in the mapping (`value:`), on all {total} visits: a visit the source "
                            "cancels stays as it was here. Map status from the source's status column")]
        if total < MIN_RECORDS or len(self.mapped) != 1 or len(words) < 2:
            return []
        status = next(iter(self.mapped))
        return [Finding("statuses", "warning", "status",
                        f"status: all {total} visits map to {status!r} while the source's status column holds "
                        f"{len(words)} different words{reads(self.preset, 'status')}: check the mapping's "
                        "status_map against that column's words")]


class Durations:
    def __init__(self) -> None:
        self.visits = self.zero = self.long = 0

    def add(self, appointment: NormalizedAppointment) -> None:
        self.visits += 1
        length = appointment.end - appointment.start
        self.zero += length <= timedelta(0)
        self.long += length > LONG

    def summary(self) -> dict[str, Any]:
        return {"zero": self.zero, "over_12h": self.long}

    def findings(self) -> list[Finding]:
        found = []
        for count, what in ((self.zero, "last zero minutes"), (self.long, "last over 12 hours")):
            if count and count >= ODD_SHARE * self.visits:
                found.append(Finding("durations", "warning", "end",
                                     f"end: {share(count, self.visits)} visits {what}: map end (or "
                                     "duration_minutes) from the visit's own end or length"))
        return found
