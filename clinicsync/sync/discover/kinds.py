"""What names say about people, shared by the steps that follow a visit to its people
(people.py, doctors.py, attendees.py, valuerefs.py): the kind of table a name says (patient,
person, provider), a table's name columns, what the people part gathers (``People``), and the
interface of the builder those steps work on (``Builder``).

Kept below them all so that the steps depend on it and not on each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import Ref, Schema, Table, audit, words
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.vocab import name_tokens, token_role, without_prefixes

PATIENT = frozenset({"patient", "patients", "paciente", "pacientes", "client", "clients", "cliente", "customer",
                     "customers", "demographic", "demographics", "patienten", "utente", "pasien"})
PERSON = frozenset({"person", "persons", "people", "persona", "personas", "party", "parties", "individual",
                    "member", "contact", "partner", "user", "users", "usuario", "usuarios"})
PROVIDER = frozenset({"provider", "providers", "practitioner", "practitioners", "doctor", "doctors", "medico",
                      "medicos", "physician", "clinician", "staff", "dentist", "therapist", "profesional",
                      "profesionales", "employee", "resource", "healthcare", "healthprof", "healthprofessional",
                      "professional", "prof", "dokter", "praticien", "praticiens", "medecin", "medecins",
                      "chir", "chirurgien"}  # French: Mediboard's chir_id names the doctor a session is for
            | {"agent", "agents", "specialist", "specialists", "worker", "workers", "attendant", "attendants"})
# Words that name the one who delivers the booked service in booking tools (LatePoint's agents,
# Easy Appointments' workers, a salon's attendants),
# but in a call centre's schema the one who booked the visit: read as the doctor only where the
# visit names no practitioner by a stronger word (``weak_provider``).
WEAK_PROVIDER = frozenset({"agent", "agents", "specialist", "specialists", "worker", "workers", "attendant",
                           "attendants"})  # Salon Booking System's attendant: who sees the customer
# Column types by their declared names, as the people and doctors rules read them (graph.py and
# valuerefs.py keep their own: a key is int|serial; a text key may be a uuid).
TEXT = re.compile(r"char|text|string|clob", re.I)
WHOLE = re.compile(r"int|serial|number|numeric", re.I)  # a whole-number column type
_NOT_NAME = frozenset({"prefix", "suffix", "degree", "title", "middle", "maiden", "nick", "nickname", "alias",
                       "phonetic", "soundex", "user", "username", "login", "file", "display",
                       # who did a task on the row (a form's ``interviewer_name``): staff, never its person
                       "interviewer", "examiner", "validator", "reviewer", "observer", "recorder", "signer",
                       # a stamp or a preference about names (``last_modified``, a user's ``sort_name``)
                       "modified", "updated", "changed", "sort"})
USER = frozenset({"user", "users", "usuario", "usuarios"})  # logins: a person's account, never their identity


@dataclass
class Household:
    """Phone columns of the household or company the patient's row belongs to (household.py):
    the outs selected, the table and the patient's table's column that names its row."""

    outs: tuple[str, ...]
    table: str
    column: str


@dataclass
class People:
    """What the people part added: fields placed, fields refused (and why), notes, and the main
    table's reference columns it dealt with (not to be joined again as plain references)."""

    guesses: list[Guess] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    handled: set[str] = field(default_factory=set)
    patient_tables: set[str] = field(default_factory=set)
    stand_ins: set[str] = field(default_factory=set)  # refused as the patient: few values (the owner user?)
    filters: list[str] = field(default_factory=list)  # conditions the query's WHERE needs (rows that are no visit)
    household: Household | None = None  # the household's phones, read after the person's own (household.py)
    # the person rows behind the patient's role row (roleperson.py), table -> alias: a deleted one
    # withdraws the visit whatever its table's name (a Laravel ``users`` row with ``deleted_at``)
    persons: dict[str, str] = field(default_factory=dict)
    # a value read from a person's typed rows (contactrows.py), output -> the alias of the person's
    # row those rows belong to: a column of that same row may reach more visits (fullerfirst.py)
    typed_rows: dict[str, str] = field(default_factory=dict)
    # conditions on a participant row (alias ``cs_l``) that it names no patient: staff, a group
    not_patients: str = ""


class Builder(Protocol):
    """What the follow steps use of people.py's builder: the reads, the plan, and its joins."""

    run: Run
    schema: Schema
    plan: ReadPlan
    people: People
    region: str
    q: Callable[[str], str]

    def pick(self, child: Ref, parent_alias: str, extra: str = "", prefer: bool = True,
             first: bool = False) -> str | None: ...

    def stamp_row(self, table: Table, alias: str) -> None: ...

    def stamp_children(self, child: Ref, parent_alias: str) -> None: ...

    def name(self, who: str, chain: list[tuple[Table, str]]) -> Guess | None: ...

    def contacts(self, chain: list[tuple[Table, str]], who: str = "patient",
                 held: set[str] | None = None) -> list[Guess]: ...

    def owned(self, table: str) -> list[Ref]: ...


# A link table's column that ranks its rows (the owner before a participant): whole numbers
# named so (``reservation_user_level``, ``role``, ``position``, ``seq``).
_LEVEL = re.compile(r"level|role|rank|position|type|kind|order|seq", re.I)


def level_column(links: Table, link_column: str, person_column: str) -> str | None:
    """The link table's column that ranks its rows (a level, a role, an order), if it has one."""
    return next((c for c, t in links.columns.items() if c not in (link_column, person_column)
                 and WHOLE.search(t) and _LEVEL.search(c) and not audit(c)), None)


