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
from sqlalchemy import Connection, select, update

from clinicsync.common.types import utcnow
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
from clinicsync.sync.store.tables import APPOINTMENTS, FREED_SLOTS, PATIENTS, WAITLIST_ENTRIES, WAITLIST_OFFERS

S, E, OF = FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
P, AP = PATIENTS, APPOINTMENTS
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
    with store.engine.connect() as connection:
        due = [r.id for r in connection.execute(
            select(S.c.id).where(S.c.status == "taken", S.c.booking_status == "pending")
            .order_by(S.c.taken_at, S.c.id).limit(BATCH))]
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
                _finish(connection, slot_id, "failed", f"{SET_ASIDE}{reason}"[:ERROR_LIMIT])

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
    with store.engine.begin() as connection:
        found = _claim(connection, slot_id)
    if found is None:
        return None
    slot, entry, attempt = found
    if slot.start_utc <= now:  # stuck until its time went by (a long outage): nobody can come any more
        with store.engine.begin() as connection:
            _finish(connection, slot.id, "failed", "the slot's time passed before it could be booked")
        return "failed"
    config = next((c for c in settings.connectors if c.name == slot.connector), None)
    why_not = _why_not_writable(store, config, slot, entry, connectors)
    if why_not is not None:
        with store.engine.begin() as connection:
            _finish(connection, slot.id, "desk_task", why_not)
            _entry_booked(connection, entry.id, now)
        log.info("waitlist.booking.desk_task", slot=slot.id, connector=slot.connector)
        return "desk_task"
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

            request = with_server_location(connector, request, _freed_external_id(store, slot.appointment_id))
        result = connector.book_waitlist(request)
    except BookingRefused as exc:
        with store.engine.begin() as connection:
            _finish(connection, slot.id, "failed", refusal_text(exc, _patient_words(store, entry))[:ERROR_LIMIT])
        log.warning("waitlist.booking.refused", slot=slot.id, connector=slot.connector)
        return "failed"
    except ConnectorError as exc:  # unreachable, or a setting the IT person must fix: try again next pass
        give_up = attempt >= booking_settings(settings).max_attempts
        with store.engine.begin() as connection:
            if give_up:
                _finish(connection, slot.id, "failed", f"gave up after {attempt} attempts: {exc}"[:ERROR_LIMIT])
            else:
                connection.execute(update(S).where(S.c.id == slot.id, S.c.booking_status == "pending").values(
                    booking_error=str(exc)[:ERROR_LIMIT]))
        log.warning("waitlist.booking.retry", slot=slot.id, connector=slot.connector, attempt=attempt,
                    error=type(exc).__name__)
        return "failed" if give_up else "retrying"
    from clinicsync.sync.waitlist.release import after_booking  # the reply path: only once a slot is booked

    with store.engine.begin() as connection:
        _finish(connection, slot.id, "written", None, result.external_id)
        _entry_booked(connection, entry.id, now)
        after_booking(connection, settings, entry, now)
    _store_created(settings, store, config, result, slot.id)
    log.info("waitlist.booking.written", slot=slot.id, connector=slot.connector, attempt=attempt)
    return "written"


def _requeue_retried(connection: Connection, now: datetime) -> None:
    """Slots whose booking was set aside (an error nobody foresaw) and that staff asked to
    retry (`set-aside retry`, the status page's button): pending again, for one more attempt
    this pass. A slot booked or failed otherwise since then is left as it is."""
    slot_ids = [int(r.item.split(":", 1)[1]) for r in take_retries(connection, STAGE, now)
                if r.item.startswith("slot:")]
    if slot_ids:
        connection.execute(update(S).where(
            S.c.id.in_(slot_ids), S.c.booking_status == "failed", S.c.booking_error.like(f"{SET_ASIDE}%")).values(
            booking_status="pending", booking_error=None))


def _claim(connection: Connection, slot_id: int) -> tuple[Any, Any, int] | None:
    """The slot, its accepted entry and this attempt's number, counted before anything is
    written (compare-and-set on the count read: a racing claim changes no row)."""
    slot = connection.execute(select(S).where(S.c.id == slot_id, S.c.status == "taken",
                                              S.c.booking_status == "pending")).first()
    if slot is None or slot.taken_offer_id is None:
        return None
    entry = connection.execute(select(E).join(OF, OF.c.entry_id == E.c.id).where(
        OF.c.id == slot.taken_offer_id)).first()
    if entry is None:
        return None
    attempt = slot.booking_attempts + 1
    claimed = connection.execute(update(S).where(
        S.c.id == slot_id, S.c.booking_status == "pending", S.c.booking_attempts == slot.booking_attempts).values(
        booking_attempts=attempt)).rowcount
    return (slot, entry, attempt) if claimed == 1 else None


def _freed_external_id(store: Store, appointment_id: int) -> str | None:
    """The source's id of the appointment whose cancellation freed the slot."""
    with store.engine.connect() as connection:
        found = connection.execute(select(AP.c.external_id).where(AP.c.id == appointment_id)).scalar()
    return str(found) if found is not None else None


def _patient_words(store: Store, entry: Any) -> list[str]:
    """What a source's refusal must not repeat to the desk's list: the patient's id, name
    (and each part of it), phone and email."""
    with store.engine.connect() as connection:
        person = connection.execute(select(P.c.name, P.c.phone, P.c.email).where(
            P.c.connector == entry.connector, P.c.external_id == entry.patient_ref)).first()
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
    if entry.connector != slot.connector and not _patient_known(store, slot.connector, entry.patient_ref):
        return f"the waiting patient is not a patient of {slot.connector} yet: book it by hand"
    return None


def _patient_known(store: Store, connector: str, ref: str) -> bool:
    with store.engine.connect() as connection:
        return connection.execute(select(P.c.id).where(P.c.connector == connector, P.c.external_id == ref)
                                  ).first() is not None


def _finish(connection: Connection, slot_id: int, status: str, error: str | None,
            external_id: str | None = None) -> None:
    values: dict[str, Any] = {"booking_status": status, "booking_error": error}
    if external_id is not None:
        values["booked_external_id"] = external_id[:255]
    connection.execute(update(S).where(S.c.id == slot_id, S.c.booking_status == "pending").values(values))


def _entry_booked(connection: Connection, entry_id: int, now: datetime) -> None:
    connection.execute(update(E).where(E.c.id == entry_id, E.c.status.in_(("waiting", "expired"))).values(
        status="booked", updated_at=now))


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
