"""`clinicsync calendar status`: per calendar, what was pushed and what keeps failing, and
how many events are marked cancelled by the patient while the source still holds them
booked (work left for the front desk); the practitioners whose appointments no
calendar takes (skipped, not an error); and the events a provider no longer used still
holds (left_behind: calendar.provider changed, the old one not reachable to remove them);
per calendar, the events still as the settings before an edit made them (``rerender_left``:
a template, privacy or title edit, patched a bounded number per run, the soonest first)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from clinicsync.common.types import utcnow
from clinicsync.sync.calendar.desired import HALF, Renderer, Router, practitioner_key, row_pages, window_start
from clinicsync.sync.calendar.links import left_behind, load_links
from clinicsync.sync.calendar.provider import PROVIDERS
from clinicsync.sync.config.settings.calendar import CalendarSettings


def calendar_status(settings: CalendarSettings, engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    since = window_start(settings, now)
    links = load_links(engine, settings.provider, since)
    calendars: dict[str, Counter[str]] = defaultdict(Counter)
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    router, renderer = Router(settings), Renderer(settings)
    for rows in links.values():
        for link in rows:
            label = link.target.label()
            calendars[label][link.state] += 1
            # Rendered under other settings (push: RERENDER_PER_RUN a run); the next run finds
            # out which of them differ.
            if link.state == "present" and link.rendered_from and link.rendered_from[:HALF] not in renderer.keys:
                calendars[label]["rerender_left"] += 1
            if link.attempts:
                calendars[label]["failing"] += 1
                errors[label][link.last_error or "failed"] += 1
    # Patients who cancelled a visit their source still holds booked (calendar.patient_cancelled:
    # mark): the doctor's event says so, and someone must still free the slot at the source.
    # Counted from each appointment's row as the stage routes and classifies it, without
    # rendering any event (rendering 50,000 took 7.6 s) and without writing anything.
    unmapped: Counter[str] = Counter()
    for page in row_pages(engine, since):
        for row in page:
            shown = renderer.shown_as(row)
            if shown is None:
                continue
            target = router.target(row.connector, row.practitioner_ref, row.d_email, row.d_name)
            if target is None:
                unmapped[practitioner_key(row) or "(no practitioner)"] += 1
            elif shown[1] and not shown[0]:
                calendars[target.label()]["patient_cancelled"] += 1
    # Events a provider the settings no longer use still holds (calendar.provider changed): the
    # stage removes them when it can reach that provider (push.retire_others); these are left.
    left: Counter[tuple[str, str]] = Counter()
    for provider in PROVIDERS:
        if provider != settings.provider:
            left.update((provider, link.target.label()) for link in left_behind(engine, provider, since))
    return {
        "provider": settings.provider,
        "calendars": [{"calendar": label, "present": c["present"], "pending": c["pending"],
                       "deleted": c["deleted"], "failing": c["failing"], "patient_cancelled": c["patient_cancelled"],
                       "rerender_left": c["rerender_left"],
                       "errors": dict(errors[label])} for label, c in sorted(calendars.items())],
        "unmapped": [{"practitioner": p, "appointments": n} for p, n in sorted(unmapped.items())],
        "left_behind": [{"provider": provider, "calendar": label, "events": n}
                        for (provider, label), n in sorted(left.items())],
    }
