"""The waiting list's rows as the booking, the offers and the desk's page read and write them:
a slot's booking from its claim to its outcome, an offer failed or its "taken" notice closed,
and the reads the status page, its add form and the offer page make of slots, offers, entries
and the people they name.

A step object the store exposes (``Store.waitlist_rows``), not a mixin: it needs only the
engine. A method without a ``connection`` is one transaction of its own; a static method that
takes one writes in the caller's transaction (a set-aside item's, a stage's). What to write
(which status, which error text) stays the feature's decision (sync/waitlist/book.py,
stage.py); the statements are the ones those modules ran, moved here unchanged. The
waitlist's rules over a connection (matching, entries, acceptance: sync/waitlist/) still run
their own statements in the transactions their callers open.

Every table is the sync path's Core description (tables.py): this module is imported with the
store, and the SQLModel classes cost a cron run's start (tables.py says why)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, select, update

from clinicsync.sync.store.tables import (
    APPOINTMENTS,
    FREED_SLOTS,
    PATIENTS,
    PRACTITIONERS,
    WAITLIST_ENTRIES,
    WAITLIST_OFFERS,
    of_sources,
    with_people,
)

S, E, OF = FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
P, D, AP = PATIENTS, PRACTITIONERS, APPOINTMENTS


class WaitlistRows:
    """The waiting list's reads and writes, one named transaction each (or the caller's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- booking an accepted slot (sync/waitlist/book.py) ---

    @staticmethod
    def requeue_set_aside(connection: Connection, slot_ids: list[int], marker: str) -> None:
        """The slots among ``slot_ids`` whose booking failed by being set aside (their error
        starts with ``marker``) pending again, in the caller's transaction (the one that took
        the retries). A slot booked or failed otherwise since then is left as it is."""
        if slot_ids:
            connection.execute(update(S).where(
                S.c.id.in_(slot_ids), S.c.booking_status == "failed", S.c.booking_error.like(f"{marker}%")).values(
                booking_status="pending", booking_error=None))

    def due_bookings(self, limit: int) -> list[int]:
        """The slots an accepted offer won and that wait to be booked, the longest taken first."""
        with self.engine.connect() as connection:
            return [r.id for r in connection.execute(
                select(S.c.id).where(S.c.status == "taken", S.c.booking_status == "pending")
                .order_by(S.c.taken_at, S.c.id).limit(limit))]

    def claim_booking(self, slot_id: int) -> tuple[Any, Any, int] | None:
        """The slot, its accepted entry and this attempt's number, counted and committed before
        anything is written to the source (compare-and-set on the count read: a racing claim
        changes no row and gets None, as does a slot no longer pending)."""
        with self.engine.begin() as connection:
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
                S.c.id == slot_id, S.c.booking_status == "pending",
                S.c.booking_attempts == slot.booking_attempts).values(booking_attempts=attempt)).rowcount
        return (slot, entry, attempt) if claimed == 1 else None

    @staticmethod
    def finish_booking_in(connection: Connection, slot_id: int, status: str, error: str | None,
                          external_id: str | None = None) -> None:
        """A pending booking's outcome (``status``, ``error``, the source's id of what it
        wrote), in the caller's transaction; a booking no longer pending is left as it is."""
        values: dict[str, Any] = {"booking_status": status, "booking_error": error}
        if external_id is not None:
            values["booked_external_id"] = external_id[:255]
        connection.execute(update(S).where(S.c.id == slot_id, S.c.booking_status == "pending").values(values))

    def finish_booking(self, slot_id: int, status: str, error: str | None) -> None:
        """A pending booking's outcome, in a transaction of its own."""
        with self.engine.begin() as connection:
            self.finish_booking_in(connection, slot_id, status, error)

    def note_booking_error(self, slot_id: int, error: str) -> None:
        """Why this attempt did not book a still pending slot (the next pass tries again)."""
        with self.engine.begin() as connection:
            connection.execute(update(S).where(S.c.id == slot_id, S.c.booking_status == "pending").values(
                booking_error=error))

    @staticmethod
    def _entry_booked(connection: Connection, entry_id: int, now: datetime) -> None:
        connection.execute(update(E).where(E.c.id == entry_id, E.c.status.in_(("waiting", "expired"))).values(
            status="booked", updated_at=now))

    def hand_to_desk(self, slot_id: int, why: str, entry_id: int, now: datetime) -> None:
        """The booking is the desk's task (``why``: no source can write it) and the entry is
        booked, in one transaction."""
        with self.engine.begin() as connection:
            self.finish_booking_in(connection, slot_id, "desk_task", why)
            self._entry_booked(connection, entry_id, now)

    @contextmanager
    def booked(self, slot_id: int, external_id: str | None, entry_id: int, now: datetime) -> Iterator[Connection]:
        """The booking written at the source (``external_id``) and the entry booked; the
        transaction is handed on for what follows from it (its later visit, release.py) and
        commits with it."""
        with self.engine.begin() as connection:
            self.finish_booking_in(connection, slot_id, "written", None, external_id)
            self._entry_booked(connection, entry_id, now)
            yield connection

    def appointment_external_id(self, appointment_id: int) -> str | None:
        """The source's id of an appointment (the one whose cancellation freed a slot)."""
        with self.engine.connect() as connection:
            found = connection.execute(select(AP.c.external_id).where(AP.c.id == appointment_id)).scalar()
        return str(found) if found is not None else None

    def patient_contact(self, connector: str, external_id: str) -> Any:
        """A patient's name, phone and email (what a source's refusal must not repeat)."""
        with self.engine.connect() as connection:
            return connection.execute(select(P.c.name, P.c.phone, P.c.email).where(
                P.c.connector == connector, P.c.external_id == external_id)).first()

    def patient_known(self, connector: str, external_id: str) -> bool:
        """Whether ``connector`` has a patient of this id."""
        with self.engine.connect() as connection:
            return connection.execute(select(P.c.external_id).where(
                P.c.connector == connector, P.c.external_id == external_id)).first() is not None

    # --- offers (sync/waitlist/stage.py) ---

    @staticmethod
    def fail_offer_in(connection: Connection, offer_id: int) -> None:
        """An offer not yet answered failed (it could not be sent), in the caller's transaction:
        it no longer holds its slot's place."""
        connection.execute(update(OF).where(OF.c.id == offer_id, OF.c.status.in_(("pending", "sent")))
                           .values(status="failed"))

    @staticmethod
    def close_told_in(connection: Connection, offer_id: int, now: datetime) -> None:
        """An offer's "just been taken" notice counted as told (at most once), in the caller's transaction."""
        connection.execute(update(OF).where(OF.c.id == offer_id, OF.c.told_at.is_(None)).values(told_at=now))

    def offer_rows(self, offer_id: int) -> tuple[Any, Any, Any, Any] | None:
        """An offer, its slot, its entry and the entry's patient (None when unknown), read
        together (the offer page); None without such an offer."""
        with self.engine.connect() as connection:
            offer = connection.execute(select(OF).where(OF.c.id == offer_id)).first()
            if offer is None:
                return None
            slot = connection.execute(select(S).where(S.c.id == offer.slot_id)).one()
            entry = connection.execute(select(E).where(E.c.id == offer.entry_id)).one()
            patient = connection.execute(select(P).where(P.c.connector == entry.connector,
                                                         P.c.external_id == entry.patient_ref)).first()
        return offer, slot, entry, patient

    # --- the status page's waitlist and its add form (sync/waitlist/desk_list.py, sync/ui) ---

    @staticmethod
    def shown_slots(connection: Connection, sources: Collection[str] | None, limit: int) -> list[dict[str, Any]]:
        """Open, taken and expired slots of ``sources`` (None: all), the latest first."""
        return [dict(r._mapping) for r in connection.execute(
            select(S).where(S.c.status.in_(("open", "taken", "expired")), of_sources(S.c.connector, sources))
            .order_by(S.c.start_utc.desc()).limit(limit))]

    @staticmethod
    def shown_offers(connection: Connection, sources: Collection[str] | None, limit: int) -> list[dict[str, Any]]:
        """Offers out or accepted, each with its entry's source and patient, the latest first."""
        return [dict(r._mapping) for r in connection.execute(
            select(OF, E.c.connector, E.c.patient_ref).join(E, E.c.id == OF.c.entry_id)
            .where(OF.c.status.in_(("pending", "sent", "accepted")), of_sources(E.c.connector, sources))
            .order_by(OF.c.created_at.desc()).limit(limit))]

    @staticmethod
    def names(connection: Connection, table: Table, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(connector, external id) -> name of the people of ``table`` (patients, practitioners) named by ``keys``."""
        names: dict[tuple[str, str], str] = {}
        for connector in {c for c, _ in keys}:
            ids = [k for c, k in keys if c == connector]
            for row in connection.execute(select(table.c.external_id, table.c.name).where(
                    table.c.connector == connector, table.c.external_id.in_(ids))):
                names[(connector, row.external_id)] = row.name or ""
        return names

    def form_appointment(self, appointment_id: int) -> Any:
        """An appointment's source, patient, doctor and type (the add form filled from it)."""
        with self.engine.connect() as connection:
            return connection.execute(select(AP.c.id, AP.c.connector, AP.c.patient_ref, AP.c.practitioner_ref,
                                             AP.c.type).where(AP.c.id == appointment_id)).first()

    def form_visit(self, appointment_id: int) -> Any:
        """A live appointment with its patient's name and phone and its doctor's name (who the
        add form is about, and the later visit an earlier slot would release)."""
        with self.engine.connect() as connection:
            return connection.execute(
                select(AP.c.id, AP.c.connector, AP.c.patient_ref, AP.c.start_utc, AP.c.timezone, AP.c.type, P.c.name,
                       P.c.phone, D.c.name.label("doctor"), AP.c.practitioner_ref)
                .select_from(with_people()).where(AP.c.id == appointment_id, AP.c.deleted_at.is_(None))).first()

    def later_visit(self, appointment_id: int) -> Any:
        """A live appointment's source, patient, status and start (is it the patient's own upcoming visit?)."""
        with self.engine.connect() as connection:
            return connection.execute(select(AP.c.connector, AP.c.patient_ref, AP.c.status, AP.c.start_utc).where(
                AP.c.id == appointment_id, AP.c.deleted_at.is_(None))).first()

    def entry_patient(self, entry_id: int) -> Any:
        """An entry's patient: their name (None when not stored) and id."""
        with self.engine.connect() as connection:
            return connection.execute(select(P.c.name, E.c.patient_ref).select_from(E.join(
                P, and_(P.c.connector == E.c.connector, P.c.external_id == E.c.patient_ref),
                isouter=True)).where(E.c.id == entry_id)).first()

    def entry_source(self, entry_id: int) -> str | None:
        """An entry's source (None without such an entry)."""
        with self.engine.connect() as connection:
            found = connection.execute(select(E.c.connector).where(E.c.id == entry_id)).scalar()
        return None if found is None else str(found)

    def doctors(self, sources: Collection[str] | None, limit: int = 500) -> list[Any]:
        """The doctors of ``sources`` (None: all) by name, for the add form's choice."""
        with self.engine.connect() as connection:
            return list(connection.execute(select(D.c.connector, D.c.external_id, D.c.name)
                                           .where(of_sources(D.c.connector, sources))
                                           .order_by(D.c.name, D.c.external_id).limit(limit)))
