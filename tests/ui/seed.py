"""A small, hand-countable store for the status page's tests (direct inserts, no sync)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from clinicsync.sync.store.model import Appointment, Event, Patient, Practitioner, Quarantine, SyncRun
from clinicsync.sync.store.model.calendar import LINKS
from clinicsync.sync.store.model.reminders import DELIVERIES, REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES
from clinicsync.sync.store.store import Store

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday
SOURCE_LABEL = "Practice EHR"  # the clinic's name for the system the seed's "csv" visits are booked in


def seed_source(folder: Path) -> str:
    """The seed's ``csv`` source as an entry of the settings' ``connectors:`` list, with the
    clinic's name for its system: what the desk reads ("cancel it in Practice EHR") in the
    documented screenshots, rather than the connector's kind."""
    drop = folder / "seed-drop"
    drop.mkdir(exist_ok=True)
    return f"  - name: csv\n    kind: csv\n    label: {SOURCE_LABEL}\n    drop_dir: {drop}\n    mapping: csv_default\n"
T = {name: model.__table__ for name, model in [  # type: ignore[attr-defined]
    ("appointment", Appointment), ("patient", Patient), ("practitioner", Practitioner), ("event", Event),
    ("run", SyncRun), ("quarantine", Quarantine)]}


def _appointment(ext: str, start: datetime, doctor: str, patient: str, status: str = "booked",
                 participation: str | None = None, connector: str = "csv",
                 notes: str | None = None) -> dict[str, Any]:
    return {"connector": connector, "external_id": ext, "status": status, "start_utc": start,
            "end_utc": start + timedelta(minutes=30), "timezone": "America/New_York", "type": "Checkup",
            "patient_ref": patient, "practitioner_ref": doctor, "content_hash": "h", "version": 1,
            "participation": participation, "participation_at": NOW if participation else None,
            "quality_notes": notes, "created_at": NOW - timedelta(days=30), "updated_at": NOW}


