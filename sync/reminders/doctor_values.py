"""What the doctor's own messages show (the morning agenda and the notice of a change), apart
from the patients' messages: times through clinicsync/common/shown_time.py in the visit's own
zone (its short name when it is not the clinic's), the date of the visit itself, the mode with
what starts it (the join link, the number to call), and which visits are not confirmed.

Issue 30, obs 13 and 14: a notice titled "Today's schedule changed" for a visit two weeks away;
agenda rows with no zone, mode or join link, and unconfirmed visits not marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from clinicsync.common.shown_time import shown_clock, shown_date, shown_moment, zone_abbreviation
from clinicsync.sync.reminders.visit import Visit

ANSWERED = frozenset({"accepted", "declined"})


def notice_values(visit: Visit, locale: str, home_zone: str) -> dict[str, Any]:
    """A change notice's date and time: the visit's own (never "today"), the zone named when
    the visit is somewhere else than the clinic."""
    return {"date": shown_date(visit.start, visit.timezone, locale),
            "time": shown_clock(visit.start, visit.timezone, locale, home_zone=home_zone),
            "when": shown_moment(visit.start, visit.timezone, locale, home_zone=home_zone)}


def agenda_values(day: datetime, visits: Sequence[Visit], locale: str, home_zone: str,
                  number: Any) -> dict[str, Any]:
    """The agenda's day (one date form), the clinic's zone its times are in, and one row per
    visit. ``number``: how a phone number is shown in the clinic's region (compose.shown_number)."""
    return {"day": shown_date(day, home_zone, locale), "zone": zone_abbreviation(day, home_zone),
            "unconfirmed": sum(1 for v in visits if v.participation not in ANSWERED),
            "appointments": [_row(v, locale, home_zone, number) for v in visits]}


def _row(v: Visit, locale: str, home_zone: str, number: Any) -> dict[str, Any]:
    remote = v.mode != "in_person"
    return {"time": shown_clock(v.start, v.timezone, locale, home_zone=home_zone),
            "patient": v.patient_name, "type": v.type, "location": None if remote else v.location,
            "status": v.status, "visit_mode": v.mode, "answer": v.participation,
            "unconfirmed": v.participation not in ANSWERED,
            "join_url": v.join_url if v.mode == "video" else None,
            "dial_in": number(v.dial_in) if v.mode == "phone" else None,
            "patient_phone": number(v.patient_phone) if v.mode == "phone" else None}
