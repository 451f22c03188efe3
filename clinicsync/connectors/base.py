"""The connector contract: a connector reads a source and yields raw records in
batches, each with the opaque cursor that is valid once that batch is stored.

A connector never sees the store's model; mappings/ turns its raw records into
appointments. sync/ commits each batch and its cursor in one transaction, and only
then resumes the generator, so code after ``yield`` runs after the commit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator
from sqlalchemy import Connection

from clinicsync.common.schedule import DEFAULT_POLL, Schedule
from clinicsync.common.settings_base import SettingsModel
from clinicsync.common.timeutil import TimeError, parse_duration, zone

Cursor = dict[str, Any]


class ConnectorSettings(SettingsModel):
    """Keys every connector has; each kind subclasses this with ``kind: Literal[...]``."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="unique, used in ids and logs")
    kind: str
    mapping: str = Field(description="a preset name from mappings/ or a path to a mapping YAML file")
    enabled: bool = True
    schedule: Schedule = Field(DEFAULT_POLL, description="how often `clinicsync run` polls it: "
                               "{interval: 5m} or {cron: '*/10 7-19 * * 1-5'} (clinic time)")
    announce_existing: bool = Field(
        False, description="announce what the first sync finds (confirmations, notices) as if it were newly "
                           "booked; by default the first sync is a quiet baseline that only plans reminders")
    expected_interval: str | None = Field(
        None, description="for a source that pushes (REST API, webhooks): the longest quiet spell that is "
                          "normal, e.g. 4h; longer is a stall in `status`, on the status page and in the metrics")
    waitlist_of: str | None = Field(
        None, description="a waitlist source only (its mapping says `record: waitlist`): the connector whose "
                          "patients, doctors and appointments its entries name (default: itself)")
    site: str | None = Field(
        None, description="the practice (a key of `sites:`) this source's visits belong to: their messages, pages, "
                          "agendas and calendars speak for that site, and only its desk users see them; required "
                          "once `sites:` is set, unset without it")
    label: str | None = Field(
        None, min_length=1, max_length=60,
        description="the clinic's own name for the system this connector reads, as the front desk knows it "
                    "(e.g. OpenEMR, 'the scheduling book'): what the desk and the CLI say, as in "
                    "'cancel it in OpenEMR' (unset: the connector's kind, csv, sql, fhir …)")

    def system_name(self) -> str:
        """How people are told which system to act in: the ``label``, else the kind."""
        return self.label or self.kind

    @field_validator("expected_interval")
    @classmethod
    def _expected_interval(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


def source_zone(value: str | None) -> str | None:
    """Validate a connector's ``timezone:`` (the zone its naive local times are in)."""
    if value is not None:
        try:
            zone(value)
        except TimeError as exc:
            raise ValueError(str(exc)) from None
    return value


def delete_sweep_value(value: Any) -> Any:
    """``delete_sweep`` (SQL, FHIR): ``off`` (or false), ``every 1h`` / ``1h`` (an interval),
    or a schedule mapping ({interval: 30m} or {cron: '0 * * * *'})."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "none", "false")):
        return None
    if isinstance(value, str):
        words = value.split()
        if len(words) == 2 and words[0].lower() == "every":
            words = words[1:]
        if len(words) != 1:
            raise ValueError(f"delete_sweep {value!r}: give `off`, `every 1h`, or {{interval: 1h}} / {{cron: ...}}")
        return {"interval": words[0]}
    return value


# The safety stop's floor: its share alone tripped when one of a small practice's
# three future visits was deleted (33 %), and the run failed every hour, deleting nothing. A
# truncated export or a lost page takes many visits at once; fewer than this never stop.
MIN_DELETE_STOP = 5
MIN_DELETE_STOP_HELP = ("the safety stop's floor: fewer deletions than this never stop a run, whatever their share "
                        "of the window (one of a small practice's three future visits), unless they are more than "
                        "half of it (an empty read); 0: the share alone decides")


def min_delete_stop_field() -> Any:
    """``min_delete_stop``: one definition for every connector kind with a safety stop."""
    return Field(MIN_DELETE_STOP, ge=0, le=100_000, description=MIN_DELETE_STOP_HELP)


SOURCE_ZONE_HELP = ("IANA zone of the source's visits, e.g. America/New_York (default: clinic.timezone): "
                    "with stored_times: local (the default) also the zone its naive date-times are written "
                    "in; with stored_times: utc only the visits' zone when neither the record nor "
                    "clinic.places gives one. A zone the mapping reads from the record itself wins")

#: How a source writes naive date-times (no UTC offset): ``local`` wall clock in the
#: connector's ``timezone`` (else clinic.timezone), or ``utc`` instants (Odoo, Tryton, Django
#: with USE_TZ, Rails): how a source stores its times is kept apart from the visits' zone.
StoredTimes = Literal["local", "utc"]
STORED_TIMES = ("local", "utc")
STORED_TIMES_HELP = ("how the source writes date-times without a UTC offset: local (wall clock in timezone, "
                     "else clinic.timezone) or utc (UTC instants, as Odoo, Django and Rails store them; each "
                     "visit's zone is then the record's, its clinic.places entry's, timezone's or "
                     "clinic.timezone). Times with an offset are read as the instant they say either way")


def naive_zone(config: ConnectorSettings, visit_zone: str) -> str:
    """The zone a connector's naive date-times are read in: UTC for ``stored_times: utc``,
    else ``visit_zone`` (its ``timezone:``, else the clinic's, as the caller resolved it)."""
    return "UTC" if getattr(config, "stored_times", "local") == "utc" else visit_zone


@dataclass(frozen=True)
class RawRecord:
    """One record as the source gave it, and where it came from (never logged).
    ``delete``: the source says this appointment is gone (mapped for its id, then deleted)."""

    data: Mapping[str, Any]
    position: str  # e.g. "appointments.csv:12" or "Appointment/123/_history/4"
    record_id: str | None = None
    delete: bool = False


@dataclass(frozen=True)
class Rejected:
    """Something the connector could not even read as a record (quarantined whole)."""

    position: str
    reason: str
    raw: str | None = None
    record_id: str | None = None


@dataclass
class Batch:
    """Records plus the cursor that holds once they are stored.

    ``cursor=None`` keeps the stored cursor (used inside a snapshot, which must be
    reread whole after a crash). ``snapshot`` marks batches of a full listing;
    ``snapshot_end`` the last one, after which absent future appointments are deleted.
    """

    records: list[RawRecord] = field(default_factory=list)
    cursor: Cursor | None = None
    rejected: list[Rejected] = field(default_factory=list)
    snapshot: bool = False
    snapshot_end: bool = False
    max_delete_share: float = 0.2  # with snapshot_end: the safety stop's limit
    min_delete_stop: int = MIN_DELETE_STOP  # with snapshot_end: fewer deletions never stop
    # With snapshot_end: the listing's window ends here (UTC), so only appointments starting
    # before are compared with it; None: it lists every future appointment of the source.
    until: datetime | None = None
    source: str | None = None  # e.g. the file name, for the run report
    # Runs first inside the batch's transaction (the store's BatchOptions ``within``): a connector's
    # own bookkeeping that must commit with the batch (e.g. HL7 message control ids); it may
    # return the positions of records that are replays of ones already applied (left out).
    within: Callable[[Connection], Collection[str] | None] | None = None
    # Every record's ``data`` is a dict whose values are all exactly ``str`` (a CSV row: the csv
    # module's fields): the mapping may run its code for such records (CompiledMapping.applier
    # ``texts``), without the type tests other records need. False unless the connector knows.
    texts: bool = False


@dataclass(frozen=True)
class IdListing:
    """A delete sweep's answer: the ids of every record the source holds right now in its
    window, read as the id columns alone (``records``: one small mapping per row, turned into
    appointment ids by the mapping, exactly as a full record's id would be).

    sync/ compares it with the connector's active appointments that start after now and
    before ``until`` (aware UTC; a little inside the window's end, so that a row at the
    window's edge is never taken for a deleted one): a stored appointment whose id is not
    listed was deleted at the source. ``max_delete_share`` (and its floor ``min_delete_stop``)
    is the same safety stop as a snapshot's."""

    records: Sequence[Mapping[str, Any]]
    until: datetime
    max_delete_share: float = 0.2
    min_delete_stop: int = MIN_DELETE_STOP


@dataclass(frozen=True)
class Lookup:
    """``records_by_id``'s answer: ``records``, what the source holds now of the ids asked for,
    read as ``fetch`` reads them (applied like any batch: moved, cancelled, unchanged), with
    ``rejected`` what it could not read as a record; ``found``, the id columns (as
    ``IdListing.records``) of every one of them it still holds, those it gives no record of
    too (e.g. a FHIR waitlist entry, which ``fetch`` leaves out as well). An id not found is gone."""

    records: list[RawRecord]
    found: Sequence[Mapping[str, Any]]
    rejected: list[Rejected] = field(default_factory=list)


class ConnectorError(Exception):
    """Base of the three error kinds; messages name the connector, never patient data."""


class FatalConnectorError(ConnectorError):
    """The connector cannot go on this run (bad credentials, missing folder, bad query)."""


class RetriableConnectorError(ConnectorError):
    """A passing fault (timeout, 503); the run fails and the next run tries again."""


@dataclass(frozen=True)
class WritebackAction:
    """A patient's answer to write back to the source (FHIR participant status vocabulary)."""

    external_id: str  # the appointment's id at the source
    participant_status: str  # accepted | declined | tentative | needs-action
    appointment_status: str | None = None  # e.g. "cancelled" when a decline cancels, if configured
    patient_ref: str | None = None


class WritebackUnsupported(ConnectorError):
    """This source (or its configuration) does not accept write-back."""


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


@dataclass(frozen=True)
class Sample:
    """A few records read for ``clinicsync check``, without moving a cursor or a file.
    ``columns``: a flat source's exact columns (CSV header, SQL result set), else None."""

    records: list[RawRecord]
    source: str  # where they came from, e.g. a file name or "Appointment page 1"
    columns: list[str] | None = None
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True)
class Condition:
    """A lasting condition a connector met while it ran (a read scope the source refuses, a
    search it does not allow): a property of the source's set-up, so it would repeat at every
    run. sync/ logs it once while it stands (sync/runs/standing.py: when it starts, changes and ends;
    a connector cannot reach the store). ``part``: what of the source (a resource type, the
    sweep). ``holds`` False: looked at in this run and fine, so it ends."""

    event: str
    part: str
    holds: bool
    state: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    # False: said once when it starts (and when it ends), no daily reminder: a condition the
    # connector works around by itself (a refused search it replaced), which needs no one.
    remind: bool = True


class Connector(ABC):
    """One module per kind. Subclasses set ``kind`` and ``settings_model``."""

    kind: ClassVar[str]
    settings_model: ClassVar[type[ConnectorSettings]]
    #: False for a push source (records arrive through the server): never polled, no empty runs.
    polled: ClassVar[bool] = True
    #: True when a fetch reads the source's state as it is now (a database, a FHIR search, an
    #: export), False when records are messages sent earlier (HL7 files, pushes): of two records
    #: of one visit stamped alike, a later read is the newer, a later message may not be
    #: (sync/store/changes.py ``classify``).
    reads_current_state: ClassVar[bool] = False
    #: ``fetch(None)`` reads the source's window again (an incremental database read): after the
    #: query, mapping or cursor column changed, sync/ingest/engine.py drops the cursor so that the
    #: fix reaches every stored visit, not only the rows changed since. False: a flat file's
    #: cursor names files already taken, which are not there to read again.
    rereads_window: ClassVar[bool] = False
    #: the lasting conditions (event, part) this kind remembers across runs: sync/ tells it in
    #: ``standing`` which of them stood when the run began (a search the server refused last
    #: time), so it goes straight to what worked instead of failing first at every run.
    remembers: ClassVar[tuple[tuple[str, str], ...]] = ()

    @classmethod
    def remembered(cls, settings: ConnectorSettings) -> tuple[tuple[str, str], ...]:
        """The conditions a poll of a source with these settings asks for in its one state read:
        ``remembers``, and those whose part is a setting (a SQL source's cursor column). One the
        poll did not ask for costs an idle poll a read of its own (sync/runs/standing.end_all)."""
        return cls.remembers

    def __init__(self, settings: ConnectorSettings) -> None:
        self.settings = settings
        #: columns/fields every record must carry (the mapping's required sources), set by sync/.
        self.required_columns: frozenset[str] = frozenset()
        #: a dry run (`sync --once --dry-run`): read the source, change nothing there (no archiving).
        self.dry_run = False
        #: the top-level columns the mapping reads the appointment id from, set by sync/ (delete sweeps).
        self.id_columns: tuple[str, ...] = ()
        #: the zone of the source's naive date-times, set by sync/: UTC for ``stored_times: utc``,
        #: else its ``timezone:``, else clinic.timezone (``naive_zone``).
        self.source_zone: str | None = None
        #: the lasting conditions this run met, by (event, part); sync/ logs them (``note_condition``).
        self.conditions: dict[tuple[str, str], Condition] = {}
        #: of ``remembers``, those that stood when this run began (the store's record), set by sync/.
        self.standing: frozenset[tuple[str, str]] = frozenset()

    def note_condition(self, condition: Condition) -> None:
        """Met in this run: one that holds once in a run holds for the run."""
        key = (condition.event, condition.part)
        known = self.conditions.get(key)
        if condition.holds or known is None or not known.holds:
            self.conditions[key] = condition

    @property
    def name(self) -> str:
        return self.settings.name

    @abstractmethod
    def fetch(self, cursor: Cursor | None) -> Iterator[Batch]:
        """Yield batches from ``cursor`` on; resumed only after each is committed."""

    @abstractmethod
    def check(self) -> CheckResult:
        """Is the source reachable and readable? Used by ``clinicsync check``."""

    def sample(self, limit: int) -> Sample | None:
        """A few records as ``fetch`` would give them, reading nothing twice and changing
        nothing (no cursor, no archived file); None when there is nothing to read yet.
        A kind that cannot sample raises NotImplementedError (``check`` says so)."""
        raise NotImplementedError(f"connector kind {self.kind} cannot read a sample")

    def sweep_schedule(self) -> Schedule | None:
        """How often sync/ should ask for ``list_ids`` (a delete sweep), or None when this
        connector offers none. An incremental source never sees a row that was deleted
        (nothing changed to read); a periodic listing of its ids is how it learns of one.
        Snapshot sources need none: every run is a full listing already."""
        return None

    def list_ids(self) -> IdListing:
        """Every id the source holds in its window, reading the ``id_columns`` alone (the
        sweep must stay cheap), changing nothing. Only called when ``sweep_schedule`` gives
        a schedule; raise the usual ConnectorError kinds."""
        raise NotImplementedError(f"connector kind {self.kind} cannot list its ids")

    def records_by_id(self, external_ids: Sequence[str]) -> Lookup | None:
        """The records of these ids (the id columns' values, as ``list_ids`` reads them) as the
        source holds them now; None when this connector cannot look records up by id. sync/ asks
        only when a delete sweep would delete stored appointments its listing left out, before
        it deletes any: a visit moved out of the window (past its end) is left out like a deleted
        one, and is moved, not deleted (its patient told it was cancelled, then booked anew when
        the window reached it). Raise the usual ConnectorError kinds: nothing is deleted then."""
        return None

    def past_window(self) -> list[RawRecord] | None:
        """The source's records that lie past the end of its snapshot's window (``Batch.until``),
        read as the snapshot reads them; None when the snapshot has no such end. sync/ asks only
        when a snapshot left out appointments it stored before the window's end: a visit moved
        past the end is not in the listing, and is moved, not deleted (its patient told it was
        cancelled, then booked anew when the window reached it)."""
        return None

    def reads_waitlist(self) -> bool:
        """Does this connector also list the source's waiting patients (``waitlist``)? A
        connector whose mapping is a waitlist mapping needs no such listing: all it reads is
        waiting patients (sync/waitlist/sources.py)."""
        return False

    def waitlist(self) -> Iterator[Batch]:
        """The source's whole waiting list, as batches of raw records marked
        ``snapshot`` (the last ``snapshot_end``): waiting entries it no longer lists were
        taken off it. Only called when ``reads_waitlist`` is true."""
        raise NotImplementedError(f"connector kind {self.kind} cannot list a waitlist")

    def writeback(self, action: WritebackAction) -> None:
        """Write a patient's answer back where the source allows it. Raise
        RetriableConnectorError on a passing fault (it is retried from an outbox)."""
        raise WritebackUnsupported(f"connector {self.name} ({self.kind}) does not accept write-back")

    def subscription_status(self, reference: str) -> str | None:
        """The state the source gives its push subscription ``reference`` (e.g. a FHIR
        Subscription): ``active``, ``requested``, ``error``, ``off`` (also when its end
        passed) or ``deleted``; None for a source without subscriptions. Read after a poll
        (sync/ingest/engine.py), so a subscription that stopped shows even when nothing is pushed."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""