def seed(store: Store) -> dict[str, int]:
    """Two doctors, four patients, five appointments, reminders in every state, deliveries,
    calendar links, events, runs and a quarantined record. Returns appointment ids by external id."""
    with store.engine.begin() as c:
        c.execute(insert(T["patient"]), [
            {"connector": "csv", "external_id": pid, "name": name, "phone": phone, "email": email,
             "content_hash": "h", "updated_at": NOW}
            for pid, name, phone, email in [
                ("P1", "Jamal Weber", "+12015550165", "jamal.weber@mail.example.com"),
                ("P2", "Yara García", "+17185550163", "yara@mail.example.com"),
                ("P3", "Umar Nguyen", "+17185550164", None),
                ("P4", "Ann Lee", None, "ann@mail.example.com")]])
        c.execute(insert(T["practitioner"]), [
            {"connector": "csv", "external_id": "D1", "name": "Dr. Amelia Hart", "email": "hart@clinic.example",
             "content_hash": "h", "updated_at": NOW},
            {"connector": "csv", "external_id": "D2", "name": "Dr. Rafael Ortiz", "email": "ortiz@clinic.example",
             "content_hash": "h", "updated_at": NOW}])
        rows = [
            # past, in ISO week 2026-W46 (Mon 9 Nov) and W47
            _appointment("A1", datetime(2026, 11, 10, 14, tzinfo=UTC), "D1", "P1", "fulfilled", "accepted"),
            _appointment("A2", datetime(2026, 11, 10, 15, tzinfo=UTC), "D1", "P2", "noshow"),
            _appointment("A3", datetime(2026, 11, 17, 14, tzinfo=UTC), "D2", "P3", "fulfilled", "accepted"),
            _appointment("A4", datetime(2026, 11, 17, 16, tzinfo=UTC), "D2", "P4", "cancelled", "declined"),
            # upcoming
            _appointment("A5", datetime(2026, 11, 19, 14, tzinfo=UTC), "D1", "P1", "booked", "accepted",
                         notes="patient.language: dropped '151' (not a known language)\n"
                               "location: Location read refused (scope not granted) (HTTP 403); no name"),
            _appointment("A6", datetime(2026, 11, 20, 14, tzinfo=UTC), "D2", "P2", "booked", connector="sql"),
        ]
        c.execute(insert(T["appointment"]), rows)
        ids = {r.external_id: r.id for r in c.execute(T["appointment"].select())}
        c.execute(insert(T["event"]), [
            {"appointment_id": ids["A5"], "kind": "created", "version": 1, "payload": "{}",
             "created_at": NOW - timedelta(days=3)},
            {"appointment_id": ids["A5"], "kind": "rescheduled", "version": 2,
             "payload": '{"moved": ["start"], "previous": {"start": "x"}}', "created_at": NOW - timedelta(days=2)}])

        def reminder(key: str, app: str, status: str, due: datetime, recipient: str = "patient",
                     channel: str | None = "sms") -> dict[str, Any]:
            return {"key": key, "appointment_id": ids[app], "connector": "csv", "recipient": recipient,
                    "kind": "reminder", "offset": "1d", "version": 1, "due_at": due, "status": status,
                    "channel": channel, "tried": "", "attempts": 0, "created_at": NOW - timedelta(days=3),
                    "updated_at": NOW, "reason": "no answer from +12015550165" if status == "unknown" else None}
        c.execute(insert(REMINDERS), [
            reminder("r1", "A1", "sent", datetime(2026, 11, 9, 14, tzinfo=UTC)),
            reminder("r2", "A2", "sent", datetime(2026, 11, 9, 15, tzinfo=UTC)),
            reminder("r3", "A3", "sent", datetime(2026, 11, 16, 14, tzinfo=UTC), channel="email"),
            reminder("r4", "A4", "cancelled", datetime(2026, 11, 16, 16, tzinfo=UTC)),
            reminder("r5", "A5", "sent", datetime(2026, 11, 18, 14, tzinfo=UTC)),
            reminder("r6", "A5", "pending", datetime(2026, 11, 19, 13, tzinfo=UTC)),
            reminder("r7", "A6", "failed", datetime(2026, 11, 17, 14, tzinfo=UTC)),
            reminder("r8", "A6", "unknown", datetime(2026, 11, 18, 14, tzinfo=UTC)),
            reminder("r9", "A5", "sent", datetime(2026, 11, 18, 12, tzinfo=UTC), recipient="practitioner",
                     channel="email"),
        ])
        rid = {r.key: r.id for r in c.execute(REMINDERS.select())}

        def delivery(key: str, outcome: str, at: datetime, status: str | None = None,
                     channel: str = "sms", notifier: str = "sms") -> dict[str, Any]:
            return {"reminder_id": rid[key], "channel": channel, "notifier": notifier, "outcome": outcome,
                    "provider_status": status, "created_at": at,
                    "detail": "rejected +12015550165" if outcome == "permanent" else None}
        c.execute(insert(DELIVERIES), [
            delivery("r1", "sent", datetime(2026, 11, 9, 14, 1, tzinfo=UTC), "delivered"),
            delivery("r2", "sent", datetime(2026, 11, 9, 15, 1, tzinfo=UTC), "sent"),
            delivery("r3", "sent", datetime(2026, 11, 16, 14, 1, tzinfo=UTC), "read", "email", "mail"),
            delivery("r5", "sent", datetime(2026, 11, 18, 14, 1, tzinfo=UTC), "delivered"),
            delivery("r7", "permanent", datetime(2026, 11, 17, 14, 1, tzinfo=UTC)),
            delivery("r9", "sent", datetime(2026, 11, 18, 12, 1, tzinfo=UTC), None, "email", "mail"),
        ])
        c.execute(insert(LINKS), [
            {"appointment_id": ids["A5"], "provider": "ics", "account": "", "calendar_id": "hart",
             "event_id": "e5", "state": "present", "attempts": 0, "last_error": None,
             "updated_at": NOW - timedelta(days=3)},
            {"appointment_id": ids["A6"], "provider": "ics", "account": "", "calendar_id": "ortiz",
             "event_id": "e6", "state": "pending", "attempts": 2, "last_error": "503 backend",
             "updated_at": NOW - timedelta(days=1)}])
        c.execute(insert(T["run"]), [
            {"run_id": "r-old", "connector": "csv", "status": "ok", "counts": '{"created": 5}', "error": None,
             "started_at": NOW - timedelta(hours=3), "finished_at": NOW - timedelta(hours=3)},
            {"run_id": "r-new", "connector": "csv", "status": "failed", "counts": "{}",
             "error": "drop folder unreadable", "started_at": NOW - timedelta(hours=1),
             "finished_at": NOW - timedelta(hours=1)}])
        c.execute(insert(T["quarantine"]), [
            {"run_id": "r-old", "connector": "csv", "position": "a.csv:7", "record_id": "A9", "field": "patient.phone",
             "reason": "not a valid phone number: call (201) 555-0199 or x@mail.example.com",
             "raw": "{}", "created_at": NOW - timedelta(hours=3), "last_seen": NOW - timedelta(hours=3),
             "item_key": "seeded-a9-phone", "status": "open", "seen_count": 1}])
    return ids