def join_first_linked(builder: Builder, person: Table, links: Table, link_column: str, at: str, onward: Ref,
                      prefix: str, besides: str = "", first: str = "") -> tuple[str, str | None]:
    """Join ``person`` as the one the visit's first row of the link table ``links`` names (its
    ``link_column`` equal to ``at``, the visit's side), the lowest level first, then the lowest
    person key: one rule for the patient among a booking's attendees and for the doctor, room or
    resource a series books, so both pick the same row a desk would call the first. ``besides``:
    a condition on the link row (``cs_l``) that passes over some (the organizer's own contact);
    ``first``: a condition on it that ranks its rows first (the person the visit's own reference
    names). The join's alias and the ranking column (None when the link table has none)."""
    q, plan = builder.q, builder.plan
    level = level_column(links, link_column, onward.column)
    order = ([f"CASE WHEN {first} THEN 0 ELSE 1 END"] if first else []) + \
        ([f"cs_l.{q(level)}"] if level else []) + [f"cs_l.{q(onward.column)}"]
    alias = plan.alias(prefix)
    # a link row naming nobody (a colleague invited by user id, the person column empty) is never
    # the first: MariaDB and SQL Server sort NULL before every key, so it would be taken, and the
    # visit would have no patient though its next row names one
    row = first_rows(f"SELECT cs_l.{q(onward.column)} FROM {q(links.name)} AS cs_l WHERE "
                     f"cs_l.{q(link_column)} = {at}{besides} AND cs_l.{q(onward.column)} IS NOT NULL "
                     f"ORDER BY {', '.join(order)}", 1, plan.dialect)
    key = f"{alias}.{q(onward.target_column)}"
    if onward.as_text:  # a text id holding number keys, where the database compares only like with like
        key = f"CAST({key} AS VARCHAR(64))"
    plan.join(person, alias, f"{key} = ({row})")
    builder.stamp_row(person, alias)
    return alias, level


_GLUED_ID = re.compile(r"^([a-z]{3,}?)(uid|uuid|guid|id)$")


def stems(name: str) -> set[str]:
    """A name's words as a reference compares them: an identifier glued to its word taken off
    (``OC_PLANNING_PATIENTUID`` -> patient, ``USERID`` -> user, as all-capital names write them)
    and a plural's ``s`` (``Users`` -> user), so that the column and the table it names agree."""
    out = set()
    for word in words(name):
        glued = _GLUED_ID.match(word)
        word = glued.group(1) if glued else word
        word = word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
        out.add(_ABBREVIATED.get(word, word))
    return out


# Short forms a column keeps of its table's word (``to_dept_nr`` -> ``care_department``).
_ABBREVIATED = {"dept": "department"}


def kind_of(name: str) -> str | None:
    """What a table or column name says it holds: patient, person, provider, or None."""
    found = words(name) | stems(name)
    if found & PROVIDER:
        return "provider"
    if found & PATIENT:
        return "patient"
    if found & PERSON:
        return "person"
    return None


def _own_word_off(tokens: list[str], table: str) -> list[str]:
    """A column marked with its table's own word (``users.user_first_name``, ``patients.patient_lname``)
    read without it, when what remains is a given or family name: a bare ``user_name`` stays the
    login it is. FreeMED's glued prefixes (``ptlname``) are vocab.table_prefix's. A lone letter
    before a given or family name is vCard's ``N`` (the structured name: ``n_given``,
    ``n_family``, as address books keep it), no number's ``n``."""
    rest = tokens[1:]
    if len(tokens) > 1 and (tokens[0] in stems(table) or len(tokens[0]) == 1) \
            and {token_role(t) for t in rest} & {"first_name", "last_name"}:
        return rest
    return tokens


def weak_provider(name: str) -> bool:
    """Whether a name says provider only by a weak word (``agent_id``, ``wp_latepoint_agents``)."""
    found = words(name) | stems(name)
    return bool(found & WEAK_PROVIDER) and not found & (PROVIDER - WEAK_PROVIDER)


def name_columns(table: Table) -> tuple[list[str], str]:
    """A table's columns that hold a person's name, given name first: ([given, family], "parts")
    or ([full], "full"); ([], "") when it has none. A ``display_name`` is a full name only in a
    table with no other name column: beside given and family names it is a handle or a label
    (why "display" is no name word), alone it is how a login table names its person."""
    given = family = full = shown = None
    for column, type_name in table.columns.items():
        if not TEXT.search(type_name) or audit(column):
            continue
        tokens = _own_word_off(without_prefixes(name_tokens(column), [table.prefix]), table.name)
        if tokens == ["display", "name"] and shown is None:
            shown = column
        roles = {token_role(t) for t in tokens}
        if roles & {"id", "record", "email", "phone", "type", "location", "status"} or set(tokens) & _NOT_NAME \
                or any(t[-1].isdigit() for t in tokens):
            continue
        if "first_name" in roles and given is None:
            given = column
        elif "last_name" in roles and family is None:
            family = column
        elif "name" in roles and full is None:
            full = column
    if given and (family or full):
        return [given, family or str(full)], "parts"
    if full and family:  # GNU Health's party: 'name' (given names) and 'lastname'
        return [full, family], "parts"
    if full:
        return [full], "full"
    if shown:  # a login table's only name (Tamanu's users.display_name: 'Dr Sereana Tuilagi')
        return [shown], "full"
    return [], ""


def filled(run: Run, q: Callable[[str], str], table: Table, columns: Sequence[str]) -> bool:
    """Do most rows of ``table`` have the columns filled (a provider's legacy ``name`` may be NULL)?"""
    counts = ", ".join(f"COUNT({q(c)})" for c in columns)
    row = run(f"SELECT COUNT(*), {counts} FROM {q(table.name)}")[0]
    return bool(row[0]) and min(int(n) for n in row[1:]) >= 0.5 * int(row[0])
