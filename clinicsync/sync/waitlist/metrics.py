"""Scrape-time figures for /metrics: who is waiting, the slots and offers in
flight, and what the waitlist recovered. Read from the store (sync/waitlist/figures.py), so
every replica reports the same and nothing is lost with a restart; the totals are counters
because their rows are never deleted."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.entries import status_counts
from clinicsync.sync.waitlist.figures import totals


def waitlist_gauges(store: Store) -> Iterator[Metric]:
    with store.engine.connect() as connection:
        entries = status_counts(connection)
        found = totals(connection)
    waiting = GaugeMetricFamily("clinicsync_waitlist_entries", "waitlist entries by status (waiting, booked, "
                                "removed, expired)", labels=["status"])
    for status, count in entries.items():
        waiting.add_metric([status], count)
    yield waiting
    yield GaugeMetricFamily("clinicsync_waitlist_open_slots", "freed slots open for offers now",
                            value=found.slots["open"])
    yield GaugeMetricFamily("clinicsync_waitlist_offers_out", "offers sent and not yet answered",
                            value=found.offers["sent"])
    yield CounterMetricFamily("clinicsync_waitlist_slots_freed", "slots freed by a cancellation or deletion far "
                              "enough ahead to offer", value=found.slots_freed)
    yield CounterMetricFamily("clinicsync_waitlist_offers_sent", "waitlist offers sent to patients",
                              value=found.offers_sent)
    yield CounterMetricFamily("clinicsync_waitlist_slots_refilled", "freed slots a waiting patient took",
                              value=found.slots_refilled)
    yield CounterMetricFamily("clinicsync_waitlist_hours_recovered", "hours of refilled slots (their lengths "
                              "summed)", value=found.hours_recovered)
