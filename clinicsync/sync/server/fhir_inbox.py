"""What a FHIR Subscription notification does to one ``fhir`` connector's appointments.

Each Appointment a notification names goes through the push contract (sync/ingest/push.py):
the connector's mapping, quarantine, change detection and the outbox, the same path as a
polled record. Where the payload does not carry the Appointment (id-only) it is read with
the connector's own client; its patient, practitioner and location are resolved as the
poll resolves them (connectors/fhir/references.py), so a pushed and a polled record are
the same record. A notification without ids (empty payload), a counter gap and an
Appointment that could not be read all end in the same place: the connector's regular
incremental poll (``_lastUpdated``), run now in the background, once at a time.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import structlog

from clinicsync.common.types import utcnow
from clinicsync.connectors.base import ConnectorError
from clinicsync.connectors.fhir.connector import FhirConnector
from clinicsync.connectors.fhir.notifications import Change, Notification
from clinicsync.connectors.fhir.references import ReferenceResolver
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.engine import poll_connector
from clinicsync.sync.ingest.push import PushReceiver
from clinicsync.sync.ingest.reports import new_run_id
from clinicsync.sync.ingest.subscriptions import Heard, note_heard, note_reconciled, request_reconcile
from clinicsync.sync.store.store import Store

log = structlog.get_logger("clinicsync.fhir.hooks")
EVENTS = ("event-notification", "query-event")


@dataclass
class Handled:
    """The answer to a notification: what each Appointment came to, and whether (and why)
    the connector is being polled."""

    type: str
    results: Counter[str] = field(default_factory=Counter)
    poll: str | None = None  # why a poll was started

    def as_dict(self) -> dict[str, Any]:
        return {"notification": self.type, "results": dict(self.results), "poll": self.poll}


class Poller:
    """The connector's poll, in a background thread: at most one at a time; asked again
    while one runs, it runs once more afterwards (that one sees the newest changes)."""

    def __init__(self, settings: Settings, store: Store, config: FhirSettings) -> None:
        self.settings, self.store, self.config = settings, store, config
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._idle = threading.Event()
        self._idle.set()

    def request(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
            self._idle.clear()
        threading.Thread(target=self._loop, name=f"fhir-poll-{self.config.name}", daemon=True).start()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until no poll runs or is asked for (tests; shutdown)."""
        return self._idle.wait(timeout)

    def _loop(self) -> None:
        while True:
            started = utcnow()
            try:
                report = poll_connector(self.settings, self.store, self.config, new_run_id())
                if report.error is None and report.skipped is None:
                    note_reconciled(self.store.engine, self.config.name, started)
                # skipped: another worker polls it right now; the reconcile request stays
                # recorded and the scheduled poll covers it.
                log.info("fhir.hook.poll", connector=self.config.name, failed=report.error is not None,
                         skipped=report.skipped is not None, **{k: v for k, v in report.counts.as_dict().items()
                                                                  if v})
            except Exception as exc:  # the scheduled poll is still the safety net
                log.error("fhir.hook.poll_failed", connector=self.config.name, error=type(exc).__name__)
            with self._lock:
                if not self._again:
                    self._running = False
                    self._idle.set()
                    return
                self._again = False


class FhirInbox:
    """One ``fhir`` connector's notifications (see the module docstring)."""

    def __init__(self, settings: Settings, store: Store, config: FhirSettings) -> None:
        self.config, self.store = config, store
        self.receiver = PushReceiver(settings, store, config)
        self.connector = FhirConnector(config)
        self.poller = Poller(settings, store, config)

    @property
    def name(self) -> str:
        return self.config.name

    def close(self) -> None:
        self.poller.settle(30)
        self.connector.close()

    def poll_now(self, handled: Handled, reason: str) -> None:
        request_reconcile(self.store.engine, self.name, reason)
        handled.poll = handled.poll or reason
        self.poller.request()

    # -- an R4 rest-hook (criteria Appointment?…) ------------------------------------------
    def pinged(self) -> Handled:
        """An empty POST: something matched; the server does not say what."""
        note_heard(self.store.engine, self.name, Heard("event-notification"))
        handled = Handled("event-notification")
        self.poll_now(handled, "an empty notification: the server did not say what changed")
        return handled

    def resource(self, appointment_id: str, resource: dict[str, Any] | None) -> Handled:
        """A PUT of the changed Appointment (resource) or a DELETE (None)."""
        note_heard(self.store.engine, self.name, Heard("event-notification"))
        handled = Handled("event-notification")
        self._change(Change(appointment_id, resource, deleted=resource is None), handled, [])
        return handled

    # -- a topic-based notification Bundle -------------------------------------------------
    def notification(self, notification: Notification) -> Handled:
        heard = Heard(notification.type, notification.subscription, notification.status,
                      notification.events_since_start, notification.event_numbers)
        gap = note_heard(self.store.engine, self.name, heard)
        handled = Handled(notification.type)
        if notification.status in ("error", "off"):
            log.warning("fhir.subscription.status", connector=self.name, status=notification.status,
                        fix="reactivate it (`clinicsync fhir subscribe`); the poll keeps the appointments current")
        if notification.type in EVENTS:
            for change in notification.changes:
                self._change(change, handled, notification.resources)
            if not notification.changes and not notification.other_resources:
                self.poll_now(handled, "an empty notification: the server did not say what changed")
        if gap:
            log.warning("fhir.subscription.gap", connector=self.name, reason=gap)
            self.poll_now(handled, gap)
        log.info("fhir.notification", connector=self.name, type=notification.type, content=notification.content,
                 appointments=len(notification.changes), others=notification.other_resources or None,
                 events=notification.events_since_start, **dict(handled.results))
        return handled

    def _change(self, change: Change, handled: Handled, carried: list[dict[str, Any]]) -> None:
        position = f"notification Appointment/{change.id}"
        try:
            resource = change.resource
            if resource is None and not change.deleted:
                resource = self.connector.read_appointment(change.id)
            if resource is None:  # deleted, or gone by the time we read it
                result = self.receiver.delete(change.id, position)
                handled.results[result.outcome if result else "unknown"] += 1
                return
            if resource.get("status") == "waitlist":  # a waiting patient, never an appointment:
                handled.results["waitlist"] += 1     # the waitlist listing of the next run reads it
                return
            resolver = ReferenceResolver(self.connector.client)
            for other in carried:
                resolver.add(other)
            record = self.connector.record(resource, resolver)
        except ConnectorError as exc:
            log.warning("fhir.notification.unread", connector=self.name, error=type(exc).__name__)
            handled.results["deferred"] += 1
            self.poll_now(handled, "a notified Appointment could not be read; polling instead")
            return
        pushed = self.receiver.receive(record.data, f"notification {record.position}", quarantine_bad=True,
                                       record_id=record.record_id)
        handled.results[pushed.outcome] += 1


class Inboxes:
    """The app's inboxes, one per connector, made on first use."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self._made: dict[str, FhirInbox] = {}
        self._lock = threading.Lock()

    def get(self, config: FhirSettings) -> FhirInbox:
        with self._lock:
            if config.name not in self._made:
                self._made[config.name] = FhirInbox(self.settings, self.store, config)
            return self._made[config.name]

    def close(self) -> None:
        with self._lock:
            made, self._made = list(self._made.values()), {}
        for inbox in made:
            inbox.close()
