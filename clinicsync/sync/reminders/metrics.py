"""Scrape-time figure for /metrics: since when reminders have been `unknown` (the counts by
status are `clinicsync_reminders`, in sync/responses/metrics.py)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from clinicsync.sync.store.store import Store


def reminder_gauges(store: Store) -> Iterator[GaugeMetricFamily]:
    """A reminder turns `unknown` when its send was cut off; it waits for a person
    (`reminders list --status unknown`, `remind --resend-unknown`). Its updated_at is when
    that happened; the (status, due_at) index finds the few unknown rows."""
    oldest = GaugeMetricFamily("clinicsync_reminders_oldest_unknown_timestamp_seconds",
                               "when the oldest reminder still `unknown` became so (Unix time); "
                               "no sample when there is none")
    since = store.reminder_rows.oldest_unknown_since()
    if since is not None:
        oldest.add_metric([], since.timestamp())
    yield oldest
