"""Patients' data is forgotten ``store.patient_data_days`` after their visits (sync/store/retention.py),
on SQLite and PostgreSQL: the visit's row stays (identity, times, status, hashes) so that a
source still listing it imports nothing new; future and recent visits, and the data of a
patient who has one, are never touched; each call does bounded work and a second call finds
nothing more. The access log is an audit trail and stays."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import StoreSettings, load_settings
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.store import retention
from clinicsync.sync.store.model import Appointment, Patient, Quarantine
from clinicsync.sync.store.model.access_log import ACCESS_LOG
from clinicsync.sync.store.model.reminders import DELIVERIES, REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES
from clinicsync.sync.store.model.waitlist import WAITLIST_ENTRIES
from clinicsync.sync.store.outbox import CONSUMERS, EVENTS
from clinicsync.sync.store.store import Store
from tests.conftest import SettingsFactory

A = Appointment.__table__  # type: ignore[attr-defined]
P = Patient.__table__  # type: ignore[attr-defined]
Q = Quarantine.__table__  # type: ignore[attr-defined]
# Noon of today, not the wall clock: the daily look is per UTC day, and a run of the suite in
# the minutes before midnight put NOW + 5 minutes on the next day (six tests failed at 23:57).
NOW = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
OLD, RECENT, AHEAD = NOW - timedelta(days=400), NOW - timedelta(days=10), NOW + timedelta(days=10)


def visit(ext: str, patient: str, start: Any, **extra: Any) -> dict[str, Any]:
    return {"connector": "emr", "external_id": ext, "status": "fulfilled", "start_utc": start,
            "end_utc": start + timedelta(minutes=30), "timezone": "Europe/Berlin", "type": "Checkup",
            "patient_ref": patient, "practitioner_ref": "D1", "content_hash": f"hash-{ext}", "version": 1,
            "source_fingerprint": f"print-{ext}", "created_at": start - timedelta(days=7), "updated_at": start,
            "join_url": f"https://video.example/{ext}", "provider_join_url": f"https://video.example/{ext}/host",
            "dial_in": "+4930555000", "cancel_reason": "feeling unwell", "participation": "accepted", **extra}


def seed(store: Store) -> dict[str, int]:
    """P-old: one old visit (a reply, two reminders) · P-back: an old visit and one ahead · P-recent:
    a visit ten days ago · P-wait: an old visit and a place on a waiting list. Returns visit ids."""
    with store.engine.begin() as c:
        c.execute(insert(P), [{"connector": "emr", "external_id": ref, "name": f"Name {ref}", "phone": "+4930555111",
                               "email": f"{ref}@mail.example", "language": "de", "channel": "sms",
                               "content_hash": f"hash-{ref}", "updated_at": OLD}
                              for ref in ("P-old", "P-back", "P-recent", "P-wait")])
        c.execute(insert(A), [visit("V-old", "P-old", OLD), visit("V-back-old", "P-back", OLD),
                              visit("V-back-ahead", "P-back", AHEAD, status="booked"),
                              visit("V-recent", "P-recent", RECENT), visit("V-wait-old", "P-wait", OLD)])
        ids = {row.external_id: row.id for row in c.execute(select(A.c.external_id, A.c.id))}
        c.execute(insert(REMINDERS), [
            {"key": f"{ids[ext]}:{who}", "appointment_id": ids[ext], "connector": "emr", "recipient": who,
             "recipient_ref": ref, "kind": "reminder", "offset": "1d", "version": 1, "due_at": at,
             "status": "delivered", "channel": "sms", "tried": "", "attempts": 1, "provider_id": f"SM{ids[ext]}{who}",
             "sent_at": at, "created_at": at, "updated_at": at}
            for ext, who, ref, at in (("V-old", "patient", "P-old", OLD), ("V-old", "practitioner", "D1", OLD),
                                      ("V-recent", "patient", "P-recent", RECENT))])
        c.execute(insert(RESPONSES), [
            {"channel": "sms", "sender": "+4930555111", "body": body, "action": "confirm", "outcome": outcome,
             "appointment_id": ids.get(ext), "provider_id": f"SM-reply-{n}", "received_at": at}
            for n, (ext, outcome, body, at) in enumerate((
                ("V-old", "applied", "YES, see you", OLD), ("V-recent", "applied", "yes", RECENT),
                (None, "unrecognized", "who is this? my knee hurts", OLD),
                (None, "unrecognized", "recent question", RECENT)))])
        c.execute(insert(Q), [
            {"run_id": "r1", "connector": "emr", "position": f"a.csv:{n}", "record_id": f"Q{n}", "field": "start",
             "reason": "bad date", "raw": '{"patient_name": "Name"}', "item_key": f"item-{n}", "status": status,
             "created_at": seen, "last_seen": seen, "resolved_at": resolved}
            for n, (status, seen, resolved) in enumerate((
                ("resolved", OLD, OLD), ("dismissed", OLD, RECENT), ("open", OLD, None), ("open", RECENT, None)))])
        c.execute(insert(WAITLIST_ENTRIES).values(
            connector="emr", external_id="W1", patient_ref="P-wait", timezone="Europe/Berlin", priority=0,
            waiting_since=RECENT, status="waiting", content_hash="w", updated_at=RECENT))
        c.execute(insert(ACCESS_LOG).values(at=OLD, user="desk", role="desk", view="/ui/attention", patients=1,
                                            appointment_ids=str(ids["V-old"])))
    return ids


def rows(store: Store, table: Any, key: Any, *columns: Any) -> dict[Any, tuple[Any, ...]]:
    with store.engine.connect() as c:
        return {row[0]: tuple(row[1:]) for row in c.execute(select(key, *columns))}


PHI = (A.c.patient_ref, A.c.join_url, A.c.provider_join_url, A.c.dial_in, A.c.cancel_reason)
KEPT = (A.c.connector, A.c.status, A.c.start_utc, A.c.end_utc, A.c.content_hash, A.c.source_fingerprint,
        A.c.version, A.c.participation)


def test_old_visits_and_their_patients_are_forgotten_and_nothing_recent_or_ahead(store: Store) -> None:
    ids = seed(store)
    before = rows(store, A, A.c.external_id, *KEPT)
    forgotten = store.forget_patient_data(NOW)
    assert forgotten.as_dict() == {"appointments": 3, "patients": 1, "reminders": 1, "replies": 2, "quarantine": 2,
                                   "events": 0, "deliveries": 0}
    visits = rows(store, A, A.c.external_id, *PHI, A.c.forgotten_at)
    for ext in ("V-old", "V-back-old", "V-wait-old"):
        assert visits[ext][:5] == (None,) * 5 and visits[ext][5] is not None
    for ext, ref in (("V-back-ahead", "P-back"), ("V-recent", "P-recent")):  # ahead, within the window: untouched
        assert visits[ext] == (ref, f"https://video.example/{ext}", f"https://video.example/{ext}/host",
                               "+4930555000", "feeling unwell", None)
    # Identity, times, status, hashes and the answer stay: a re-read is recognized as unchanged.
    assert rows(store, A, A.c.external_id, *KEPT) == before
    people = rows(store, P, P.c.external_id, P.c.name, P.c.phone, P.c.email, P.c.language, P.c.channel,
                  P.c.content_hash)
    assert people["P-old"] == (None, None, None, None, None, retention.FORGOTTEN)
    # A visit ahead, a visit within the window, a place on a waiting list: the patient is kept.
    for ref in ("P-back", "P-recent", "P-wait"):
        assert people[ref] == (f"Name {ref}", "+4930555111", f"{ref}@mail.example", "de", "sms", f"hash-{ref}")
    reminders = rows(store, REMINDERS, REMINDERS.c.key, REMINDERS.c.recipient_ref, REMINDERS.c.status)
    assert reminders[f"{ids['V-old']}:patient"] == (None, "delivered")
    assert reminders[f"{ids['V-old']}:practitioner"] == ("D1", "delivered")  # the doctor's own
    assert reminders[f"{ids['V-recent']}:patient"] == ("P-recent", "delivered")
    replies = rows(store, RESPONSES, RESPONSES.c.provider_id, RESPONSES.c.sender, RESPONSES.c.body,
                   RESPONSES.c.outcome)
    assert replies == {"SM-reply-0": ("", None, "applied"), "SM-reply-1": ("+4930555111", "yes", "applied"),
                       "SM-reply-2": ("", None, "unrecognized"),
                       "SM-reply-3": ("+4930555111", "recent question", "unrecognized")}
    raw = rows(store, Q, Q.c.item_key, Q.c.raw, Q.c.status)
    assert {key: value[0] is None for key, value in raw.items()} == {
        "item-0": True, "item-1": False, "item-2": True, "item-3": False}
    with store.engine.connect() as c:  # the audit trail outlives the data
        assert c.execute(select(func.count()).select_from(ACCESS_LOG)).scalar() == 1
    assert not store.forget_patient_data(NOW)  # idempotent: nothing more to forget
    assert rows(store, A, A.c.external_id, *KEPT) == before


@pytest.mark.parametrize(("offsets", "kept", "gone"), [
    ({"waitlist": 5, "reminders": 5}, {"V-recent", "V-back-old"}, 3),  # the newest event stays: ids go on from it
    ({"waitlist": 5, "reminders": 3}, {"V-recent", "V-wait-old", "V-back-old"}, 2),  # the planner has not read them
    ({}, {"V-old", "V-recent", "V-wait-old", "V-back-old"}, 0),  # no consumer has read anything
], ids=["all-read", "one-behind", "no-consumer"])
def test_a_forgotten_visits_events_and_delivery_attempts_go_with_its_data(
        store: Store, offsets: dict[str, int], kept: set[str], gone: int) -> None:
    """The outbox and the delivery attempts grew by a few rows a visit for as long as the
    clinic ran. A forgotten visit's events go once every consumer has read them, and the attempts
    to deliver its messages go; a visit within the window keeps both."""
    events_and_attempts_go(store, offsets, kept, gone)


@pytest.mark.mariadb
def test_a_forgotten_visits_events_and_delivery_attempts_go_on_mariadb(mariadb_store: Store) -> None:
    """The same on MySQL/MariaDB (a DELETE whose ids come from another table's SELECT)."""
    events_and_attempts_go(mariadb_store, {"reminders": 5, "waitlist": 5}, {"V-recent", "V-back-old"}, 3)


def test_an_event_unread_when_its_visit_was_forgotten_goes_at_a_later_days_look(store: Store) -> None:
    """An old visit the source changed is forgotten again in the same pass, before the planner
    read the change: its event stays then, and goes at the first daily look after every
    consumer read it (the simulation's FORGETFUL left 24 such events in 200 days)."""
    ids = seed(store)
    with store.engine.begin() as c:
        changes = (("V-old", "created"), ("V-old", "cancelled"), ("V-recent", "created"))
        c.execute(insert(EVENTS), [{"id": n, "appointment_id": ids[ext], "kind": kind, "version": 1,
                                    "payload": "{}", "created_at": OLD} for n, (ext, kind) in enumerate(changes, 1)])
        c.execute(insert(CONSUMERS).values(consumer="reminders", last_event_id=1, updated_at=NOW))

    def left() -> list[int]:
        with store.engine.connect() as c:
            return sorted(c.execute(select(EVENTS.c.id)).scalars())

    assert store.forget_patient_data(NOW).events == 1 and left() == [2, 3]  # 2: not read yet
    with store.engine.begin() as c:
        c.execute(CONSUMERS.update().values(last_event_id=3))
    assert not store.forget_patient_data(NOW + timedelta(minutes=5)) and left() == [2, 3]  # the day's look was made
    assert store.forget_patient_data(NOW + timedelta(days=1)).events == 1 and left() == [3]  # 3: the newest


def test_the_attempts_to_send_a_doctors_agenda_go_at_the_daily_look_after_the_window(store: Store) -> None:
    """An agenda names no visit, so its attempts do not go with one: the daily look deletes
    those made before the window, and those of a message sent for a visit forgotten already."""
    ids = seed(store)
    with store.engine.begin() as c:
        c.execute(insert(REMINDERS), [
            {"key": key, "appointment_id": visit_id, "connector": "emr", "recipient": "practitioner",
             "recipient_ref": "D1", "kind": kind, "offset": None, "version": 1, "due_at": at, "status": "sent",
             "channel": "email", "tried": "", "attempts": 1, "created_at": at, "updated_at": at}
            for key, visit_id, kind, at in (("agenda:old", None, "agenda", OLD),
                                            ("agenda:recent", None, "agenda", RECENT),
                                            ("late-notice", ids["V-old"], "cancelled", OLD))])
    store.forget_patient_data(NOW - timedelta(minutes=5))  # V-old forgotten; the day's look made
    with store.engine.begin() as c:
        reminders = dict(c.execute(select(REMINDERS.c.key, REMINDERS.c.id)).all())
        c.execute(insert(DELIVERIES), [{"reminder_id": reminders[key], "channel": "email", "notifier": notifier,
                                        "outcome": "sent", "created_at": at} for key, notifier, at in (
            ("agenda:old", "mail", OLD), ("agenda:old", "mail", OLD), ("agenda:recent", "mail", RECENT),
            ("late-notice", "smtp", OLD), (f"{ids['V-recent']}:patient", "sms", OLD))])
    assert not store.forget_patient_data(NOW)  # the same day: the look was made
    assert store.forget_patient_data(NOW + timedelta(days=1)).deliveries == 3
    with store.engine.connect() as c:
        left = set(c.execute(select(REMINDERS.c.key).join(DELIVERIES, DELIVERIES.c.reminder_id == REMINDERS.c.id))
                   .scalars())
    assert left == {"agenda:recent", f"{ids['V-recent']}:patient"}  # within the window; a visit in it


def events_and_attempts_go(store: Store, offsets: dict[str, int], kept: set[str], gone: int) -> None:
    ids = seed(store)
    order = ("V-old", "V-old", "V-recent", "V-wait-old", "V-back-old")
    with store.engine.begin() as c:
        c.execute(insert(EVENTS), [{"id": n, "appointment_id": ids[ext], "kind": "created", "version": 1,
                                    "payload": "{}", "created_at": OLD} for n, ext in enumerate(order, 1)])
        if offsets:
            c.execute(insert(CONSUMERS), [{"consumer": name, "last_event_id": offset, "updated_at": NOW}
                                          for name, offset in offsets.items()])
        reminders = list(c.execute(select(REMINDERS.c.id, REMINDERS.c.appointment_id)))
        c.execute(insert(DELIVERIES), [{"reminder_id": r.id, "channel": "sms", "notifier": "twilio", "outcome": "sent",
                                        "provider_id": f"SM-{r.id}-{n}", "created_at": OLD}
                                       for r in reminders for n in range(2)])
    forgotten = store.forget_patient_data(NOW)
    names = {visit_id: ext for ext, visit_id in ids.items()}
    with store.engine.connect() as c:
        left = {names[row.appointment_id] for row in c.execute(select(EVENTS.c.appointment_id))}
        attempts = [names[row.appointment_id] for row in c.execute(
            select(REMINDERS.c.appointment_id).join(DELIVERIES, DELIVERIES.c.reminder_id == REMINDERS.c.id))]
    assert left == kept
    assert forgotten.events == gone
    assert attempts == ["V-recent", "V-recent"] and forgotten.deliveries == 4  # V-old's two messages, twice each
    assert not store.forget_patient_data(NOW)  # a second pass finds nothing more


def test_a_long_history_is_forgotten_in_bounded_steps_oldest_first(store: Store) -> None:
    with store.engine.begin() as c:
        c.execute(insert(P), [{"connector": "emr", "external_id": f"P{n}", "name": "N", "content_hash": "h",
                               "updated_at": OLD} for n in range(7)])
        c.execute(insert(A), [visit(f"V{n}", f"P{n}", OLD - timedelta(days=n)) for n in range(7)]
                  + [visit("V-new", "P0", RECENT)])
    steps = [store.forget_patient_data(NOW, limit=3).as_dict()]
    visits = rows(store, A, A.c.external_id, A.c.forgotten_at)
    assert {ext for ext, (at,) in visits.items() if at is not None} == {"V6", "V5", "V4"}  # oldest first
    steps += [store.forget_patient_data(NOW, limit=3).as_dict() for _ in range(3)]
    # P0 keeps their details: V-new, ten days ago, is within the window
    assert [(s["appointments"], s["patients"]) for s in steps] == [(3, 3), (3, 3), (1, 0), (0, 0)]
    assert rows(store, A, A.c.external_id, A.c.forgotten_at)["V-new"] == (None,)
    people = rows(store, P, P.c.external_id, P.c.name)
    assert people["P0"] == ("N",) and sum(name is None for name, in people.values()) == 6


def test_the_setting_names_its_bounds() -> None:
    assert StoreSettings().patient_data_days == 365
    for bad in (0, 29, 3651):
        with pytest.raises(ValueError, match="patient_data_days"):
            StoreSettings(patient_data_days=bad)
    assert Store.on(Store(None).engine, StoreSettings(patient_data_days=90)).patient_keep == timedelta(days=90)  # type: ignore[arg-type]


def test_each_statement_of_a_prune_reads_through_an_index(store: Store) -> None:
    """The prune runs at every pass: what it reads must not grow with the store. Each statement
    it ran, EXPLAINed with its own parameters (tests/sync/test_query_plans.py): on SQLite no step
    scans a table or searches one source's rows by connector alone; on PostgreSQL, with sequential
    scans off, none is left. The one exception is the quarantine work list (one row per bad
    record, not per sighting): its closed items are found by a scan."""
    from tests.sync.test_query_plans import PG_GROWING, SQLITE_GROWING, captured, explained

    seed(store)
    store.forget_patient_data(NOW)  # the first pass: what is forgotten stays in the table
    with store.engine.begin() as c:
        c.execute(insert(P).values(connector="emr", external_id="P-late", name="N", content_hash="h", updated_at=OLD))
        c.execute(insert(A).values(visit("V-late", "P-late", OLD + timedelta(days=1))))
    with captured(store.engine) as statements:
        assert store.forget_patient_data(NOW).appointments == 1
    growing = SQLITE_GROWING if store.engine.dialect.name == "sqlite" else PG_GROWING
    plans = explained(store.engine, statements)
    assert len(plans) >= 7
    scans = [(sql, steps) for sql, steps in plans if any(growing.search(step) for step in steps)]
    # eventconsumer: one row per outbox consumer (the calendar, the planner), read for their lowest offset.
    assert [sql.split("FROM")[1].split()[0].strip('"') for sql, _ in scans if "FROM" in sql] == [
        "eventconsumer", "quarantine"], scans


def test_each_sync_pass_forgets_by_the_setting_and_logs_counts_only(
        store: Store, tmp_path: Path, write_settings: SettingsFactory) -> None:
    from structlog.testing import capture_logs

    seed(store)
    (tmp_path / "emr").mkdir()
    settings = load_settings(write_settings(
        f"- name: emr\n  kind: csv\n  mapping: csv_default\n  drop_dir: {tmp_path / 'emr'}\n", extra=""))
    # 401 days: nothing is old enough yet; 300 days: the three visits of 400 days ago are
    with capture_logs() as logs:
        longer = settings.store.model_copy(update={"patient_data_days": 401})
        sync_once(settings.model_copy(update={"store": longer}), Store.on(store.engine, longer))
    assert not [entry for entry in logs if entry["event"].startswith("retention.")]
    shorter = settings.store.model_copy(update={"patient_data_days": 300})
    with capture_logs() as logs:
        sync_once(settings.model_copy(update={"store": shorter}), Store.on(store.engine, shorter))
    [line] = [entry for entry in logs if entry["event"].startswith("retention.")]
    assert line == {"event": "retention.forgotten", "log_level": "info", "appointments": 3, "patients": 1,
                    "reminders": 1, "replies": 2, "quarantine": 2, "events": 0, "deliveries": 0, "kept_days": 300}


def test_the_window_moves_once_a_day_so_one_pass_a_day_has_work(store: Store) -> None:
    """A visit is forgotten in the first pass of the day after its 365 days are up, not in the
    pass of the minute they are: the passes in between find nothing (and read no window)."""
    day = (NOW - timedelta(days=365)).replace(hour=0, minute=0, second=0, microsecond=0)
    with store.engine.begin() as c:
        c.execute(insert(P), [{"connector": "emr", "external_id": ref, "name": "N", "content_hash": "h",
                               "updated_at": OLD} for ref in ("P-before", "P-after")])
        c.execute(insert(A), [visit("V-before", "P-before", day - timedelta(hours=1)),  # ended 23:30 the day before
                              visit("V-after", "P-after", day + timedelta(hours=1))])  # ended 01:30 that day
    today = day + timedelta(days=365, hours=23)  # late in the day its 365 days are up
    assert store.forget_patient_data(today).as_dict()["appointments"] == 1
    assert store.forget_patient_data(today).as_dict()["appointments"] == 0
    assert store.forget_patient_data(day + timedelta(days=366, minutes=1)).as_dict()["appointments"] == 1
    assert rows(store, P, P.c.external_id, P.c.name) == {"P-before": (None,), "P-after": (None,)}


def test_a_patient_no_visit_names_is_forgotten_once_their_details_are_older_than_the_window(
        store: Store) -> None:
    """A booking made under the wrong patient, corrected at the source: the visit now names
    another patient, so no visit of the first is ever forgotten, and neither were they (the
    simulation's FORGETFUL with PATIENT_CHANGES). Such a patient is forgotten once their details
    were last written before the window; one written within it keeps them (their cancellation
    notice must still find them), as does one with a visit ahead. Looked for once a day."""
    with store.engine.begin() as c:
        c.execute(insert(P), [{"connector": "emr", "external_id": ref, "name": f"Name {ref}", "phone": "+4930555111",
                               "email": f"{ref}@mail.example", "content_hash": f"hash-{ref}", "updated_at": at}
                              for ref, at in (("P-gave", OLD), ("P-gave-lately", RECENT), ("P-has", OLD))])
        c.execute(insert(A), [visit("V-given", "P-has", AHEAD, status="booked")])  # P-gave's once
    assert store.forget_patient_data(NOW).patients == 1
    assert rows(store, P, P.c.external_id, P.c.phone, P.c.content_hash) == {
        "P-gave": (None, retention.FORGOTTEN), "P-gave-lately": ("+4930555111", "hash-P-gave-lately"),
        "P-has": ("+4930555111", "hash-P-has")}
    with store.engine.begin() as c:  # another orphan, the same day: left for the next day's first pass
        c.execute(insert(P).values(connector="emr", external_id="P-gave-too", name="N", content_hash="h",
                                   updated_at=OLD))
    assert store.forget_patient_data(NOW + timedelta(minutes=5)).patients == 0
    assert store.forget_patient_data(NOW + timedelta(days=1)).patients == 1


def test_the_daily_look_for_patients_no_visit_names_is_once_a_day_for_every_process(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cron's `sync --once` is a new process every few minutes: the look for patients no visit
    names (a read of the patient table and of the window's visits) is done by the first pass of
    the day, whichever process makes it, and not again by the next processes that day."""
    looks: list[Any] = []
    real = retention._orphans
    monkeypatch.setattr(retention, "_orphans",
                        lambda connection, cutoff: looks.append(cutoff) or real(connection, cutoff))
    with store.engine.begin() as c:
        c.execute(insert(P).values(connector="emr", external_id="P-gave", name="N", content_hash="h", updated_at=OLD))
    assert store.forget_patient_data(NOW).patients == 1 and len(looks) == 1
    for minutes in (5, 10):  # two more cron runs the same day: each a new process (a new Store)
        assert Store(store.engine).forget_patient_data(NOW + timedelta(minutes=minutes)).patients == 0
    assert len(looks) == 1
    Store(store.engine).forget_patient_data(NOW + timedelta(days=1))  # the next day's first pass
    assert len(looks) == 2
