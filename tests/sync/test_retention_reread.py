"""The crucial property of forgetting (sync/store/retention.py): a source that still lists a visit
whose patient data was forgotten imports nothing new from it — no event in the outbox, no
calendar event, no notice, no reminder, and not the patient's details — whether its record
is recognized by its fingerprint or mapped again (a changed mapping epoch: an upgrade, a
settings change). A new visit of the same patient brings their details back, so their
reminders go out. Real passes (`run_once`: the poll, its prune, the calendar and planning
stages) on a CSV snapshot, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from clinicsync.common.types import utcnow
from clinicsync.sync.cli.demo import COLUMNS
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.service.pipeline import run_once
from clinicsync.sync.store import retention
from clinicsync.sync.store.model import Appointment, Event, Patient
from clinicsync.sync.store.model.calendar import ICS_EVENTS, LINKS
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store

A = Appointment.__table__  # type: ignore[attr-defined]
E = Event.__table__  # type: ignore[attr-defined]
P = Patient.__table__  # type: ignore[attr-defined]
NOW = utcnow().replace(minute=0, second=0, microsecond=0)


def row(ext: str, patient: str, start: datetime, **extra: str) -> dict[str, str]:
    return {**dict.fromkeys(COLUMNS, ""), "appointment_id": ext, "start": start.isoformat(),
            "duration_minutes": "30", "status": "booked", "type": "Checkup", "patient_id": patient,
            "patient_name": f"Name {patient}", "patient_phone": "+12125550123", "doctor_id": "D1",
            "doctor_name": "Dr. Hart", "doctor_email": "hart@clinic.example.org", "location": "Main", **extra}


def drop(folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / name).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*COLUMNS, "join_url"])
        writer.writeheader()
        writer.writerows(rows)


def trace(store: Store, ext: str) -> tuple[int, int, int, int]:
    """What the visit ``ext`` caused: events, calendar links, .ics events, reminders."""
    with store.engine.connect() as c:
        [appointment_id] = c.execute(select(A.c.id).where(A.c.external_id == ext)).scalars()
        counted = [c.execute(select(func.count()).select_from(table).where(column == appointment_id)).scalar()
                   for table, column in ((E, E.c.appointment_id), (LINKS, LINKS.c.appointment_id),
                                         (REMINDERS, REMINDERS.c.appointment_id))]
        ics = c.execute(select(func.count()).select_from(ICS_EVENTS)).scalar()
    return counted[0], counted[1], counted[2], ics


def patient(store: Store, ref: str) -> tuple[Any, ...]:
    with store.engine.connect() as c:
        return tuple(c.execute(select(P.c.name, P.c.phone, P.c.content_hash).where(P.c.external_id == ref)).one())


def test_a_source_still_listing_a_forgotten_visit_imports_nothing_new(
        store: Store, tmp_path: Path, write_settings: Callable[..., Path]) -> None:
    folder = tmp_path / "emr"
    config = ("- name: emr\n  kind: csv\n  mapping: csv_default\n  mode: snapshot\n  settle_seconds: 0\n"
              f"  drop_dir: {folder}\n  archive_dir: {tmp_path / 'done'}\n  batch_size: {{batch}}\n")
    extra = "calendar:\n  provider: ics\n  ics: {directory: calendars}\n"

    def settings(batch: int = 1000) -> Any:
        return load_settings(write_settings(config.format(batch=batch), extra=extra))

    listed = [row("OLD1", "P1", NOW - timedelta(days=400), join_url="https://video.example/old1"),
              row("AHEAD1", "P2", NOW + timedelta(days=5))]
    drop(folder, "day1.csv", listed)
    first = run_once(settings(), Store.on(store.engine, settings().store))
    assert first.connectors["emr"].counts.created == 2
    # The pass's own prune forgot the visit of 400 days ago and its patient, nothing else.
    assert patient(store, "P1") == (None, None, retention.FORGOTTEN)
    assert patient(store, "P2") == ("Name P2", "+12125550123", patient(store, "P2")[2])
    with store.engine.connect() as c:
        old = c.execute(select(A.c.patient_ref, A.c.forgotten_at, A.c.content_hash, A.c.source_fingerprint,
                               A.c.version).where(A.c.external_id == "OLD1")).one()
    assert old.patient_ref is None and old.forgotten_at is not None and old.source_fingerprint is not None
    before = trace(store, "OLD1")
    with store.engine.connect() as c:
        before_event = c.execute(select(func.coalesce(func.max(E.c.id), 0))).scalar_one()

    # The next export still lists it, byte for byte (and a new visit): recognized by its fingerprint.
    drop(folder, "day2.csv", [*listed, row("NEW1", "P3", NOW + timedelta(days=6))])
    second = run_once(settings(), Store.on(store.engine, settings().store)).connectors["emr"].counts
    assert (second.created, second.updated, second.unchanged) == (1, 0, 2)
    assert trace(store, "OLD1") == (before[0], before[1], before[2], before[3] + 1)  # NEW1's own .ics event
    assert trace(store, "NEW1")[0] == 1  # what a new visit causes still happens
    assert patient(store, "P1") == (None, None, retention.FORGOTTEN)

    # Mapped again (another batch size changes the mapping epoch, as an upgrade does): the same
    # content hash, so still unchanged, and the forgotten patient's details are not written back.
    drop(folder, "day3.csv", [*listed, row("NEW1", "P3", NOW + timedelta(days=6)),
                              row("NEW2", "P4", NOW + timedelta(days=7))])
    third = run_once(settings(500), Store.on(store.engine, settings(500).store)).connectors["emr"].counts
    assert (third.created, third.updated, third.unchanged) == (1, 0, 3)
    assert trace(store, "OLD1")[:3] == before[:3]
    assert patient(store, "P1") == (None, None, retention.FORGOTTEN)
    with store.engine.connect() as c:
        again = c.execute(select(A.c.patient_ref, A.c.forgotten_at, A.c.content_hash, A.c.version)
                          .where(A.c.external_id == "OLD1")).one()
    assert again == (None, old.forgotten_at, old.content_hash, old.version)

    # The same patient books again: their details come back with the new visit, and its reminders.
    drop(folder, "day4.csv", [*listed, row("NEW1", "P3", NOW + timedelta(days=6)),
                              row("NEW2", "P4", NOW + timedelta(days=7)), row("BACK1", "P1", NOW + timedelta(days=8))])
    run_once(settings(500), Store.on(store.engine, settings(500).store))
    name, phone, content_hash = patient(store, "P1")
    assert (name, phone) == ("Name P1", "+12125550123") and content_hash != retention.FORGOTTEN
    with store.engine.connect() as c:
        refs = set(c.execute(select(REMINDERS.c.recipient_ref).join(A, A.c.id == REMINDERS.c.appointment_id)
                             .where(A.c.external_id == "BACK1", REMINDERS.c.recipient == "patient")).scalars())
    assert refs == {"P1"}
    assert trace(store, "OLD1")[:3] == before[:3]

    # The source changes the forgotten visit itself (a new link): a change like any other, and the
    # same pass forgets it again (its patient keeps the details BACK1, ahead, brought back).
    changed = [row("OLD1", "P1", NOW - timedelta(days=400), join_url="https://video.example/old1-new"),
               row("AHEAD1", "P2", NOW + timedelta(days=5))]
    drop(folder, "day5.csv", [*changed, row("NEW1", "P3", NOW + timedelta(days=6)),
                              row("NEW2", "P4", NOW + timedelta(days=7)), row("BACK1", "P1", NOW + timedelta(days=8))])
    fifth = run_once(settings(500), Store.on(store.engine, settings(500).store)).connectors["emr"].counts
    assert (fifth.created, fifth.updated) == (0, 1)
    with store.engine.connect() as c:
        last = c.execute(select(A.c.patient_ref, A.c.join_url, A.c.forgotten_at, A.c.version)
                         .where(A.c.external_id == "OLD1")).one()
    assert (last.patient_ref, last.join_url, last.version) == (None, None, old.version + 1)
    assert last.forgotten_at > old.forgotten_at
    _events, links, reminders, _ = trace(store, "OLD1")
    assert (links, reminders) == (before[1], before[2])
    with store.engine.connect() as c:  # its one "updated" event only (its earlier ones went with its data)
        kinds = list(c.execute(select(E.c.kind).join(A, A.c.id == E.c.appointment_id)
                               .where(A.c.external_id == "OLD1", E.c.id > before_event)).scalars())
    assert kinds == ["updated"]
    assert patient(store, "P1")[:2] == ("Name P1", "+12125550123")
