"""Dispatch: claims due reminders, renders them, hands them to notifiers, records the outcome.

State machine of a reminder:
    pending -> sending (claimed, with a lease) -> sent | failed | skipped | cancelled | unknown
A claim is atomic (FOR UPDATE SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite), so two
dispatchers never take the same row. Just before a notifier is called the row is marked as
handed over; a row that was handed over and never came back (a crash, an interrupt, a lease
that ran out) becomes `unknown` and is never sent again unless asked (`--resend-unknown`).
A claimed row that was never handed over goes back to `pending`.

The ``Dispatcher`` is composed of its loading (claimed.py: the claimed rows read with their
visits and people, and the deadlines they set); what has no part in a pass's state lives apart:
the decisions' and outcomes' types and the pass's tally (decisions.py), the routes (routes.py),
the opt-outs (opt_outs.py). The claims, hand-overs and outcomes are written by the store
(``Store.reminder_rows``, store/reminder_rows.py); what to write is decided here.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection

from clinicsync.common.ratelimit import TokenBucket
from clinicsync.common.timeutil import moment_in_pass, parse_duration, zone
from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES, UNDER_WAY_STATUSES, ReminderStatus
from clinicsync.notifiers.base import (
    CHANNELS,
    DeliveryUnknownError,
    Message,
    Notifier,
    OptedOutError,
    PermanentError,
    Refusal,
    RetryableError,
)
from clinicsync.notifiers.registry import build_notifier
from clinicsync.sync.config.clinic import ClinicSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.orphans import HELD, RETIRED, fixes, retired_sources, unnamed
from clinicsync.sync.reminders.answered import answered_skip
from clinicsync.sync.reminders.claimed import (
    NOTICE_KINDS,
    OLD_START_KINDS,
    STAFF,
    STALE_DECLINE,
    ClaimedRows,
    Item,
    fallback_numbers,
    patient_address,
)
from clinicsync.sync.reminders.compose import Draft, SiteComposers
from clinicsync.sync.reminders.decisions import Decision, DispatchReport, SendOutcome
from clinicsync.sync.reminders.deleted_rows import GONE_AT_SOURCE
from clinicsync.sync.reminders.guard import UnsafeSourceText
from clinicsync.sync.reminders.opt_outs import lift_opt_out, opt_in, record_opt_out
from clinicsync.sync.reminders.planner import BOOKED_AGAIN, under_way_reason
from clinicsync.sync.reminders.render import TemplateProblem
from clinicsync.sync.reminders.replan import SETTINGS_CHANGED, follow_settings, record_settings, settings_changed
from clinicsync.sync.reminders.routes import RoutingError, outbox_routes, resolve_routes, routing_problems
from clinicsync.sync.reminders.timing import place
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.runs.setaside import Item as SetAsideItem
from clinicsync.sync.runs.setaside import reason_of, run_isolated, take_retries
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import RETRYING, is_retrying

log = structlog.get_logger("clinicsync.reminders")
# How long a message of an orphaned source (sync/ingest/orphans.py) waits before the dispatcher looks
# at it again: sent then if its source is named again, else held again or "too late".
HOLD_RECHECK = timedelta(minutes=5)
ROUTES_PLAN = "routes"  # reminder_plan's row of the routes the waiting messages were last checked against
# A message held back, never sent, because its provider answered another one 429 (Retry-After).
WAITING_FOR_PROVIDER = "{name}'s provider asked to wait (429, Retry-After) before the next request"


def _gave_up(item: Item, reason: str | None) -> str | None:
    """The reason of a message that became too late while its provider kept failing (or kept
    it waiting: a 429's Retry-After held it back, unsent), or None.
    Such a row ends `failed`, not `skipped`: the outage, not the clinic's timing, is why the
    patient was not told, and the front desk's "failed delivery" list is where a person takes
    it over (the row's reason still holds the provider's last error)."""
    last = item.row.reason or ""
    held_back = last.endswith(WAITING_FOR_PROVIDER.split("}", 1)[1])  # its provider throttled another send
    if reason != "too late" or not (item.attempts or held_back) or not is_retrying(last):
        return None
    tries = (f"{item.attempts} failed attempt{'s' if item.attempts > 1 else ''}" if item.attempts
             else "being held back")
    return f"too late after {tries} ({last.removeprefix(RETRYING)})"


class Dispatcher(ClaimedRows):
    def __init__(self, settings: Settings, store: Store, now: datetime | None = None, *,
                 dry_run: bool = False, resend_unknown: bool = False,
                 clock: Callable[[], datetime] = utcnow, worker: str | None = None,
                 halt: threading.Event | None = None) -> None:
        self.settings = settings
        self.config = settings.reminders
        self.store = store
        self.clock = clock  # real time, for leases
        self.now = now or clock()  # the dispatch time: what is due, what is too late
        self._started = clock()  # for each message's own moment (_moment)
        self.dry_run = dry_run
        self.resend_unknown = resend_unknown
        self.token = worker or uuid.uuid4().hex[:16]
        self.routes = resolve_routes(settings)
        # Sources this store synced that the settings no longer name (sync/ingest/orphans.py): their
        # messages are held; a retired one's cancelled. Read at the start of the run.
        self.orphaned: set[str] = set()
        self.retired: set[str] = set()
        self.report = DispatchReport()
        self.composers = SiteComposers(settings)  # each visit's site speaks (groups of practices)
        self._clinics: dict[str | None, ClinicSettings] = {}
        self.buckets = {n.name: TokenBucket(n.rate_per_second) for n in settings.notifiers}
        self.notifier_settings = {n.name: n for n in settings.notifiers}
        self._local = threading.local()
        self._opened: list[Notifier] = []
        self._opened_lock = threading.Lock()
        self._opt_outs: set[tuple[str, str]] = set()
        # (connector, appointment id) of visits whose source no longer lists them (deleted_rows.py)
        self._gone: set[tuple[str, str]] = set()
        # notifier -> when (real clock) its provider said to try again (a 429's Retry-After):
        # the provider throttles the account, not one message, so nothing more goes to it
        # before then in this run (each worker may have one request in flight as it is told).
        self._resume: dict[str, datetime] = {}
        self._resume_lock = threading.Lock()
        self._stop = threading.Event()  # set by an interrupt: hand nothing more over
        # The service's stop (SIGTERM): claim no more and hand nothing more over, so `run` stops
        # within its grace instead of sending the whole backlog first; the rest stays pending.
        self._halt = halt or threading.Event()

    # -- the run --------------------------------------------------------------------------
    def run(self) -> DispatchReport:
        with self.store.engine.connect() as connection:
            named = self.settings.connector_names()
            self.orphaned = set(unnamed(connection, named))
            self.retired = retired_sources(connection) - named
        if not self.dry_run:
            # plans made with other settings first
            follow_settings(self.config, self.store, self.now, settings=self.settings)
            self.recover()
            self._retry_set_aside()
            self._reroute_waiting()
            if self.resend_unknown:
                self._requeue_unknown()
        batch = self.config.workers * 8
        pools = SendPools(self.config.workers)
        try:
            with pools:
                # Two batches at most: the next is queued behind the one being sent, so the
                # workers never drain to idle at a batch boundary.
                in_flight: list[Future[None]] = []
                for ids in self._batches(batch):
                    if self._halt.is_set():
                        break  # claimed, not handed over: released to pending below
                    items = self._load(ids)  # while the previous batch is being sent
                    queued = [pools.submit(self._pool_of(item), self._deliver_isolated, item) for item in items]
                    self._wait(in_flight, queued)
                    in_flight = queued
                self._wait(in_flight)
        finally:
            if not self.dry_run:
                self._release_unstarted()
            self._close_notifiers()
        log.info("reminders.dispatched", dry_run=self.dry_run, **self.report.as_report())
        outbox = outbox_routes(self.settings)
        if outbox and self.report.sent and not self.dry_run:
            log.warning("reminders.outbox_only", channels=sorted(outbox), directory=sorted(set(outbox.values())),
                        detail="these channels go to the dry-run outbox: messages are written as files, none "
                               "reached a patient; add a notifier for them (docs/notifiers.md)")
        return self.report

    def _pool_of(self, item: Item) -> str:
        """The notifier the item's first channel goes through: its pool of workers sends it (a
        fallback to another channel stays on that worker: it follows a quick refusal)."""
        first = self.channels(item)
        return self.routes[first[0][0]] if first else ""

    @staticmethod
    def _wait(futures: Sequence[Future[None]], queued: Sequence[Future[None]] = ()) -> None:
        """Wait for ``futures``; if one fails, cancel what has not started (and ``queued``)."""
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in [*futures, *queued]:
                future.cancel()
            raise

    def _batches(self, size: int) -> Iterator[list[int]]:
        if self.dry_run:
            ids = self.store.reminder_rows.due_ids(self.now)
            for start in range(0, len(ids), size):
                yield ids[start:start + size]
            return
        while True:
            ids = self._claim(size)
            if not ids:
                return
            yield ids

    def _claim(self, limit: int) -> list[int]:
        return self.store.reminder_rows.claim_due(self.now, limit, self.token,
                                                  timedelta(seconds=self.config.lease_seconds), self.clock)

    def recover(self) -> int:
        """Claims whose lease ran out: handed over -> unknown; never handed over -> pending."""
        lost = self.store.reminder_rows.recover_expired(self.clock())
        for _ in range(lost):
            self.report.count("unknown")
        if lost:
            log.warning("reminders.unknown", count=lost, hint="see `clinicsync reminders list --status unknown`")
        return lost

    def _reroute_waiting(self) -> None:
        """Messages waiting out a refusal (``will retry: …``) by a notifier that no longer sends
        their channel (it was renamed, removed or replaced: Twilio by AWS) are due now. Their
        backoff, and any Retry-After, were the old provider's; waiting them out (up to
        ``retry_backoff_max``) before the new provider is even tried could make a notice or a
        1-hour reminder too late. Only a pending row that was never taken moves (a refused send
        is one the provider did not take), so nothing goes twice. Its ``notifier`` is cleared:
        the next send names the one it goes through, and a row the quiet hours hold is not
        moved again at every run."""
        # Scanned only when the routes changed since the last dispatcher recorded them (one row
        # read otherwise): the waiting rows are found among every pending one.
        if not settings_changed(self.store, ROUTES_PLAN, self.routes):
            return
        moved = self.store.reminder_rows.reroute_waiting(self.routes, self.now, self.clock())
        record_settings(self.store, ROUTES_PLAN, self.routes)
        if moved:
            log.info("reminders.rerouted", count=moved, hint="waiting on a notifier that no longer sends their "
                                                             "channel: due now, through the current route")

    def _requeue_unknown(self) -> None:
        self.store.reminder_rows.requeue_unknown(self.now, self.clock())

    def _release_unstarted(self) -> None:
        self.store.reminder_rows.release_unstarted(self.token, self.clock())

    # -- loading --------------------------------------------------------------------------
    def _order(self, item: Item) -> list[str]:
        """The channels to try, in order: email for staff; for a patient their own preference,
        then ``reminders.channels``."""
        if item.row.recipient in STAFF:
            return ["email"]
        preferred = item.patient.channel if item.patient is not None else None
        return list(dict.fromkeys(([preferred] if preferred in CHANNELS else []) + self.config.channels))

    def channels(self, item: Item) -> list[tuple[str, str]]:
        """The channels still worth trying, in order, with their address."""
        out = []
        for channel in self._order(item):
            address = self._address(item, channel)
            if (channel in self.routes and channel not in item.tried and address
                    and (channel, address) not in self._opt_outs):
                out.append((channel, address))
        return out

    def _fallbacks(self, item: Item, channel: str) -> list[str]:
        """The patient's other numbers, in order, that ``channel`` tries when the one before
        failed permanently (the notifier's PermanentError: "this message will never go to this
        address", an invalid, unreachable or landline number); an opted-out one is passed over."""
        if item.row.recipient != "patient":
            return []
        return [n for n in fallback_numbers(item.patient, channel) if (channel, n) not in self._opt_outs]

    def _moment(self) -> datetime:
        """The dispatch time as this message goes: ``now`` plus the whole minutes the pass has
        taken so far (:func:`~clinicsync.common.timeutil.moment_in_pass`, as the waitlist's)."""
        return moment_in_pass(self.now, self._started, self.clock())

    def _check(self, item: Item) -> tuple[Decision, str | None]:
        """(SEND, None), (SKIP, reason), (CANCEL, reason) or (DEFER, None) after moving the
        row out of quiet hours, judged at the message's own moment (:meth:`_moment`)."""
        row, a = item.row, item.appointment
        now = self._moment()
        if self._switched_off(row):
            return Decision.CANCEL, SETTINGS_CHANGED
        if row.kind == "agenda":
            if not item.agenda:
                return Decision.SKIP, "no appointments that day"
            if now > self._agenda_deadline(row):
                return Decision.SKIP, "too late"
            return Decision.SEND, None
        if a is None:
            return Decision.SKIP, "appointment no longer in the store"
        if row.recipient == "patient" and item.patient is None:
            return Decision.SKIP, "no patient record"
        if row.recipient == "patient" and item.patient is not None and item.patient.channel == "none":
            return Decision.SKIP, "the patient asked for no messages"
        active = a.deleted_at is None and a.status in ACTIVE_STATUSES
        if row.kind != "cancelled" and not active:
            return Decision.SKIP, "no-show" if a.status == "noshow" else "appointment cancelled"
        if (row.connector, a.external_id) in self._gone:
            return Decision.SKIP, GONE_AT_SOURCE
        if row.recipient == "patient" and row.kind not in ("cancelled", "followup") and a.status in UNDER_WAY_STATUSES:
            return Decision.CANCEL, under_way_reason(a.status)  # before planning has seen it
        if row.kind == "cancelled" and row.recipient == "patient" and active and row.recipient_ref == a.patient_ref:
            return Decision.SKIP, BOOKED_AGAIN  # before planning has seen it
        if row.kind == "followup" and a.status != "fulfilled":
            return Decision.SKIP, "no longer fulfilled"
        if row.kind == "reminder" and row.starts_at != a.start_utc:
            return Decision.SKIP, "appointment moved"
        if row.recipient == "patient" and row.kind != "cancelled" and row.recipient_ref != a.patient_ref:
            return Decision.SKIP, "appointment given to another patient"  # before planning has seen it
        if row.kind == "confirmation" and row.recipient == "patient" and item.superseded:
            return Decision.SKIP, "superseded"
        if row.kind == "reminder" and row.recipient == "patient":
            if item.superseded:
                return Decision.SKIP, "superseded"
            if now > self._send_by(row, a.timezone, row.connector):
                return Decision.SKIP, "too late"
        answered = answered_skip(row.kind, row.recipient, a,
                                 declined_stops_reminders=self.settings.responses.cancel_reminders_on_decline)
        if answered:
            return Decision.SKIP, answered
        if row.kind == "declined" and getattr(a, "participation", None) != "declined":
            # The answer was for the time it was given: a move (or the visit booked again, or
            # given to another patient) cleared it before this email went; it would tell the
            # doctor the patient declined the visit as it is now.
            moved = row.starts_at is not None and row.starts_at != a.start_utc
            return Decision.SKIP, STALE_DECLINE + (": the visit moved" if moved else "")
        start = row.starts_at if row.kind in OLD_START_KINDS and row.starts_at else a.start_utc
        latest = start - self.config.lead if row.kind == "reminder" else start
        if row.kind == "followup":
            latest = a.end_utc + parse_duration(self.config.notices.followup.within)
        if row.kind != "followup" and now >= start:
            return Decision.SKIP, "too late"  # the visit has begun (at its start, not a minute later)
        if row.recipient in STAFF:
            return Decision.SEND, None
        if row.kind in NOTICE_KINDS and now > self._notice_deadline(row, a.timezone):
            return Decision.SKIP, "too late"
        slot = place(now, now=now, latest=latest, zone_name=a.timezone,
                     quiet=self.settings.quiet_hours_for(row.connector))
        if slot.due is None:
            return Decision.SKIP, slot.reason
        if slot.due != now:
            # A refused send's "will retry: …" stays: should the wait make it too late, the
            # outage is still why it was not sent (_gave_up).
            kept = row.reason if is_retrying(row.reason) else None
            self._finish(item, ReminderStatus.PENDING, kept, due=slot.due, note=slot.note)
            return Decision.DEFER, None
        return Decision.SEND, None

    def _switched_off(self, row: Any) -> bool:
        """A message of a kind the settings no longer send (agendas, follow-ups or `confirmed`
        notices switched off after it was planned): planned a day or hours ahead, it would
        still go once the clinic said no more."""
        if row.kind == "agenda":
            return not self.config.agenda.enabled
        if row.kind == "followup":
            return not self.config.notices.followup.enabled
        return row.kind == "confirmed" and row.recipient == "patient" and not self.config.notices.confirmed

    def _draft(self, item: Item) -> Draft:
        row, a = item.row, item.appointment
        own = item.patient.language if item.patient is not None and row.recipient == "patient" else None
        clinic = self._clinic(row.connector)
        language = clinic.speaks(own)  # staff, and a patient without one: the site's (the clinic's)
        if row.kind == "agenda":
            day = datetime.fromisoformat(row.offset).replace(tzinfo=zone(clinic.timezone))
            site = self.settings.site_for(row.connector)  # a site that names its language speaks it to its doctors
            language = (site.language if site is not None else None) or self.config.agenda.language \
                or clinic.locale_tag()
            return Draft(row.key, "agenda", "practitioner", language, agenda_day=day,
                         agenda=item.agenda, doctor=item.doctor.name if item.doctor is not None else None,
                         stats=item.stats)
        patient_name = item.patient.name if item.patient is not None else None
        patient_phone = item.patient.phone if item.patient is not None else None
        visit = self._visit(a, item.doctor, patient_name, item.location, patient_phone,
                            for_doctor=row.recipient == "practitioner")
        if row.kind == "reassigned" and row.starts_at and row.starts_at != visit.start:
            # The doctor who had the visit is told of the slot it left, not of its new time.
            visit = replace(visit, start=row.starts_at, end=row.starts_at + (visit.end - visit.start))
        return Draft(row.key, row.kind, row.recipient, language, visit=visit, reminder_id=row.id, note=row.note)

    def _retry_set_aside(self) -> None:
        """Sends staff asked to retry after a fix: pending again (due when they were, so the
        lateness rules still hold)."""
        with writer(self.store.engine) as connection:
            ids = [int(r.item.split(":", 1)[1]) for stage in ("dispatch", "agenda")
                   for r in take_retries(connection, stage, self.clock())]
            if ids:
                self.store.reminder_rows.retry_failed(connection, ids, self.clock())

    # -- sending --------------------------------------------------------------------------
    def _deliver_isolated(self, item: Item) -> None:
        """One reminder the dispatcher cannot handle (a bug, a row it cannot render) is set
        aside and marked failed with the reason; the other sends go on. (A send cut off after
        the hand-over is no such case: _send records it as unknown.)"""
        self._isolated(item, lambda: self._deliver(item))

    def _isolated(self, item: Item, work: Callable[[], None]) -> bool:
        """``work`` for one reminder through the shared set-aside helper; True when it failed
        (then the reminder is failed with the reason and listed under `dispatch` or `agenda`)."""
        row = item.row

        def failed(connection: Connection, reason: str) -> None:
            if not self.dry_run:
                self.store.reminder_rows.fail_set_aside(connection, row.id, self.token, reason, self.clock())

        stage = "agenda" if row.kind == "agenda" else "dispatch"
        outcome = run_isolated(self.store.engine, SetAsideItem(stage, f"reminder:{row.id}", row.appointment_id,
                                                               row.connector), work, failed, self.clock())
        if outcome.failed:
            self.report.count("failed")
        return outcome.failed

    def _deliver(self, item: Item) -> None:
        if self._stop.is_set() or self._halt.is_set():
            return  # left claimed but not handed over: released to pending
        decision, reason = self._check(item)
        if decision is Decision.DEFER:
            self.report.count("deferred")
            return
        if decision is Decision.CANCEL:  # as re-planning cancels what the settings no longer want
            self._finish(item, ReminderStatus.CANCELLED, reason)
            return
        if decision is Decision.SEND and (item.row.connector in self.orphaned or item.row.connector in self.retired):
            self._orphaned(item)
            return
        if decision is Decision.SKIP:
            gave_up = _gave_up(item, reason)  # failed, not skipped: the desk's work list shows it
            self._finish(item, ReminderStatus.FAILED if gave_up else ReminderStatus.SKIPPED, gave_up or reason)
            self.report.count("failed" if gave_up else "skipped", reason)
            return
        draft = self._draft(item)
        composer = self.composers(item.row.connector)
        last_error: str | None = None
        template: TemplateProblem | None = None  # the clinic's template, not this message, is at fault
        for channel, address in self.channels(item):
            try:
                rendered = composer.render(draft, channel, self.clock(), recipient=address)
            except TemplateProblem as exc:
                last_error = str(exc)
                item.tried.append(channel)
                if not isinstance(exc, UnsafeSourceText):  # a source record's fault stays this message's
                    log.warning("reminders.template_problem", reminder_id=item.row.id, channel=channel,
                                problem=reason_of(exc))
                    template = exc
                continue
            template_id, template_variables = (composer.whatsapp_content(draft, rendered.language)
                                               if channel == "whatsapp" else (None, {}))
            message = Message(
                channel=channel, recipient=address, body_text=rendered.text, idempotency_key=item.row.key,
                subject=rendered.subject, body_html=rendered.html, attachments=rendered.attachments,
                language=rendered.language, template_id=template_id, template_variables=template_variables,
                metadata={"reminder_id": str(item.row.id), "kind": item.row.kind},
                sender=self.settings.sender_for(item.row.connector, channel))
            if self.dry_run:
                self.report.count("sent")
                return
            name = self.routes[channel]
            numbers = [address, *self._fallbacks(item, channel)]
            for position, number in enumerate(numbers):
                if position:
                    log.info("reminders.fallback_number", reminder_id=item.row.id, channel=channel,
                             fallback=position, of=len(numbers) - 1)  # its place in the list, never the number
                if self._wait_for_provider(item, name):
                    return
                if self._stop.is_set() or not self._hand_over(item, channel, name):
                    log.warning("reminders.claim_lost", reminder_id=item.row.id)
                    return
                # The token is taken after the hand-over's commit, right before the call, so
                # calls reach the provider at the pace of the bucket, not of the database.
                self.buckets[name].acquire()
                outcome = self._send(item, name, replace(message, recipient=number), rendered.segments)
                if outcome is SendOutcome.NEXT_CHANNEL:
                    if position + 1 < len(numbers):
                        log.info("reminders.fallback_numbers_passed_over", reminder_id=item.row.id, channel=channel,
                                 numbers=len(numbers) - 1 - position)
                    break
                if outcome is not SendOutcome.FALLBACK:
                    return
            item.tried.append(channel)
            last_error = item.error
        if template is not None:
            # A template that does not render fails every message that needs it alike: set
            # aside (a stall, `set-aside list`), so that `set-aside retry` after the fix sends it.
            raise template
        if item.tried:
            self._finish(item, ReminderStatus.FAILED, last_error or "every channel failed")
            self.report.count("failed")
        else:
            unreachable = self._unreachable(item)
            self._finish(item, ReminderStatus.SKIPPED, unreachable)
            self.report.count("skipped", unreachable)

    def _orphaned(self, item: Item) -> None:
        """A message in time whose source the settings no longer name (sync/ingest/orphans.py): no
        change or cancellation of its visit can arrive, so it is held, pending, with the reason
        and the fix, as quiet hours hold one (looked at again in HOLD_RECHECK; "too late" ends
        it as any other). A retired source's is cancelled, nobody told."""
        name = item.row.connector
        if name in self.retired:
            self._finish(item, ReminderStatus.CANCELLED, RETIRED.format(name=name))
            self.report.count("skipped", "source retired")
            return
        reason = f"{HELD.format(name=name)}: {fixes(name)}"
        self._finish(item, ReminderStatus.PENDING, reason, due=self.now + HOLD_RECHECK)
        self.report.count("deferred")

    def _unreachable(self, item: Item) -> str:
        """Why no channel was tried: no address, consent or opt-in, or (a notifier removed or a
        route changed) no notifier for the channel the patient can be reached on."""
        unrouted = [channel for channel in self._order(item) if channel not in self.routes
                    and (address := self._address(item, channel)) and (channel, address) not in self._opt_outs]
        if unrouted:
            return f"no reachable channel: no notifier sends {', '.join(unrouted)} (notifiers:, reminders.routes)"
        return "no reachable channel (no address, no consent, or opted out)"

    def _send(self, item: Item, name: str, message: Message, segments: int | None) -> SendOutcome:
        """Call the notifier and record what came back; FALLBACK asks for the patient's next number
        (else the next channel), NEXT_CHANNEL for the next channel whatever numbers are left."""
        channel = message.channel
        try:
            receipt = self._notifier(name).deliver(message)  # under its send_deadline
        except RetryableError as exc:
            attempt = self._attempt(item, channel, name, "retryable", detail=str(exc))
            attempts, cap = item.attempts, self.config.max_attempts
            if cap is not None and attempts >= cap:
                self._finish(item, ReminderStatus.FAILED, f"gave up after {attempts} attempts: {exc}", delivery=attempt)
                self.report.count("failed")
            else:
                delay = self.config.backoff(attempts)
                if exc.retry_after:
                    delay = max(delay, timedelta(seconds=exc.retry_after))
                    self._told_to_wait(name, timedelta(seconds=exc.retry_after))
                self._finish(item, ReminderStatus.PENDING, f"{RETRYING}{exc}", due=self.now + delay, delivery=attempt)
                self.report.count("retrying")
            return SendOutcome.RETRY
        except OptedOutError as exc:
            self._delivery(self._attempt(item, channel, name, "opted_out", detail=str(exc)))
            self._opt_out(channel, message.recipient, name)
            item.error = f"{channel}: opted out ({exc})"
            return SendOutcome.NEXT_CHANNEL  # the patient's word, not a bad number: no other number of theirs
        except PermanentError as exc:
            self._delivery(self._attempt(item, channel, name, "permanent", detail=str(exc)))
            item.error = f"{channel}: {exc}"
            # A refusal of the message (too long, filtered as spam) meets every number alike.
            return SendOutcome.NEXT_CHANNEL if exc.about is Refusal.MESSAGE else SendOutcome.FALLBACK
        except Exception as exc:  # DeliveryUnknownError, a bare NotifierError or a bug: it may have gone
            detail = (f"sent, but no answer came back ({exc}); it may or may not have gone out"
                      if isinstance(exc, DeliveryUnknownError) else
                      f"the notifier raised {type(exc).__name__} (unclassified); it may or may not have gone out")
            self._finish(item, ReminderStatus.UNKNOWN, detail, delivery=self._attempt(item, channel, name, "unknown",
                                                                                      detail=detail))
            self.report.count("unknown")
            return SendOutcome.UNKNOWN
        except BaseException:
            self._stop.set()
            reason = "interrupted during the send; it may or may not have gone out"
            self._finish(item, ReminderStatus.UNKNOWN, reason, delivery=self._attempt(item, channel, name, "unknown",
                                                                                      detail=reason))
            self.report.count("unknown")
            raise
        attempt = self._attempt(item, channel, name, "sent", provider_id=receipt.provider_id,
                                provider_status=receipt.status, detail=receipt.detail)
        self._finish(item, ReminderStatus.SENT, None, provider_id=receipt.provider_id, segments=segments,
                     delivery=attempt,
                     sent_at=self.clock())
        self.report.count("sent")
        return SendOutcome.SENT

    def _told_to_wait(self, name: str, wait: timedelta) -> None:
        """The provider behind ``name`` asked for ``wait`` before the next request (Retry-After)."""
        until = self.clock() + wait
        with self._resume_lock:
            self._resume[name] = max(until, self._resume.get(name, until))

    def _wait_for_provider(self, item: Item, name: str) -> bool:
        """True when the provider behind ``name`` asked this run to wait (a 429's Retry-After)
        and the wait is not over: the message is put back, due when the wait ends, with no
        attempt counted (it was never sent). Sending it anyway would be refused too, and a
        provider that is hammered through its Retry-After may block the account for longer."""
        with self._resume_lock:
            until = self._resume.get(name)
        left = until - self.clock() if until is not None else timedelta(0)
        if left <= timedelta(0):
            return False
        self._finish(item, ReminderStatus.PENDING, f"{RETRYING}{WAITING_FOR_PROVIDER.format(name=name)}",
                     due=self.now + left)
        self.report.count("deferred")
        return True

    def _notifier(self, name: str) -> Notifier:
        """One instance per thread and notifier: a notifier need not be thread-safe."""
        cache: dict[str, Notifier] = self._local.__dict__.setdefault("notifiers", {})
        if name not in cache:
            cache[name] = build_notifier(self.notifier_settings[name], {"base_dir": self.settings.base_dir})
            with self._opened_lock:
                self._opened.append(cache[name])
        return cache[name]

    def _close_notifiers(self) -> None:
        for notifier in self._opened:
            try:
                notifier.close()
            except Exception as exc:  # closing must not hide the run's outcome
                log.warning("notifier.close_failed", notifier=notifier.name, error=type(exc).__name__)
        self._opened.clear()

    # -- recording ------------------------------------------------------------------------
    def _hand_over(self, item: Item, channel: str, notifier: str) -> bool:
        now = self.clock()
        changed = self.store.reminder_rows.mark_handed_over(
            item.row.id, self.token, channel, notifier, now, now + timedelta(seconds=self.config.lease_seconds))
        if changed:
            item.attempts += 1
        return changed

    def _finish(self, item: Item, status: ReminderStatus, reason: str | None, *, due: datetime | None = None,
                note: str | None = None, provider_id: str | None = None, segments: int | None = None,
                sent_at: datetime | None = None, delivery: dict[str, Any] | None = None) -> None:
        """Record the outcome (and the delivery attempt that led to it) in one transaction."""
        if self.dry_run:
            return
        values: dict[str, Any] = {"status": status, "reason": reason, "tried": ",".join(item.tried),
                                  "updated_at": self.clock()}
        if status == ReminderStatus.PENDING:
            values.update(claimed_by=None, lease_until=None, send_started_at=None, due_at=due or item.row.due_at)
        if note is not None:
            values["note"] = note
        if provider_id is not None:
            values["provider_id"] = provider_id
        if segments is not None:
            values["segments"] = segments
        if sent_at is not None:
            values["sent_at"] = sent_at
            if item.appointment is not None and item.row.kind not in ("cancelled", "agenda"):
                # The start this message told (a notice planned before a move tells the new
                # one): its answer link answers only that time (responses/link_page.py).
                values["starts_at"] = item.appointment.start_utc
        self.store.reminder_rows.record_outcome(item.row.id, self.token, values, delivery)

    def _attempt(self, item: Item, channel: str, notifier: str, outcome: str, *, provider_id: str | None = None,
                 provider_status: str | None = None, detail: str | None = None) -> dict[str, Any]:
        return {"reminder_id": item.row.id, "channel": channel, "notifier": notifier, "outcome": outcome,
                "provider_id": provider_id, "provider_status": provider_status, "detail": detail,
                "created_at": self.clock()}

    def _delivery(self, attempt: dict[str, Any]) -> None:
        self.store.reminder_rows.record_delivery(attempt)

    def _opt_out(self, channel: str, address: str, source: str) -> None:
        self._opt_outs.add((channel, address))
        self.store.reminder_rows.record_opt_out(channel, address, source, self.clock())


class SendPools:
    """A pool of ``workers`` send threads per notifier: a channel whose provider is
    slow holds only its own workers, never another's. With one pool for all, 10 emails due
    ahead of 10 SMS on a mail server that trickled took all 8 workers, and no SMS went out in
    90 s. Threads start as work arrives, so a notifier with little to send costs little."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pools: dict[str, ThreadPoolExecutor] = {}

    def submit(self, name: str, work: Callable[[Item], None], item: Item) -> Future[None]:
        pool = self._pools.get(name)
        if pool is None:
            pool = self._pools[name] = ThreadPoolExecutor(self.workers, thread_name_prefix=f"remind-{name or 'none'}")
        return pool.submit(work, item)

    def __enter__(self) -> SendPools:
        return self

    def __exit__(self, *exc: object) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True)


def dispatch(settings: Settings, store: Store, at: datetime | None = None, *, dry_run: bool = False,
             resend_unknown: bool = False, halt: threading.Event | None = None) -> DispatchReport:
    return Dispatcher(settings, store, at, dry_run=dry_run, resend_unknown=resend_unknown, halt=halt).run()


# Importers take these from here; each lives in the module that owns it (claimed, decisions, routes, opt_outs).
__all__ = ["DispatchReport", "Dispatcher", "RoutingError", "dispatch", "lift_opt_out", "opt_in", "outbox_routes",
           "patient_address", "record_opt_out", "resolve_routes", "routing_problems"]
