"""Acting on replies against a real store: participation, decline notices, reminder
cancellation, the write-back queue, opt-outs honoured by the dispatcher, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import OPT_OUTS, REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import read_log

A = Appointment.__table__  # type: ignore[attr-defined]
PHONE = "+12125550101"
NOW = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)
BASE = "quiet_hours: null\nagenda: {enabled: false}\noffsets: [1d]\nchannels: [sms, email]\n" \
       "routes: {sms: texts, email: mails}"


def rows(store: Store, table: Any) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(table).order_by(*table.primary_key.columns)))


def participation(store: Store) -> dict[str, str | None]:
    return {a.external_id: a.participation for a in rows(store, A)}


def reply(settings: Settings, store: Store, body: str, sid: str | None = None, sender: str = PHONE,
          channel: str = "sms") -> Any:
    return handle_reply(settings, store, channel, sender, body, sid, NOW)


def test_yes_accepts_the_nearest_upcoming_appointment_and_queues_the_write_back(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("PAST", NOW - timedelta(days=1)), appointment("LATER", START + timedelta(days=7)),
        appointment("NEXT", START))
    result = reply(settings, store, "Yes!", "SM1")
    assert (result.action, result.outcome) == ("confirm", "applied")
    assert result.answer == "Thank you, your appointment is confirmed."
    assert participation(store) == {"PAST": None, "LATER": None, "NEXT": "accepted"}
    [response] = rows(store, RESPONSES)
    assert (response.body, response.sender, response.action, response.provider_id) == ("Yes!", PHONE, "confirm", "SM1")
    [wb] = rows(store, WRITEBACKS)
    assert (wb.external_id, wb.participant_status, wb.appointment_status, wb.status) == (
        "NEXT", "accepted", None, "pending")
    # The answered one no longer awaits an answer: the next "yes" goes to the later visit.
    reply(settings, store, "C", "SM2")
    assert participation(store) == {"PAST": None, "LATER": "accepted", "NEXT": "accepted"}
    assert reply(settings, store, "y", "SM3").outcome == "no_appointment"


def test_two_visits_at_one_start_in_two_sources_the_reply_goes_by_source_not_by_save_order(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """One patient booked at the same time in two sources: which one a bare "X" answers is the
    first by source name, then id, whichever source the store happened to save first (after an
    outage the other source may be polled first)."""
    settings = reminder_settings(BASE)
    put(store, appointment("F9", START), connector="front")  # saved first
    put(store, appointment("M3", START), connector="billing")
    reply(settings, store, "X", "SM1")
    assert participation(store) == {"F9": None, "M3": "declined"}


def test_a_retried_webhook_changes_nothing(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START), appointment("A2", START + timedelta(days=1)))
    reply(settings, store, "yes", "SM1")
    again = reply(settings, store, "yes", "SM1")
    assert (again.outcome, again.answer) == ("duplicate", "Thank you, your appointment is confirmed.")
    assert participation(store) == {"A1": "accepted", "A2": None}
    assert len(rows(store, RESPONSES)) == 1 and len(rows(store, WRITEBACKS)) == 1


def test_a_decline_cancels_pending_reminders_and_tells_the_doctor(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    settings = reminder_settings(BASE + "\nconfirmation: false")
    put(store, appointment("A1", START, language="es"))
    plan(settings, store, NOW)
    result = reply(settings, store, "NO", "SM1")
    assert (result.outcome, result.language) == ("applied", "es")
    assert result.answer.startswith("Gracias, hemos anotado")
    assert participation(store) == {"A1": "declined"}
    by_kind = {r.kind: r for r in rows(store, REMINDERS)}
    assert (by_kind["reminder"].status, by_kind["reminder"].reason) == ("cancelled", "the patient declined")
    notice = by_kind["declined"]
    assert (notice.recipient, notice.recipient_ref, notice.status) == ("practitioner", "D1", "pending")
    assert Dispatcher(settings, store, NOW).run().as_dict()["sent"] == 1
    [mail] = read_log(tmp_path / "mails.jsonl")
    assert mail["to"] == "hart@clinic.example.org" and "declined" in mail["subject"]


def test_decline_options(store: Store, reminder_settings: SettingsMaker, write_settings: Any) -> None:
    settings = reminder_settings(BASE + "\nconfirmation: false")
    settings = settings.model_copy(update={"responses": settings.responses.model_copy(update={
        "notify_practitioner": False, "cancel_reminders_on_decline": False, "decline_cancels": True})})
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    reply(settings, store, "x")
    assert [(r.kind, r.status) for r in rows(store, REMINDERS)] == [("reminder", "pending")]
    [wb] = rows(store, WRITEBACKS)
    assert (wb.participant_status, wb.appointment_status) == ("declined", "cancelled")


def test_stop_opts_the_number_out_so_the_next_reminder_uses_email(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    settings = reminder_settings(BASE + "\nconfirmation: false")
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    result = reply(settings, store, "STOP", "SM1")
    assert (result.action, result.outcome, participation(store)) == ("opt_out", "opted_out", {"A1": None})
    assert [(o.channel, o.address, o.source) for o in rows(store, OPT_OUTS)] == [("sms", PHONE, "reply")]
    Dispatcher(settings, store, START - timedelta(days=1)).run()
    assert not (tmp_path / "texts.jsonl").exists()
    [mail] = read_log(tmp_path / "mails.jsonl")
    assert mail["channel"] == "email"
    assert reply(settings, store, "START", "SM2").outcome == "opted_in"
    assert rows(store, OPT_OUTS) == []


def test_unknown_and_unmatched_replies_are_stored_for_staff(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    unknown = reply(settings, store, "Can I come at 5 instead?", "SM1")
    assert (unknown.action, unknown.outcome) == ("unknown", "unrecognized")
    assert "Reply C to confirm or X to cancel" in unknown.answer
    stranger = reply(settings, store, "yes", "SM2", sender="whatsapp:+12125550199", channel="whatsapp")
    assert stranger.outcome == "no_appointment"
    garbage = reply(settings, store, "yes", "SM3", sender="not a number")
    assert garbage.outcome == "no_appointment"
    assert [(r.outcome, r.sender) for r in rows(store, RESPONSES)] == [
        ("unrecognized", PHONE), ("no_appointment", "+12125550199"), ("no_appointment", "not a number")]
    assert participation(store) == {"A1": None}


def test_no_reminder_reaches_a_patient_who_cancelled_even_one_planned_after(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    """The clinic adds a 2h reminder after the patient's "no": the re-plan follows the
    settings, but the reminder is not sent to someone who said they will not come (found by
    the clinic simulation, PATIENT_REPLIES with SETTINGS_CHANGE). The doctor still hears."""
    settings = reminder_settings(BASE + "\nconfirmation: false")
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    assert reply(settings, store, "NO", "SM1").outcome == "applied"
    Dispatcher(settings, store, NOW).run()  # the doctor's "declined" email
    changed = reminder_settings(BASE.replace("offsets: [1d]", "offsets: [1d, 2h]") + "\nconfirmation: false")
    plan(changed, store, NOW + timedelta(minutes=5))
    two_hours = [r for r in rows(store, REMINDERS) if r.offset == "2h"]
    assert len(two_hours) == 1  # planned with the new settings, as for every visit ahead
    report = Dispatcher(changed, store, START - timedelta(hours=2)).run().as_dict()
    assert report["sent"] == 0
    [row] = [r for r in rows(store, REMINDERS) if r.offset == "2h"]
    assert (row.status, row.reason) == ("skipped", "the patient declined")
    assert not (tmp_path / "texts.jsonl").exists()


def test_a_patient_without_a_language_is_written_to_and_read_in_the_clinics(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Any) -> None:
    """A clinic in Spain whose export has no language column: its patients' reminders go in
    Spanish and their "Sí" is understood (before, both fell back to English)."""
    settings = reminder_settings(BASE + "\nconfirmation: false")
    settings = settings.model_copy(update={"clinic": settings.clinic.model_copy(update={"language": "es-ES"})})
    put(store, appointment("A1", START, language=None))  # type: ignore[arg-type]
    plan(settings, store, NOW)
    assert Dispatcher(settings, store, START - timedelta(days=1)).run().as_dict()["sent"] == 1
    [text] = read_log(tmp_path / "texts.jsonl")
    assert "cita" in text["body"].lower(), text["body"]
    result = reply(settings, store, "Sí", "SM1")
    assert (result.action, result.outcome, result.language) == ("confirm", "applied", "es-ES")
    assert result.answer.startswith("Gracias")
    english = reminder_settings(BASE + "\nconfirmation: false")  # a US clinic: English, as before
    assert reply(english, store, "Sí", "SM2").outcome == "unrecognized"
