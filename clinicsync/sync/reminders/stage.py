"""The `reminders` stage of `sync --once`: follow changed settings (replan.py), then plan from
the store's events (planner.py). Kept apart so that re-planning, which builds on the planner,
and the planner itself import one way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.planned_rows import PlanReport
from clinicsync.sync.reminders.planner import plan_events
from clinicsync.sync.reminders.replan import follow_settings
from clinicsync.sync.runs.progress import Ticker, no_ticks
from clinicsync.sync.store.store import Store

log = structlog.get_logger("clinicsync.reminders")


def plan(settings: Settings, store: Store, now: datetime | None = None, progress: Ticker = no_ticks) -> PlanReport:
    """Follow changed settings, consume every unread event, then plan the doctors' agendas."""
    report = PlanReport()
    if not settings.reminders.enabled:
        return report
    now = now or utcnow()
    # plans made with other settings, made again first
    follow_settings(settings.reminders, store, now, report, settings)
    plan_events(settings, store, now, report, progress)
    log.info("reminders.planned", **report.as_dict())
    return report


def planning_stage(settings: Settings, store: Store, run_id: str, progress: Ticker = no_ticks) -> dict[str, Any]:
    """The `reminders` stage of `sync --once`; ``progress`` counts the events read."""
    return dict(plan(settings, store, progress=progress).as_dict())
