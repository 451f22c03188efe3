"""The store's tables (SQLModel). Times are UTC; each appointment keeps its IANA zone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import utc_column, utcnow

# The largest id a row of these tables can have on every store: their int ids are INTEGER on
# PostgreSQL and MySQL (SQLite's are wider, but count up from 1). An id from outside (a link, a
# URL) above it is no row of ours, and PostgreSQL refuses to compare one with its INTEGER (an
# "integer out of range" error, not an empty result): check it before asking the store.
ROW_ID_MAX = 2**31 - 1


class Patient(SQLModel, table=True):
    connector: str = Field(primary_key=True, max_length=64)
    external_id: str = Field(primary_key=True, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=320)
    language: str | None = Field(default=None, max_length=35)
    channel: str | None = Field(default=None, max_length=16)
    allow_sms: bool = True
    allow_email: bool = True
    content_hash: str = Field(max_length=32)
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
    # The other numbers of a phone cell that held several: E.164, in the cell's order, one
    # space between them (the desk shows them; reminders turn to them when the first is bad).
    fallback_phones: str | None = Field(default=None, max_length=255)


class Practitioner(SQLModel, table=True):
    connector: str = Field(primary_key=True, max_length=64)
    external_id: str = Field(primary_key=True, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320, index=True)
    content_hash: str = Field(max_length=32)
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class Location(SQLModel, table=True):
    connector: str = Field(primary_key=True, max_length=64)
    external_id: str = Field(primary_key=True, max_length=255)
    name: str | None = Field(default=None, max_length=255)


# The rows ix_appointment_source_answer holds: the same terms as the stage's query, so SQLite
# sees that the index serves it (migration 0038 writes it out the same).
SOURCE_ANSWER_OPEN = ("source_answer IS NOT NULL AND deleted_at IS NULL "
                      "AND (participation IS NULL OR participation != source_answer)")


class Appointment(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("connector", "external_id", name="uq_appointment_source"),
        Index("ix_appointment_start", "start_utc"),
        Index("ix_appointment_practitioner", "connector", "practitioner_ref"),
        # sync/store/retention.py: the visits not forgotten by their end, oldest first (partial: the
        # forgotten ones leave it, so a pass never walks them; MySQL has no partial index: every
        # visit's end). No index on patient_ref: it cost a 100k-row first import +70 % on SQLite.
        Index("ix_appointment_forget", "end_utc", postgresql_where=text("forgotten_at IS NULL"),
              sqlite_where=text("forgotten_at IS NULL")),
        # sync/responses/source_answers.py, at each sync pass: the answers a source gave that are not
        # the visit's answer yet (partial: a recorded one leaves it; MySQL: every visit's answer).
        Index("ix_appointment_source_answer", "source_answer", postgresql_where=text(SOURCE_ANSWER_OPEN),
              sqlite_where=text(SOURCE_ANSWER_OPEN)),
    )

    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(max_length=64)
    external_id: str = Field(max_length=255)
    status: str = Field(max_length=24)
    start_utc: datetime = Field(sa_column=utc_column(nullable=False))
    end_utc: datetime = Field(sa_column=utc_column(nullable=False))
    timezone: str = Field(max_length=64)
    type: str | None = Field(default=None, max_length=255)
    location_ref: str | None = Field(default=None, max_length=255)
    patient_ref: str | None = Field(default=None, max_length=255)
    practitioner_ref: str | None = Field(default=None, max_length=255)
    content_hash: str = Field(max_length=32)
    version: int = 1
    source_updated_at: datetime | None = Field(default=None, sa_column=utc_column())
    deleted_at: datetime | None = Field(default=None, sa_column=utc_column())
    # The patient's answer (FHIR participant status: accepted, declined, tentative, needs-action).
    # Set by responses, never by a sync, so a re-import does not erase it.
    participation: str | None = Field(default=None, max_length=16)
    participation_at: datetime | None = Field(default=None, sa_column=utc_column())
    # What the source itself says the patient answered (a mapping's `answer:`), as a sync
    # stores it; sync/responses/source_answers.py records it as the answer once per version.
    source_answer: str | None = Field(default=None, max_length=16)
    # Why the source cancelled it (a mapping's `cancel_reason:`), as the source words it. May be
    # clinical: a patient sees it only when reminders.notices.cancel_reasons lists it.
    cancel_reason: str | None = Field(default=None, max_length=255)
    # Data-quality notes from the last import, one per line (optional values that were dropped
    # or stood in for, e.g. a vendor language code). Never patient data.
    quality_notes: str | None = Field(default=None, sa_column=Column(Text))
    # Telehealth: in_person | video | phone (NULL: the source says nothing, in person),
    # the patient's join link, the doctor's own link when the source has one, and a dial-in
    # number (E.164). A join link is PHI: it opens the patient's visit; never logged.
    visit_mode: str | None = Field(default=None, max_length=16)
    join_url: str | None = Field(default=None, sa_column=Column(Text))
    provider_join_url: str | None = Field(default=None, sa_column=Column(Text))
    dial_in: str | None = Field(default=None, max_length=32)
    # The fingerprint of the raw record this row's content was mapped from, under the mapping
    # and settings of that run (sync/ingest/fingerprint.py): a re-read record with the same
    # fingerprint is known unchanged before mapping. NULL: always map.
    source_fingerprint: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
    # When its patient data was forgotten, store.patient_data_days after the visit ended
    # (sync/store/retention.py): patient_ref, the telehealth links and the cancellation reason are
    # NULL from then on; identity, times, status and hashes stay, so a re-read is recognized.
    # Any write of content (the source changed it) sets it back to NULL: forgotten again.
    forgotten_at: datetime | None = Field(default=None, sa_column=utc_column())


class ConnectorState(SQLModel, table=True):
    """The connector's opaque cursor, committed with the batch it belongs to."""

    connector: str = Field(primary_key=True, max_length=64)
    cursor: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class SyncRun(SQLModel, table=True):
    """One row per connector per run: what it fetched and changed, and its error."""

    __table_args__ = (Index("ix_syncrun_connector_started", "connector", "started_at"),
                      # the last good run and the failures since it (sync.queries.connector_health)
                      Index("ix_syncrun_connector_status_id", "connector", "status", "id"))

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=32, index=True)
    connector: str = Field(max_length=64)
    status: str = Field(max_length=16)  # running | ok | failed
    counts: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text))
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())


