"""Patients' data forgotten ``store.patient_data_days`` after their visits.

clinicsync holds a copy of the EHR's appointments, not the record of care: a while after a
visit the copy should no longer know who came (GDPR storage limitation, HIPAA minimum
necessary), without anyone running a command. Deleting the rows would not do: an appointment
row is what stops a source that still lists an old visit from importing it again as new (a
calendar event, a confirmation). So a visit is *forgotten*, not deleted: its identity
(connector, external id), times, status, content hash and raw-record fingerprint stay, so a
re-read of the same record is recognized as unchanged; what says who the patient was goes:

- ``appointment``: ``patient_ref``, ``join_url``, ``provider_join_url``, ``dial_in`` and
  ``cancel_reason`` (may be clinical) become NULL and ``forgotten_at`` is set;
- ``reminder``: a patient's reminder loses its ``recipient_ref`` (its status and times stay:
  the history and the counts need them; its address and body were never stored);
- ``response``: the reply's ``body`` (NULL) and ``sender`` (``''``: the column is NOT NULL);
  replies no visit matched go by their own date;
- ``patient``: name, phone (and fallback numbers), email, language and channel, once none of the patient's visits
  ended within the window or lies ahead and they wait on no waiting list (a patient no visit
  names any more, once their details were last written before the window: :func:`_orphans`); the row and its id
  stay, its ``content_hash`` becomes :data:`FORGOTTEN` (a later visit writes the details back:
  Store._upsert_persons);
- ``quarantine.raw``: the raw record of an item closed, or last seen, before the window;
- ``event``: the visit's outbox events (its history of changes), once every consumer has read
  them, and ``delivery``: the delivery attempts of the visit's messages. Both grew by
  a few rows a visit for as long as the clinic ran, and nothing reads them after the visit: the
  consumers read past their offsets, a provider's receipt comes within days. The outbox's newest
  event always stays: on SQLite (and MySQL after a restart) a new event takes the highest id plus
  one, and must never take an id a consumer has read past. An event a consumer had not read
  when its visit was forgotten goes at the daily look (:func:`_forget_stray_events`), as do
  the attempts made before the window to send what no visit names (a doctor's daily agenda).

The access log (``ui_access_log``: who saw which visits) is an audit trail and is never
pruned with the data: it must outlive it (HIPAA asks six years).

Each call does bounded work (at most :data:`FORGOTTEN_PER_CALL` visits, replies and
quarantine items), found through indexes that skip what is already forgotten, so a first pass
on a store kept for years catches up over a few passes instead of stalling one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, update

from clinicsync.sync.store.outbox import CONSUMERS, EVENTS
from clinicsync.sync.store.tables import (
    APPOINTMENTS,
    DELIVERIES,
    PATIENTS,
    QUARANTINE,
    REMINDERS,
    RESPONSES,
    WAITLIST_ENTRIES,
    delivery_notifiers,
)
from clinicsync.sync.store.tables import REPLY_OUTCOMES as OUTCOMES

# A forgotten patient's content_hash: never equal to a real one (32 hex digits), so the next
# record that names the patient on a visit within the window writes their details back.
FORGOTTEN = "forgotten"
FORGOTTEN_PER_CALL = 2_000  # visits (and, apart, replies and quarantine items) forgotten per call
_CHUNK = 500  # ids per IN list

# The outcomes a reply that matched no visit may have: such replies are forgotten by their own
# date, found through ix_response_outcome (outcome, received_at).
_UNMATCHED = tuple(outcome for outcome in OUTCOMES if outcome != "applied")


@dataclass
class Forgotten:
    """What one call forgot, as counts (never an id or a value): the pass's log line."""

    appointments: int = 0
    patients: int = 0
    reminders: int = 0
    replies: int = 0
    quarantine: int = 0
    events: int = 0  # outbox events deleted
    deliveries: int = 0  # delivery attempts deleted

    def __bool__(self) -> bool:
        return any(asdict(self).values())

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def window_start(now: datetime, keep: timedelta) -> datetime:
    """The start of the window whose visits keep their patient data: ``keep`` before ``now``,
    down to that day's midnight (UTC). Why a day: the window then moves once a day, so a
    single pass a day finds visits to forget and reads the window's visits to tell who still
    has one; the passes in between find nothing at the cost of one index probe. A visit is
    forgotten at most a day after its ``keep`` is up."""
    return (now - keep).replace(hour=0, minute=0, second=0, microsecond=0)


