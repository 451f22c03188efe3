"""The store tables that `status` reads (and the few rows it closes), and those the sync path
reads and writes (the store, the engine, the stages), as SQLAlchemy Core `Table` objects, plus
the engine-only handle those reads need.

Why: importing ``sync/model`` builds every table of the store as a SQLModel class (the ORM,
declarative class creation, pydantic): about half of what `clinicsync status` cost to start
(docs/performance.md, W7), and about a third of an idle `sync --once` under
cron. A Core table costs a fraction of that. A statement is built on one
description of each table: the modules of the sync path take theirs from here (a join of this
appointment table with the model's would be a cartesian product).

The SQLModel classes in ``sync/model`` stay the one source of truth of the schema (migrations,
``create_all``): these descriptions are derived from them, column for column (name, type,
nullability, primary key, Python-side default), and ``tests/cli_start/test_tables.py`` fails,
printing the definition to paste, when a table here no longer equals the model's. Indexes,
constraints and foreign keys are left out: these objects only build DML, never DDL.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Join,
    MetaData,
    String,
    Table,
    Text,
    TextClause,
    and_,
    func,
    select,
    text,
    true,
)

from clinicsync.common.types import UtcDateTime
from clinicsync.common.vocabulary import ReminderStatus

if TYPE_CHECKING:
    from clinicsync.sync.config.settings import Settings, StoreSettings

# The states of a reminder (model/reminders.py takes them from here), as plain text: they key
# the figures `status --json` prints, and orjson takes only an exact str as a key.
REMINDER_STATUSES = tuple(status.value for status in ReminderStatus)
# What a patient's reply did (model/responses.py): here, so the stages read it without the model.
REPLY_OUTCOMES = ("applied", "no_appointment", "unrecognized", "opted_out", "opted_in", "help", "duplicate")
# The reason of a pending reminder whose last send failed with a passing fault (429, 5xx, a
# refused connection): the dispatcher writes it, `status` reads it (sync/checks/stalls.py).
RETRYING = "will retry: "


# The states a reminder waits in (to be sent, being sent, its send's outcome not known): the
# live work, counted whole. Every other state is settled and grows with the clinic's history.
REMINDER_LIVE = (ReminderStatus.PENDING.value, ReminderStatus.SENDING.value, ReminderStatus.UNKNOWN.value)
# How far back the store figures of /metrics, `status` and the status page count what is
# settled (reminders sent, replies, write-backs done, runs finished, calendar events written):
# a week, so a Monday still shows the last working days, and no figure grows with the
# clinic's history as one that counted every row ever would.
RECENT = timedelta(days=7)


def by_state(connection: Connection, state: Any, live: Sequence[str], settled: Sequence[str], when: Any,
             since: datetime, *by: Any) -> dict[tuple[Any, ...], int]:
    """Rows per ``(*by, state)``: every row in a ``live`` state, and those in a ``settled``
    state whose ``when`` is ``since`` or later. Each part is one range of an index that starts
    ``(state, when)`` (a state named, never a scan), so the read costs the live rows and the
    window, not the table's history."""
    columns = (*by, state)
    found: dict[tuple[Any, ...], int] = {}
    for where in ([state.in_(live)] if live else [], [state.in_(settled), when >= since]):
        if where:
            for *key, count in connection.execute(select(*columns, func.count()).where(*where).group_by(*columns)):
                found[tuple(key)] = found.get(tuple(key), 0) + int(count)
    return found


def is_retrying(reason: str | None) -> bool:
    """Whether a pending reminder's ``reason`` says its last send failed and will be retried:
    one reading of ``RETRYING`` for the dispatcher, the re-planner and `status`'s SQL twin."""
    return (reason or "").startswith(RETRYING)


def of_sources(column: Any, sources: Collection[str] | None) -> ColumnElement[bool]:
    """A query's filter to the sources a site-scoped user sees (sync/ui/scope.py);
    ``None``: every source, and the query is unchanged."""
    return true() if sources is None else column.in_(sorted(sources))



class HasEngine(Protocol):
    """What the reads behind `status` need of a store: its engine (a ``Store`` or a ``StoreEngine``)."""

    @property
    def engine(self) -> Engine: ...


