"""What the doctor's own messages show (the morning agenda and the notice of a change), apart
from the patients' messages: times through clinicsync/common/shown_time.py in the visit's own
zone (its short name when it is not the clinic's), the date of the visit itself, the mode with
what starts it (the join link, the number to call), and which visits are not confirmed.

So a notice of a change to a visit two weeks away is not titled "Today's schedule changed",
and each agenda row shows its zone, its mode and join link, and whether it is confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from clinicsync.common.shown_time import shown_clock, shown_date, shown_moment, zone_abbreviation
from clinicsync.sync.reminders.visit import Visit

ANSWERED = frozenset({"accepted", "declined"})

# The doctor's notice of a decline the front desk recorded (the desk cancelled the
# visit) says so, with the desk's reason; a patient's own decline keeps "declined by the
# patient". Who declined is fixed on the notice's reminder row (its ``note``) when the notice
# is queued (sync/responses/record.py), so a later answer cannot rewrite it.
DESK_NOTE = "cancelled by the front desk"
# The desk's reasons (sync/responses/history.py CANCEL_REASONS, staff words) as a Spanish
# notice shows them; a reason not listed here is shown as the desk worded it.
DESK_REASONS_ES = {"the patient asked to cancel": "el paciente pidió cancelar",
                   "the patient is ill": "el paciente está enfermo", "moved to another time": "cambiada a otra hora",
                   "the doctor is unavailable": "el médico no está disponible", "booked twice": "reservada dos veces",
                   "another reason": "otro motivo"}


def desk_note(reason: str | None) -> str:
    """The reminder row's note of a notice for a decline the desk recorded: what the reminders
    list shows, and what :func:`decline_values` reads back. Staff words only, never PHI."""
    return f"{DESK_NOTE}: {reason}"[:255] if reason else DESK_NOTE


def decline_values(note: str | None, locale: str) -> dict[str, Any]:
    """Who declined (``desk`` or ``patient``) and the desk's reason in the notice's language,
    from the notice's note (:func:`desk_note`); a note of anything else is the patient's."""
    if note is None or not (note == DESK_NOTE or note.startswith(DESK_NOTE + ": ")):
        return {"declined_by": "patient", "desk_reason": None}
    reason = note[len(DESK_NOTE) + 2:] or None
    if reason and locale.split("_")[0] == "es":
        reason = DESK_REASONS_ES.get(reason, reason)
    return {"declined_by": "desk", "desk_reason": reason}


# The doctor's "booked" notice that follows a decline they were told of says the visit is on
# again and why, rather than "a new appointment was booked": the patient phoned the front desk
# and comes after all, or the desk took back its cancel. Fixed on the notice's row (``note``)
# when it is planned (sync/desk/doctor_word.py).
ON_AGAIN_NOTES = {"phone": "on again: the patient confirmed by phone",
                  "undo": "on again: the front desk undid its cancel"}


def on_again_values(note: str | None) -> dict[str, Any]:
    """Why a doctor's ``confirmation`` notice is sent (``on_again``: ``phone``, ``undo``, or None
    for a new booking), from the notice's note (ON_AGAIN_NOTES)."""
    return {"on_again": next((why for why, said in ON_AGAIN_NOTES.items() if note == said), None)}


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
