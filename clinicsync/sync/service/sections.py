"""What `status` shows beside the connectors, apart from the pipeline that runs the stages:
`status` reads these few counts and must not import every stage (calendar pushes, the FHIR
write-back, the answer pages) to do so, so it starts faster."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial
from typing import Any

from clinicsync.sync.checks.queries import poll_schedule_status, zone_rules_status
from clinicsync.sync.reminders.queries import reminder_counts
from clinicsync.sync.responses.writeback_status import writeback_status
from clinicsync.sync.runs.setaside import set_aside_status
from clinicsync.sync.store.tables import HasEngine
from clinicsync.sync.waitlist.book_status import booking_status


@dataclass(frozen=True)
class StatusSection:
    key: str  # its key in `status --json`, beside "connectors"
    read: Callable[[HasEngine], Any]


def status_sections(configured: Collection[str] | None = None,
                    shown: Collection[str] | None = None) -> list[StatusSection]:
    """What `status` shows beside the connectors; a new section is added here.
    ``configured``: the settings' connector names; ``shown``: only these sources (`--site`),
    for the sections that are per source (the poll schedule)."""
    polls = partial(poll_schedule_status, configured=configured, shown=shown)
    return [StatusSection("reminders", reminder_counts), StatusSection("writeback", writeback_status),
            StatusSection("set_aside", set_aside_status), StatusSection("waitlist_booking", booking_status),
            StatusSection("zone_rules", zone_rules_status), StatusSection("polls", polls)]