class Quarantine(SQLModel, table=True):
    """A work list of records that could not be imported: one item per (connector, record,
    field, reason), however often the source shows the same bad record again. An item is
    open until the record imports (resolution ``imported``) or staff dismiss it."""

    __table_args__ = (UniqueConstraint("connector", "item_key", name="uq_quarantine_item"),
                      Index("ix_quarantine_open", "connector", "status", "record_id"))

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=32, index=True)  # the run that saw it last
    connector: str = Field(max_length=64, index=True)
    position: str = Field(max_length=512)  # where it was seen last
    record_id: str | None = Field(default=None, max_length=255)
    field: str | None = Field(default=None, max_length=64)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    raw: str | None = Field(default=None, sa_column=Column(Text))  # PHI: shown to staff, never logged
    item_key: str = Field(max_length=64)  # sync.quarantine.item_key: record id (else raw text), field, reason
    status: str = Field(default="open", max_length=16)  # open | resolved | dismissed
    seen_count: int = 1  # how many times a poll found it
    created_at: datetime = Field(sa_column=utc_column(nullable=False))  # first seen
    last_seen: datetime = Field(sa_column=utc_column(nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column())
    resolution: str | None = Field(default=None, max_length=255)  # imported | dismissed | …
    # The raw record's fingerprint at the last sighting (sync/ingest/fingerprint.py): a row re-exported
    # byte for byte is a sighting of this item without being mapped again.
    source_fingerprint: str | None = Field(default=None, max_length=32)


class ConnectorBaseline(SQLModel, table=True):
    """A connector whose baseline is done: its first successful sync recorded what already
    existed without announcing it; from then on what it finds is announced."""

    connector: str = Field(primary_key=True, max_length=64)
    run_id: str = Field(max_length=32)
    recorded_at: datetime = Field(sa_column=utc_column(nullable=False))


class Event(SQLModel, table=True):
    """The outbox: what changed, written in the same transaction as the change."""

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    kind: str = Field(max_length=16)  # created|updated|rescheduled|cancelled|noshow|deleted
    version: int
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class EventConsumer(SQLModel, table=True):
    """How far each consumer (calendar, planner, …) has read the outbox."""

    consumer: str = Field(primary_key=True, max_length=64)
    last_event_id: int = 0
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


__all__ = [
    "Appointment", "ConnectorBaseline", "ConnectorState", "Event", "EventConsumer", "Location", "Patient",
    "Practitioner", "Quarantine", "SyncRun", "table_of", "utcnow",
]
# The store's other tables, kept beside these so that importing the model registers the whole
# schema (migrations, create_all) and no feature is needed for it.
import clinicsync.connectors.hl7v2.model  # noqa: E402 - the HL7 v2 message-id table
import clinicsync.sync.store.model.access_log  # noqa: E402 - who saw full patient details on the status page
import clinicsync.sync.store.model.calendar  # noqa: E402 - calendar links and the .ics state
import clinicsync.sync.store.model.desk  # noqa: E402 - the front desk's actions on appointments
import clinicsync.sync.store.model.housekeeping  # noqa: E402 - when the store's daily chores last ran
import clinicsync.sync.store.model.logins  # noqa: E402 - login failures and logouts, shared by replicas
import clinicsync.sync.store.model.polls  # noqa: E402 - the shared poll schedule and its leases
import clinicsync.sync.store.model.processes  # noqa: E402 - the service processes on the store and their settings
import clinicsync.sync.store.model.push_hooks  # noqa: E402 - booking webhooks: body receipts and booking aliases
import clinicsync.sync.store.model.ratebuckets  # noqa: E402 - the push endpoints' rate limits, shared by replicas
import clinicsync.sync.store.model.reminders  # noqa: E402 - reminders and their plan
import clinicsync.sync.store.model.responses  # noqa: E402 - responses and the write-back outbox
import clinicsync.sync.store.model.runs  # noqa: E402 - what each running stage is doing now
import clinicsync.sync.store.model.setaside  # noqa: E402 - items a stage set aside
import clinicsync.sync.store.model.sources  # noqa: E402 - sources an admin retired
import clinicsync.sync.store.model.stage_marks  # noqa: E402 - what a stage's last idle pass saw
import clinicsync.sync.store.model.subscriptions  # noqa: E402 - what FHIR Subscriptions last reported
import clinicsync.sync.store.model.sweeps  # noqa: E402 - when each incremental source last listed its ids
import clinicsync.sync.store.model.tombstones  # noqa: E402 - explicit deletes, remembered for a while
import clinicsync.sync.store.model.waitlist  # noqa: E402 - waiting patients, freed slots and their offers
import clinicsync.sync.store.model.zonerules  # noqa: E402, F401 - the tz rules the stored times were computed with
