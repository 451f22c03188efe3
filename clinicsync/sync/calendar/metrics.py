"""Scrape-time figure for /metrics: calendar links whose last push failed, by cause.

A refused token ("token refused: invalid_grant", "unauthorized_client") fails every push of
the account: a deleted or disabled service-account key, a revoked domain-wide delegation,
a wrong subject. The key file carries no expiry (Google keeps it, readable only through the
IAM API), so this is what GoogleCalendarAuthFailing alerts on."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import case, func, select

from clinicsync.sync.store.model.calendar import LINKS
from clinicsync.sync.store.store import Store

L = LINKS.c
AUTH_FAILED_PREFIX = "token refused"  # the prefix sync/calendar/google.py gives auth failures


def calendar_gauges(store: Store) -> Iterator[GaugeMetricFamily]:
    failing = GaugeMetricFamily("clinicsync_calendar_failing_links",
                                "calendar events whose last push failed, by provider and cause (token|other)",
                                labels=["provider", "cause"])
    cause = case((L.last_error.like(f"{AUTH_FAILED_PREFIX}%"), "token"), else_="other")
    with store.engine.connect() as connection:
        for provider, kind, count in connection.execute(
                select(L.provider, cause, func.count()).where(L.attempts > 0).group_by(L.provider, cause)):
            failing.add_metric([provider, kind], count)
    yield failing
