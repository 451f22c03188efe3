"""The front desk's waitlist (the status page's Waitlist, sync/ui/waitlist_page.py): what the
page reads, in one connection, and the desk's two changes to the list, each one transaction.

Here rather than in the page so the status page only shows and asks: adding an entry checks it
the way a source's or the API's entry is checked (one live entry per patient and need,
reach.py's refusals) in the transaction that stores it, and the page cannot store one
without those checks. Names are read as stored; masking them is the page's."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from clinicsync.common.waitlist_states import EntryStatus
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import PATIENTS, PRACTITIONERS
from clinicsync.sync.waitlist.entries import NewEntry, add_entry, duplicate_of, entry_dict, entry_rows, remove_by_id
from clinicsync.sync.waitlist.entries import status_counts as entry_counts
from clinicsync.sync.waitlist.figures import Totals, WeekRefill, refills_by_week, totals
from clinicsync.sync.waitlist.reach import Refusal, check_desk_entry

Key = tuple[str, str]  # (connector, external id)


@dataclass(frozen=True)
class PageRows:
    """The page's rows as stored: waiting entries (entries.py ``entry_dict``), open, taken and
    expired slots, offers out or accepted, the names of their patients and doctors, the
    entries per status and the waitlist's totals."""

    entries: list[dict[str, Any]]
    slots: list[dict[str, Any]]
    offers: list[dict[str, Any]]
    patients: dict[Key, str]
    doctors: dict[Key, str]
    counts: dict[str, int]
    totals: Totals


def page_rows(store: Store, sources: Collection[str] | None, shown: int) -> PageRows:
    """``shown`` waiting entries, up to three times as many slots and twice as many offers,
    of ``sources`` (a site-scoped user's; None: all), read in one connection."""
    rows = store.waitlist_rows
    with store.engine.connect() as connection:
        entries = [entry_dict(r) for r in entry_rows(connection, (EntryStatus.WAITING,), shown, connectors=sources)]
        slots = rows.shown_slots(connection, sources, 3 * shown)
        offers = rows.shown_offers(connection, sources, 2 * shown)
        people = {(e["connector"], e["patient_ref"]) for e in entries} | {(o["connector"], o["patient_ref"])
                                                                            for o in offers}
        patients = rows.names(connection, PATIENTS, people)
        doctors = rows.names(connection, PRACTITIONERS, {
            *((e["connector"], e["practitioner_ref"]) for e in entries if e["practitioner_ref"]),
            *((s["connector"], s["practitioner_ref"]) for s in slots if s["practitioner_ref"])})
        counts = entry_counts(connection, sources)
        found = totals(connection, sources)
    return PageRows(entries, slots, offers, patients, doctors, counts, found)


def refills(store: Store, since: datetime, until: datetime, zone: ZoneInfo,
            sources: Collection[str] | None = None) -> list[WeekRefill]:
    """Slots refilled and hours recovered per week of ``zone`` (figures.py), for the page's chart."""
    with store.engine.connect() as connection:
        return refills_by_week(connection, since, until, zone, sources)


@dataclass(frozen=True)
class DeskAdd:
    """What became of the desk's new entry: stored (``entry_id``), or not, because the patient
    already waits for the same need (``existing``: that entry's row) or no offer could ever
    reach it (``refusal``)."""

    entry_id: int | None = None
    existing: Any | None = None
    refusal: Refusal | None = None


def add_from_desk(store: Store, entry: NewEntry, now: datetime, added_by: str) -> DeskAdd:
    """Store the desk's entry unless it doubles a live one or cannot be reached, checked and
    stored in one transaction."""
    with store.engine.begin() as connection:
        existing = duplicate_of(connection, entry)
        if existing is not None:
            return DeskAdd(existing=existing)
        refusal = check_desk_entry(connection, entry, now)
        if refusal is not None:
            return DeskAdd(refusal=refusal)
        entry_id, _ = add_entry(connection, entry, now, added_by=added_by)
    return DeskAdd(entry_id=entry_id)


def remove_from_desk(store: Store, entry_id: int, now: datetime) -> bool:
    """The desk takes an entry off the list; False when none waits by that id."""
    with store.engine.begin() as connection:
        return remove_by_id(connection, entry_id, now)
