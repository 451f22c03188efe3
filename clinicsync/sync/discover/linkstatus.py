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

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import audit
from clinicsync.sync.discover.kinds import Builder
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.vocab import name_tokens, token_role


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
    if any(_is_status(c) for c in builder.schema.tables[plan.main.name].columns):
        return
    table = builder.schema.tables[links]
    column = next((c for c in table.columns if c != link_column and _is_status(c) and not audit(c)
                   and "TEXT" not in table.columns[c].upper()), None)
    if column is None:
        return
    ranked = ", ".join(o.replace("cs_l.", "cs_s.") for o in order)
    sql = first_rows(f"SELECT cs_s.{q(column)} FROM {q(links)} AS cs_s WHERE cs_s.{q(link_column)} = {at}"
                     f"{besides.replace('cs_l.', 'cs_s.')} ORDER BY {ranked}", 1, plan.dialect)
    out = plan.expr(f"({sql})", "status", links, table.columns[column])
    why = (f"the visit's table has no status; {links}.{column!r} of the same first row that names the patient "
           "(each customer's booking keeps its own)")
    builder.people.guesses.append(Guess("status", out, 0.75, why, {"from": out}))
