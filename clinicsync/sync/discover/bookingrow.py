"""The booking a visit belongs to: one row (an order, a purchase) that several visits refer to,
each visit one person who comes, holding the contact of the person who booked and the booking's
status.

Why: a ticketing tool keeps one row per person who comes (a ticket: the holder's name, maybe
their own email) and the booker's email, phone and the booking's state on the order the tickets
belong to. The visit row names no patient table, so no patient id was found and every patient
field was dropped (the engine reads none without an id); the order's phone was refused as "not
the patient's table"; the order's state was refused as "shared by every visit of the row" (it is:
a family's two tickets are paid or cancelled together). Nobody was reminded, and a cancelled
order's tickets stayed booked.

When: the visit row holds a person of its own (name columns, or a name read from its JSON), no
patient id was placed, and the visit refers to a joined table that holds an email or phone
column and of whose rows some hold two visits or more and none more than ``MAX_VISITS``: a
family's booking, not a calendar, a doctor or a place, which hold many. Then the patient is the
visit row itself (its key the patient's id: each row is one person), its email its own else the
booker's, its phone its own else the booker's; and the status, where the booking holds a column
named for one, is the booking's, except where the visit's own flag cancels it alone.

Rejected: the booker as the patient (the second ticket's holder is not the booker, and is the one
who comes); the booking's email as the patient's id (shared by two people).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from clinicsync.sync.discover.datedslots import contact_columns
from clinicsync.sync.discover.graph import Schema, audit
from clinicsync.sync.discover.kinds import TEXT, name_columns
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.vocab import name_tokens, token_role

MAX_VISITS = 10  # people on one booking: more is a calendar's or a place's rows, not a family's order
_STATUS = re.compile(r"^(status|state|estado|statut|etat|zustand)$", re.I)


@dataclass(frozen=True)
class Booking:
    """The booking row the visits belong to: its table, and its columns as the query reads them."""

    table: str
    outs: dict[str, str]  # the booking's column -> the query's output name


def find(run: Run, schema: Schema, plan: ReadPlan) -> Booking | None:
    """The joined table the visits belong to as bookings of a few people each, with a contact."""
    main, q = plan.main, plan.quote
    for ref in schema.refs(main.name):
        target = schema.tables.get(ref.target)
        if target is None or audit(ref.column) or ref.target == main.name or not contact_columns(target):
            continue
        outs = {_column(plan.select[o]): o for o, t in plan.tables_of.items() if t == target.name
                and _column(plan.select[o]) in target.columns}
        if not outs:
            continue
        most, shared = run(f"SELECT MAX(n), SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) FROM (SELECT COUNT(*) AS n "
                           f"FROM {q(main.name)} WHERE {q(ref.column)} IS NOT NULL GROUP BY {q(ref.column)}) AS c")[0]
        if most is not None and 1 < int(most) <= MAX_VISITS and int(shared or 0) > 0:
            return Booking(target.name, outs)
    return None


def _column(select: str) -> str:
    """The column a plain ``alias.column`` output reads (quotes off); '' for an expression."""
    found = re.fullmatch(r'\w+\.[`"\[]?(\w+)[`"\]]?', select.strip())
    return found.group(1) if found else ""


def _contact(plan: ReadPlan, out: str, role: str) -> bool:
    """Whether the query's output ``out`` is a text column named for ``role`` (an email, a phone):
    ``email_known_to_work``, a flag, is none."""
    return out in plan.types and bool(TEXT.search(plan.types[out])) and \
        role in {token_role(t) for t in name_tokens(out)}


def patient(booking: Booking, plan: ReadPlan, guesses: list[Guess], unplaced: list[str],
            notes: list[str]) -> tuple[list[Guess], list[str]]:
    """The visit row as the patient (its key the id) with the booker's contact behind its own."""
    main = plan.main
    by_field = {g.field: g for g in guesses}
    if main.key is None or "patient.external_id" in by_field:
        return guesses, unplaced
    names = [c for c in name_columns(main)[0] if c in plan.select]
    named = by_field.get("patient.name")
    if not names and (named is None or named.source.split(".")[0] not in main.columns):
        return guesses, unplaced
    added = []
    if named is None:
        added.append(Guess("patient.name", " + ".join(names), 0.8, f"the row's own {', '.join(names)}",
                           {"from": names[0]} if len(names) == 1 else {"concat": names}))
    for role in ("email", "phone"):
        own = [c for c in main.columns if _contact(plan, c, role) and plan.tables_of.get(c) == main.name]
        booker = [o for c, o in booking.outs.items() if _contact(plan, o, role)]
        chain = (own + booker)[:2]
        if not chain or f"patient.{role}" in by_field:
            continue
        why = " else ".join([*(f"the person's own {c!r}" for c in own[:1]),
                             *(f"the booker's {c!r} on the {booking.table!r} row" for c in booker[:1])])
        added.append(Guess(f"patient.{role}", " + ".join(chain), 0.7, why,
                           {"from": chain if len(chain) > 1 else chain[0]}))
    person = _identity(plan, names, next((g for g in added if g.field == "patient.email"), None)
                       or by_field.get("patient.email"))
    if person is None:
        return guesses, unplaced
    added.insert(0, person)
    used = {o for g in added for o in g.source.split(" + ")}
    placed = tuple(f"{g.field}: " for g in added)
    notes[:] = [n for n in notes if not n.startswith(placed)]  # what the merge left out is placed now
    notes.append(f"the patient: each {main.name!r} row is one person who comes; the contact of the person who "
                 f"booked is read from the {booking.table!r} row they belong to where the row has none of its own")
    return guesses + added, [u for u in unplaced if u not in used]


