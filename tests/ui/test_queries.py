"""Every number on the status page, checked against a hand-counted store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update

from clinicsync.sync.store.model import Quarantine
from clinicsync.sync.store.model.reminders import DELIVERIES
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui import queries
from tests.ui.seed import NOW, seed

NY = ZoneInfo("America/New_York")


def test_funnel_counts_patient_messages_step_by_step(store: Store) -> None:
    seed(store)
    # planned excludes cancelled and doctors' messages; delivered needs a provider receipt;
    # confirmed = sent and the patient accepted.
    assert queries.funnel(store, NOW - timedelta(days=30), NOW + timedelta(days=30)) == [
        ("planned", 7), ("sent", 4), ("delivered", 3), ("confirmed", 3)]
    assert queries.funnel(store, NOW, NOW + timedelta(days=30)) == [
        ("planned", 1), ("sent", 0), ("delivered", 0), ("confirmed", 0)]


def test_confirmation_and_noshow_rates_per_week_and_per_doctor(store: Store) -> None:
    seed(store)
    weeks = queries.rates_by_week(store, NOW - timedelta(days=30), NOW, NY)
    assert [(r.label, r.total, r.confirmed, r.noshow) for r in weeks] == [
        ("2026-W46", 2, 1, 1), ("2026-W47", 1, 1, 0)]  # the cancelled A4 counts nowhere
    assert (weeks[0].confirmed_pct, weeks[0].noshow_pct) == (50.0, 50.0)
    doctors = queries.rates_by_doctor(store, NOW - timedelta(days=30), NOW)
    assert [(r.label, r.total, r.confirmed, r.noshow) for r in doctors] == [
        ("Dr. Amelia Hart", 2, 1, 1), ("Dr. Rafael Ortiz", 1, 1, 0)]


def test_messages_per_channel_per_local_day(store: Store) -> None:
    seed(store)
    start = datetime(2026, 11, 16, 5, tzinfo=UTC)  # midnight in New York
    days, series = queries.messages_per_channel_day(store, start, NOW, NY)
    assert days == ["2026-11-16", "2026-11-17", "2026-11-18"]
    assert series == {"email": [1, 0, 1], "sms": [0, 0, 1]}  # the permanent failure is not a message sent


def test_upcoming_rows_are_masked_and_carry_calendar_reminders_and_answer(store: Store) -> None:
    ids = seed(store)
    rows = queries.upcoming(store, NOW, NOW + timedelta(days=7))
    assert [r.external_id for r in rows] == ["A5", "A6"]
    a5, a6 = rows
    assert (a5.patient, a5.phone, a5.email) == ("J.W.", "+1 ••• ••• 0165", "j•••@mail.example.com")
    assert (a5.doctor, a5.calendar, a5.answer, a5.id) == ("Dr. Amelia Hart", "present", "accepted", ids["A5"])
    assert dict(a5.reminders) == {"delivered": 1, "planned": 1}  # the doctor's agenda is not counted
    assert (a6.calendar, a6.answer, dict(a6.reminders)) == ("failing", None, {"failed": 1, "unknown": 1})
    assert a5.local_start.hour == 9  # 14:00 UTC in New York


def test_upcoming_filters(store: Store) -> None:
    seed(store)
    window = (NOW, NOW + timedelta(days=7))
    assert [r.external_id for r in queries.upcoming(store, *window, queries.Filters(doctor="D2"))] == ["A6"]
    assert [r.external_id for r in queries.upcoming(store, *window, queries.Filters(connector="csv"))] == ["A5"]
    assert queries.upcoming(store, *window, queries.Filters(status="cancelled")) == []
    grouped = queries.by_day_and_doctor(queries.upcoming(store, *window), NY)
    assert [(str(day), [d for d, _ in doctors]) for day, doctors in grouped] == [
        ("2026-11-19", ["Dr. Amelia Hart"]), ("2026-11-20", ["D2"])]  # A6: no practitioner row in "sql"
    options = queries.filter_options(store)
    assert options["doctors"] == [("D1", "Dr. Amelia Hart"), ("D2", "Dr. Rafael Ortiz")]
    assert options["connectors"] == ["csv", "sql"]
    assert {"booked", "cancelled", "noshow"} <= set(options["statuses"]) and options["statuses"] == sorted(
        options["statuses"])  # the vocabulary, not what happens to be stored


def test_health_connectors_notifiers_calendar_and_quarantine(store: Store) -> None:
    seed(store)
    [csv] = queries.connectors_health(store, NOW)
    assert (csv["last_status"], csv["since_success"], csv["error"], csv["quarantined"]) == (
        "failed", 3 * 3600, "drop folder unreadable", 1)
    [named] = queries.connectors_health(store, NOW, named={"csv"})
    assert named["state"] == csv["state"] != "not in settings"
    # renamed in the settings: the page says so, as `clinicsync status` does, not "failed"/"ok"
    [renamed] = queries.connectors_health(store, NOW, named={"clinic-csv"})
    assert renamed["state"] == "not in settings"
    notifiers = {n["notifier"]: n for n in queries.notifiers_health(store, NOW - timedelta(days=7))}
    assert notifiers["mail"]["outcomes"] == {"sent": 2}
    assert notifiers["sms"]["outcomes"] == {"sent": 1, "permanent": 1}
    # The latest attempt is the newest one (by its time, through (notifier, created_at)),
    # here the delivered one of 18 November, not the one inserted last; make the refusal newer.
    assert (notifiers["sms"]["last_outcome"], notifiers["sms"]["last_status"]) == ("sent", "delivered")
    with store.engine.begin() as c:
        c.execute(update(DELIVERIES).where(DELIVERIES.c.outcome == "permanent")
                  .values(created_at=datetime(2026, 11, 18, 15, 1, tzinfo=UTC)))
    notifiers = {n["notifier"]: n for n in queries.notifiers_health(store, NOW - timedelta(days=7))}
    assert notifiers["sms"]["outcomes"] == {"sent": 1, "permanent": 1}
    assert notifiers["sms"]["last_outcome"] == "permanent"
    assert notifiers["sms"]["last_detail"] == "rejected +1 ••• ••• 0165"
    assert queries.calendar_health(store) == {"pending": 1, "failing": 1}
    [bad] = queries.quarantine_rows(store)
    assert bad["reason"] == "not a valid phone number: call ••• ••• 0199 or x•••@mail.example.com"


def test_timeline_orders_events_reminders_calendar_deliveries_and_answer(store: Store) -> None:
    ids = seed(store)
    items = queries.timeline(store, ids["A5"])
    assert [i["what"] for i in items] == [
        "event", "reminder", "reminder", "reminder", "calendar", "event", "delivery", "delivery", "answer"]
    assert items[5]["title"] == "rescheduled" and "moved: start" in items[5]["detail"]
    assert items[-1]["title"] == "patient accepted"
    assert "+1201" not in str(items) and "@" not in str(items)
    assert queries.appointment(store, 999_999) is None


def test_values_quoted_in_reasons_show_only_for_full_patient_data(store: Store) -> None:
    """A reason quotes only vocabulary-shaped values, yet a status word can be a surname
    ('Lopez' in a shifted column of an older item): the viewer role sees it masked."""
    seed(store)
    with store.engine.begin() as connection:
        connection.execute(update(Quarantine.__table__).values(  # type: ignore[attr-defined]
            reason="unknown status word 'Lopez' (add it to the mapping's status_map)"))
    [viewer] = queries.quarantine_rows(store)
    [desk] = queries.quarantine_rows(store, full=True)
    assert viewer["reason"] == "unknown status word '…' (add it to the mapping's status_map)"
    assert desk["reason"] == "unknown status word 'Lopez' (add it to the mapping's status_map)"


def test_record_ids_that_are_not_id_shaped_show_only_for_full_patient_data(store: Store) -> None:
    """A malformed row can shift a name into the id column: the viewer role sees such a
    record id masked, and an id-shaped one ('A-77', a number, a UUID) as it is."""
    assert [queries.id_shaped(v) for v in ("1042", "A-77", "0c6b1f2e-9d1a-4c1e-8f3e-2b7a9f1d0e55",
                                           "hospital-siu:569576", "Maria Lopez", "Lopez", "")] == [
        True, True, True, True, False, False, False]
    seed(store)
    viewer, desk = shown_record_id(store, "Maria Lopez")
    assert (viewer["record_id"], desk["record_id"]) == ("•••", "Maria Lopez")
    assert queries.shows_patient_values(desk)


def shown_record_id(store: Store, record_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The seeded quarantine item with ``record_id`` as the viewer and as the front desk see it."""
    with store.engine.begin() as connection:
        connection.execute(update(Quarantine.__table__).values(record_id=record_id))  # type: ignore[attr-defined]
    [viewer] = queries.quarantine_rows(store)
    [desk] = queries.quarantine_rows(store, full=True)
    return viewer, desk


