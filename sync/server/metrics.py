"""Prometheus metrics. HTTP counters are incremented by the middleware; store figures are
read at scrape time by a collector, so every worker reports the shared truth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from sync.model import Quarantine, SyncRun
from sync.store import Store

R = SyncRun.__table__.c  # type: ignore[attr-defined]
Q = Quarantine.__table__.c  # type: ignore[attr-defined]
StoreGauges = Callable[[Store], Iterator[GaugeMetricFamily]]


def sync_gauges(store: Store) -> Iterator[GaugeMetricFamily]:
    runs = GaugeMetricFamily("clinicsync_sync_runs", "sync runs recorded, by connector and status",
                             labels=["connector", "status"])
    quarantined = GaugeMetricFamily("clinicsync_quarantined_records", "records in quarantine, by connector",
                                    labels=["connector"])
    with store.engine.connect() as connection:
        for connector, status, count in connection.execute(
                select(R.connector, R.status, func.count()).group_by(R.connector, R.status)):
            runs.add_metric([connector, status], count)
        for connector, count in connection.execute(select(Q.connector, func.count()).group_by(Q.connector)):
            quarantined.add_metric([connector], count)
    yield runs
    yield quarantined


class StoreCollector(Collector):
    """Figures from the store, gathered by the registered gauge functions at scrape time."""

    def __init__(self, store: Store, gauges: list[StoreGauges]) -> None:
        self.store = store
        self.gauges = gauges

    def collect(self) -> Iterator[Any]:
        for gauge in self.gauges:
            yield from gauge(self.store)


class Metrics:
    """One registry per app (not the process-global one), so tests and workers stay apart."""

    def __init__(self, store: Store, gauges: list[StoreGauges] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("clinicsync_http_requests", "HTTP requests by route and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("clinicsync_http_request_seconds", "HTTP request latency by route",
                                 ["route"], registry=self.registry)
        self.webhooks = Counter("clinicsync_webhook_requests", "webhook requests by endpoint and result",
                                ["endpoint", "result"], registry=self.registry)
        self.registry.register(StoreCollector(store, [sync_gauges, *(gauges or [])]))
