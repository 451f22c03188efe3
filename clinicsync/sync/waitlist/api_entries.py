"""The REST API's waitlist (sync/server/waitlist_api.py): storing one mapped entry, taking one
off the list and reading them back, each one transaction.

Here rather than in the route so the API only translates: the entry is checked as a source's
listing is (reach.py's refusals, one live entry per patient and need) in the transaction that
stores it, and the route turns what came back into its HTTP answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clinicsync.common.waitlist_states import EntryStatus
from clinicsync.mappings.waitlist import NormalizedWaitlistEntry
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.entries import (
    apply_entries,
    entry_rows,
    live_duplicate,
    need_of,
    remove_by_key,
    store_patients,
)
from clinicsync.sync.waitlist.reach import Refusal, check_entry


@dataclass(frozen=True)
class ApiSave:
    """What became of the API's entry: ``result`` (created, updated or unchanged), or nothing
    stored because no offer could reach it (``refusal``) or the patient already waits for the
    same need under another of the source's ids (``duplicate``: that id)."""

    result: str | None = None
    refusal: Refusal | None = None
    duplicate: str | None = None


def save_from_api(store: Store, source: str, entry: NormalizedWaitlistEntry, now: datetime) -> ApiSave:
    """Check and store ``source``'s entry (and its patient) in one transaction."""
    with store.engine.begin() as connection:
        checked = check_entry(connection, source, entry, now)
        if checked.refusal is not None:
            return ApiSave(refusal=checked.refusal)
        if entry.status == EntryStatus.WAITING:
            found = live_duplicate(connection, need_of(source, entry), except_key=entry.external_id)
            if found is not None:
                return ApiSave(duplicate=str(found.external_id))
        store_patients(store, connection, source, [entry], now)
        later = {entry.external_id: checked.later_appointment_id} if checked.later_appointment_id else {}
        counts = apply_entries(connection, source, [entry], now, later)
    return ApiSave("created" if counts.created else "updated" if counts.updated or counts.removed else "unchanged")


def remove_from_api(store: Store, source: str, external_id: str, now: datetime) -> str | None:
    """``removed``, ``unchanged`` (it was not waiting), or None without such an entry (entries.py ``remove_by_key``)."""
    with store.engine.begin() as connection:
        return remove_by_key(connection, source, external_id, now)


def entries_of(store: Store, source: str, statuses: Sequence[str], limit: int,
               external_id: str | None = None) -> list[dict[str, Any]]:
    """``source``'s entries in these statuses (one by ``external_id``), in offer order."""
    with store.engine.connect() as connection:
        return entry_rows(connection, statuses, limit, source, external_id)
