"""A stall is seen: what keeps clinicsync from going on by itself, found in the
store so that `status`, the status page and /metrics tell the same story to whoever looks,
from any process, and the alert rules of docs/deploy/prometheus-rules.yaml fire on it:

- a stage whose latest run failed (calendar, reminders, write-back, …);
- an outbox consumer that lags: its oldest unconsumed event is older than
  ``service.stall_after``;
- a source not heard from for longer than its schedule (polled: since its last successful
  run; push: since its last push, when it has an ``expected_interval``) plus the same margin;
- items a stage set aside (sync.setaside), which wait for a person;
- a notifier whose provider has refused messages for longer than the same margin (429, 5xx,
  a refused connection): they are retried while in time, and nobody is told meanwhile;
- a FHIR Subscription that stopped (``subscription_stopped``): the server reported it
  ``error`` or ``off`` (our outage, its ``end`` passed) in a notification or when the poll
  read it, or no longer has it (``deleted``), or a topic-based one has sent no
  notification or heartbeat for its ``heartbeat_seconds`` plus the margin (deleted on the
  server, or its notifications refused: a rotated bearer). The poll keeps the appointments
  current meanwhile, so nothing else would tell that pushes stopped.
- a source the settings no longer name (renamed or removed) whose future visits or pending
  messages the store still holds (sync/ingest/orphans.py): at once, no margin.
- an MLLP listener's TLS certificate (``mllp_certificate``) that expires within 14 days or
  has expired, or TLS files that do not load (a renewal written half, a key that is not the
  certificate's): read from the files themselves (connectors/hl7v2/tls_files.py), as the listener
  reloads them, so any process that loads the settings tells. A listener already running
  keeps the certificate it loaded before until the files load.
- a `clinicsync run` whose settings file or a ``*_file`` secret changed after it read them,
  longer than the margin ago (``settings_not_applied``: it was not restarted), and service
  processes on one store running different settings files (``settings_differ``), from the rows
  the processes keep (sync/runs/settings_watch.py).
- a worker that has held the calendar stage's lock longer than ``calendar.stage_hung_after``
  (``stage_hung``: a Google call that never returns, a process stopped with SIGSTOP, a write
  blocked on NFS): every other run skips the stage meanwhile (``"busy"``), so no calendar
  changes. Named by the holder's row (sync/store/locks.py ``calendar_lock``: host, pid, since when),
  believed only while the lock is still held (a holder that died released it).

Also here, because a crash leaves it behind: a push source's run that never finished
(``close_interrupted_runs``), which no poll would ever close."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, func, select

from clinicsync.common.timeutil import iso_z, parse_duration
from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ReminderStatus
from clinicsync.connectors.registry import is_polled
from clinicsync.sync.checks.queries import connector_health
from clinicsync.sync.ingest.orphans import find_orphans, recent_window
from clinicsync.sync.runs.mllp_state import ListenerState, listener_states
from clinicsync.sync.runs.progress import import_stage
from clinicsync.sync.runs.setaside import open_counts
from clinicsync.sync.runs.settings_watch import differ_detail, live_processes, not_applied_detail
from clinicsync.sync.runs.stage_locks import CALENDAR, holder_of
from clinicsync.sync.store.locks import lock_held
from clinicsync.sync.store.tables import (
    DELIVERIES,
    EVENTS,
    FHIR_SUBSCRIPTIONS,
    REMINDERS,
    RETRYING,
    RUN_STAGES,
    SYNC_RUNS,
    HasEngine,
    live_offsets,
)

if TYPE_CHECKING:
    from clinicsync.connectors.hl7v2.tls_files import FilesState
    from clinicsync.sync.config.settings import Settings

# The Core tables (sync/store/tables.py): `status` reads them without importing the model.
RUNS = SYNC_RUNS
STAGES = RUN_STAGES
# The stages of sync.service.pipeline (its keys; this core module cannot import the app layer).
POST_SYNC_STAGES = ("calendar", "source_answers", "reminders", "writeback")


@dataclass(frozen=True)
class Stall:
    # stage_failed | outbox_lag | source_silent | set_aside | notifier_failing | subscription_stopped
    # | source_orphaned | mllp_certificate | settings_not_applied | settings_differ | stage_hung
    # | mllp_handshakes_failing
    kind: str
    subject: str  # the stage, consumer or connector
    detail: str  # what is wrong and what to do, never patient data
    since: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["since"] = iso_z(self.since) if self.since else None
        return out


@dataclass
class Figures:
    """The raw figures behind the stalls, for /metrics (the alert rules compare them)."""

    stage_failing: dict[str, int]  # stage -> 1 when its latest run failed
    outbox_oldest_age: dict[str, float]  # consumer -> seconds its oldest unconsumed event waits (0: none)
    overdue: dict[str, float]  # connector -> seconds past when it should have been heard from (0: not)
    set_aside: dict[str, int]  # stage -> open items
    notifier_failing: dict[str, float]  # notifier -> seconds its oldest still-failing message has (0: none)
    orphaned: dict[str, int]  # source the settings no longer name -> its future visits (sync/ingest/orphans.py)
    subscription_stopped: dict[str, int] = field(default_factory=dict)  # fhir connector -> 1 when stopped
    mllp_certificate_expiry: dict[str, float] = field(default_factory=dict)  # hl7v2 connector -> its end (Unix)
    mllp_certificate_unusable: dict[str, int] = field(default_factory=dict)  # hl7v2 connector -> 1: files do not load
    # service process (host:pid) -> seconds since a file its settings were read from changed (0: none)
    settings_stale: dict[str, float] = field(default_factory=dict)
    # seconds since the newest live service process started, when they run different settings files (0: same)
    settings_differ: float = 0.0
    # stage -> seconds one worker has held its lock (0: free), and 1 past calendar.stage_hung_after
    stage_lock_held: dict[str, float] = field(default_factory=dict)
    stage_hung: dict[str, int] = field(default_factory=dict)
    mllp_client_ca_expiry: dict[str, float] = field(default_factory=dict)  # hl7v2 connector -> its client CA's end
    # hl7v2 connector -> seconds every TLS handshake of its running listener has failed (0: not failing)
    mllp_handshakes_failing: dict[str, float] = field(default_factory=dict)
    mllp_reload_failing: dict[str, int] = field(default_factory=dict)  # -> 1: its running listener cannot reload


def figures(connection: Connection, settings: Settings, now: datetime | None = None) -> Figures:
    now = now or utcnow()
    certificates = _mllp_certificates(settings)
    listeners = _listeners(connection, settings, now)
    processes = live_processes(connection, now)
    held = {stage: seconds for stage, (_row, seconds) in stage_holders(connection, now).items()}
    hung_after = settings.calendar.hung_after().total_seconds()
    return Figures(_stage_failing(connection), _outbox_ages(connection, settings, now),
                   {name: max(0.0, (now - due).total_seconds())
                    for name, (due, _heard) in _expected(connection, settings).items()},
                   open_counts(connection),
                   {**{n.name: 0.0 for n in settings.notifiers},
                    **{name: max(0.0, (now - since).total_seconds())
                       for name, (since, _count) in _notifiers_failing(connection).items()}},
                   {o.connector: o.visits for o in find_orphans(connection, settings.connector_names(), now,
                                 recent=recent_window(settings.calendar.past_days))},
                   {name: int(stopped is not None) for name, stopped
                    in _subscriptions_stopped(connection, settings, now).items()},
                   {name: state.not_after.timestamp() for name, state in certificates.items() if state.not_after},
                   {name: int(state.problem is not None) for name, state in certificates.items()},
                   settings_stale={row.process: max(0.0, (now - row.stale_since).total_seconds())
                                   if row.stale_since else 0.0 for row in processes},
                   settings_differ=_differ_seconds(processes, now),
                   stage_lock_held={"calendar": held.get("calendar", 0.0)},
                   stage_hung={"calendar": int(held.get("calendar", 0.0) > hung_after)},
                   mllp_client_ca_expiry={name: state.client_ca_not_after.timestamp()
                                          for name, state in certificates.items() if state.client_ca_not_after},
                   mllp_handshakes_failing={name: (now - listener.handshakes_failing_since).total_seconds()
                                            if listener.handshakes_failing_since else 0.0
                                            for name, listener in listeners.items()},
                   mllp_reload_failing={name: int(listener.reload_failing_since is not None)
                                        for name, listener in listeners.items()})
    # by name: other figures are appended here


def of_sources(stalls: list[Stall], settings: Settings, sources: frozenset[str] | None) -> list[Stall]:
    """The stalls one site's people see (groups of practices: a site-scoped status-page user, `status
    --site`): those of its sources and of the shared machinery (a stage, a notifier), never
    another site's source nor an orphaned one (IT's alone). ``sources`` None: every stall."""
    if sources is None:
        return stalls
    named = settings.connector_names()
    return [s for s in stalls if s.kind != "source_orphaned" and (s.subject not in named or s.subject in sources)]


def find_stalls(store: HasEngine, settings: Settings, now: datetime | None = None) -> list[Stall]:
    """Every stall now, most urgent kind first."""
    now = now or utcnow()
    margin = settings.service.stall()
    out: list[Stall] = []
    with store.engine.connect() as connection:
        for stage, (error, at) in sorted(_stage_errors(connection).items()):
            out.append(Stall("stage_failed", stage, f"its latest run failed: {error}", at))
        for consumer, age in sorted(_outbox_ages(connection, settings, now).items()):
            if age > margin.total_seconds():
                out.append(Stall("outbox_lag", consumer,
                                 f"its oldest unconsumed event has waited {_minutes(age)}; the stage does not get "
                                 "past it (see its error, or the set-aside list)", now - timedelta(seconds=age)))
        for name, (due, heard) in sorted(_expected(connection, settings).items()):
            if now - due > margin:
                out.append(Stall("source_silent", name,
                                 f"not heard from since {iso_z(heard)}; expected by {iso_z(due)} (its schedule or "
                                 "expected_interval): check the source, its credentials and the scheduler", heard))
        for stage, count in sorted(open_counts(connection).items()):
            if count:
                out.append(Stall("set_aside", stage, f"{count} item(s) set aside: `clinicsync set-aside list`, "
                                                     "then `clinicsync set-aside retry` after the fix"))
        for name, (since, count) in sorted(_notifiers_failing(connection).items()):
            if now - since > margin:
                out.append(Stall("notifier_failing", name,
                                 f"its provider has refused sends for {_minutes((now - since).total_seconds())} "
                                 f"(throttled, failing or unreachable); {count} message(s) wait and are retried "
                                 "while in time: check the provider's status page, the credentials and the "
                                 "network (`clinicsync reminders list --status pending` shows each last error)",
                                 since))
        for name, stopped in sorted(_subscriptions_stopped(connection, settings, now).items()):
            if stopped is not None:
                out.append(Stall("subscription_stopped", name, *stopped))
        for orphan in find_orphans(connection, settings.connector_names(), now,
                                 recent=recent_window(settings.calendar.past_days)):
            out.append(Stall("source_orphaned", orphan.connector, orphan.detail))
        out.extend(_settings_stalls(connection, now, margin))
        out.extend(_hung_stages(connection, settings, now))
        listeners = _listeners(connection, settings, now)
    for name, state in sorted(_mllp_certificates(settings).items()):
        if (stall := certificate_stall(name, state, now)) is not None:
            out.append(stall)
        elif (noted := listeners.get(name)) is not None and noted.reload_failing_since is not None:
            out.append(Stall("mllp_certificate", name,
                             "its running listener cannot load its changed TLS files (they load here: as the "
                             "listener's user, a permission?) and serves the certificate it loaded before; its log "
                             "`mllp.tls_reload_failed` names the file and the reason", noted.reload_failing_since))
    for name, listener in sorted(listeners.items()):
        if listener.handshakes_failing_since is not None:
            out.append(Stall("mllp_handshakes_failing", name,
                             f"every TLS handshake of its listener since {iso_z(listener.handshakes_failing_since)} "
                             "has failed: senders do not trust its certificate (expired, renewed under another CA), "
                             "or with client_ca_file their certificates are not signed by it or have ended; the "
                             "listener's log `mllp.tls_handshake_failed` has OpenSSL's reason for each",
                             listener.handshakes_failing_since))
    return out


def _tls_listening(settings: Settings) -> dict[str, Any]:
    """Each enabled ``hl7v2`` connector listening with ``tls:``, and its TlsSettings."""
    return {c.name: tls for c in settings.connectors
            if c.enabled and c.kind == "hl7v2" and (tls := getattr(getattr(c, "listen", None), "tls", None))}


def _listeners(connection: Connection, settings: Settings, now: datetime) -> dict[str, ListenerState]:
    """What the running TLS listeners noted in the store (sync/runs/mllp_state.py)."""
    return listener_states(connection, sorted(_tls_listening(settings)), now)


def _mllp_certificates(settings: Settings) -> dict[str, FilesState]:
    """Per enabled ``hl7v2`` connector listening with ``tls:``, its files as the listener
    would load them now (the TLS and X.509 code imported only when there is one: `status`
    stays light)."""
    listening = _tls_listening(settings)
    if not listening:
        return {}
    from clinicsync.connectors.hl7v2.tls_files import files_state

    return {name: files_state(tls) for name, tls in listening.items()}


def certificate_stall(name: str, state: FilesState, now: datetime) -> Stall | None:
    """The ``mllp_certificate`` stall of one listener's TLS files, if any."""
    renew = ("renew it: new connections get the renewed files without a restart (docs/connectors/hl7v2.md, "
             "\"Certificate renewal\")")
    if state.problem is not None:
        return Stall("mllp_certificate", name,
                     f"its TLS files do not load ({state.problem}): a listener running keeps the certificate it "
                     "loaded before and tries again every minute (a renewal written half?); one started now "
                     "would not start. Put the certificate and its key back together")
    if state.not_after is None:
        return None
    if state.not_after <= now:
        return Stall("mllp_certificate", name,
                     f"its TLS certificate expired at {iso_z(state.not_after)}: every sender's handshake fails "
                     f"and no HL7 message arrives; {renew}", state.not_after)
    ca_end = state.client_ca_not_after
    if ca_end is not None and ca_end <= now:
        return Stall("mllp_certificate", name,
                     f"its client CA (client_ca_file) expired at {iso_z(ca_end)}: the handshake of every sender "
                     "whose certificate it signed fails and no HL7 message from them arrives; renew the CA and the "
                     "senders' certificates (new connections get a renewed client_ca_file without a restart)", ca_end)
    from clinicsync.connectors.hl7v2.tls_files import EXPIRY_WARNING

    ending = []  # both when both end soon, the first to end first: renewing one must not hide the other
    if state.not_after - now < EXPIRY_WARNING:
        days = (state.not_after - now).total_seconds() / 86400
        ending.append((state.not_after, f"its TLS certificate expires at {iso_z(state.not_after)}, in {days:.1f} "
                       "days; automatic renewal (cert-manager, certbot: 30 days before the end) has not replaced "
                       "it: " + renew))
    if ca_end is not None and ca_end - now < EXPIRY_WARNING:
        days = (ca_end - now).total_seconds() / 86400
        ending.append((ca_end, f"its client CA (client_ca_file) expires at {iso_z(ca_end)}, in {days:.1f} days: then "
                       "every sender's certificate it signed is refused; renew the CA and the senders' certificates"))
    if not ending:
        return None
    return Stall("mllp_certificate", name, "; and ".join(text for _end, text in sorted(ending)))


def _settings_stalls(connection: Connection, now: datetime, margin: timedelta) -> list[Stall]:
    """A service still on the settings it read before an edit, past the margin (time to restart
    it after the edit); and service processes on this store on different settings files."""
    processes = live_processes(connection, now)
    out = [Stall("settings_not_applied", row.process, not_applied_detail(row), row.stale_since)
           for row in processes if row.stale_since is not None and now - row.stale_since > margin]
    if _differ_seconds(processes, now) > margin.total_seconds():  # longer than a rollout takes
        out.append(Stall("settings_differ", "store", differ_detail(processes),
                         max(row.started_at for row in processes)))
    return out


def stage_holders(connection: Connection, now: datetime) -> dict[str, tuple[Any, float]]:
    """Per stage whose lock a worker holds now: its holder's row (host, pid, command, since) and
    for how many seconds. A row whose lock is free is a holder that died (the database ended its
    session, the kernel dropped its file lock): not counted; the next holder writes over it."""
    out = {}
    for stage in LOCKED_STAGES:
        row = holder_of(connection, "stage", stage)
        if row is None or lock_held(connection.engine, "stage", stage) is False:  # None (no /proc/locks): the row tells
            continue
        out[stage] = (row, max(0.0, (now - row.since).total_seconds()))
    return out


# The stages one worker runs at a time (stage_locks.stage_lock), and what waits while one is hung.
LOCKED_STAGES = {CALENDAR[-1]: "doctors' calendars do not change (a cancelled visit stays booked)",
                 "writeback": "patients' answers are not written back to their sources"}


def hung_detail(stage: str, row: Any, seconds: float, setting: str) -> str:
    """What a hung stage's holder is and what to do, for `status`, the page and the log."""
    return (f"one worker has held the {stage} stage for {_minutes(seconds)} (since {iso_z(row.since)}), longer than "
            f"calendar.stage_hung_after ({setting}): pid {row.pid} on host {row.host} ({row.command}). Every other "
            f"run skips the stage meanwhile (\"busy\"), so {LOCKED_STAGES.get(stage, 'its work waits')}. "
            f"On {row.host}: `ps -o pid,stat,etime,args -p {row.pid}`; state T (stopped, SIGSTOP or "
            f"ctrl-Z): `kill -CONT {row.pid}`; D (blocked in a write: an NFS mount not answering): bring the mount "
            f"back; otherwise (a call that never returns): `kill {row.pid}`, then `kill -9 {row.pid}`. Once the "
            "process is gone its lock is released on its own (the database ends its session, the kernel its file "
            "lock) and the next run does what waits")


def _hung_stages(connection: Connection, settings: Settings, now: datetime) -> list[Stall]:
    hung_after = settings.calendar.hung_after()
    return [Stall("stage_hung", stage, hung_detail(stage, row, seconds, settings.calendar.stage_hung_after), row.since)
            for stage, (row, seconds) in sorted(stage_holders(connection, now).items())
            if seconds > hung_after.total_seconds()]


def _differ_seconds(processes: list[Any], now: datetime) -> float:
    """How long the live service processes have run different settings files: since the newest
    of them started (0 when they run the same)."""
    if len({row.settings_digest for row in processes}) < 2:
        return 0.0
    return max(0.0, (now - max(row.started_at for row in processes)).total_seconds())


def _subscriptions_stopped(connection: Connection, settings: Settings,
                           now: datetime) -> dict[str, tuple[str, datetime | None] | None]:
    """Per enabled ``fhir`` connector with a ``subscription:``, why its Subscription has
    stopped pushing (and since when), or None while it is fine or nothing is known yet (it
    was never subscribed nor heard from). ``last_seen_at`` is the last notification, or the
    last `clinicsync fhir subscribe` (sync/ingest/subscriptions.py ``note_subscribed``)."""
    subscribed = {c.name: subscription for c in settings.connectors
                  if c.enabled and c.kind == "fhir" and (subscription := getattr(c, "subscription", None)) is not None}
    if not subscribed:
        return {}
    rows = {r.connector: r for r in connection.execute(select(FHIR_SUBSCRIPTIONS).where(
        FHIR_SUBSCRIPTIONS.c.connector.in_(list(subscribed))))}
    margin = settings.service.stall()
    out: dict[str, tuple[str, datetime | None] | None] = {}
    for name, subscription in subscribed.items():
        row, out[name] = rows.get(name), None
        if row is None:
            continue
        fix = ("re-run `clinicsync fhir subscribe " + name + "` (it reactivates the Subscription, or creates it "
               "again if the server deleted it); the poll keeps the appointments current meanwhile")
        if row.status in ("error", "off", "deleted"):
            said = "no longer has it (deleted, or removed when its end passed)" if row.status == "deleted" \
                else f"reports its Subscription {row.status!r}"
            out[name] = (f"the FHIR server {said}: it sends no notifications; " + fix, row.last_seen_at)
            continue
        period = subscription.heartbeat_seconds if subscription.topic else None
        if period and row.last_seen_at is not None and now - row.last_seen_at > timedelta(seconds=period) + margin:
            out[name] = (f"no notification or heartbeat since {iso_z(row.last_seen_at)} (heartbeat every "
                         f"{period} s): the server stopped sending (the Subscription was deleted, ended or set "
                         "off) or its notifications are refused (a rotated secret: see the "
                         f"clinicsync_webhook_requests{{endpoint=\"fhir:{name}\",result=\"unauthorized\"}} count); "
                         + fix, row.last_seen_at)
    return out


def _notifiers_failing(connection: Connection) -> dict[str, tuple[datetime, int]]:
    """Per notifier, the first failed send of the messages whose last send failed with a
    passing fault and that wait to be tried again (the oldest such failure), and how many
    wait. One failure retried a minute later is not a stall; an outage is, after the margin."""
    waiting = and_(REMINDERS.c.status == ReminderStatus.PENDING, REMINDERS.c.reason.startswith(RETRYING,
                                                                                               autoescape=True))
    rows = connection.execute(
        select(DELIVERIES.c.notifier, func.min(DELIVERIES.c.created_at),
               func.count(func.distinct(DELIVERIES.c.reminder_id)))
        .select_from(DELIVERIES.join(REMINDERS, REMINDERS.c.id == DELIVERIES.c.reminder_id))
        .where(waiting, DELIVERIES.c.outcome == "retryable").group_by(DELIVERIES.c.notifier)).all()
    return {notifier: (since, int(count)) for notifier, since, count in rows}


def _latest_stage_rows(connection: Connection) -> list[Any]:
    latest = select(func.max(STAGES.c.id)).group_by(STAGES.c.stage).scalar_subquery()
    return [r for r in connection.execute(select(STAGES).where(STAGES.c.id.in_(latest)))
            if not r.stage.startswith(import_stage(""))]  # a connector's import: its runs tell (connector_*)


def _stage_errors(connection: Connection) -> dict[str, tuple[str, datetime]]:
    return {r.stage: (r.error or "failed", r.finished_at or r.started_at)
            for r in _latest_stage_rows(connection) if r.status == "failed"}


def _stage_failing(connection: Connection) -> dict[str, int]:
    """Every post-sync stage named (0 before its first run), so the series exists from the start."""
    return {**dict.fromkeys(POST_SYNC_STAGES, 0),
            **{r.stage: int(r.status == "failed") for r in _latest_stage_rows(connection)}}


def _outbox_ages(connection: Connection, settings: Settings, now: datetime) -> dict[str, float]:
    """Per consumer whose stage is switched on, how long its oldest unconsumed event has waited
    (one that never ran counts from the start). A consumer switched off reads nothing on purpose:
    no lag to show (on main its age rose for as long as it stayed off: a stall for ever)."""
    ages = {}
    for consumer, offset in live_offsets(connection, settings).items():
        oldest = connection.execute(select(EVENTS.c.created_at).where(EVENTS.c.id > offset)
                                    .order_by(EVENTS.c.id).limit(1)).scalar()
        ages[consumer] = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return ages


def _expected(connection: Connection, settings: Settings) -> dict[str, tuple[datetime, datetime]]:
    """Per enabled source that has been heard from: (when the next one was due, last heard)."""
    health = connector_health(connection)
    out = {}
    for config in settings.connectors:
        figures = health.get(config.name)
        if not config.enabled or figures is None:
            continue
        if is_polled(config):
            heard = figures.last_success or figures.last_started
            due = config.schedule.next_due(heard, heard, settings.clinic_for(config.name).timezone)
        elif config.expected_interval is not None:
            heard = figures.last_started
            due = heard + parse_duration(config.expected_interval)
        else:
            continue
        out[config.name] = (due, heard)
    return out


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def stall_status(store: HasEngine, settings: Settings) -> list[dict[str, Any]]:
    """The `stalls` section of `status`."""
    return [stall.as_dict() for stall in find_stalls(store, settings)]
