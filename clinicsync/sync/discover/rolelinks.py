"""Who a record is about, kept as link rows typed by a role WORD: a generic act/participation
store (HL7 RIM-shaped, as veterinary and hospital suites built on an archetype framework keep
it) has one table of records of every kind (``acts``: appointments beside invoices, clinical
events and reminders, told apart by a kind column) and one table of participations, each row
naming a record, a party (``entities``) and its role as text (``participation.customer``,
``participation.patient``, ``participation.clinician``, ``participation.schedule``,
``participation.author``). The parties' names are their attribute rows (name, value).

Why: no column of the record names a person, so the patient and the doctor were never reached
and `check` failed on a schema that holds them one link away; and every kind of record in the
window was read as a visit.

The rule, read from the data, never from a product's names:

- the link table is a child of the visit table with one other reference (to the parties) and a
  short text column whose few values (at most ``MAX_ROLES``) are role words: a value whose
  words say who delivers the visit (clinician, provider, practitioner ...) is the doctor's role;
  one that says who receives it (patient, customer, client) a patient's role; one that says who
  entered it (author, creator) neither.
- of several receiving roles (a vet's patient is a pet, its owner the customer), the patient to
  remind is the role whose parties have contact rows (the most of them, at least ``REACHABLE``):
  a pet has no phone, its owner does; the pet's name is never the recipient's.
- the visits are the records of the kinds (a text column of the visit table whose values split
  cleanly by that role's links) whose rows carry the patient's role, and of those the kinds
  reaching ahead of today when any does (an invoice names the customer too, but lies behind).
  The query keeps those kinds by name: a generic store holds dozens of record kinds, and a list
  of those left out would let every new kind of record in as a visit.
- the party's name: its attribute rows whose keys are a given and a family name, else its own
  name column; its phone: its contact rows' attributes (attributecontacts.py).
- no role says who delivers the visit (a practice that books rooms): the calendar's role (schedule,
  room, resource ...) is proposed as the doctor, with its name, said so: its agenda and calendar
  go to the owner of that calendar.
Rejected: taking the first receiving role (the pet's name and no phone), joining every role
(a clerk as the author would be read as the doctor).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from clinicsync.sync.discover import codewords, componentnames, history, softdelete, supertypes
from clinicsync.sync.discover.contacts import attributecontacts, contactlinks, usephones
from clinicsync.sync.discover.graph import Ref, Table, audit
from clinicsync.sync.discover.kinds import TEXT, Builder, join_first_linked, name_columns, stems
from clinicsync.sync.discover.metarows import literal, plain
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.vocab import name_tokens, token_role

MAX_ROLES = 20
MAX_KINDS = 200
MIN_STAFF_LINKS = 10  # links of a role before its parties' spread says anything
STAFF_SHARE = 0.25  # at most this many distinct parties per link: the few who deliver every visit
STAFF_RATIO = 3  # times as many parties in the receiving role as in the delivering one
REACHABLE = 0.5  # of a role's parties with a contact row, to be the one reminded
SUBCLASS = 0.95  # of a contact row's party column found among the party table's keys
CLEAN = 0.9  # of a kind's rows with (or without) the patient's link: the kind column splits by it
DELIVERS = frozenset({"clinician", "provider", "practitioner", "doctor", "vet", "veterinarian", "performer",
                      "physician", "therapist", "dentist", "assignee"})
RECEIVES = frozenset({"patient", "customer", "client", "subject", "recipient", "owner", "attendee", "invitee",
                      "guest", "target"})  # HL7's record target: the one the record is about
_LABEL = re.compile(r"(?i)^(name|label|title|display_?name|caption|description)$")
CALENDAR = frozenset({"schedule", "room", "resource", "calendar", "diary", "chair"})
ENTERED = frozenset({"author", "creator", "entered", "reporter", "source", "clerk"})
_CONTACT = frozenset({"contact", "phone", "tel", "telecom", "address", "mechanism"})


@dataclass(frozen=True)
class RoleLinks:
    """``links`` names a visit by ``visit`` and a party by ``party``, its role in ``role``."""

    links: Table
    visit: Ref
    party: Ref
    role: str
    values: tuple[str, ...]
    staff: str | None = None  # the doctor's role told by its parties' spread (``_staff``), no word saying it
    words: codewords.Words | None = None  # the role a code whose word is in a dictionary (codewords.py)

    def role_is(self, alias: str, value: str, q: Callable[[str], str]) -> str:
        """SQL true when the link row ``alias`` is in role ``value``."""
        at = f"{alias}.{q(self.role)}"
        return self.words.among(at, [value], q) if self.words is not None else f"{at} = {literal(value)}"

    def role_of(self, alias: str, q: Callable[[str], str]) -> str:
        """SQL for the role word of the link row ``alias``."""
        at = f"{alias}.{q(self.role)}"
        return self.words.of(at, q) if self.words is not None else at


def _says(value: str, kind: frozenset[str]) -> bool:
    said = stems(value)
    return bool(said & kind) and not said & ENTERED


def _family(type_name: str) -> str:
    """A column type's family as keys compare: 'uuid', 'number' or 'text'."""
    low = type_name.lower()
    return "uuid" if "uuid" in low else "number" if re.search(r"int|serial|num|dec", low) else "text"


