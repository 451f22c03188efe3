"""The owner of the calendar row a visit is booked in, kept in the same people table as the
patients: a room booking tool keeps everybody as one users table, the person a room is booked for
and the doctor who owns the consulting room alike (``bookings.room_id`` -> ``rooms.owner_id`` ->
``users``; ``bookings.booked_for_id`` -> ``users``).

Why: an owner in the patients' table was never taken for the doctor (a course's booker, a member,
owns the course row and is no doctor), so such a tool's room was proposed as the doctor: the
room's name on every agenda, no doctor's email, the room's site as the place. What tells a
diary's keeper from a booker is the rows: a booker books for themselves, the keeper of a room
almost never has the room booked for them. The owner is the doctor where the visits' rows name
at least two distinct owners and almost none (``OWN_SHARE``) is booked for its own owner. The
room's own name is then where the visit is (its location), since it no longer names the doctor,
and a booking for one of the rooms' owners (the staff's colloquium, booked for a doctor) is the
staff's own, no patient's visit: left out of the query by a subquery on the owners (an owner
added later is covered), said in a note.
"""

from __future__ import annotations

from clinicsync.sync.discover import doctors
from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.kinds import Builder
from clinicsync.sync.discover.proposal import Guess

OWN_SHARE = 0.02  # of the visits, the most that may be booked for the owner of their calendar row
SAMPLE_LIMIT = 5000  # visits read, at most (the keys of the sampled rows only, joined by key)


def keeps_diary(builder: Builder, calendar: Table, on: str, column: str) -> bool:
    """Whether ``calendar``'s ``column`` (an owner in the patients' table) is the diary's keeper:
    ``on`` joins the visit ``cs_a`` to its calendar row ``cs_e``."""
    main, q = builder.plan.main, builder.q
    patient = next((g.source for g in builder.people.guesses if g.field == "patient.external_id"), None)
    if patient is None or patient not in main.columns:
        return False
    total, owners, own = builder.run(
        f"SELECT COUNT(*), COUNT(DISTINCT cs_e.{q(column)}), "
        f"COUNT(CASE WHEN cs_e.{q(column)} = cs_a.{q(patient)} THEN 1 END) "
        f"FROM {q(main.name)} AS cs_a JOIN {q(calendar.name)} AS cs_e ON {on} "
        f"WHERE cs_e.{q(column)} IS NOT NULL AND cs_a.{q(patient)} IS NOT NULL")[0]
    return int(owners) >= 2 and int(own) <= OWN_SHARE * int(total)


def room_place(builder: Builder, calendar: Table, alias: str) -> None:
    """The room's (ward's, unit's) label as the visit's location, once its owner is the doctor:
    where the patient goes. Nothing for a calendar row that is no such unit (a diary, a folder),
    or where a location is placed already."""
    label = doctors.unit_label(calendar)
    if label is None or any(g.field == "location" for g in builder.people.guesses):
        return
    out = builder.plan.add(alias, label, "place_name", calendar.name, calendar.columns[label])
    builder.people.guesses.append(Guess("location", out, 0.7, f"column {label!r} of {calendar.name!r}: the room "
                                        "the visit is booked in, whose owner is the doctor", {"from": out}))


def staff_left_out(builder: Builder, calendar: Table, column: str) -> None:
    """Leave out the bookings made for a keeper of any calendar row (a doctor's own booking of the
    seminar room): the keepers are the staff, and the patients' users table holds them too."""
    main, q = builder.plan.main, builder.q
    patient = next((g.source for g in builder.people.guesses if g.field == "patient.external_id"), None)
    if patient is None or patient not in main.columns:
        return
    keepers = f"SELECT cs_k.{q(column)} FROM {q(calendar.name)} AS cs_k WHERE cs_k.{q(column)} IS NOT NULL"
    left = builder.run(f"SELECT COUNT(*) FROM {q(main.name)} AS cs_a WHERE cs_a.{q(patient)} IN ({keepers})")
    if not int(left[0][0]):
        return
    builder.people.filters.append(f"(a.{q(patient)} IS NULL OR a.{q(patient)} NOT IN ({keepers}))")
    builder.people.notes.append(f"{left[0][0]} booking(s) made for an owner of a {calendar.name!r} row ({column!r}: "
                                "the staff) are no patient's visits: left out of the query")
