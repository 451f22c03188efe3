"""/metrics figures of the jobs of `clinicsync run`, read from its JobBoard at scrape time.

Only a server hosted in the service's process (`run --serve`) sees them; a separate
`clinicsync serve` has no jobs. The connector figures that matter for alerting
(clinicsync_connector_*) come from the store instead, so they hold for cron runs too."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from clinicsync.common.types import utcnow
from clinicsync.sync.service.board import DURATION_BUCKETS, JobBoard


class JobCollector(Collector):
    def __init__(self, board: JobBoard) -> None:
        self.board = board

    def collect(self) -> Iterator[Any]:
        runs = CounterMetricFamily("clinicsync_job_runs", "runs of each job of `clinicsync run`, by outcome",
                                   labels=["job", "outcome"])
        failing = GaugeMetricFamily("clinicsync_job_consecutive_failures", "the job's failed runs since its last "
                                    "good one", labels=["job"])
        running = GaugeMetricFamily("clinicsync_job_running_seconds", "how long the job's run in flight has been "
                                    "going (0 when idle); a stuck job grows without bound", labels=["job"])
        success = GaugeMetricFamily("clinicsync_job_last_success_timestamp_seconds",
                                    "when the job last finished without error (Unix time)", labels=["job"])
        duration = HistogramMetricFamily("clinicsync_job_duration_seconds", "how long each run of the job took",
                                         labels=["job"])
        now = utcnow()
        for name, (status, durations) in sorted(self.board.figures().items()):
            runs.add_metric([name, "ok"], status.runs - status.failures)
            runs.add_metric([name, "failed"], status.failures)
            failing.add_metric([name], status.consecutive_failures)
            since = status.running_since
            running.add_metric([name], (now - since).total_seconds() if since is not None else 0.0)
            if status.last_success is not None:
                success.add_metric([name], status.last_success.timestamp())
            bounds = [*(str(bound) for bound in DURATION_BUCKETS), "+Inf"]
            duration.add_metric([name], list(zip(bounds, accumulate(durations.counts), strict=True)),
                                sum_value=durations.total)
        yield from (runs, failing, running, success, duration)