def _visit_links(builder: Builder) -> Iterator[Ref]:
    """The references naming a visit: to the visit table, and (its rows versions of a stable
    id, history.py) to the table of those ids, read as naming the visit by that id."""
    schema, main = builder.schema, builder.plan.main
    versions = builder.plan.versions
    stable = next((r for r in schema.refs(main.name) if r.column == versions[0]), None) if versions else None
    if stable is None or versions is None:
        yield from schema.children(main.name)
        return
    for child in schema.children(stable.target):  # first: a reference to one version is no visit's
        if child.table != main.name and child.target_column == stable.target_column:
            yield Ref(child.table, child.column, main.name, versions[0], child.declared, child.by_values, child.as_text)
    yield from schema.children(main.name)


def _roles(builder: Builder, links: Table, column: str, type_name: str) -> tuple[tuple[str, ...],
                                                                               codewords.Words | None] | None:
    """The role words of ``links.column``: its own short texts, or the words its codes stand for."""
    q = builder.q
    words = codewords.words_of(builder.run, q, builder.schema, links, column)
    if words is not None:
        return words.words, words
    if TEXT.search(type_name):
        rows = builder.run(f"SELECT {q(column)}, COUNT(*) FROM {q(links.name)} WHERE {q(column)} IS NOT NULL "
                           f"GROUP BY {q(column)}")
        return tuple(str(r[0]) for r in rows), None
    return None


def find(builder: Builder) -> RoleLinks | None:
    """The visit's role-typed link table, or None."""
    schema, main = builder.schema, builder.plan.main
    stable = builder.plan.versions[0] if builder.plan.versions is not None else None
    for visit in _visit_links(builder):
        links = schema.tables[visit.table]
        around = [r for r in schema.refs(links.name) if r.target not in (main.name, links.name)
                  and not audit(r.column) and r.column != visit.column and r.target in schema.tables
                  and not (stable and r.target == next((x.target for x in schema.refs(main.name)
                                                        if x.column == stable), None))]
        for column, type_name in links.columns.items():
            if column == visit.column or links.primary_key == [column]:
                continue
            found = _roles(builder, links, column, type_name)
            if found is None:
                continue
            values, words = found
            if not 1 < len(values) <= MAX_ROLES or not all(plain(v) for v in values):
                continue
            if not any(_says(v, RECEIVES) for v in values):
                continue
            coded = next((r.target for r in around if r.column == column), None)
            onward = [r for r in around if r.column != column and r.target != coded]
            if len(onward) > 1:  # the party beside lookups (its role's type, a status): the reference to people
                onward = [r for r in onward if supertypes.person_table(schema, r.target)]
            if len(onward) != 1:
                continue
            if any(_says(v, DELIVERS | CALENDAR) for v in values):
                return RoleLinks(links, visit, onward[0], column, values, words=words)
            probe = RoleLinks(links, visit, onward[0], column, values, words=words)
            staff = _staff(builder, probe)
            if staff is not None:
                return RoleLinks(links, visit, onward[0], column, values, staff, words)
    return None


def _staff(builder: Builder, found: RoleLinks) -> str | None:
    """No role word says who delivers the visit (a calendar's ``owner`` and ``attendee``): the
    role whose few parties hold many links (at most ``STAFF_SHARE`` of them: a clinic's handful
    of doctors over its visits) beside a receiving role with ``STAFF_RATIO`` times as many
    parties (the patients, each on a few visits). None when the spread does not tell them apart.
    Rejected: reading ``owner`` as the doctor (a vet's patient has an owner who is reminded)."""
    q, values, party = builder.q, found.values, found.party.column
    role = found.role_of("cs_s", q)
    rows = builder.run(f"SELECT {role}, COUNT(*), COUNT(DISTINCT cs_s.{q(party)}) FROM {q(found.links.name)} AS cs_s "
                       f"WHERE cs_s.{q(party)} IS NOT NULL GROUP BY {role}")
    spread = {str(r[0]): (int(r[1]), int(r[2])) for r in rows}
    receiving = [v for v in values if _says(v, RECEIVES) and v in spread]
    for value, (count, parties) in sorted(spread.items(), key=lambda item: item[1][1]):
        if count >= MIN_STAFF_LINKS and parties <= STAFF_SHARE * count and \
                any(other != value and spread[other][1] >= STAFF_RATIO * parties for other in receiving):
            return value
    return None


