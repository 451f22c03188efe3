"""A link table's role code read through the shared list table that holds its words, and the
doctor reached through the role that delivers the visit.

Why: a CRM links an activity to its contacts by a role code (CiviCRM's
``civicrm_activity_contact.record_type_id``) whose words are a list of the shared option table
('Activity Assignees', 'Activity Source', 'Activity Targets'). The counts alone (rolelevels.py)
tell the patients' role from staff's, but not which staff role sees the patient: the assignee
does, who entered the activity does not. With the labels read (optionlists.py), the role whose
label names the one who delivers the visit (assignee, organizer, owner, provider) gives the
doctor; a target's or client's role the patient; a source's or creator's role is never either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clinicsync.sync.discover import softdelete
from clinicsync.sync.discover.graph import Ref, Table
from clinicsync.sync.discover.kinds import WHOLE, Builder, join_first_linked, stems
from clinicsync.sync.discover.optionlists import choose, option_lists
from clinicsync.sync.discover.proposal import Guess

MAX_ROLES = 12  # a column with more values is no role
DELIVERS = frozenset({"assignee", "assigned", "organizer", "organiser", "owner", "provider", "practitioner",
                      "doctor", "host", "performer", "clinician", "therapist"})
RECEIVES = frozenset({"target", "patient", "client", "customer", "recipient"})
ENTERED = frozenset({"source", "creator", "author", "entered", "added", "reporter"})


@dataclass(frozen=True)
class Roles:
    """The codes of a link table's roles as their labels say (None: no label says it), each
    written as SQL, and the list they were read from."""

    doctor: str | None
    patient: str | None
    doctor_label: str
    where: str


def _says(texts: tuple[str, ...], kind: frozenset[str]) -> bool:
    """A role's label (or name) says ``kind``, and no word of who entered it."""
    said = set().union(*(stems(t) for t in texts)) if texts else set()
    return bool(said & kind) and not said & ENTERED


def _role_list(labels: Sequence[tuple[str, ...]]) -> bool:
    """A list of roles: one label names who delivers the visit or who receives it."""
    return any(_says(t, DELIVERS) or _says(t, RECEIVES) for t in labels)


def read(builder: Builder, links: Table, level: str) -> Roles | None:
    """The doctor's and the patient's role codes of ``links``' ``level`` column, read through the
    one list covering its codes whose labels say roles; None when no list does, or when two roles
    claim the doctor or the patient (not guessed)."""
    q = builder.q
    if not WHOLE.search(links.columns.get(level, "")):
        return None
    codes = [str(r[0]) for r in builder.run(f"SELECT DISTINCT {q(level)} FROM {q(links.name)} "
                                            f"WHERE {q(level)} IS NOT NULL")]
    if not 1 < len(codes) <= MAX_ROLES or not all(c.lstrip("-").isdigit() for c in codes):
        return None
    option = choose(option_lists(builder.schema, builder.run, q, builder.plan.dialect), level, links.name, codes,
                    _role_list)
    if option is None:
        return None
    doctors = [c for c in codes if _says(option.words_of(c), DELIVERS)]
    patients = [c for c in codes if _says(option.words_of(c), RECEIVES) and c not in doctors]
    doctor = doctors[0] if len(doctors) == 1 else None
    return Roles(doctor, patients[0] if len(patients) == 1 else None,
                 option.words_of(doctor)[0] if doctor is not None else "",
                 f"table {option.table!r}, list {option.group!r}")


def place_doctor(builder: Builder, link: Ref, onward: Ref, level: str, roles: Roles) -> bool:
    """Join the person of the visit's first link row in the doctor's role as the practitioner: id,
    name and email from that person's row (and its own contact rows); False when no role says it."""
    if roles.doctor is None:
        return False
    q, plan, people = builder.q, builder.plan, builder.people
    table, person = builder.schema.tables[link.table], builder.schema.tables[onward.target]
    besides = f" AND cs_l.{q(level)} = {roles.doctor}" + softdelete.live_links(table, "cs_l", q, plan.dialect)
    alias, _ = join_first_linked(builder, person, table, link.column, f"a.{q(link.target_column)}", onward, "d",
                                 besides)
    out = plan.add(alias, str(person.key), "doctor_id", person.name, person.columns[str(person.key)])
    why = (f"table {table.name!r} links the visit to {person.name!r}; the person of its row whose {level!r} is "
           f"{roles.doctor} ({roles.doctor_label!r} in {roles.where}: who delivers the visit) is the doctor")
    people.guesses.append(Guess("practitioner.external_id", out, 0.8, why, {"from": out}))
    named = builder.name("doctor", [(person, alias)])
    if named is not None:
        people.guesses.append(Guess("practitioner.name", named.source, named.confidence, named.why, named.spec))
    people.guesses += [g for g in builder.contacts([(person, alias)], "practitioner")
                       if not any(h.field == g.field for h in people.guesses)]
    people.notes.append(f"the doctor: {why}")
    return True
