"""FORGETFUL's check of the store after a run (store.patient_data_days: 30): no visit that
ended before the window (and a day of slack) still says who came; no patient with no visit
since, no place on a waiting list and no details written since holds a phone or an email (one
whose booking was given to another patient keeps what was written within the window); no reply
outside the window keeps its sender or body. Independent of sync/store/retention.py's arithmetic:
plain SQL on the tables, the rule from docs/operations.md "Patients' data is forgotten after
their visits". Problems name ids only."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from clinicsync.sync.store.model import Appointment, Patient
from clinicsync.sync.store.model.responses import RESPONSES
from clinicsync.sync.store.model.waitlist import WAITLIST_ENTRIES
from clinicsync.sync.store.store import Store

A = Appointment.__table__  # type: ignore[attr-defined]
P = Patient.__table__  # type: ignore[attr-defined]
KEPT = timedelta(days=30)  # the run's store.patient_data_days
SLACK = timedelta(days=1)  # the window starts at a midnight (UTC): a visit goes up to a day later


def held_too_long(store: Store, last_sync: datetime) -> list[tuple[datetime, str]]:
    """What the store still holds of patients after the run's last sync, at ``last_sync``."""
    cutoff = last_sync - KEPT - SLACK
    problems: list[tuple[datetime, str]] = []
    with store.engine.connect() as connection:
        visits = connection.execute(select(A.c.connector, A.c.external_id, A.c.end_utc).where(
            A.c.end_utc < cutoff, or_(A.c.patient_ref.is_not(None), A.c.join_url.is_not(None),
                                      A.c.provider_join_url.is_not(None), A.c.dial_in.is_not(None),
                                      A.c.cancel_reason.is_not(None), A.c.forgotten_at.is_(None)))).all()
        problems += [(last_sync, f"retention: visit {v.connector}/{v.external_id} ended {v.end_utc:%Y-%m-%d %H:%M}Z, "
                                 "before the window, still holds patient data") for v in visits]
        current = {(r.connector, r.patient_ref) for r in connection.execute(
            select(A.c.connector, A.c.patient_ref).where(A.c.end_utc >= cutoff))}
        current |= {(r.connector, r.patient_ref) for r in connection.execute(  # offers go to them
            select(WAITLIST_ENTRIES.c.connector, WAITLIST_ENTRIES.c.patient_ref)
            .where(WAITLIST_ENTRIES.c.status == "waiting"))}
        # A patient no visit names any more (given to another) keeps what was written within the window.
        holding = connection.execute(select(P.c.connector, P.c.external_id).where(
            or_(P.c.phone.is_not(None), P.c.email.is_not(None)), P.c.updated_at < cutoff)).all()
        problems += [(last_sync, f"retention: patient {p.connector}/{p.external_id} has no visit since "
                                 f"{cutoff:%Y-%m-%d}Z and still holds a phone or an email")
                     for p in holding if (p.connector, p.external_id) not in current]
        replies = connection.execute(select(RESPONSES.c.id).select_from(
            RESPONSES.outerjoin(A, A.c.id == RESPONSES.c.appointment_id)).where(
            RESPONSES.c.received_at < cutoff, RESPONSES.c.sender != "",
            or_(RESPONSES.c.appointment_id.is_(None), and_(A.c.end_utc < cutoff)))).all()
        problems += [(last_sync, f"retention: reply {r.id} received before the window, of no visit "
                                 "within it, keeps its sender") for r in replies]
    return problems