def name_sql_records(store: Store) -> None:
    """The ``sql`` source's own patient and doctor of its visit A6 (the seed holds only the
    ``csv`` source's): a page showing A6 reads "Yara García" and "Dr. Rafael Ortiz", not the
    source's ids."""
    with store.engine.begin() as c:
        c.execute(insert(T["patient"]).values(connector="sql", external_id="P2", name="Yara García",
                                              phone="+17185550163", content_hash="h", updated_at=NOW))
        c.execute(insert(T["practitioner"]).values(connector="sql", external_id="D2", name="Dr. Rafael Ortiz",
                                                   email="ortiz@clinic.example", content_hash="h", updated_at=NOW))


def seed_desk(store: Store, ids: dict[str, int]) -> dict[str, int]:
    """On top of ``seed``: today's and tomorrow's visits for the front desk's work list (NOW is
    Wed 18 Nov, 10:00 in New York). A7 today, in Chicago, declined by its patient; A8
    tomorrow, messaged with no answer yet. With seed's A5 (tomorrow, a reschedule request
    once tests add it) they make one row in each of three groups."""
    with store.engine.begin() as c:
        c.execute(insert(T["appointment"]), [
            {**_appointment("A7", datetime(2026, 11, 18, 21, tzinfo=UTC), "D1", "P3", "booked", "declined"),
             "timezone": "America/Chicago", "type": "Follow-up"},
            _appointment("A8", datetime(2026, 11, 19, 16, tzinfo=UTC), "D2", "P4", "booked")])
        found = {r.external_id: r.id for r in c.execute(T["appointment"].select())}
        c.execute(insert(REMINDERS), [
            {"key": "r10", "appointment_id": found["A8"], "connector": "csv", "recipient": "patient",
             "kind": "reminder", "offset": "1d", "version": 1, "due_at": NOW - timedelta(hours=2), "status": "sent",
             "channel": "sms", "tried": "", "attempts": 0, "created_at": NOW - timedelta(days=3),
             "updated_at": NOW}])
    return {**ids, **found}


def ask_to_reschedule(store: Store, appointment_id: int, note: str = "Mornings please") -> None:
    """Jamal's "another time, please" from the answer page, an hour before NOW."""
    with store.engine.begin() as c:
        c.execute(insert(RESPONSES).values(
            channel="email", sender="jamal.weber@mail.example.com", body=note, language="en", action="reschedule",
            outcome="requested", appointment_id=appointment_id, provider_id="link:r5",
            received_at=NOW - timedelta(hours=1)))
