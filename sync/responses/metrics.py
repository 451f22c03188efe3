"""Scrape-time figures for /metrics: reminders by channel and status, replies by action
and outcome, write-backs by state (read from the store, so every worker agrees)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from clinicsync.sync.model.reminders import REMINDERS
from clinicsync.sync.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.store import Store


def response_gauges(store: Store) -> Iterator[GaugeMetricFamily]:
    reminders = GaugeMetricFamily("clinicsync_reminders", "reminders by channel and status",
                                  labels=["channel", "status"])
    replies = GaugeMetricFamily("clinicsync_responses", "patients' replies by action and outcome",
                                labels=["action", "outcome"])
    writebacks = GaugeMetricFamily("clinicsync_writebacks", "answers to write back, by state", labels=["status"])
    with store.engine.connect() as connection:
        for channel, status, count in connection.execute(
                select(REMINDERS.c.channel, REMINDERS.c.status, func.count())
                .group_by(REMINDERS.c.channel, REMINDERS.c.status)):
            reminders.add_metric([channel or "none", status], count)
        for action, outcome, count in connection.execute(
                select(RESPONSES.c.action, RESPONSES.c.outcome, func.count())
                .group_by(RESPONSES.c.action, RESPONSES.c.outcome)):
            replies.add_metric([action, outcome], count)
        for status, count in connection.execute(
                select(WRITEBACKS.c.status, func.count()).group_by(WRITEBACKS.c.status)):
            writebacks.add_metric([status], count)
    yield reminders
    yield replies
    yield writebacks
