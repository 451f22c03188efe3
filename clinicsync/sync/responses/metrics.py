"""Scrape-time figures for /metrics: reminders by channel and status, replies by action
and outcome, write-backs by state (read from the store, so every worker agrees).

Each counts the live rows and the settled rows of the last ``RECENT`` (a week), through an
index that starts with the state: Prometheus scrapes every 15 s, and counting every row ever
cost 374 ms at 563k reminders."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from clinicsync.common.types import utcnow
from clinicsync.sync.reminders.queries import reminder_figures
from clinicsync.sync.responses.writeback_status import writeback_figures
from clinicsync.sync.store.model.responses import OUTCOMES, RESPONSES
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import RECENT, REMINDERS, by_state


def response_gauges(store: Store) -> Iterator[GaugeMetricFamily]:
    reminders = GaugeMetricFamily("clinicsync_reminders", "reminders waiting (pending, sending, unknown), and the "
                                  "others due in the last 7 days or later, by channel and status",
                                  labels=["channel", "status"])
    replies = GaugeMetricFamily("clinicsync_responses", "patients' replies received in the last 7 days, by action "
                                "and outcome", labels=["action", "outcome"])
    writebacks = GaugeMetricFamily("clinicsync_writebacks", "answers to write back (pending, set_aside), and the "
                                   "others last due in the last 7 days, by state", labels=["status"])
    now = utcnow()
    with store.engine.connect() as connection:
        for (channel, status), count in sorted(reminder_figures(connection, now, REMINDERS.c.channel).items(),
                                               key=lambda item: (item[0][0] or "", item[0][1])):
            reminders.add_metric([channel or "none", status], count)
        for (action, outcome), count in sorted(by_state(connection, RESPONSES.c.outcome, (), OUTCOMES,
                                                        RESPONSES.c.received_at, now - RECENT,
                                                        RESPONSES.c.action).items()):
            replies.add_metric([action, outcome], count)
        for (status,), count in sorted(writeback_figures(connection, now).items()):
            writebacks.add_metric([status], count)
    yield reminders
    yield replies
    yield writebacks
