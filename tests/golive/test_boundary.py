"""Go-live is a boundary, not a phase that a bad first run ends (issue 28 obs 3).

A mapping that misses one status word quarantines part of the first sync; that sync still
succeeds, so the quiet baseline ends. After the mapping is fixed, what was quarantined then
was known to clinicsync before go-live: imported by `quarantine retry` or read again by a
later sync, it gets its reminders and no confirmation. A booking first seen after go-live
that was quarantined and fixed the same way is announced as usual."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest import reprocess
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.ingest.push import PushReceiver
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.golive.test_baseline import OUTBOX_REMINDERS

DAY = (date.today() + timedelta(days=10)).isoformat()
HEADER = "appointment_id,start,duration_minutes,status,patient_id,patient_phone\n"
MAPPING = "extends: csv_default\nstatus_map: {%s}\n"


def rows(folder: Path, name: str, *items: tuple[str, str]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(HEADER + "".join(
        f"{i},{DAY} {9 + n}:00,30,{status},P{i},(212) 555-01{n:02d}\n" for n, (i, status) in enumerate(items)),
        encoding="utf-8")


@pytest.fixture
def settings_for(write_settings: Callable[..., Path], tmp_path: Path) -> Callable[..., Settings]:
    def make(status_map: str, fields: str = "") -> Settings:
        (tmp_path / "site.yaml").write_text(MAPPING % status_map + fields, encoding="utf-8")
        connectors = (f"- name: front\n  kind: csv\n  mapping: site.yaml\n  drop_dir: {tmp_path / 'drop'}\n"
                      "  settle_seconds: 0\n")
        return load_settings(write_settings(connectors, extra=OUTBOX_REMINDERS))
    return make


def told(store: Store) -> Counter[tuple[str, str]]:
    """(kind, appointment's source id) of every planned patient message."""
    with store.engine.connect() as connection:
        found = connection.execute(
            select(REMINDERS.c.kind, REMINDERS.c.recipient_ref).where(REMINDERS.c.recipient == "patient")).all()
    return Counter((kind, ref) for kind, ref in found)


def test_a_mapping_fix_after_go_live_announces_nothing_booked_before_it(
        store: Store, tmp_path: Path, settings_for: Callable[..., Settings]) -> None:
    drop = tmp_path / "drop"
    rows(drop, "a.csv", ("A1", "booked"), ("A2", "booked online"), ("A3", "booked"), ("A4", "booked online"))
    settings = settings_for("")
    first = sync_once(settings, store).connectors["front"]
    assert (first.counts.created, first.counts.quarantined, first.error) == (2, 2, None)
    assert store.baseline_done("front")  # the sync succeeded: the baseline is over

    rows(drop, "b.csv", ("N1", "booked online"))  # a booking after go-live, quarantined too
    sync_once(settings, store)
    rows(drop, "c.csv", ("N2", "booked"))  # one that maps
    sync_once(settings, store)

    fixed = settings_for('"booked online": booked')
    outcomes = reprocess.retry(fixed, store)
    assert [o.result for o in outcomes] == ["imported"] * 3
    plan(fixed, store)
    kinds = told(store)
    assert {ref for (kind, ref) in kinds if kind == "confirmation"} == {"PN1", "PN2"}, kinds
    assert {ref for (kind, ref) in kinds if kind == "reminder"} == {"PA1", "PA2", "PA3", "PA4", "PN1", "PN2"}


def test_a_row_read_again_after_the_fix_is_not_announced_either(
        store: Store, tmp_path: Path, settings_for: Callable[..., Settings]) -> None:
    """Fixed at the source or re-exported instead of retried: the same rule, by the quarantine
    item that first saw the record."""
    drop = tmp_path / "drop"
    rows(drop, "a.csv", ("A1", "booked"), ("A2", "booked online"))
    sync_once(settings_for(""), store)
    rows(drop, "b.csv", ("A2", "booked"))  # the source's next export, status word fixed there
    fixed = settings_for("")
    assert sync_once(fixed, store).connectors["front"].counts.created == 1
    plan(fixed, store)
    assert told(store) == Counter({("reminder", "PA1"): 1, ("reminder", "PA2"): 1})


def test_the_sources_own_booking_time_decides_only_for_a_row_unchanged_since_go_live(
        store: Store, tmp_path: Path, settings_for: Callable[..., Settings]) -> None:
    """A record new to the store after go-live whose source says it was booked before go-live,
    and which the source has not changed since (a late replica, an export that lagged), is
    recorded, not announced. But a booking time mapped from the row's creation is no booking
    time: a pre-made free slot (created long before, booked after go-live, so changed after it)
    is a booking first seen now, and so is a row without a change stamp: first sight after go-live
    wins (issue 57 obs 6: bookings into pre-made slots got no confirmation)."""
    drop = tmp_path / "drop"
    settings = settings_for("", "fields:\n  booked_at: {from: booked_at}\n"
                                "  source_updated_at: {from: updated_at, type: datetime}\n")
    head = "appointment_id,start,duration_minutes,patient_id,patient_phone,booked_at,updated_at\n"
    drop.mkdir()
    (drop / "a.csv").write_text(head + f"A1,{DAY} 09:00,30,PA1,(212) 555-0101,2020-01-01T10:00:00Z,"
                                       "2020-01-01T10:00:00Z\n", encoding="utf-8")
    sync_once(settings, store)  # the baseline
    live = store.go_live("front")
    assert live is not None
    before, after = (live - timedelta(minutes=5)).isoformat(), (live + timedelta(minutes=5)).isoformat()
    (drop / "b.csv").write_text(head + f"L1,{DAY} 10:00,30,PL1,(212) 555-0102,{before},{before}\n"
                                       f"N1,{DAY} 11:00,30,PN1,(212) 555-0103,{after},{after}\n"
                                       f"U1,{DAY} 12:00,30,PU1,(212) 555-0104,,\n"
                                       f"S1,{DAY} 13:00,30,PS1,(212) 555-0105,2020-01-01T10:00:00Z,{after}\n"
                                       f"C1,{DAY} 14:00,30,PC1,(212) 555-0106,{before},\n", encoding="utf-8")
    sync_once(settings, store)
    plan(settings, store)
    # L1: booked and last changed before go-live; S1: a pre-made slot booked now; C1: no change stamp.
    assert {ref for (kind, ref) in told(store) if kind == "confirmation"} == {"PN1", "PU1", "PS1", "PC1"}
    assert {ref for (kind, ref) in told(store) if kind == "reminder"} == {"PA1", "PL1", "PN1", "PU1", "PS1", "PC1"}


def test_a_push_of_a_record_quarantined_before_go_live_is_not_announced(
        store: Store, tmp_path: Path, settings_for: Callable[..., Settings]) -> None:
    """The same rule for a record that arrives by push (a webhook, a FHIR notification)."""
    rows(tmp_path / "drop", "a.csv", ("A1", "booked"), ("A2", "booked online"))
    sync_once(settings_for(""), store)
    fixed = settings_for('"booked online": booked')
    receiver = PushReceiver(fixed, store, fixed.connectors[0])
    for external_id in ("A2", "N1"):  # A2 was quarantined at the baseline; N1 is new
        record = {"appointment_id": external_id, "start": f"{DAY} 15:00", "duration_minutes": "30",
                  "status": "booked online", "patient_id": f"P{external_id}", "patient_phone": "(212) 555-0199"}
        assert receiver.receive(record, f"push:{external_id}", quarantine_bad=True).outcome == "created"
    plan(fixed, store)
    assert {ref for (kind, ref) in told(store) if kind == "confirmation"} == {"PN1"}
    assert {ref for (kind, ref) in told(store) if kind == "reminder"} == {"PA1", "PA2", "PN1"}
