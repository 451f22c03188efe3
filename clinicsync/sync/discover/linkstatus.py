"""The status of a booking kept on the row that links the visit to its patient: booking
plugins keep the appointment (time, staff member, service) as one row and each customer's
booking of it as a child row holding the customer AND that booking's status (Bookly's
``customer_appointments.status``: approved, cancelled, rejected ...); the appointment row has no
status at all.

Why: with the patient read from the visit's first link row, the status must be read from that
same row, or a cancelled booking would be imported as booked and its patient reminded. The
visit stays the appointment with its first customer: a row per link would import a group
session once per customer, each with the same doctor's time, which the store would count as
double bookings; the proposal's note says the other customers are not imported.
"""

from __future__ import annotations

import re

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import audit
from clinicsync.sync.discover.kinds import TEXT, Builder
from clinicsync.sync.discover.probe import value_counts
from clinicsync.sync.discover.proposal import Guess, StatusWord
from clinicsync.sync.discover.vocab import name_tokens, token_role

_REPLY = re.compile(r"response|rsvp|partstat|reply|attendance", re.I)  # a participant's answer, by its name


def _is_status(column: str) -> bool:
    """A column whose name says status (``status``, ``state``, ``estado``)."""
    return any(token_role(t) == "status" for t in name_tokens(column))


def place(builder: Builder, links: str, link_column: str, at: str, order: list[str], besides: str = "") -> None:
    """Propose the status column of the visit's first link row (the same ``order`` and
    ``besides`` that chose the patient) as the visit's status when the visit's own table has
    none; its words are then read over the whole table like any status column's (an unknown one
    asked about). Placed here, not by the scorer: the scorer reads a per-visit field only from
    the visit's own row, and this row is the visit's own booking, not a row shared by many."""
    plan, q = builder.plan, builder.q
    own_status = any(_is_status(c) for c in builder.schema.tables[plan.main.name].columns)
    table = builder.schema.tables[links]
    kept = [c for c in table.columns if c != link_column and not audit(c) and "TEXT" not in table.columns[c].upper()]
    # a status-named column first; else a short text named for the reply (a ``reply_date`` is a date)
    column = next((c for c in kept if _is_status(c)), None) or next(
        (c for c in kept if _REPLY.search(c) and TEXT.search(table.columns[c])), None)
    if column is None:
        return
    ranked = ", ".join(o.replace("cs_l.", "cs_s.") for o in order)
    sql = first_rows(f"SELECT cs_s.{q(column)} FROM {q(links)} AS cs_s WHERE cs_s.{q(link_column)} = {at}"
                     f"{besides.replace('cs_l.', 'cs_s.')} ORDER BY {ranked}", 1, plan.dialect)
    words = value_counts(builder.run, q, links, column)
    # A reply is the patient's answer whether or not the visit keeps a status of its own (a
    # groupware event has both: the event CONFIRMED, the patient's row DECLINED); a link row's
    # status word stands for the visit's only where the visit has none.
    if _rsvp(column, words):
        out = plan.expr(f"({sql})", "answer", links, table.columns[column])
        said = {w: _RSVP[w.strip().lower().replace("-", "_")] for w in words}
        why = (f"{links}.{column!r} of the same first row that names the patient is that person's reply to the "
               "invitation, not the visit's status: " + ", ".join(f"{w!r} {a or 'no answer yet'}"
                                                                  for w, a in said.items()))
        builder.people.guesses.append(Guess("answer", out, 0.75, why, {"from": out, "map": said}))
        return
    if own_status:
        return
    out = plan.expr(f"({sql})", "status", links, table.columns[column])
    why = (f"the visit's table has no status; {links}.{column!r} of the same first row that names the patient "
           "(each customer's booking keeps its own)")
    builder.people.guesses.append(Guess("status", out, 0.75, why, {"from": out}))


# A calendar participant's reply (iCalendar PARTSTAT, as Google, Microsoft and CRMs keep it): the
# patient's answer, never the visit's status. None: no answer yet.
_RSVP: dict[str, str | None] = {
    "accepted": "confirmed", "declined": "declined", "tentative": None, "needs_action": None, "needsaction": None,
    "no_response": None, "noresponse": None, "none": None, "pending": None, "invited": None, "delegated": None}


def _rsvp(column: str, words: dict[str, int]) -> bool:
    """A participant's reply: named so (``responseStatus``, ``rsvp``, ``partstat``) with
    reply words only, or reply words that no visit status has (``NEEDS_ACTION``, ``TENTATIVE``)."""
    spelled = {w.strip().lower().replace("-", "_") for w in words}
    if not spelled or not spelled <= set(_RSVP):
        return False
    named = bool(_REPLY.search(column))
    return named or bool(spelled & {"needs_action", "needsaction", "tentative"})


# A participant's reply kept as iCalendar PARTSTAT's initial (groupware writes one letter a row):
# accepted, unknown / needs action, tentative, rejected, delegated. The patient's reply is the
# visit's status: declined, the visit is off; tentative, it waits on the patient.
_INITIALS: dict[str, str] = {"A": "booked", "U": "booked", "N": "booked", "D": "booked", "T": "pending",
                             "R": "cancelled"}


def initials(words: list[StatusWord], from_link: bool) -> tuple[list[StatusWord], str | None]:
    """``words`` read as a participant's PARTSTAT initials when the status is a link row's
    (``from_link``) and every word is one of them, ``A`` among them; a note saying so. ``words``
    as they are otherwise (one letter alone says nothing on a visit's own row)."""
    if not from_link or not words or any(w.value.strip().upper() not in _INITIALS for w in words) \
            or "A" not in {w.value.strip().upper() for w in words}:
        return words, None
    read = [StatusWord(w.value, w.status or _INITIALS[w.value.strip().upper()], w.count, w.confidence or 0.7)
            for w in words]
    note = ("status: the participant row's one-letter reply read as iCalendar's PARTSTAT initials ("
            + ", ".join(f"{w.value!r} {w.status}" for w in read) + "): A accepted, U/N no answer yet and "
            "D delegated stay booked, T tentative is pending, R rejected cancels the visit")
    return read, note
