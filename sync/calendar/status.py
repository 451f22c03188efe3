"""`clinicsync calendar status`: per calendar, what was pushed and what keeps failing, and
how many events are marked cancelled by the patient while the source still holds them
booked (work left for the front desk); and the practitioners whose appointments no
calendar takes (skipped, not an error)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from clinicsync.common.types import utcnow
from clinicsync.sync.calendar.desired import load_truth, window_start
from clinicsync.sync.calendar.links import load_links
from clinicsync.sync.settings.calendar import CalendarSettings


def calendar_status(settings: CalendarSettings, engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    truth = load_truth(engine, settings, now)
    links = load_links(engine, settings.provider, window_start(settings, now))
    calendars: dict[str, Counter[str]] = defaultdict(Counter)
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    for rows in links.values():
        for link in rows:
            label = link.target.label()
            calendars[label][link.state] += 1
            if link.attempts:
                calendars[label]["failing"] += 1
                errors[label][link.last_error or "failed"] += 1
    # Patients who cancelled a visit their source still holds booked (calendar.patient_cancelled:
    # mark): the doctor's event says so, and someone must still free the slot at the source.
    for desired in truth:
        if desired.target is not None and desired.content is not None and desired.content.patient_cancelled:
            calendars[desired.target.label()]["patient_cancelled"] += 1
    unmapped = Counter(d.practitioner or "(no practitioner)" for d in truth if d.skipped)
    return {
        "provider": settings.provider,
        "calendars": [{"calendar": label, "present": c["present"], "pending": c["pending"],
                       "deleted": c["deleted"], "failing": c["failing"], "patient_cancelled": c["patient_cancelled"],
                       "errors": dict(errors[label])} for label, c in sorted(calendars.items())],
        "unmapped": [{"practitioner": p, "appointments": n} for p, n in sorted(unmapped.items())],
    }