def forget(engine: Engine, keep: timedelta, now: datetime, limit: int | None = None,
           orphans: bool = False, consumers: Collection[str] | None = None) -> Forgotten:
    """Forget the patient data of visits that ended before :func:`window_start` (see the
    module's docstring), at most ``limit`` visits (FORGOTTEN_PER_CALL) in one transaction.
    ``orphans``: also look for patients no visit names any more (:func:`_orphans`), as many
    as the call's bound leaves: once a day is enough, the window moves once a day; a call that
    used its whole bound may have left some (Store.forget_patient_data asks again).
    ``consumers``: the outbox consumers whose stage is switched on (sync/store/tables.py
    ``live_consumers``); None: every consumer the store has an offset for."""
    limit = FORGOTTEN_PER_CALL if limit is None else limit
    cutoff = window_start(now, keep)
    done = Forgotten()
    with engine.begin() as connection:
        visits = connection.execute(
            select(APPOINTMENTS.c.id, APPOINTMENTS.c.connector, APPOINTMENTS.c.patient_ref)
            .where(APPOINTMENTS.c.forgotten_at.is_(None), APPOINTMENTS.c.end_utc < cutoff)
            .order_by(APPOINTMENTS.c.end_utc).limit(limit)).all()
        ids = [row.id for row in visits]
        read = _read_by_all(connection, consumers) if ids else 0
        for part in _chunks(ids):
            done.appointments += _updated(connection, update(APPOINTMENTS).where(APPOINTMENTS.c.id.in_(part)).values(
                patient_ref=None, join_url=None, provider_join_url=None, dial_in=None, cancel_reason=None,
                forgotten_at=now))
            done.reminders += _updated(connection, update(REMINDERS).where(
                REMINDERS.c.appointment_id.in_(part), REMINDERS.c.recipient == "patient",
                REMINDERS.c.recipient_ref.is_not(None)).values(recipient_ref=None))
            done.replies += _forget_replies(connection, RESPONSES.c.appointment_id.in_(part))
            done.deliveries += _updated(connection, delete(DELIVERIES).where(DELIVERIES.c.reminder_id.in_(
                select(REMINDERS.c.id).where(REMINDERS.c.appointment_id.in_(part)))))
            if read:
                done.events += _updated(connection, delete(EVENTS).where(
                    EVENTS.c.appointment_id.in_(part), EVENTS.c.id <= read))
        people: dict[str, set[str]] = defaultdict(set)
        for row in visits:
            if row.patient_ref is not None:
                people[row.connector].add(row.patient_ref)
        lost: dict[str, set[str]] = defaultdict(set)
        for row in _orphans(connection, cutoff) if orphans else ():
            lost[row.connector].add(row.external_id)
        if people or lost:
            # One read of the window for every patient (by its end alone, through ix_appointment_forget:
            # none of its visits is forgotten, the cutoff only moves on; a condition on the connector
            # would let SQLite pick that source's every row instead).
            current = {(row.connector, row.patient_ref) for row in connection.execute(
                select(APPOINTMENTS.c.connector, APPOINTMENTS.c.patient_ref).distinct()
                .where(APPOINTMENTS.c.forgotten_at.is_(None), APPOINTMENTS.c.end_utc >= cutoff))}
        for connector, refs in people.items():
            done.patients += _forget_patients(connection, connector, sorted(refs), current, now)
        for connector, refs in lost.items():  # what is left of the call's bound, so the next call goes on
            done.patients += _forget_patients(connection, connector, sorted(refs), current, now,
                                              at_most=max(0, limit - done.patients))
        unmatched = select(RESPONSES.c.id).where(
            RESPONSES.c.outcome.in_(_UNMATCHED), RESPONSES.c.received_at < cutoff,
            RESPONSES.c.appointment_id.is_(None), RESPONSES.c.sender != "").limit(limit)
        if replies := list(connection.execute(unmatched).scalars()):
            done.replies += _forget_replies(connection, RESPONSES.c.id.in_(replies))
        done.quarantine += _forget_quarantine(connection, cutoff, limit)
        if orphans:  # once a day, as the look for patients no visit names
            done.events += _forget_stray_events(connection, limit, consumers)
            done.deliveries += _forget_agenda_attempts(connection, cutoff, limit)
    return done


def _read_by_all(connection: Connection, consumers: Collection[str] | None = None) -> int:
    """The highest outbox event id every consumer has read, below the newest event (which stays:
    see the module's docstring); 0 (nothing may go) while no consumer has read anything.
    ``consumers``: only these hold events (the stages switched on; one that has not run yet
    holds them all); a consumer switched off holds none, and with none switched on every event
    but the newest may go."""
    newest = connection.execute(select(func.max(EVENTS.c.id))).scalar() or 0
    if consumers is None:
        offsets = connection.execute(select(func.min(CONSUMERS.c.last_event_id), func.count())).one()
        return max(0, min(int(offsets[0]), newest - 1)) if offsets[1] else 0
    stored: dict[str, int] = dict(connection.execute(select(CONSUMERS.c.consumer, CONSUMERS.c.last_event_id)
                                                     .where(CONSUMERS.c.consumer.in_(sorted(consumers)))).all())
    read = min((int(stored.get(name, 0)) for name in consumers), default=newest - 1)
    return max(0, min(read, newest - 1))


