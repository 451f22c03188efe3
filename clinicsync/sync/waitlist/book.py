"""Booking accepted waitlist offers at the source.

For each freed slot that an offer won (``status = 'taken'``, ``booking_status = 'pending'``,
set by the acceptance), the patient of the accepted entry is booked into the slot where the
slot's source can write (connectors/waitlist_booking.py: a FHIR conditional create, a SQL
statement, a REST callback); a source that cannot write makes it a front-desk task.

Exactly once, even across workers and crashes:
- one worker per slot: the store's own lock (sync/store/locks.py ``try_lock(("waitlist-book", id))``:
  an advisory lock on PostgreSQL, GET_LOCK on MariaDB, a flock file on SQLite), taken without
  waiting; a slot another worker is booking is skipped this pass;
- under the lock, the attempt is claimed first (``booking_attempts`` + 1, compare-and-set on the
  count read, committed) and only then written, so a retry knows it may find an earlier try's
  row;
- the source deduplicates on the slot's key (``waitlist-slot-<id>``): FHIR's If-None-Exist, the
  SQL statement's :slot_id, the callback's Idempotency-Key. A worker that dies between the
  source's answer and our commit leaves the slot pending; the next pass writes again under the
  same key and finds the first booking.

Outcomes: ``written`` (the entry becomes ``booked``; the patient's later appointment is handled
by sync/waitlist/release.py), ``desk_task`` (no writable source: the desk books it by hand,
sync/waitlist/book_tasks.py), ``failed`` (the source refused, or stayed unreachable for
``waitlist.booking.max_attempts`` passes: ``booking_error`` names the status, never the patient;
the desk calls the patient). A FHIR create's returned Appointment goes straight into the store
through the push path (sync/ingest/push.py), so the doctor's calendar and the patient's confirmation
and reminders follow from it in the same run, as from any new appointment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection

from clinicsync.common.types import utcnow
from clinicsync.common.waitlist_states import BookingStatus
from clinicsync.connectors.base import Connector, ConnectorError
from clinicsync.connectors.registry import build_connector
from clinicsync.connectors.waitlist_booking import (
    BookingRefused,
    BookingRequest,
    BookingResult,
    Books,
    refusal_text,
)
from clinicsync.sync.checks.stage_probes import BOOKING_OUTCOMES
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.waitlist_booking import booking_settings
from clinicsync.sync.runs.progress import Ticker, no_ticks
from clinicsync.sync.runs.setaside import Item, run_isolated, take_retries
from clinicsync.sync.store.locks import try_lock
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.waitlist_rows import WaitlistRows

STAGE = "waitlist_book"
BATCH = 100
ERROR_LIMIT = 500
SET_ASIDE = "set aside: "  # how a set-aside booking's error starts: the retry finds it by it
OUTCOMES = BOOKING_OUTCOMES  # sync/checks/stage_probes.py: an idle run reports them, all 0, without this module
log = structlog.get_logger("clinicsync.waitlist")


def run_booking(settings: Settings, store: Store, now: datetime | None = None) -> dict[str, int]:
    """One pass over the slots waiting to be booked; counts per outcome."""
    now = now or utcnow()
    report = dict.fromkeys(OUTCOMES, 0)
    with store.engine.begin() as connection:
        _requeue_retried(connection, now)
    due = store.waitlist_rows.due_bookings(BATCH)
    connectors: dict[str, Connector] = {}
    try:
        for slot_id in due:
            def handle(slot_id: int = slot_id) -> None:
                with try_lock(store.engine, "waitlist-book", str(slot_id)) as held:
                    if held is None:  # another worker is booking it right now
                        report["busy"] += 1
                        return
                    outcome = book_slot(settings, store, slot_id, now, connectors)
                    if outcome:
                        report[outcome] += 1

            def failed(connection: Connection, reason: str, slot_id: int = slot_id) -> None:
                WaitlistRows.finish_booking_in(connection, slot_id, BookingStatus.FAILED,
                                               f"{SET_ASIDE}{reason}"[:ERROR_LIMIT])

            if run_isolated(store.engine, Item(STAGE, f"slot:{slot_id}"), handle, failed, now).failed:
                report["set_aside"] += 1
    finally:
        for connector in connectors.values():
            connector.close()
    if due:
        log.info("waitlist.booking", **{k: v for k, v in report.items() if v})
    return report


def booking_stage(settings: Settings, store: Store, run_id: str, progress: Ticker = no_ticks) -> dict[str, int]:
    """The pipeline stage (sync/service/pipeline.py signature): after offers are accepted."""
    return run_booking(settings, store)


def book_slot(settings: Settings, store: Store, slot_id: int, now: datetime,
              connectors: dict[str, Connector] | None = None) -> str | None:
    """Book one slot (the caller holds its lock). None when it is no longer pending."""
    connectors = {} if connectors is None else connectors
    rows = store.waitlist_rows
    found = rows.claim_booking(slot_id)
    if found is None:
        return None
    slot, entry, attempt = found
    if slot.start_utc <= now:  # stuck until its time went by (a long outage): nobody can come any more
        rows.finish_booking(slot.id, BookingStatus.FAILED, "the slot's time passed before it could be booked")
        return BookingStatus.FAILED
    config = next((c for c in settings.connectors if c.name == slot.connector), None)
    why_not = _why_not_writable(store, config, slot, entry, connectors)
    if why_not is not None:
        rows.hand_to_desk(slot.id, why_not, entry.id, now)
        log.info("waitlist.booking.desk_task", slot=slot.id, connector=slot.connector)
        return BookingStatus.DESK_TASK
    assert config is not None
    connector = connectors[config.name]
    assert isinstance(connector, Books)
    request = BookingRequest(
        slot_id=slot.id, patient_ref=entry.patient_ref, practitioner_ref=slot.practitioner_ref,
        location_ref=slot.location_ref, visit_type=slot.visit_type or entry.visit_type, visit_mode=slot.visit_mode,
        start_utc=slot.start_utc, end_utc=slot.end_utc, timezone=slot.timezone, entry_connector=entry.connector,
        entry_external_id=entry.external_id, attempt=attempt)
    try:
        if config.kind == "fhir":  # the place as the server knows it (its id), not our name for it
            from clinicsync.connectors.fhir.booking import with_server_location  # FHIR's stack: on use

            request = with_server_location(connector, request, rows.appointment_external_id(slot.appointment_id))
        result = connector.book_waitlist(request)
    except BookingRefused as exc:
        rows.finish_booking(slot.id, BookingStatus.FAILED,
                            refusal_text(exc, _patient_words(store, entry))[:ERROR_LIMIT])
        log.warning("waitlist.booking.refused", slot=slot.id, connector=slot.connector)
        return BookingStatus.FAILED
    except ConnectorError as exc:  # unreachable, or a setting the IT person must fix: try again next pass
        give_up = attempt >= booking_settings(settings).max_attempts
        if give_up:
            rows.finish_booking(slot.id, BookingStatus.FAILED, f"gave up after {attempt} attempts: {exc}"[:ERROR_LIMIT])
        else:
            rows.note_booking_error(slot.id, str(exc)[:ERROR_LIMIT])
        log.warning("waitlist.booking.retry", slot=slot.id, connector=slot.connector, attempt=attempt,
                    error=type(exc).__name__)
        return BookingStatus.FAILED if give_up else "retrying"
    from clinicsync.sync.waitlist.release import after_booking  # the reply path: only once a slot is booked

    with rows.booked(slot.id, result.external_id, entry.id, now) as connection:
        after_booking(connection, settings, entry, slot.id, now)
    _store_created(settings, store, config, result, slot.id)
    log.info("waitlist.booking.written", slot=slot.id, connector=slot.connector, attempt=attempt)
    return BookingStatus.WRITTEN


def _requeue_retried(connection: Connection, now: datetime) -> None:
    """Slots whose booking was set aside (an error nobody foresaw) and that staff asked to
    retry (`set-aside retry`, the status page's button): pending again, for one more attempt
    this pass. A slot booked or failed otherwise since then is left as it is."""
    slot_ids = [int(r.item.split(":", 1)[1]) for r in take_retries(connection, STAGE, now)
                if r.item.startswith("slot:")]
    WaitlistRows.requeue_set_aside(connection, slot_ids, SET_ASIDE)


def _patient_words(store: Store, entry: Any) -> list[str]:
    """What a source's refusal must not repeat to the desk's list: the patient's id, name
    (and each part of it), phone and email."""
    person = store.waitlist_rows.patient_contact(entry.connector, entry.patient_ref)
    words = [entry.patient_ref]
    if person is not None:
        words += [person.phone or "", person.email or "", person.name or "", *(person.name or "").split()]
    return words


def _why_not_writable(store: Store, config: Any, slot: Any, entry: Any,
                      connectors: dict[str, Connector]) -> str | None:
    """None when the slot's source can take this booking; else what the desk task says."""
    if config is None:
        return f"connector {slot.connector} is not configured: book it by hand"
    try:
        if config.name not in connectors:
            connectors[config.name] = build_connector(config)
    except Exception as exc:  # a connector that cannot even be built: a person books it
        return f"connector {slot.connector} could not be started ({type(exc).__name__}): book it by hand"
    connector = connectors[config.name]
    if not isinstance(connector, Books) or not connector.can_book():
        return f"{config.kind} source {slot.connector} is not written to: book it by hand"
    if entry.connector != slot.connector and not store.waitlist_rows.patient_known(slot.connector,
                                                                                            entry.patient_ref):
        return f"the waiting patient is not a patient of {slot.connector} yet: book it by hand"
    return None


def _store_created(settings: Settings, store: Store, config: Any, result: BookingResult, slot_id: int) -> None:
    """Hand the source's new Appointment to the push path now (FHIR answers it), so calendar,
    confirmation and reminders need not wait for the next poll. A failure here loses nothing:
    the poll reads the same Appointment."""
    if result.record is None:
        return
    from clinicsync.sync.ingest.push import PushReceiver  # the push path: only for a booking a source answered

    try:
        PushReceiver(settings, store, config).receive(
            result.record.data, f"waitlist booking {result.record.position}", quarantine_bad=True,
            record_id=result.record.record_id)
    except Exception as exc:  # the booking stands; the next poll brings the appointment in
        log.warning("waitlist.booking.store_later", slot=slot_id, connector=config.name, error=type(exc).__name__)