def _contact_tables(builder: Builder, party: Table) -> list[Ref]:
    """References to the party's rows from tables named for contacts: to the party table itself,
    or to a row keyed by the party's key (a subclass table: ``contacts.party_id`` -> ``parties``,
    whose ``party_id`` is an ``entities`` key), told by the declared key or, undeclared, by the
    values (``SUBCLASS`` of the referring column's values are the party's keys)."""
    schema, q = builder.schema, builder.q
    found = []
    for table in schema.tables.values():
        if not stems(table.name) & _CONTACT or table.name == party.name:
            continue
        for ref in schema.refs(table.name):
            if ref.column in table.primary_key or ref.target == table.name or audit(ref.column):
                continue
            subclass = any(r.target == party.name and r.column in schema.tables[ref.target].primary_key
                           for r in schema.refs(ref.target))
            if ref.target == party.name or subclass:
                found.append(ref)
                continue
            if _family(table.columns[ref.column]) != _family(party.columns[str(party.key)]):
                continue  # a version number beside a UUID key: no database compares them
            row = builder.run(f"SELECT COUNT({q(ref.column)}), SUM(CASE WHEN {q(ref.column)} IN (SELECT "
                              f"{q(str(party.key))} FROM {q(party.name)}) THEN 1 ELSE 0 END) FROM {q(table.name)}")[0]
            if row[0] and int(row[1] or 0) >= SUBCLASS * int(row[0]):
                found.append(ref)
    return found


def _reach(builder: Builder, found: RoleLinks, value: str, contacts: list[Ref]) -> float:
    """The share of the role's parties with a contact row."""
    q, links = builder.q, found.links
    if not contacts:
        return 0.0
    exists = " OR ".join(f"EXISTS (SELECT 1 FROM {q(c.table)} AS cs_c WHERE cs_c.{q(c.column)} = "
                         f"cs_l.{q(found.party.column)})" for c in contacts)
    row = builder.run(f"SELECT COUNT(DISTINCT cs_l.{q(found.party.column)}), COUNT(DISTINCT CASE WHEN {exists} "
                      f"THEN cs_l.{q(found.party.column)} END) FROM {q(links.name)} AS cs_l "
                      f"WHERE {found.role_is('cs_l', value, q)}")[0]
    return int(row[1]) / int(row[0]) if row[0] else 0.0


def _kinds(builder: Builder, found: RoleLinks, patient: str, doctor: str | None = None) -> tuple[str, list[str]] | None:
    """The visit table's kind column and the kinds kept (those whose rows carry the patient's
    role, and ``doctor``'s too when given, reaching ahead when any does); None when no column
    splits by it. A kind column is a short text, or a code whose words a dictionary holds."""
    q, main = builder.q, builder.plan.main
    linked = " AND ".join(f"EXISTS (SELECT 1 FROM {q(found.links.name)} AS cs_l WHERE cs_l.{q(found.visit.column)} = "
                          f"a.{q(found.visit.target_column)} AND {found.role_is('cs_l', role, q)})"
                          for role in (patient, doctor) if role)
    dates = [c for c, t in main.columns.items() if re.search(r"(?i)date|time", t)]
    versions = builder.plan.versions
    in_force = f" WHERE {versions[1].format(a='a')}" if versions else ""
    best: tuple[int, str, list[str]] | None = None
    for column, type_name in main.columns.items():
        if column in main.primary_key or re.search(r"(?i)status|state|sts", column) or \
                (versions and column == versions[0]):
            continue
        words = codewords.words_of(builder.run, q, builder.schema, main, column)
        if words is None and not TEXT.search(type_name):
            continue
        kind = words.of(f"a.{q(column)}", q) if words is not None else f"a.{q(column)}"
        latest = f", MAX(a.{q(dates[0])})" if dates else ", NULL"
        rows = builder.run(f"SELECT {kind}, COUNT(*), SUM(CASE WHEN {linked} THEN 1 ELSE 0 END){latest} "
                           f"FROM {q(main.name)} AS a{in_force} GROUP BY {kind}")
        if not 1 < len(rows) <= MAX_KINDS or any(r[0] is None or not plain(str(r[0])) for r in rows):
            continue
        shares = [(str(r[0]), int(r[2] or 0) / int(r[1]), r[3]) for r in rows]
        if not all(s >= CLEAN or s <= 1 - CLEAN for _, s, _ in shares):
            continue
        carried = [(k, latest_at) for k, s, latest_at in shares if s >= CLEAN]
        if not carried or len(carried) == len(shares):
            continue
        today = builder.run("SELECT CURRENT_TIMESTAMP")[0][0]
        ahead = [k for k, at in carried if at is not None and str(at) > str(today)]
        kept = ahead or [k for k, _ in carried]
        named = 0 if stems(column) & {"type", "kind", "class", "arch", "short", "archetype"} else 1
        if best is None or (named, len(kept)) < (best[0], len(best[2])):
            best = (named, words.among(f"a.{q(column)}", kept, q) if words is not None else column, kept)
    return None if best is None else (best[1], best[2])