def _forget_stray_events(connection: Connection, limit: int, consumers: Collection[str] | None = None) -> int:
    """Events of visits forgotten already that a consumer had not read when their visit was
    forgotten (a change the source made to an old visit, forgotten again in the same pass, before
    the planner read it): oldest first, once every consumer has read them. A walk of the outbox by
    id from its oldest event: what is left of it is the window's visits' events, not the history."""
    read = _read_by_all(connection, consumers)
    stray = list(connection.execute(
        select(EVENTS.c.id).join(APPOINTMENTS, APPOINTMENTS.c.id == EVENTS.c.appointment_id)
        .where(APPOINTMENTS.c.forgotten_at.is_not(None), EVENTS.c.id <= read).order_by(EVENTS.c.id).limit(limit))
        .scalars()) if read else []
    return sum(_updated(connection, delete(EVENTS).where(EVENTS.c.id.in_(part))) for part in _chunks(stray))


def _forget_agenda_attempts(connection: Connection, cutoff: datetime, limit: int) -> int:
    """The attempts made before the window to send what no visit names (a doctor's daily agenda),
    or for a visit forgotten already (a notice of a change to an old visit, sent after it was
    forgotten again): per notifier, oldest first through ix_delivery_notifier_created. The rest
    went with their visits, so what the walk passes over is the few days of attempts sent
    before a visit still in the window."""
    gone = 0
    for name in delivery_notifiers(connection):
        ids = list(connection.execute(
            select(DELIVERIES.c.id).join(REMINDERS, REMINDERS.c.id == DELIVERIES.c.reminder_id)
            .outerjoin(APPOINTMENTS, APPOINTMENTS.c.id == REMINDERS.c.appointment_id)
            .where(DELIVERIES.c.notifier == name, DELIVERIES.c.created_at < cutoff,
                   or_(REMINDERS.c.appointment_id.is_(None), APPOINTMENTS.c.forgotten_at.is_not(None)))
            .order_by(DELIVERIES.c.created_at).limit(max(0, limit - gone))).scalars())
        gone += sum(_updated(connection, delete(DELIVERIES).where(DELIVERIES.c.id.in_(part))) for part in _chunks(ids))
    return gone


def _orphans(connection: Connection, cutoff: datetime) -> Sequence[Any]:
    """Patients whose details were last written before the window and are not forgotten yet:
    the candidates no forgotten visit brings, e.g. one whose only booking the source gave to
    another patient (a booking made under the wrong patient, corrected): no visit names them
    any more, so no visit of theirs would ever be forgotten. :func:`_forget_patients` keeps
    those with a visit in the window or ahead. Their details stay until then, so the
    cancellation notice such a patient is owed still finds their address. A read of the
    patient table (no index on updated_at; two short columns): the caller asks once a day."""
    return connection.execute(select(PATIENTS.c.connector, PATIENTS.c.external_id).where(
        PATIENTS.c.content_hash != FORGOTTEN, PATIENTS.c.updated_at < cutoff)).all()


def _forget_patients(connection: Connection, connector: str, refs: Sequence[str],
                     current: set[tuple[str, str | None]], now: datetime, at_most: int | None = None) -> int:
    """The patients among ``refs`` with no visit in ``current`` (the window's and those ahead) and
    no entry waiting on a waiting list. ``current`` reads the window's visits, not the table: an
    index on patient_ref would have made it a probe, but cost every import more than the prune
    saves (a 100,000-row first CSV import +70 % on SQLite)."""
    kept = {ref for ref in refs if (connector, ref) in current}
    for part in _chunks(refs):
        kept.update(connection.execute(select(WAITLIST_ENTRIES.c.patient_ref).where(
            WAITLIST_ENTRIES.c.status == "waiting", WAITLIST_ENTRIES.c.connector == connector,
            WAITLIST_ENTRIES.c.patient_ref.in_(part))).scalars())
    gone = [ref for ref in refs if ref not in kept][:at_most]
    return sum(_updated(connection, update(PATIENTS).where(
        PATIENTS.c.connector == connector, PATIENTS.c.external_id.in_(part), PATIENTS.c.content_hash != FORGOTTEN)
        .values(name=None, phone=None, fallback_phones=None, email=None, language=None, channel=None,
                content_hash=FORGOTTEN,
                updated_at=now)) for part in _chunks(gone))


def _forget_replies(connection: Connection, which: Any) -> int:
    return _updated(connection, update(RESPONSES).where(which, RESPONSES.c.sender != "").values(sender="", body=None))


def _forget_quarantine(connection: Connection, cutoff: datetime, limit: int) -> int:
    """The raw records of items closed (imported, dismissed, gone from the source) before the
    window, or still open but last seen before it. The work list is one item per bad record,
    not per sighting: a scan of it stays small."""
    stale = select(QUARANTINE.c.id).where(QUARANTINE.c.raw.is_not(None), or_(
        and_(QUARANTINE.c.status != "open", QUARANTINE.c.resolved_at < cutoff),
        and_(QUARANTINE.c.status == "open", QUARANTINE.c.last_seen < cutoff))).limit(limit)
    ids = list(connection.execute(stale).scalars())
    return sum(_updated(connection, update(QUARANTINE).where(QUARANTINE.c.id.in_(part)).values(raw=None))
               for part in _chunks(ids))


def _updated(connection: Connection, statement: Any) -> int:
    return int(connection.execute(statement).rowcount)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    return (values[start:start + _CHUNK] for start in range(0, len(values), _CHUNK))