@dataclass
class StoreEngine:
    """The store's engine without ``Store`` (whose module imports the model, the mappings and
    the write path): opened as ``Store.open`` opens it, with the same pool settings, the same
    schema check and SQLite's automatic migration."""

    engine: Engine

    @classmethod
    def open(cls, settings: StoreSettings) -> StoreEngine:
        from clinicsync.sync.store.db import ensure_schema, make_engine

        engine = make_engine(settings.url, settings.pool_size, settings.echo, settings.max_overflow,
                             settings.pool_timeout)
        ensure_schema(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()


METADATA = MetaData()

SYNC_RUNS = Table(
    "syncrun", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("run_id", String(32), nullable=False),
    Column("connector", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("counts", Text(), nullable=False),
    Column("error", Text(), nullable=True),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
)

QUARANTINE = Table(
    "quarantine", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("run_id", String(32), nullable=False),
    Column("connector", String(64), nullable=False),
    Column("position", String(512), nullable=False),
    Column("record_id", String(255), nullable=True),
    Column("field", String(64), nullable=True),
    Column("reason", Text(), nullable=False),
    Column("raw", Text(), nullable=True),
    Column("item_key", String(64), nullable=False),
    Column("status", String(16), nullable=False, default='open'),
    Column("seen_count", Integer(), nullable=False, default=1),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime(), nullable=True),
    Column("resolution", String(255), nullable=True),
    Column("source_fingerprint", String(32), nullable=True),
)

RUN_STAGES = Table(
    "run_stage", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("run_id", String(32), nullable=False),
    Column("stage", String(96), nullable=False),
    Column("status", String(16), nullable=False),
    Column("rows", Integer(), nullable=False, default=0),
    Column("total", Integer(), nullable=True),
    Column("error", Text(), nullable=True),
    Column("host", String(255), nullable=True),
    Column("pid", Integer(), nullable=True),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("heartbeat_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
)

REMINDERS = Table(
    "reminder", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("key", String(255), nullable=False),
    Column("appointment_id", Integer(), nullable=True),
    Column("connector", String(64), nullable=False),
    Column("recipient", String(16), nullable=False),
    Column("recipient_ref", String(255), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("offset", String(16), nullable=True),
    Column("version", Integer(), nullable=False, default=0),
    Column("starts_at", UtcDateTime(), nullable=True),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False, default='pending'),
    Column("reason", Text(), nullable=True),
    Column("note", String(255), nullable=True),
    Column("channel", String(16), nullable=True),
    Column("notifier", String(64), nullable=True),
    Column("tried", String(64), nullable=False, default=''),
    Column("attempts", Integer(), nullable=False, default=0),
    Column("claimed_by", String(64), nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("send_started_at", UtcDateTime(), nullable=True),
    Column("provider_id", String(255), nullable=True),
    Column("segments", Integer(), nullable=True),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

DELIVERIES = Table(
    "delivery", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("reminder_id", Integer(), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("notifier", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("provider_id", String(255), nullable=True),
    Column("provider_status", String(32), nullable=True),
    Column("detail", Text(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

WRITEBACKS = Table(
    "writeback", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("appointment_id", Integer(), nullable=False),
    Column("connector", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("patient_ref", String(255), nullable=True),
    Column("participant_status", String(16), nullable=False),
    Column("appointment_status", String(16), nullable=True),
    Column("status", String(16), nullable=False, default='pending'),
    Column("attempts", Integer(), nullable=False, default=0),
    Column("next_at", UtcDateTime(), nullable=False),
    Column("last_error", Text(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("done_at", UtcDateTime(), nullable=True),
    Column("desk_action_id", Integer(), nullable=True),
    Column("freed_slot_id", Integer(), nullable=True),
)

SET_ASIDE = Table(
    "set_aside", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("stage", String(32), nullable=False),
    Column("item", String(96), nullable=False),
    Column("appointment_id", Integer(), nullable=True),
    Column("connector", String(64), nullable=True),
    Column("external_id", String(255), nullable=True),
    Column("reason", Text(), nullable=False),
    Column("status", String(16), nullable=False, default='open'),
    Column("attempts", Integer(), nullable=False, default=1),
    Column("first_at", UtcDateTime(), nullable=False),
    Column("last_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime(), nullable=True),
)

EVENTS = Table(
    "event", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("appointment_id", Integer(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

CONSUMERS = Table(
    "eventconsumer", METADATA,
    Column("consumer", String(64), primary_key=True),
    Column("last_event_id", Integer(), nullable=False, default=0),
    Column("updated_at", UtcDateTime(), nullable=False),
)

def loose_scan(table: str, column: str) -> TextClause:
    """The distinct values of ``column``, one probe each of an index that leads with it: the
    smallest, then the smallest past it, and so on (a recursive CTE that PostgreSQL, SQLite and
    MariaDB answer from the index; a DISTINCT would walk every row)."""
    return text(f"""
WITH RECURSIVE s(name) AS (
    SELECT MIN({column}) FROM {table}
    UNION ALL
    SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > s.name) FROM s WHERE s.name IS NOT NULL
)
SELECT name FROM s WHERE name IS NOT NULL
""")


# The outbox's consumers, each a stage that can be switched off in the settings.
REMINDERS_CONSUMER = "reminders"  # the reminder planner (sync/reminders/planner.py)
WAITLIST_CONSUMER = "waitlist"  # freed slots (sync/waitlist/detect.py)


def live_consumers(settings: Settings) -> frozenset[str]:
    """The consumers whose stage the settings switch on: only they hold events in the outbox.

    A consumer switched off (``reminders.enabled: false``, ``waitlist.enabled: false``) keeps its
    offset, and on main held every later event for as long as it stayed off (the retention pass
    deleted nothing past it, and its age gauge rose for ever). Switched off, it holds nothing:
    the events of visits whose patient data is forgotten go past it as past the others. Turned
    back on, it reads from its offset what is left, the changes of the visits still in the
    window or ahead, as after any downtime: what it does with a visit ahead is needed (its
    reminders, a notice of a change the patient was not told), and a visit forgotten is one it
    had nothing to do for (its time is months past). docs/operations.md, "What the store keeps"."""
    return frozenset(name for name, on in ((REMINDERS_CONSUMER, settings.reminders.enabled),
                                           (WAITLIST_CONSUMER, settings.waitlist.enabled)) if on)


def live_offsets(connection: Connection, settings: Settings) -> dict[str, int]:
    """Each consumer switched on (``live_consumers``) and its offset, 0 for one that has not run
    yet: what the outbox's lag and age gauges and the ``outbox_lag`` stall count from. A row of a
    consumer switched off, or of one no stage reads any more, is left out."""
    live = live_consumers(settings)
    offsets = dict.fromkeys(sorted(live), 0)
    offsets.update((consumer, int(offset)) for consumer, offset in connection.execute(
        select(CONSUMERS.c.consumer, CONSUMERS.c.last_event_id).where(CONSUMERS.c.consumer.in_(sorted(live)))))
    return offsets


def delivery_notifiers(connection: Connection) -> list[str]:
    """The notifiers that ever made an attempt, one probe of ix_delivery_notifier_created each
    (a DISTINCT would read every attempt)."""
    names: list[str] = []
    while (name := connection.execute(select(func.min(DELIVERIES.c.notifier)).where(
            *([DELIVERIES.c.notifier > names[-1]] if names else []))).scalar()) is not None:
        names.append(name)
    return names


FREED_SLOTS = Table(
    "freed_slot", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("appointment_id", Integer(), nullable=False),
    Column("appointment_version", Integer(), nullable=False),
    Column("connector", String(64), nullable=False),
    Column("practitioner_ref", String(255), nullable=True),
    Column("location_ref", String(255), nullable=True),
    Column("visit_type", String(255), nullable=True),
    Column("visit_mode", String(16), nullable=True),
    Column("start_utc", UtcDateTime(), nullable=False),
    Column("end_utc", UtcDateTime(), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("freed_by", String(16), nullable=False),
    Column("freed_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False, default='open'),
    Column("taken_offer_id", Integer(), nullable=True),
    Column("taken_at", UtcDateTime(), nullable=True),
    Column("booking_status", String(16), nullable=True),
    Column("booked_external_id", String(255), nullable=True),
    Column("booking_error", String(500), nullable=True),
    Column("booking_attempts", Integer(), nullable=False, default=0),
    Column("closed_at", UtcDateTime(), nullable=True),
)

RETIRED_SOURCES = Table(
    "retired_source", METADATA,
    Column("connector", String(64), primary_key=True),
    Column("retired_at", UtcDateTime(), nullable=False),
    Column("cancelled", Integer(), nullable=False, default=0),
)

HOUSEKEEPING = Table(
    "housekeeping", METADATA,
    Column("task", String(64), primary_key=True),
    Column("done_for", UtcDateTime(), nullable=False),
)

STAGE_MARKS = Table(
    "stage_mark", METADATA,
    Column("stage", String(32), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("result", Text(), nullable=False),
    Column("marked_at", UtcDateTime(), nullable=False),
)

SERVICE_PROCESSES = Table(
    "service_process", METADATA,
    Column("process", String(300), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer(), nullable=False),
    Column("command", String(32), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("seen_at", UtcDateTime(), nullable=False),
    Column("settings_path", String(500), nullable=False),
    Column("settings_digest", String(16), nullable=False),
    Column("stale_since", UtcDateTime(), nullable=True),
    Column("stale_files", Text(), nullable=True),
)

LOCK_HOLDERS = Table(
    "lock_holder", METADATA,
    Column("name", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer(), nullable=False),
    Column("command", String(64), nullable=False),
    Column("since", UtcDateTime(), nullable=False),
)

POLL_SCHEDULE = Table(
    "poll_schedule", METADATA,
    Column("connector", String(64), primary_key=True),
    Column("next_due", UtcDateTime(), nullable=False),
    Column("holder", String(300), nullable=True),
    Column("lease_expires", UtcDateTime(), nullable=True),
    Column("last_started", UtcDateTime(), nullable=True),
    Column("last_finished", UtcDateTime(), nullable=True),
)

ZONE_RULES = Table(
    "zonerules", METADATA,
    Column("zone", String(64), primary_key=True),
    Column("transitions", Text(), nullable=True),
    Column("previous", Text(), nullable=True),
    Column("recorded_at", UtcDateTime(), nullable=True),
    Column("corrected_at", UtcDateTime(), nullable=True),
    Column("corrected", Integer(), nullable=False, default=0),
    Column("left", Integer(), nullable=False, default=0),
)

FHIR_SUBSCRIPTIONS = Table(
    "fhir_subscription", METADATA,
    Column("connector", String(64), primary_key=True),
    Column("subscription", String(255), nullable=True),
    Column("status", String(16), nullable=True),
    Column("last_type", String(24), nullable=True),
    Column("last_seen_at", UtcDateTime(), nullable=True),
    Column("events_seen", Integer(), nullable=True),
    Column("notifications", Integer(), nullable=False, default=0),
    Column("reconcile_at", UtcDateTime(), nullable=True),
    Column("reconcile_reason", String(255), nullable=True),
    Column("reconciled_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)


# The tables an idle `sync --once` reads and writes: the poll's run row, cursor
# and baseline, the store's appointments with their people, and what the stages read when they find
# nothing to do. Through these, a cron run that stores nothing never builds the model's classes.
APPOINTMENTS = Table(
    "appointment", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("connector", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("status", String(24), nullable=False),
    Column("start_utc", UtcDateTime(), nullable=False),
    Column("end_utc", UtcDateTime(), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("type", String(255), nullable=True),
    Column("location_ref", String(255), nullable=True),
    Column("patient_ref", String(255), nullable=True),
    Column("practitioner_ref", String(255), nullable=True),
    Column("content_hash", String(32), nullable=False),
    Column("version", Integer(), nullable=False, default=1),
    Column("source_updated_at", UtcDateTime(), nullable=True),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Column("participation", String(16), nullable=True),
    Column("participation_at", UtcDateTime(), nullable=True),
    Column("source_answer", String(16), nullable=True),
    Column("cancel_reason", String(255), nullable=True),
    Column("quality_notes", Text(), nullable=True),
    Column("visit_mode", String(16), nullable=True),
    Column("join_url", Text(), nullable=True),
    Column("provider_join_url", Text(), nullable=True),
    Column("dial_in", String(32), nullable=True),
    Column("source_fingerprint", String(32), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("forgotten_at", UtcDateTime(), nullable=True),
)

PATIENTS = Table(
    "patient", METADATA,
    Column("connector", String(64), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column("name", String(255), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("email", String(320), nullable=True),
    Column("language", String(35), nullable=True),
    Column("channel", String(16), nullable=True),
    Column("allow_sms", Boolean(), nullable=False, default=True),
    Column("allow_email", Boolean(), nullable=False, default=True),
    Column("content_hash", String(32), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # The other numbers of the patient's phone cell, E.164 in order, one space between them.
    Column("fallback_phones", String(255), nullable=True),
)

PRACTITIONERS = Table(
    "practitioner", METADATA,
    Column("connector", String(64), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column("name", String(255), nullable=True),
    Column("email", String(320), nullable=True),
    Column("content_hash", String(32), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

LOCATIONS = Table(
    "location", METADATA,
    Column("connector", String(64), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column("name", String(255), nullable=True),
)

BASELINES = Table(
    "connectorbaseline", METADATA,
    Column("connector", String(64), primary_key=True),
    Column("run_id", String(32), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
)

STATES = Table(
    "connectorstate", METADATA,
    Column("connector", String(64), primary_key=True),
    Column("cursor", Text(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

LINKS = Table(
    "calendarlink", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("appointment_id", Integer(), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("account", String(320), nullable=False, default=''),
    Column("calendar_id", String(255), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("etag", String(128), nullable=True),
    Column("pushed_hash", String(32), nullable=True),
    Column("rendered_from", String(32), nullable=True),
    Column("state", String(16), nullable=False, default='pending'),
    Column("attempts", Integer(), nullable=False, default=0),
    Column("last_error", String(255), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

ICS_EVENTS = Table(
    "icsevent", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("calendar_id", String(255), nullable=False),
    Column("uid", String(255), nullable=False),
    Column("sequence", Integer(), nullable=False, default=0),
    Column("cancelled", Boolean(), nullable=False, default=False),
    Column("tzid", String(64), nullable=True),
    Column("vevent", Text(), nullable=False),
    Column("ends_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

ICS_FILES = Table(
    "icsfile", METADATA,
    Column("calendar_id", String(255), primary_key=True),
    Column("dirty", Boolean(), nullable=False, default=False),
    Column("digest", String(64), nullable=True),
    Column("retired_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

PLANS = Table(
    "reminder_plan", METADATA,
    Column("name", String(32), primary_key=True),
    Column("fingerprint", String(32), nullable=False),
    Column("basis", Text(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

RESPONSES = Table(
    "response", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("sender", String(320), nullable=False),
    Column("body", Text(), nullable=True),
    Column("language", String(35), nullable=True),
    Column("action", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("appointment_id", Integer(), nullable=True),
    Column("reminder_id", Integer(), nullable=True),
    Column("provider_id", String(255), nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
)

WAITLIST_ENTRIES = Table(
    "waitlist_entry", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("connector", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("patient_ref", String(255), nullable=False),
    Column("practitioner_ref", String(255), nullable=True),
    Column("visit_type", String(255), nullable=True),
    Column("location_ref", String(255), nullable=True),
    Column("visit_mode", String(16), nullable=True),
    Column("duration_minutes", Integer(), nullable=True),
    Column("windows", Text(), nullable=True),
    Column("timezone", String(64), nullable=False),
    Column("priority", Integer(), nullable=False, default=0),
    Column("waiting_since", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("current_appointment_id", Integer(), nullable=True),
    Column("status", String(16), nullable=False, default='waiting'),
    Column("added_by", String(64), nullable=True),
    Column("content_hash", String(32), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

WAITLIST_OFFERS = Table(
    "waitlist_offer", METADATA,
    Column("id", Integer(), primary_key=True),
    Column("slot_id", Integer(), nullable=False),
    Column("entry_id", Integer(), nullable=False),
    Column("rank", Integer(), nullable=False),
    Column("channel", String(16), nullable=True),
    Column("status", String(16), nullable=False, default='pending'),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("hold_until", UtcDateTime(), nullable=True),
    Column("answered_at", UtcDateTime(), nullable=True),
    Column("told_at", UtcDateTime(), nullable=True),
    Column("message_key", String(64), nullable=True),
)

TOMBSTONES = Table(
    "tombstone", METADATA,
    Column("connector", String(64), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column("deleted_at", UtcDateTime(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
)

BOOKING_ALIASES = Table(
    "bookingalias", METADATA,
    Column("connector", String(64), primary_key=True),
    Column("alias", String(255), primary_key=True),
    Column("external_id", String(255), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

DELETE_SWEEPS = Table(
    "delete_sweep", METADATA,
    Column("connector", String(64), primary_key=True),
    Column("swept_at", UtcDateTime(), nullable=False),
    Column("listed", Integer(), nullable=False, default=0),
    Column("deleted", Integer(), nullable=False, default=0),
)

OPT_OUTS = Table(
    "optout", METADATA,
    Column("channel", String(16), primary_key=True),
    Column("address", String(320), primary_key=True),
    Column("source", String(64), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)


def with_people() -> Join:
    """appointment ⟕ patient ⟕ practitioner ⟕ location, as sync/store/model/joins.py joins the model's
    tables (the same terms: each by its external id within the same connector, outer joined), for
    a read built on these tables: one statement never mixes the two descriptions of a table."""
    a, p, d, place = APPOINTMENTS, PATIENTS, PRACTITIONERS, LOCATIONS
    return (a.outerjoin(p, and_(p.c.connector == a.c.connector, p.c.external_id == a.c.patient_ref))
            .outerjoin(d, and_(d.c.connector == a.c.connector, d.c.external_id == a.c.practitioner_ref))
            .outerjoin(place, and_(place.c.connector == a.c.connector, place.c.external_id == a.c.location_ref)))
