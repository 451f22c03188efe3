"""/metrics and the weekly figures count the waitlist from the store: entries by status,
open slots, offers out, slots freed, offers sent, slots refilled and hours recovered (a slot
whose booking was refused is no refill). The slot and offer rows are written as the offer
stage writes them (its tables, sync/store/model/waitlist.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from clinicsync.mappings.model import NormalizedPatient
from clinicsync.mappings.waitlist import NormalizedWaitlistEntry
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.entries import apply_entries
from clinicsync.sync.waitlist.figures import refills_by_week
from tests.server.metrics_helpers import scrape, values

pytestmark = pytest.mark.anyio
NOW = datetime(2031, 3, 5, 12, 0, tzinfo=UTC)  # a Wednesday of ISO week 10


def seed(store: Store) -> None:
    """Three entries waiting and one removed; four freed slots: one open (an offer out), one
    taken and written (45 min), one taken as a desk task (30 min), one taken but refused."""
    with store.engine.begin() as connection:
        apply_entries(connection, "ehr", [
            NormalizedWaitlistEntry(f"w{i}", NormalizedPatient(f"p{i}"), "UTC") for i in range(4)], NOW)
        apply_entries(connection, "ehr", [
            NormalizedWaitlistEntry("w3", NormalizedPatient("p3"), "UTC", status="removed")], NOW)
        slots = [("open", None, 30, None), ("taken", "written", 45, NOW - timedelta(days=7)),
                 ("taken", "desk_task", 30, NOW), ("taken", "failed", 60, NOW)]
        for i, (status, booking, minutes, taken) in enumerate(slots, 1):
            start = NOW + timedelta(days=i)
            connection.execute(insert(FREED_SLOTS).values(
                id=i, appointment_id=100 + i, appointment_version=1, connector="ehr", start_utc=start,
                end_utc=start + timedelta(minutes=minutes), timezone="UTC", freed_by="patient", freed_at=NOW,
                status=status, booking_status=booking, taken_at=taken))
        offers = [(1, 0, "sent", NOW), (2, 0, "accepted", NOW), (2, 1, "taken_by_other", NOW), (3, 2, "pending", None)]
        for slot, entry, status, sent in offers:
            connection.execute(insert(WAITLIST_OFFERS).values(
                slot_id=slot, entry_id=entry + 1, rank=1, status=status, created_at=NOW, sent_at=sent))


async def test_metrics_count_the_waitlist(write_settings: Callable[..., Path], store: Store) -> None:
    seed(store)
    samples = await scrape(create_app(load_settings(write_settings()), store))
    assert values(samples, "clinicsync_waitlist_entries", "status") == \
        {"waiting": 3, "removed": 1, "booked": 0, "expired": 0}
    assert values(samples, "clinicsync_waitlist_open_slots") == {"": 1}
    assert values(samples, "clinicsync_waitlist_offers_out") == {"": 1}
    assert values(samples, "clinicsync_waitlist_slots_freed_total") == {"": 4}
    assert values(samples, "clinicsync_waitlist_offers_sent_total") == {"": 3}
    assert values(samples, "clinicsync_waitlist_slots_refilled_total") == {"": 2}
    assert values(samples, "clinicsync_waitlist_hours_recovered_total") == {"": 1.25}


def test_refills_by_week(store: Store) -> None:
    seed(store)
    with store.engine.connect() as connection:
        weeks = refills_by_week(connection, NOW - timedelta(weeks=4), NOW + timedelta(days=1),
                                ZoneInfo("America/New_York"))
    assert [(w.label, w.slots_refilled, w.hours_recovered) for w in weeks] == \
        [("2031-W09", 1, 0.75), ("2031-W10", 1, 0.5)]
