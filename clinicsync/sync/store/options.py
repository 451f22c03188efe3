"""How a batch or a push is applied: :class:`BatchOptions` for ``Store.apply_batch`` (a poll, a
retry, a sweep), :class:`PushOptions` for ``Store.apply_push`` (one webhook, REST call or HL7
message), and :data:`STORED_GO_LIVE`, a push's go-live moment read from the store.

Named options with their defaults, not keyword arguments: each caller says only what differs
from a plain batch, and a push's options (read in one statement, folded, refused on a first run)
cannot be given to a poll by mistake."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import Connection

from clinicsync.sync.store import quarantine
from clinicsync.sync.store.presence import FoldedRead
from clinicsync.sync.store.records import Counts, SnapshotEnd

# Runs first inside a batch's transaction; may return the positions of records already applied.
Within = Callable[[Connection], Collection[str] | None]


class StoredGoLive(Enum):
    """A push's go-live moment as the store holds it: read with the push's presence in its own
    transaction, so a baseline another process records is seen by the next push."""

    STORED = "stored"


STORED_GO_LIVE = StoredGoLive.STORED


@dataclass(frozen=True)
class HeldUntil:
    """What a correcting read knows of the source as it was at the last read: the newest change
    stamp stored (``changed``) and the newest visit stored (``stored``, the store's own clock).
    A record new to the store stamped no later than ``changed``, or without a change stamp but
    booked no later than ``stored``, was in the source then (not read, or under another id)."""

    changed: datetime | None
    stored: datetime | None

    def holds(self, source_updated_at: datetime | None, booked_at: datetime | None) -> bool:
        """Whether a record with these stamps was in the source at the last read."""
        if source_updated_at is not None:
            return self.changed is not None and source_updated_at <= self.changed
        return booked_at is not None and self.stored is not None and booked_at <= self.stored


@dataclass(frozen=True)
class BatchOptions:
    """How ``Store.apply_batch`` stores one batch; the defaults store a plain one.

    ``within`` runs first inside the same transaction (e.g. recording a message id
    that must never be applied twice); whatever it raises rolls the batch back. It may
    return positions of records already applied (replays), which are left out.
    ``snapshot_end``: the batch ends a full listing; what it does not list may be deleted
    (:class:`SnapshotEnd`, behind its safety stop).
    ``baseline``: the batch belongs to the connector's first sync; its events carry
    ``"baseline": true`` so that nothing is announced for what existed before go-live.
    ``unchanged``: records the engine knew unchanged by their fingerprint and left out;
    they count as fetched and unchanged, and ``unchanged_ids`` (the ids they are known
    by) close open quarantine items as an imported record does.
    ``remember_people``: the caller is the only writer of this connector's rows for the
    whole run (a poll under its poll lock, or a dry run): the patients and
    practitioners this run stored are remembered, and one that comes again equal to
    what the run stored is not looked up, hashed or written again. Not for push
    receivers, whose replicas may write the same connector at once.
    ``go_live``: the connector's go-live moment (``Store.go_live``; None: announce all). A
    record new to the store that clinicsync first saw before it (a quarantine item opened
    at the baseline and imported after a mapping fix, by retry or by a later read) is
    recorded like the baseline's (``"baseline": true``, ``"before_go_live": true``):
    its reminders are planned, it is not announced.
    ``sightings``: known-bad records the engine recognized by their fingerprint and left
    out; they count as fetched and quarantined, and bump their open items.
    ``current``: the records are the source's state read now (a poll: ``Connector.reads_current_state``),
    not messages sent earlier, so one whose time equals the stored one's is applied (``classify``).
    ``correcting``: the batch is a re-read after the connector's query, mapping or cursor column
    changed: what only the fix changed is recorded as a correction (changes.py ``as_correction``).
    ``held_until``: in such a read, what the store held before it (:class:`HeldUntil`); a record
    new to the store that was in the source at the last read (not read, or under another id) is
    recorded as a correction too, its reminders planned, not announced."""

    within: Within | None = None
    snapshot_end: SnapshotEnd | None = None
    baseline: bool = False
    unchanged: int = 0
    unchanged_ids: Collection[str] = ()
    remember_people: bool = False
    go_live: datetime | None = None
    sightings: Sequence[quarantine.Sighting] = ()
    current: bool = False
    correcting: bool = False
    held_until: HeldUntil | None = None


@dataclass(frozen=True)
class PushOptions:
    """How ``Store.apply_push`` stores one push: the connector's presence is read in one
    statement first in the transaction, and what it has not (tombstones, quarantine items) is
    not looked up.

    ``within``: as :class:`BatchOptions`' (a webhook's receipt, an HL7 message id).
    ``go_live``: as :class:`BatchOptions`', or :data:`STORED_GO_LIVE`: the moment read with the
    presence.
    ``finish`` runs last inside the same transaction with the push's counts and safety-stop
    error (a push records its run there: one transaction per push, sync/ingest/push.py).
    ``folded``: a second ``within``, run after it; on PostgreSQL, when the push's one read
    is made (one appointment), read in that statement instead (:class:`FoldedRead`).
    ``unstored``: runs, before anything is written, when the connector holds no appointment yet
    (``Presence.visits``, read with the probes: a connector that has rows pays nothing);
    whatever it raises rolls the push back (a push's first-run refusal, sync/ingest/push.py)."""

    within: Within | None = None
    go_live: datetime | StoredGoLive | None = None
    finish: Callable[[Connection, Counts, str | None], None] | None = None
    folded: FoldedRead | None = None
    unstored: Callable[[Connection], None] | None = None