def test_a_phone_number_in_the_id_column_shows_the_viewer_no_digit_of_it(store: Store) -> None:
    """An id-shaped record id that is a phone number (a source that shifted the patient's phone
    into its id field): the front desk sees it masked as a phone, the viewer not even the last
    four digits (found by tests/reliability/test_phi_sources.py's Acuity example)."""
    seed(store)
    for record_id in ("12125550123", "+1 212 555 0123", "ana@example.org"):
        viewer, desk = shown_record_id(store, record_id)  # the desk sees patients' phones anyway
        assert (viewer["record_id"], desk["record_id"]) == ("•••", record_id)
    for record_id in ("1042", "A-77", "hospital-siu:569576"):  # ids stay as they are for both roles
        viewer, desk = shown_record_id(store, record_id)
        assert (viewer["record_id"], desk["record_id"]) == (record_id, record_id)


def test_ids_whose_digits_look_like_a_phone_number_stay_readable(store: Store) -> None:
    """A source's own ids with date-like digit groups are no phone numbers: libphonenumber's
    lenient free-text matcher masked 'NA-2026-11-0001' as 'NA-••• ••• 0001' for every role, so
    the front desk could not find the record at the source."""
    seed(store)
    for record_id in ("NA-2026-11-0001", "SIU-202611260001", "appt/2026-11-26/1042"):
        viewer, desk = shown_record_id(store, record_id)
        assert (viewer["record_id"], desk["record_id"]) == (record_id, record_id)
    # Digits alone that form a valid number (202-611-0001) cannot be told from a phone shifted
    # into the id column: masked for the viewer, as the source wrote it for the desk.
    viewer, desk = shown_record_id(store, "2026-11-0001")
    assert (viewer["record_id"], desk["record_id"]) == ("•••", "2026-11-0001")
