"""What goes into the store and what comes out of a batch: the records a run hands it
(:class:`Mapped`), a batch's :class:`Counts`, a listing's end (:class:`SnapshotEnd`) and the
safety stop that guards it.

Plain values with no database in them, so the ingest, the checks and the tests can build and
read them without the write path."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from clinicsync.common.types import utcnow
from clinicsync.connectors.base import MIN_DELETE_STOP
from clinicsync.mappings.model import NormalizedAppointment, positional_builder

COUNT_KEYS = ("fetched", "created", "updated", "rescheduled", "cancelled", "noshow", "deleted",
              "unchanged", "quarantined")


@dataclass(frozen=True)
class Mapped:
    """A record that mapped, with where it came from. ``delete``: the source says the
    appointment is gone (e.g. HL7 SIU^S17), so it is deleted rather than upserted."""

    position: str
    appointment: NormalizedAppointment
    delete: bool = False
    record_id: str | None = None  # the connector's id of the record, when it has one
    # The raw record's fingerprint (sync/ingest/fingerprint.py), stored with the row it maps to.
    fingerprint: str | None = None
    # When clinicsync first saw the record, when earlier than this batch (the quarantine item a
    # retry imports it from): the go-live rule (Store.apply_batch ``go_live``) reads it.
    first_seen: datetime | None = None


# ``Mapped`` from all six fields in order, at a sixth of a frozen dataclass's cost: the batch
# path builds one per record (sync/ingest/engine.py _map_one; mappings/model.py positional_builder).
build_mapped = positional_builder(Mapped)


@dataclass
class Counts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    noshow: int = 0
    deleted: int = 0
    unchanged: int = 0
    quarantined: int = 0
    # Of ``updated``: visits at the same local time whose zone a settings edit changed (their
    # UTC instants moved, nobody told; sync/store/changes.py zone_corrected). Not in COUNT_KEYS (it
    # is part of ``updated``); in ``as_dict`` when there are any.
    corrected: int = 0
    # Of ``updated``/``rescheduled``: visits a re-read after a query or mapping fix corrected,
    # nobody told (sync/store/changes.py as_correction). In ``as_dict`` when there are any.
    remapped: int = 0
    # Patients whose stored phone number now reads in another country, or not at all: what a
    # changed clinic.default_region does to numbers written without +country (not a count of
    # records; in ``as_dict`` when there are any).
    phones_elsewhere: int = 0

    def add(self, other: Counts) -> None:
        for key in COUNT_KEYS:
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.corrected += other.corrected
        self.remapped += other.remapped
        self.phones_elsewhere += other.phones_elsewhere

    def as_dict(self) -> dict[str, int]:
        """The counts by name, in COUNT_KEYS (field) order: what ``asdict`` gave, without its
        recursive copy (a push writes its run's counts each time: ~0.1 ms); then
        ``corrected`` when there are any."""
        counts = {key: getattr(self, key) for key in COUNT_KEYS}
        if self.corrected:
            counts["corrected"] = self.corrected
        if self.remapped:
            counts["remapped"] = self.remapped
        if self.phones_elsewhere:
            counts["phones_elsewhere"] = self.phones_elsewhere
        return counts


@dataclass
class SnapshotEnd:
    """Ends a full listing: future appointments not in ``seen`` are deleted,
    unless more than ``max_share`` of them would go (a truncated export)."""

    seen: set[str]
    max_share: float
    now: datetime = field(default_factory=utcnow)
    until: datetime | None = None  # compare only appointments starting before (a delete sweep's window)
    sweep: bool = False  # an incremental source's id listing, not a snapshot (the safety stop's wording)
    # Fewer deletions than this never stop, whatever their share, while the listing still holds
    # at least half of the window's visits.
    min_stop: int = MIN_DELETE_STOP
    # A correcting read's (patient id, change stamp) pairs (sync/ingest/renamed.py): a visit it
    # lists under no id, whose patient and stamp a record of it has, is still in the source under
    # another id (a series row read as its sessions, none at the visit's start): ended, not news.
    held: set[tuple[str | None, datetime]] = field(default_factory=set)


class SnapshotSafetyStop(Exception):
    def __init__(self, absent: int, total: int, max_share: float, sweep: bool = False) -> None:
        self.absent, self.total, self.max_share = absent, total, max_share
        listing, complete = (("the source's id listing (delete sweep)", "the rows were really deleted") if sweep
                             else ("the newest snapshot", "the export is complete"))
        super().__init__(
            f"{'delete sweep' if sweep else 'snapshot'} safety stop: {absent} of {total} future appointments "
            f"({absent / total:.0%}) are missing from {listing}, more than the allowed "
            f"{max_share:.0%}; nothing was deleted. If {complete}, raise "
            "`max_delete_share` (or `min_delete_stop`) for this connector and sync again.")


