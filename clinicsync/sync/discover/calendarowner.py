"""No doctor on a booking: the calendar the visits are booked in is their owner. A visit that
books a dated row (a time slot, slotttime.py and datedslots.py) whose own row belongs to a named
row (the slots' event, show or service line: ``slot.event_id`` -> a row with a name) is in that
row's calendar; the slot's row itself where it belongs to none.

Why: a vaccination or test centre books people into time slots and names no practitioner: with
no owner, every visit was on nobody's calendar, and `check` failed ("none of the upcoming visits
has a doctor"), leaving the admin to turn calendars off. The event the slots belong to is what the
desk calls the calendar ("the vaccination", "the PCR tests"), and what it opens to see a day.

When: no practitioner field was placed; the visit books one dated row; that row refers to a row
with a name column (its text read in the clinic's language where it holds translations,
i18ntext.py). The owner's id is the reference (the slot's ``event_id``), its name the named row's.

Rejected: the slot itself as the owner wherever a named row is above it (forty slots, forty
calendars of one visit each); the organizer (one for every event: one calendar for all).
"""

from __future__ import annotations

from dataclasses import dataclass

from clinicsync.sync.discover import slottime
from clinicsync.sync.discover.graph import Schema, audit
from clinicsync.sync.discover.kinds import TEXT, People
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.vocab import name_tokens

_LABEL = frozenset({"name", "title", "label", "bezeichnung", "nombre", "nom", "titel"})


@dataclass(frozen=True)
class Owner:
    """The calendar's row: its table, and the query's outputs of its id and name."""

    table: str
    id_out: str
    name_out: str


def label_of(columns: dict[str, str]) -> str | None:
    """The column that names a row: a text column called name, title or label (one word)."""
    return next((c for c, t in columns.items() if TEXT.search(t) and name_tokens(c) and
                 set(name_tokens(c)) <= _LABEL), None)


def join(schema: Schema, plan: ReadPlan, people: People) -> Owner | None:
    """The named row above the slot the visit books, joined into ``plan``; None when none, or
    when the people's reading found a practitioner (``people``)."""
    main = plan.main
    if any(g.field.startswith("practitioner.") for g in people.guesses):
        return None
    slots = slottime.booked_tables(main, schema)
    if len(slots) != 1:
        return None
    slot = slots[0]
    slot_alias = _alias_of(plan, slot.name)
    if slot_alias is None:
        return None
    for ref in schema.refs(slot.name):
        above = schema.tables.get(ref.target)
        if above is None or audit(ref.column) or ref.target in (slot.name, main.name):
            continue
        label = label_of(above.columns)
        if label is None:
            continue
        alias = plan.alias("c")
        plan.join(above, alias, plan.on(ref, alias, slot_alias))
        id_out = plan.add(slot_alias, ref.column, "calendar_id", slot.name, slot.columns[ref.column])
        name_out = plan.add(alias, label, "calendar_name", above.name, above.columns[label])
        return Owner(above.name, id_out, name_out)
    return None


def _alias_of(plan: ReadPlan, table: str) -> str | None:
    """The alias ``table`` was joined under (its first output's ``alias.column``)."""
    for out, owner in plan.tables_of.items():
        if owner == table and "." in plan.select[out]:
            return plan.select[out].split(".", 1)[0]
    return None


def placed(owner: Owner | None, guesses: list[Guess], unplaced: list[str],
           notes: list[str]) -> tuple[list[Guess], list[str]]:
    """The owner as the practitioner when no practitioner field was placed."""
    if owner is None or any(g.field.startswith("practitioner.") for g in guesses):
        return guesses, unplaced
    why = f"no doctor on the visit: the calendar it is booked in, the {owner.table!r} row its slot belongs to"
    notes.append(f"practitioner: {why} (its id and name; give it an email to send its agenda)")
    kept = [g for g in guesses if g.source not in (owner.id_out, owner.name_out)]
    return ([*kept, Guess("practitioner.external_id", owner.id_out, 0.6, why, {"from": owner.id_out}),
             Guess("practitioner.name", owner.name_out, 0.6, why, {"from": owner.name_out})],
            [u for u in unplaced if u not in (owner.id_out, owner.name_out)])