def _name(builder: Builder, who: str, party: Table, alias: str, own: bool = False) -> Guess | None:
    """The party's name: its attribute rows whose keys say a given and a family name (read from
    the keys its rows hold), else (or ``own``: a calendar's) its own name column(s)."""
    q, plan = builder.q, builder.plan
    typed = None if own else componentnames.place(builder, who, party, alias)
    if typed is not None:  # a name row whose parts are typed rows (componentnames.py)
        return typed
    attributes = None if own else attributecontacts.attributes_of(builder, party)
    if attributes is not None:
        table, owner, key, value = attributes.table, attributes.owner, attributes.key, attributes.value
        keys = [str(r[0]) for r in builder.run(f"SELECT DISTINCT {q(key)} FROM {q(table.name)}")]
        roles = {k: {token_role(t) for t in name_tokens(k)} for k in keys if plain(k)}
        given = next((k for k, r in roles.items() if "first_name" in r), None)
        family = next((k for k, r in roles.items() if "last_name" in r), None)
        if given and family:
            outs = [plan.expr(f"(SELECT MAX(cs_m.{q(value)}) FROM {q(table.name)} AS cs_m WHERE cs_m.{q(owner)} = "
                              f"{alias}.{q(str(party.key))} AND cs_m.{q(key)} = {literal(k)})",
                              f"{who}_{k}", table.name, "varchar") for k in (given, family)]
            return Guess(f"{'practitioner' if who == 'doctor' else who}.name", " + ".join(outs), 0.8,
                         f"the {table.name!r} rows {given!r} and {family!r} of the {who}'s {party.name!r} row",
                         {"concat": outs})
    columns = name_columns(party)[0]
    extension = None if columns or own else supertypes.named_extension(builder.schema, party.name)
    if extension is not None:  # a party's names on its person row, keyed by the party (supertypes.py)
        person = builder.schema.tables[extension.table]
        named_alias = plan.alias("n")
        plan.join(person, named_alias, f"{named_alias}.{q(extension.column)} = {alias}.{q(extension.target_column)}")
        builder.stamp_row(person, named_alias)
        party, alias, columns = person, named_alias, name_columns(person)[0]
    if not columns and own:  # a room's or a schedule's label
        columns = [c for c, t in party.columns.items() if _LABEL.match(c) and TEXT.search(t)][:1]
    if not columns:
        return None
    outs = [plan.add(alias, c, f"{who}_{c}", party.name, party.columns[c]) for c in columns]
    return Guess(f"{'practitioner' if who == 'doctor' else who}.name", " + ".join(outs), 0.7,
                 f"the name column(s) of the {who}'s {party.name!r} row",
                 {"from": outs[0]} if len(outs) == 1 else {"concat": outs})


def _join(builder: Builder, found: RoleLinks, value: str, prefix: str) -> str:
    q = builder.q
    besides = f" AND {found.role_is('cs_l', value, q)}" + softdelete.live_links(found.links, "cs_l", q,
                                                                               builder.plan.dialect)
    ended = history.end_column(found.links)
    if ended is not None:  # a link kept with a validity range: the one still open (a replaced doctor's has ended)
        besides += f" AND {history.current('cs_l', q(ended))}"
    until = history.valid_until(builder.run, q, builder.schema, found.links)
    if until is not None:  # valid from one version to another: the one not ended (a replaced doctor's has)
        besides += f" AND {until.format(a='cs_l')}"
    alias, _ = join_first_linked(builder, builder.schema.tables[found.party.target], found.links, found.visit.column,
                                 f"a.{q(found.visit.target_column)}", found.party, prefix, besides)
    return alias


