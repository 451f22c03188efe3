"""Prometheus metrics. HTTP counters are incremented by the middleware; store figures are
read at scrape time by a collector, so every worker reports the shared truth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.types import utcnow
from clinicsync.sync.checks.queries import connector_health, run_figures
from clinicsync.sync.checks.stalls import figures as stall_figures
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.model import Quarantine, SyncRun, table_of
from clinicsync.sync.store.outbox import EVENTS
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import RECENT, live_offsets

log = structlog.get_logger("clinicsync.metrics")

R = table_of(SyncRun).c
Q = table_of(Quarantine).c
# Gauges mostly; a figure that only grows (a count of rows never deleted) is a counter family.
StoreGauges = Callable[[Store], Iterator[Metric]]


def sync_gauges(store: Store) -> Iterator[GaugeMetricFamily]:
    runs = GaugeMetricFamily("clinicsync_sync_runs", "sync runs running, and those started in the last 7 days, "
                             "by connector and status", labels=["connector", "status"])
    quarantined = GaugeMetricFamily("clinicsync_quarantined_records",
                                    "open quarantine items (records waiting for a fix), by connector",
                                    labels=["connector"])
    with store.engine.connect() as connection:
        for (connector, status), count in sorted(run_figures(connection, utcnow() - RECENT).items()):
            runs.add_metric([connector, status], count)
        for connector, count in connection.execute(
                select(Q.connector, func.count()).where(Q.status == "open").group_by(Q.connector)):
            quarantined.add_metric([connector], count)
    yield runs
    yield quarantined


def connector_gauges(store: Store) -> Iterator[GaugeMetricFamily]:
    """Per connector, from its runs (so cron `sync --once` runs count as much as `clinicsync run`)."""
    failing = GaugeMetricFamily("clinicsync_connector_consecutive_failures",
                                "failed runs since the connector's last successful one", labels=["connector"])
    success = GaugeMetricFamily("clinicsync_connector_last_success_timestamp_seconds",
                                "when the connector's last successful run finished (Unix time)", labels=["connector"])
    started = GaugeMetricFamily("clinicsync_connector_last_run_timestamp_seconds",
                                "when the connector's latest run started (Unix time)", labels=["connector"])
    with store.engine.connect() as connection:
        health = connector_health(connection)
    for name, figures in sorted(health.items()):
        failing.add_metric([name], figures.failing_runs)
        started.add_metric([name], figures.last_started.timestamp())
        if figures.last_success is not None:  # never succeeded: no sample, and the failures say why
            success.add_metric([name], figures.last_success.timestamp())
    yield failing
    yield success
    yield started


def outbox_gauges(settings: Settings) -> StoreGauges:
    """How far behind each outbox consumer whose stage is switched on (the reminder planner, the
    waiting list's freed slots) is: the consumers of the age gauge and the ``outbox_lag`` stall
    (``live_offsets``). One switched off reads nothing on purpose (on main it had a series that
    only grew, and ClinicsyncOutboxLagging fired past 1000)."""

    def gauges(store: Store) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily("clinicsync_outbox_lag_events",
                                "outbox events past the offset of a consumer whose stage is switched on (ids, so an "
                                "upper bound)", labels=["consumer"])
        with store.engine.connect() as connection:
            newest = connection.execute(select(func.max(EVENTS.c.id))).scalar_one() or 0
            for consumer, offset in live_offsets(connection, settings).items():
                lag.add_metric([consumer], max(0, newest - offset))
        yield lag

    return gauges


def stall_gauges(settings: Settings) -> StoreGauges:
    """The figures behind a stall (sync.stalls), for the alert rules of docs/deploy: a stage
    whose latest run failed, how long the oldest unconsumed outbox event has waited, how far
    past its schedule a source is, the items stages set aside, how long a notifier's
    provider has refused what waits to be retried, when an MLLP listener's certificate
    expires (or that its files do not load), and how long one worker has held a stage."""

    def gauges(store: Store) -> Iterator[GaugeMetricFamily]:
        failing = GaugeMetricFamily("clinicsync_stage_failing", "1 when the stage's latest run failed, else 0",
                                    labels=["stage"])
        oldest = GaugeMetricFamily("clinicsync_outbox_oldest_unconsumed_age_seconds",
                                   "how long the consumer's oldest unconsumed outbox event has waited (0: none)",
                                   labels=["consumer"])
        overdue = GaugeMetricFamily("clinicsync_connector_overdue_seconds",
                                    "how long past its schedule (or expected_interval) the source has not been "
                                    "heard from (0: not overdue)", labels=["connector"])
        set_aside = GaugeMetricFamily("clinicsync_set_aside_items", "items the stage set aside, waiting for a person",
                                      labels=["stage"])
        notifier = GaugeMetricFamily("clinicsync_notifier_failing_seconds",
                                     "how long the notifier's provider has refused the messages that wait to be "
                                     "retried (0: none waits)", labels=["notifier"])
        stopped = GaugeMetricFamily("clinicsync_fhir_subscription_stopped",
                                    "1 when the connector's FHIR Subscription stopped pushing (reported error or "
                                    "off, or no heartbeat for heartbeat_seconds plus the stall margin), else 0",
                                    labels=["connector"])
        orphaned = GaugeMetricFamily("clinicsync_source_orphaned_visits",
                                     "future visits, and those of the last calendar.past_days + 1 days (on the "
                                     "calendars; at least 31), the "
                                     "store holds of a source the settings no longer name "
                                     "(renamed or removed; its messages are held): `clinicsync source rename` or "
                                     "`clinicsync source retire`", labels=["connector"])
        expiry = GaugeMetricFamily("clinicsync_mllp_certificate_expiry_timestamp_seconds",
                                   "when the TLS certificate of the connector's MLLP listener expires (Unix time), "
                                   "read from its cert_file as the listener reloads it", labels=["connector"])
        unusable = GaugeMetricFamily("clinicsync_mllp_certificate_unusable",
                                     "1 when the MLLP listener's TLS files do not load (a renewal written half, a key "
                                     "not the certificate's): a running listener keeps its previous certificate",
                                     labels=["connector"])
        ca_expiry = GaugeMetricFamily("clinicsync_mllp_client_ca_expiry_timestamp_seconds",
                                      "when the client CA (client_ca_file, mutual TLS) of the connector's MLLP "
                                      "listener expires (Unix time; the first CA of the bundle to end)",
                                      labels=["connector"])
        handshakes = GaugeMetricFamily("clinicsync_mllp_tls_handshakes_failing_seconds",
                                       "how long every TLS handshake of the connector's running MLLP listener has "
                                       "failed (3 or more in a row; 0: not failing), as the listener noted in the "
                                       "store", labels=["connector"])
        reload = GaugeMetricFamily("clinicsync_mllp_certificate_reload_failing",
                                   "1 while the connector's running MLLP listener cannot load its changed TLS files "
                                   "and serves the certificate it loaded before, as the listener noted in the store",
                                   labels=["connector"])
        stale = GaugeMetricFamily("clinicsync_settings_stale_seconds",
                                  "how long ago a file the `clinicsync run` process read its settings from "
                                  "(settings.yaml, a *_file secret) changed without a restart (0: runs what the "
                                  "files say)", labels=["process"])
        differ = GaugeMetricFamily("clinicsync_settings_differ_seconds",
                                   "how long the processes on this store (`clinicsync run`, cron's `sync --once` "
                                   "and `remind --once` of the last hour) have run different settings (settings "
                                   "file, templates, mappings; since the newest started or changed; 0: all the same)")
        held = GaugeMetricFamily("clinicsync_stage_lock_held_seconds",
                                 "how long one worker has held the stage's lock (0: free): every other run skips "
                                 "the stage meanwhile", labels=["stage"])
        hung = GaugeMetricFamily("clinicsync_stage_hung",
                                 "1 when one worker has held the stage's lock longer than calendar.stage_hung_after "
                                 "(a call that never returns, a stopped process): `clinicsync status` names its host "
                                 "and pid", labels=["stage"])
        with store.engine.connect() as connection:
            found = stall_figures(connection, settings)
        for family, values in ((failing, found.stage_failing), (oldest, found.outbox_oldest_age),
                               (overdue, found.overdue), (set_aside, found.set_aside),
                               (notifier, found.notifier_failing), (stopped, found.subscription_stopped),
                               (orphaned, found.orphaned), (expiry, found.mllp_certificate_expiry),
                               (unusable, found.mllp_certificate_unusable), (stale, found.settings_stale),
                               (held, found.stage_lock_held), (hung, found.stage_hung),
                               (ca_expiry, found.mllp_client_ca_expiry), (handshakes, found.mllp_handshakes_failing),
                               (reload, found.mllp_reload_failing)):
            for label, value in sorted(values.items()):
                family.add_metric([label], value)
        differ.add_metric([], found.settings_differ)
        yield from (failing, oldest, overdue, set_aside, notifier, stopped, orphaned, expiry, unusable, stale, differ,
                    held, hung, ca_expiry, handshakes, reload)

    return gauges


class StoreCollector(Collector):
    """Figures from the store, gathered by the registered gauge functions at scrape time.

    A store that cannot be read yields ``clinicsync_store_up 0`` instead of failing the
    whole scrape, so the HTTP and job figures still arrive and the alert names the cause."""

    def __init__(self, store: Store, gauges: list[StoreGauges]) -> None:
        self.store = store
        self.gauges = gauges

    def collect(self) -> Iterator[Any]:
        families: list[Metric] = []
        up = GaugeMetricFamily("clinicsync_store_up", "1 if the store answered the scrape's queries, else 0")
        try:
            for gauge in self.gauges:
                families.extend(gauge(self.store))
        except SQLAlchemyError as exc:
            log.warning("metrics.store_unreachable", error=type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


class Metrics:
    """One registry per app (not the process-global one), so tests and workers stay apart."""

    def __init__(self, store: Store, gauges: list[StoreGauges] | None = None,
                 collectors: list[Collector] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("clinicsync_http_requests", "HTTP requests by route and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("clinicsync_http_request_seconds", "HTTP request latency by route",
                                 ["route"], registry=self.registry)
        self.webhooks = Counter("clinicsync_webhook_requests", "webhook requests by endpoint and result",
                                ["endpoint", "result"], registry=self.registry)
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._webhook_children: dict[tuple[str, str], Any] = {}
        self.registry.register(StoreCollector(store, [sync_gauges, connector_gauges, *(gauges or [])]))
        for collector in collectors or []:  # e.g. the jobs of `clinicsync run` hosting this server
            self.registry.register(collector)

    def request_done(self, route: str, method: str, status: int, seconds: float) -> None:
        """One request counted and its latency observed. A label set's children are kept (up to
        ``KEPT_CHILDREN`` of them): prometheus' ``labels()``, label checks and a lock, ~2 µs, ran
        three times per push request. The method is the client's own token (any
        ``X1``, ``X2``… passes the HTTP parser): one not in HTTP's list is counted as ``other``,
        or every new one would be a new series in the registry and in /metrics for the
        process's life."""
        method = method if method in HTTP_METHODS else "other"
        children = self._request_children.get((route, method, status))
        if children is None:
            children = (self.requests.labels(route, method, str(status)), self.latency.labels(route))
            _keep(self._request_children, (route, method, status), children)
        children[0].inc()
        children[1].observe(seconds)

    def webhook(self, endpoint: str, result: str) -> Any:
        """``webhooks.labels(endpoint, result)``, kept as :meth:`request_done` keeps its own."""
        child = self._webhook_children.get((endpoint, result))
        if child is None:
            child = self.webhooks.labels(endpoint, result)
            _keep(self._webhook_children, (endpoint, result), child)
        return child


KEPT_CHILDREN = 1000
# The methods of RFC 9110 and PATCH (RFC 5789): the ``method`` label's values, with ``other``.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


def _keep(kept: dict[Any, Any], key: Any, value: Any) -> None:
    if len(kept) < KEPT_CHILDREN:
        kept[key] = value
