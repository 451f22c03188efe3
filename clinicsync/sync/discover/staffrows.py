"""The doctor among a visit's participant rows: a calendar lists everyone an event is for as link
rows naming people of one users table (``webcal_entry_user``: the event, the login), the doctor
whose diary it is beside the patient, and no column says which is which.

Why: the first link row by key was taken as the patient, so on about half the visits the doctor
(whose login sorts first) was the patient and the patient was lost; and no doctor was placed.

How, from the rows: a doctor is on a large share of the visits, a patient on a few. The persons
of the link rows are counted by the visits they are on; taken from the most, the staff are the
fewest persons that together are on (nearly) every visit (``COVER``), each on many times more
visits than any person left (``APART``), and fewer than the others. Then the patient is the first
link row whose person is none of them, and the doctor the first whose person is one. The staff
are listed in the query by their keys (plain codes, checked so): a doctor who joins later is
named there by the admin, said in a note. Nothing is decided when the counts do not part so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinicsync.sync.discover.graph import Ref, Table
from clinicsync.sync.discover.kinds import Builder, join_first_linked, name_columns
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.vocab import name_tokens, token_role

COVER = 0.9  # of the visits with link rows, those the staff are on
APART = 3  # how many times more visits the least-seen staff member is on than anyone else
MAX_STAFF = 20
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class Staff:
    """The persons (their keys as the link rows hold them) who are staff, and the SQL list of them."""

    keys: tuple[str, ...]
    literals: str


def find(builder: Builder, links: Table, link_column: str, person_column: str, whole: bool) -> Staff | None:
    """The staff among the persons ``links`` names; None when the counts do not part them."""
    q = builder.q
    visits = int(builder.run(f"SELECT COUNT(DISTINCT {q(link_column)}) FROM {q(links.name)}")[0][0] or 0)
    if visits < 10:
        return None
    counts = [(str(r[0]).strip(), int(r[1])) for r in builder.run(
        f"SELECT {q(person_column)}, COUNT(DISTINCT {q(link_column)}) FROM {q(links.name)} "
        f"WHERE {q(person_column)} IS NOT NULL GROUP BY {q(person_column)} ORDER BY 2 DESC")]
    if len(counts) < 4 or not all(_PLAIN.fullmatch(k) for k, _ in counts[:MAX_STAFF + 1]):
        return None
    for size in range(1, min(MAX_STAFF, len(counts) // 2) + 1):
        chosen, rest = counts[:size], counts[size:]
        if chosen[-1][1] < APART * rest[0][1]:
            continue
        literals = ", ".join(k if whole else f"'{k}'" for k, _ in chosen)
        covered = int(builder.run(f"SELECT COUNT(DISTINCT {q(link_column)}) FROM {q(links.name)} "
                                  f"WHERE {q(person_column)} IN ({literals})")[0][0] or 0)
        if covered >= COVER * visits:
            return Staff(tuple(k for k, _ in chosen), literals)
    return None


def place_doctor(builder: Builder, links: Table, link: Ref, onward: Ref, staff: Staff, live: str) -> None:
    """Join the person of the visit's first link row that is staff and propose it as the
    practitioner: id, name, email."""
    plan, q = builder.plan, builder.q
    person = builder.schema.tables[onward.target]
    besides = f" AND cs_l.{q(onward.column)} IN ({staff.literals}){live}"
    alias, _ = join_first_linked(builder, person, links, link.column, f"a.{q(link.target_column)}", onward, "d",
                                 besides)
    why = (f"the visit's {links.name!r} rows name its people; {len(staff.keys)} person(s) are on nearly every visit "
           f"(each on {APART}x more visits than any other: staff), the first of them on the visit is the doctor; a "
           "doctor who joins later must be added to the query's list")
    out = plan.add(alias, onward.target_column, "doctor_id", person.name, person.columns[onward.target_column])
    builder.people.guesses.append(Guess("practitioner.external_id", out, 0.75, why, {"from": out}))
    named = builder.name("doctor", [(person, alias)])
    if named is not None:
        builder.people.guesses.append(Guess("practitioner.name", named.source, named.confidence, named.why,
                                            named.spec))
    else:
        names = name_columns(person)[0]
        outs = [plan.add(alias, c, f"doctor_{c}", person.name, person.columns[c]) for c in names]
        if outs:
            builder.people.guesses.append(Guess("practitioner.name", " + ".join(outs), 0.75, "the staff person's "
                                                f"{', '.join(names)}", {"from": outs[0]} if len(outs) == 1
                                                else {"concat": outs}))
    email = next((c for c in person.columns if "email" in {token_role(t) for t in name_tokens(c)}), None)
    if email is not None:
        out_email = plan.add(alias, email, "doctor_email", person.name, person.columns[email])
        builder.people.guesses.append(Guess("practitioner.email", out_email, 0.75, f"the staff person's {email!r}",
                                            {"from": out_email}))
    builder.people.notes.append(f"the doctor: {why}")