def place(builder: Builder) -> bool:
    """Propose the patient and the doctor through the visit's role-typed link rows, and keep the
    visit table's kinds that are visits; False when the visit has no such links."""
    found = find(builder)
    if found is None:
        return False
    people, plan = builder.people, builder.plan
    party = builder.schema.tables[found.party.target]
    if party.key is None:
        return False
    contacts = _contact_tables(builder, party)
    receiving = [v for v in found.values if _says(v, RECEIVES) and v != found.staff]
    reach = {v: _reach(builder, found, v, contacts) for v in receiving}
    patient = max(receiving, key=lambda v: (reach[v], -receiving.index(v)))
    if len(receiving) > 1 and reach[patient] < REACHABLE:
        people.notes.append(f"table {found.links.name!r}: roles {', '.join(map(repr, receiving))} each name who the "
                            "visit is for, and none's parties have contact rows: no patient proposed")
        return False
    doctors = [found.staff] if found.staff else [v for v in found.values if _says(v, DELIVERS)]
    kinds = _kinds(builder, found, patient)
    both = _kinds(builder, found, patient, doctors[0]) if kinds is None and len(doctors) == 1 else None
    if kinds is not None or both is not None:
        column, kept = kinds or both  # type: ignore[misc]
        coded = column.startswith("a.")
        people.filters.append(column if coded else f"a.{builder.q(column)} IN ({', '.join(literal(k) for k in kept)})")
        said = "the kinds" if coded else f"the rows of {column!r}"
        if not coded:
            people.handled.add(column)
        people.notes.append(f"the visits are {said} {', '.join(map(repr, kept))}: the kinds whose rows name a "
                            f"{patient!r}{f' and a {doctors[0]!r}' if both else ''} in {found.links.name!r} and reach "
                            "ahead of today (the other kinds are records of the past or name no one to remind"
                            f"{' or no one who sees the patient' if both else ''})")
    alias = _join(builder, found, patient, "p")
    out = plan.add(alias, str(party.key), "patient_id", party.name, party.columns[str(party.key)])
    others = [v for v in receiving if v != patient]
    why = (f"table {found.links.name!r} links the visit to {party.name!r} by role ({found.role!r}); the party in "
           f"role {patient!r} is the patient" + (f" (of the roles {', '.join(map(repr, receiving))}, the one whose "
                                                 f"parties have contact rows: {reach[patient]:.0%})" if others else ""))
    people.guesses.append(Guess("patient.external_id", out, 0.8, why, {"from": out}))
    people.patient_tables.add(party.name)
    people.notes.append(f"the patient: {why}")
    named = _name(builder, "patient", party, alias)
    if named is not None:
        people.guesses.append(named)
    used = usephones.place(builder, contacts, party, alias)  # telecom rows typed by a use (usephones.py)
    if used:
        people.guesses += used
    else:
        for contact in contacts:  # its phone: a contact row whose fields are attribute rows (attributecontacts.py)
            phone = attributecontacts.place(builder, contact, party, alias)
            if phone:
                people.guesses += phone
                break
        else:  # its phone and email: contact rows it links to over a validity range (contactlinks.py)
            people.guesses += contactlinks.place(builder, party, alias)
    calendars = [v for v in found.values if _says(v, CALENDAR) and v not in doctors]
    if len(doctors) == 1 or (not doctors and len(calendars) == 1):
        role = doctors[0] if doctors else calendars[0]
        alias = _join(builder, found, role, "d")
        out = plan.add(alias, str(party.key), "doctor_id", party.name, party.columns[str(party.key)])
        why = (f"the party in role {role!r} of table {found.links.name!r} (who delivers the visit) is the doctor"
               + (": no role word says so, its few parties are on many visits (the staff)" if found.staff else "")
               if doctors else f"no role names who delivers the visit: the party in role {role!r} of table "
               f"{found.links.name!r}, the calendar the visit is booked in, stands for the doctor (its name is the "
               "calendar's: a room or a resource, no person)")
        people.guesses.append(Guess("practitioner.external_id", out, 0.8, why, {"from": out}))
        people.notes.append(f"the doctor: {why}")
        named = _name(builder, "doctor", party, alias, own=not doctors)  # a room has no given name
        if named is not None:
            people.guesses.append(named)
    return True
