"""The waitlist: who waits for a slot, which slots a cancellation freed, the
offers made for each slot, and what became of an accepted offer at the source.

Three tables, one job each, so that the stages touching them (entries from sources,
matching and offers, booking) meet only here:

- ``waitlist_entry``: a patient waiting, from a source (FHIR ``Appointment`` with
  ``status: waitlist``, a SQL/CSV ``waitlist`` record, the REST API) or added by the front
  desk. ``(connector, external_id)`` is the source's own key; entries the desk or the REST API
  add get a generated one. ``patient_ref`` is a ``patient.external_id`` of the same connector.
- ``freed_slot``: one row per appointment whose cancellation or deletion freed time still far
  enough ahead (the lead time). Acceptance is one conditional UPDATE on this row (``status``
  from ``open`` to ``taken``), so exactly one offer wins across workers.
- ``waitlist_offer``: one row per (slot, entry): never two offers to one patient for one slot.

Times are UTC; each slot and entry keeps its IANA zone. Never patient data beyond refs. The
states of each row are common/waitlist_states.py's enums.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import utc_column


class WaitlistEntry(SQLModel, table=True):
    __tablename__ = "waitlist_entry"
    __table_args__ = (
        UniqueConstraint("connector", "external_id", name="uq_waitlist_entry_source"),
        Index("ix_waitlist_entry_status", "status", "priority", "waiting_since"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(max_length=64)  # the source, or "desk" / the REST API's source name
    external_id: str = Field(max_length=255)
    patient_ref: str = Field(max_length=255)  # patient.external_id, same connector
    practitioner_ref: str | None = Field(default=None, max_length=255)  # NULL: any doctor
    visit_type: str | None = Field(default=None, max_length=255)
    location_ref: str | None = Field(default=None, max_length=255)  # NULL: any place
    visit_mode: str | None = Field(default=None, max_length=16)  # in_person|video|phone|NULL any
    duration_minutes: int | None = None  # NULL: any slot length
    # Acceptable windows, JSON: [{"start": ISO-UTC, "end": ISO-UTC}] absolute periods (FHIR
    # requestedPeriod), and/or [{"days": ["mon", …], "from": "HH:MM", "to": "HH:MM"}] weekly
    # local times in ``timezone``. NULL or []: any time.
    windows: str | None = Field(default=None, sa_column=Column(Text))
    timezone: str = Field(max_length=64)
    priority: int = 0  # higher first; then the longest waiting
    waiting_since: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=utc_column())
    # The patient's existing later appointment this entry would replace (offered for release
    # when they accept an earlier slot), if known: appointment.id.
    current_appointment_id: int | None = None
    status: str = Field(default="waiting", max_length=16)  # common/waitlist_states.py EntryStatus
    added_by: str | None = Field(default=None, max_length=64)  # staff login when the desk added it
    content_hash: str = Field(max_length=32)
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class FreedSlot(SQLModel, table=True):
    __tablename__ = "freed_slot"
    __table_args__ = (
        UniqueConstraint("appointment_id", "appointment_version", name="uq_freed_slot_appointment"),
        Index("ix_freed_slot_status", "status", "start_utc"),
    )

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int  # the cancelled or deleted appointment (appointment.id)
    appointment_version: int  # its version when it was freed: a later cancel is another slot
    connector: str = Field(max_length=64)
    practitioner_ref: str | None = Field(default=None, max_length=255)
    location_ref: str | None = Field(default=None, max_length=255)
    visit_type: str | None = Field(default=None, max_length=255)
    visit_mode: str | None = Field(default=None, max_length=16)
    start_utc: datetime = Field(sa_column=utc_column(nullable=False))
    end_utc: datetime = Field(sa_column=utc_column(nullable=False))
    timezone: str = Field(max_length=64)
    freed_by: str = Field(max_length=16)  # patient (SMS/link) | source (cancel) | deleted | desk
    freed_at: datetime = Field(sa_column=utc_column(nullable=False))
    status: str = Field(default="open", max_length=16)  # SlotStatus
    taken_offer_id: int | None = None  # waitlist_offer.id that won
    taken_at: datetime | None = Field(default=None, sa_column=utc_column())
    booking_status: str | None = Field(default=None, max_length=16)  # BookingStatus, once taken
    booked_external_id: str | None = Field(default=None, max_length=255)  # the source's new id
    booking_error: str | None = Field(default=None, max_length=500)  # never patient data
    booking_attempts: int = 0
    closed_at: datetime | None = Field(default=None, sa_column=utc_column())


class WaitlistOffer(SQLModel, table=True):
    __tablename__ = "waitlist_offer"
    __table_args__ = (
        UniqueConstraint("slot_id", "entry_id", name="uq_waitlist_offer_once"),
        Index("ix_waitlist_offer_status", "status", "hold_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slot_id: int = Field(foreign_key="freed_slot.id")
    entry_id: int = Field(foreign_key="waitlist_entry.id")
    rank: int  # its place in the slot's order (priority, then waiting time)
    channel: str | None = Field(default=None, max_length=16)  # sms | email | whatsapp | …
    status: str = Field(default="pending", max_length=16)  # OfferStatus
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    hold_until: datetime | None = Field(default=None, sa_column=utc_column())
    answered_at: datetime | None = Field(default=None, sa_column=utc_column())
    told_at: datetime | None = Field(default=None, sa_column=utc_column())  # "just been taken" sent
    message_key: str | None = Field(default=None, max_length=64)  # the notifier's idempotency key


WAITLIST_ENTRIES = table_of(WaitlistEntry)
FREED_SLOTS = table_of(FreedSlot)
WAITLIST_OFFERS = table_of(WaitlistOffer)
