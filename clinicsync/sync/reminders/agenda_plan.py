"""The doctors' agendas: each doctor with an email and visits today or tomorrow (their site's
day, else the clinic's) gets one agenda row a day, planned after the events are read."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select

from clinicsync.common.timeutil import zone
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.planned_rows import PLANNED, PlanReport, insert_new
from clinicsync.sync.reminders.timing import wall_clock
from clinicsync.sync.store.outbox import claim_offset
from clinicsync.sync.store.tables import APPOINTMENTS, PRACTITIONERS, REMINDERS_CONSUMER


def agenda_key(connector: str, practitioner_ref: str, day: date) -> str:
    return f"agenda:{connector}:{practitioner_ref}:{day.isoformat()}"


def agenda_zones(settings: Settings) -> dict[str, list[str] | None]:
    """The zones whose days agendas are planned by, each with its sources: without `sites:`
    the clinic's zone for every source (None: no filter), with them each site's zone for its
    own sources (a doctor of a practice three zones west gets the agenda of their own day)."""
    if not settings.sites:
        return {settings.clinic.timezone: None}
    zones: dict[str, list[str]] = {}
    for config in settings.connectors:
        zones.setdefault(settings.clinic_for(config.name).timezone, []).append(config.name)
    return dict(zones)


def plan_agendas(connection: Connection, settings: Settings, now: datetime, report: PlanReport) -> None:
    """Each doctor with an email and appointments today or tomorrow (their site's time, else
    the clinic's) gets that day's agenda."""
    agenda = settings.reminders.agenda
    if not agenda.enabled:
        return
    # One planner at a time, as for the events (row lock / SQLite write lock): two runs that both
    # read an agenda's key as not stored both inserted it, and the second's stage failed.
    claim_offset(connection, REMINDERS_CONSUMER)
    rows: dict[str, tuple[Any, ...]] = {}
    for clinic_zone, connectors in agenda_zones(settings).items():
        today = now.astimezone(zone(clinic_zone)).date()
        for day in (today, today + timedelta(days=1)):
            begin = wall_clock(day, datetime.min.time(), clinic_zone)
            end = wall_clock(day + timedelta(days=1), datetime.min.time(), clinic_zone)
            query = (
                select(APPOINTMENTS.c.connector, APPOINTMENTS.c.practitioner_ref).distinct()
                .join(PRACTITIONERS, and_(PRACTITIONERS.c.connector == APPOINTMENTS.c.connector,
                                          PRACTITIONERS.c.external_id == APPOINTMENTS.c.practitioner_ref))
                .where(APPOINTMENTS.c.start_utc >= begin, APPOINTMENTS.c.start_utc < end,
                       APPOINTMENTS.c.deleted_at.is_(None), APPOINTMENTS.c.status.in_(ACTIVE_STATUSES),
                       PRACTITIONERS.c.email.is_not(None)))
            if connectors is not None:
                query = query.where(APPOINTMENTS.c.connector.in_(connectors))
            due = wall_clock(day, agenda.at, clinic_zone)
            for connector, ref in connection.execute(query).all():
                key = agenda_key(connector, ref, day)
                rows[key] = (key, None, connector, "practitioner", ref, "agenda", day.isoformat(), 0, begin, due,
                             PLANNED, None, None, "email", "", 0, now, now)
    insert_new(connection, rows, report)
