"""What `sync` says about a connector it cannot poll: a push-only source
(Cal.com, Acuity, Easy!Appointments, the REST API) sends its bookings to `serve`, so it has
no row of fetched/created counts; without a row of its own it looked forgotten. Its row
says how many deliveries `serve` received in the last day and when the last one came."""

from __future__ import annotations

from datetime import timedelta

from clinicsync.common.types import utcnow
from clinicsync.connectors.registry import is_polled
from clinicsync.sync.checks.queries import pushes_received
from clinicsync.sync.cli.output import moment
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.store import Store

WINDOW = timedelta(hours=24)


def push_only_lines(settings: Settings, store: Store) -> list[tuple[str, str]]:
    """(connector, 'push-only: 12 received by `serve` in the last 24 h, the last Tue, …')."""
    lines = []
    clinic = settings.clinic
    for config in settings.connectors:
        if not config.enabled or is_polled(config):
            continue
        count, newest = pushes_received(store, config.name, utcnow() - WINDOW)
        last = (f", the last {moment(newest, clinic.timezone, False, locale=clinic.locale_tag())}" if newest
                else "; none ever: is `serve` (or `run --serve`) running and the webhook registered?")
        lines.append((config.name, f"push-only: {count} received by `serve` in the last 24 h{last}"))
    return lines
