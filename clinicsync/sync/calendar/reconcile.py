"""`clinicsync calendar reconcile`: compare what each doctor's calendar really holds with
the store's truth, and (with --fix) restore the truth.

Only clinicsync's events are listed (the private extended property ``clinicsync=1``).
Findings: ``missing`` (not in the calendar), ``deleted`` (deleted there by hand),
``moved`` (start/end changed there), ``changed`` (title changed there), ``orphan`` (an
event whose appointment is gone, cancelled or another doctor's) and ``foreign`` (made by
a connector this deployment does not have: reported, never touched). A doctor who
declined an event there is recorded as the doctor's answer (declines.py), --fix or not.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.sync.calendar import links as link_store
from clinicsync.sync.calendar.declines import DeclineReport, Seen, record_declines
from clinicsync.sync.calendar.desired import Desired, load_truth, window_start
from clinicsync.sync.calendar.links import Link, load_links
from clinicsync.sync.calendar.provider import PRIVATE_CONNECTOR, PRIVATE_EXTERNAL_ID, CalendarProvider, Op, Target
from clinicsync.sync.calendar.push import PushReport, push
from clinicsync.sync.config.settings import Settings


@dataclass(frozen=True)
class Finding:
    kind: str  # missing | deleted | moved | changed | orphan | foreign
    calendar: str
    event_id: str
    appointment: str | None  # "connector/external id"
    detail: str = ""


@dataclass
class ReconcileReport:
    calendars: dict[str, dict[str, int]] = field(default_factory=dict)  # label → {"events", "expected"}
    findings: list[Finding] = field(default_factory=list)
    fixed: PushReport | None = None
    orphans_deleted: int = 0
    declines: DeclineReport = field(default_factory=DeclineReport)  # doctors' declines read (always recorded)

    def as_dict(self) -> dict[str, Any]:
        return {"calendars": self.calendars,
                "findings": [f.__dict__ for f in self.findings],
                "fixed": self.fixed.as_dict() if self.fixed else None,
                "orphans_deleted": self.orphans_deleted,
                "doctor_declines": self.declines.as_dict()}


@dataclass
class _Fixes:
    states: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # new state → link ids
    orphans: list[Op] = field(default_factory=list)


def reconcile(settings: Settings, engine: Engine, provider: CalendarProvider, fix: bool = False,
              now: datetime | None = None) -> ReconcileReport:
    calendar = settings.calendar
    now = now or utcnow()
    since = window_start(calendar, now)
    truth = load_truth(engine, calendar, now)
    links = load_links(engine, calendar.provider, since)
    link_at: dict[tuple[int, Target], Link] = {(a, x.target): x for a, xs in links.items() for x in xs}
    expected: dict[Target, dict[str, Desired]] = defaultdict(dict)
    for desired in truth:
        if desired.target is not None and desired.content is not None:
            expected[desired.target][desired.event_id] = desired
    targets = set(expected) | {link.target for xs in links.values() for link in xs}
    connectors = {c.name for c in settings.connectors}
    report, fixes = ReconcileReport(), _Fixes()
    seen: list[Seen] = []
    # One calendar may be written as several users (a shared calendar's rules naming different
    # users, a user's primary also named by its id): it is listed once, and holds what each wants.
    calendars: dict[str, list[Target]] = defaultdict(list)
    for target in sorted(targets):
        calendars[target.label().lower()].append(target)
    for group in calendars.values():
        target = next((t for t in group if t in expected), group[0])  # listed as a user the truth writes as
        remote = {e.event_id: e for e in provider.list_events(target, since)}
        want = {event_id: (t, desired) for t in group for event_id, desired in expected.get(t, {}).items()}
        label = target.label()
        report.calendars[label] = {"events": sum(not e.cancelled for e in remote.values()),
                                   "expected": sum(not d.content.cancelled for _, d in want.values() if d.content)}
        for event_id, (wanted_in, desired) in want.items():
            event = remote.get(event_id)
            _compare(label, event_id, desired, event, link_at.get((desired.appointment_id, wanted_in)), report, fixes)
            if event is not None and not event.cancelled and desired.content and not desired.content.cancelled:
                seen.append(Seen(desired.appointment_id, label, event.responses))
        for event_id, event in remote.items():
            if event_id in want or event.cancelled:
                continue
            appointment = f"{event.private.get(PRIVATE_CONNECTOR)}/{event.private.get(PRIVATE_EXTERNAL_ID)}"
            if event.private.get(PRIVATE_CONNECTOR) not in connectors:
                report.findings.append(Finding("foreign", label, event_id, appointment,
                                               "made by a connector this deployment does not have"))
                continue
            report.findings.append(Finding("orphan", label, event_id, appointment,
                                           "no appointment in the store wants this event here"))
            fixes.orphans.append(Op(key=-len(fixes.orphans) - 1, kind="delete", target=target, event_id=event_id,
                                    notify=calendar.invite_patient))
    # Reading the doctors' answers changes no calendar: recorded with or without --fix.
    report.declines = record_declines(engine, seen, now, calendar.front_desk_email)
    if fix:
        for state, ids in fixes.states.items():
            link_store.force(engine, ids, None if state == "-" else state)
        if fixes.orphans:
            report.orphans_deleted = sum(o.ok for o in provider.push(fixes.orphans))
        report.fixed = push(calendar, engine, provider, now)
    return report


def _compare(label: str, event_id: str, desired: Desired, event: Any, link: Link | None,
             report: ReconcileReport, fixes: _Fixes) -> None:
    content = desired.content
    assert content is not None
    appointment = f"{content.connector}/{content.external_id}"
    live = link is not None and link.state in ("pending", "present")
    if content.cancelled and not live:
        return  # mark_cancelled never creates an event; nothing is owed here
    finding: Finding | None = None
    state = "-"  # "-": keep the link's state, only forget the pushed hash
    if event is None:
        finding, state = Finding("missing", label, event_id, appointment, "not in the calendar"), "pending"
    elif event.cancelled and not content.cancelled:
        finding, state = Finding("deleted", label, event_id, appointment, "deleted in the calendar"), "deleted"
    elif not content.cancelled and (event.start, event.end) != (content.start, content.end):
        detail = (f"calendar {iso_z(event.start) if event.start else '?'} to {iso_z(event.end) if event.end else '?'}"
                  f", store {iso_z(content.start)} to {iso_z(content.end)}")
        finding = Finding("moved", label, event_id, appointment, detail)
    elif event.summary != content.summary and not content.cancelled:
        finding = Finding("changed", label, event_id, appointment, "title edited in the calendar")
    if finding is None:
        return
    report.findings.append(finding)
    if link is not None:
        fixes.states[state].append(link.id)