def _identity(plan: ReadPlan, names: list[str], email: Guess | None) -> Guess | None:
    """The person's id: their email (their own, else the booker's) with their name, as the
    source names them: a family's two people on one booking are two, one person's two bookings
    (a first and a second dose) one. None without a text name column or an email."""
    texts = [c for c in names if TEXT.search(plan.types.get(c, ""))]
    if not texts or email is None:
        return None
    mail = "COALESCE(" + ", ".join(plan.select[o] for o in email.source.split(" + ")) + ", '')"
    name = " || ' ' || ".join(f"COALESCE({plan.select[c]}, '')" for c in texts) if plan.dialect not in (
        "mysql", "mariadb") else f"CONCAT_WS(' ', {', '.join(plan.select[c] for c in texts)})"
    sql = (f"CONCAT(LOWER({mail}), '/', LOWER({name}))" if plan.dialect in ("mysql", "mariadb")
           else f"(LOWER({mail}) || '/' || LOWER({name}))")
    out = plan.expr(sql, "patient_key", plan.main.name, "VARCHAR(400)")
    return Guess("patient.external_id", out, 0.7,
                 f"no table names the person: each {plan.main.name!r} row is one person who comes; their email "
                 f"({email.source}) with their name ({', '.join(texts)}) is who they are", {"from": out})


def status(booking: Booking, plan: ReadPlan, guesses: list[Guess], flagged: bool,
           notes: list[str]) -> list[Guess]:
    """The booking's status as the visits' where the visit has none of its own (``flagged``: the
    status placed is the visit's own cancel flag, which still cancels its one person alone)."""
    column = next((c for c in booking.outs if _STATUS.match(c)), None)
    current = next((g for g in guesses if g.field == "status"), None)
    if column is None or (current is not None and not flagged):
        return guesses
    out = booking.outs[column]
    if current is None:
        notes.append(f"status: the visit has none of its own; its {booking.table!r} row's {column!r} is read (the "
                     "booking's status is each of its people's)")
        return [*guesses, Guess("status", out, 0.7, f"the booking's {column!r} ({booking.table!r})", {"from": out})]
    flag = plan.select[current.source]
    plan.select[current.source] = f"CASE WHEN {flag} = 'booked' THEN {plan.select[out]} ELSE {flag} END"
    notes.append(f"status: the {booking.table!r} row's {column!r} (the booking's status is each of its people's), "
                 f"except where the visit's own flag cancels one person alone")
    return [dataclasses.replace(current, why=f"{current.why}; else the booking's {column!r} ({booking.table!r})")
            if g is current else g for g in guesses]
