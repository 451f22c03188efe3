"""A patient kept as a child row of the visit: the attendees of a booking (one or more rows
pointing at the booking, each with a name and an email or phone), as booking tools keep them;
or link rows pointing at the booking and at a users/person table (``reservation_users``: the
booking, the user, the user's level 1 owner, 2 participant), where the person is the patient.

Why: such a visit names no patient column at all; the person to remind is in the rows that
point at it. The first attendee by key is taken (the one who booked, in the tools seen) and the
proposal says so: the others are not imported, so they get no reminder unless the admin maps
them with a query of their own.
"""

from __future__ import annotations

import re

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import (
    grouprows,
    hostrows,
    linkstatus,
    occurrences,
    optionroles,
    polyrefs,
    softdelete,
    staffpersons,
    staffrows,
    typedlinks,
)
from clinicsync.sync.discover.contacts import contactlists
from clinicsync.sync.discover.graph import Ref, Table, audit, words
from clinicsync.sync.discover.kinds import (
    USER,
    WHOLE,
    Builder,
    filled,
    join_first_linked,
    kind_of,
    level_column,
    name_columns,
)
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.rolelevels import patients_role
from clinicsync.sync.discover.values import profile
from clinicsync.sync.discover.vocab import name_tokens, token_role

_MOBILE = re.compile(r"mobile|cell|movil|celular|handy|portable", re.I)


def _roles(columns: dict[str, str]) -> dict[str, str]:
    """Contact columns by role (email, phone): the first of each."""
    out: dict[str, str] = {}
    for column in columns:
        for role in {token_role(t) for t in name_tokens(column)} & {"email", "phone"}:
            out.setdefault(str(role), column)
    return out


_SAMPLE = 50
_SHARE = 0.8


def _holds(builder: Builder, person: Table, column: str, role: str) -> bool:
    """Whether ``column``'s filled values are what its name says (emails, phone numbers): a column
    named for a contact but holding a flag (CiviCRM's ``do_not_email``, ``do_not_phone``) is never
    the contact. A column with no value at all passes here: the fill count below leaves it out."""
    q = builder.q
    rows = builder.run(first_rows(f"SELECT {q(column)} FROM {q(person.name)} WHERE {q(column)} IS NOT NULL",
                                  _SAMPLE, builder.plan.dialect))
    read = profile([None if r[0] is None else str(r[0]) for r in rows], builder.region)
    return read.present == 0 or read.share(role) >= _SHARE


def _filled_roles(builder: Builder, person: Table) -> dict[str, str]:
    """The person's email and phone columns, each the one filled on most rows (a mobile first
    on a tie): a contacts table keeps home, mobile, work and other phones, and the first by
    name (``phone_home``) is often empty on every row. A kind whose columns are all empty, or hold
    something else (a flag), is left out: never placed against its own sample."""
    q, out = builder.q, {}
    for role in ("email", "phone"):
        columns = [c for c in person.columns if role in {token_role(t) for t in name_tokens(c)}
                   and _holds(builder, person, c, role)]
        if not columns:
            continue
        counts = builder.run(f"SELECT {', '.join(f'COUNT({q(c)})' for c in columns)} FROM {q(person.name)}")[0]
        best = max(zip(columns, counts, strict=True), key=lambda cn: (int(cn[1] or 0), bool(_MOBILE.search(cn[0]))))
        if int(best[1] or 0) > 0:
            out[role] = best[0]
    return out


def child(builder: Builder) -> Ref | None:
    """The table whose rows point at the visit and hold a person's name and an email or phone
    (not a link to a practitioner); None when the visit has none."""
    main = builder.plan.main
    # a table the visit itself refers to is its parent (the patient it names), not rows of its own
    parents = {r.target for r in builder.schema.refs(main.name) if not audit(r.column)}
    for ref in builder.owned(main.name):
        table = builder.schema.tables[ref.table]
        if table.key is None or ref.table == main.name or ref.table in parents or kind_of(table.name) == "provider" \
                or any(kind_of(r.target) == "provider" for r in builder.schema.refs(ref.table)):
            continue
        names = name_columns(table)[0]
        if names and _roles(table.columns) and (
                filled(builder.run, builder.q, table, names) or not _names_a_person(builder, table, main.name)):
            return ref
    return None


def _names_a_person(builder: Builder, table: Table, visit: str) -> bool:
    """Whether the attendee rows refer to a table of people with names of their own (a users
    table): then their own name columns, empty, are only a guest's, and the person they refer to
    is the attendee (``linked``)."""
    return any(r.target not in (visit, table.name) and not audit(r.column) and r.target in builder.schema.tables
               and name_columns(builder.schema.tables[r.target])[0] for r in builder.schema.refs(table.name))


def place(builder: Builder, ref: Ref) -> None:
    """Join the visit's first attendee and propose it as the patient: the person it names where
    it refers to one, else its email, else its own key, as the patient's id; its name, phone, email."""
    plan, people = builder.plan, builder.people
    table = builder.schema.tables[ref.table]
    host = hostrows.host_flag(builder, ref)  # the organizer's own row is no patient (hostrows.py)
    picked = builder.pick(ref, "a", extra=host[0] if host else "", prefer=False, first=True)
    if picked is None:
        return
    if host is not None:
        people.notes.append(host[1])
    builder.stamp_children(ref, "a")
    roles = _roles(table.columns)
    person = next((r for r in builder.schema.refs(table.name) if not audit(r.column)
                   and r.target != plan.main.name and kind_of(r.target) in ("patient", "person")), None)
    id_column = person.column if person is not None else roles.get("email", str(table.key))
    out_id = plan.add(picked, id_column, "patient_id", table.name, table.columns[id_column])
    count = builder.run(f"SELECT COUNT(*), COUNT(DISTINCT {builder.q(ref.column)}) FROM {builder.q(table.name)}")[0]
    several = int(count[0]) - int(count[1])
    why = (f"the visit names no patient: table {table.name!r} holds its attendees ({ref.column!r} -> "
           f"{ref.target}, {ref.how}); the first attendee by {table.key!r} is the patient, identified by "
           f"{id_column!r}" + (f"; {several} other attendee row(s) are not imported and get no reminder "
                               "unless mapped" if several else ""))
    people.guesses.append(Guess("patient.external_id", out_id, 0.75, why, {"from": out_id}))
    people.patient_tables.add(table.name)
    names = name_columns(table)[0]
    outs = [plan.add(picked, c, f"patient_{c}", table.name, table.columns[c]) for c in names]
    people.guesses.append(Guess("patient.name", " + ".join(outs), 0.8, f"the attendee's {', '.join(names)}",
                                {"from": outs[0]} if len(outs) == 1 else {"concat": outs}))
    for role, column in roles.items():
        out = plan.add(picked, column, f"patient_{role}", table.name, table.columns[column])
        people.guesses.append(Guess(f"patient.{role}", out, 0.8, f"the attendee's {column!r}", {"from": out}))
    people.notes.append(f"the patient: {why}")
    if person is not None and {"email", "phone"} - set(roles):
        _person_contacts(builder, picked, person, set(roles))
    if words(table.name) & {"attendee", "attendees", "participant", "participants", "guest", "guests"}:
        return
    people.notes.append(f"table {table.name!r} was read as the visit's attendees: check that its rows are people")


def _person_contacts(builder: Builder, picked: str, person: Ref, held: set[str]) -> None:
    """An email or phone the attendee row lacks, read from the person it names (its row, or rows
    of its own: an address book's phone numbers): the attendee row of a groupware calendar keeps
    a name and an email, the contact it came from keeps the mobile."""
    plan = builder.plan
    target = builder.schema.tables[person.target]
    alias = plan.alias("p")
    plan.join(target, alias, f"{alias}.{builder.q(person.target_column)} = {picked}.{builder.q(person.column)}")
    wanted = {"email", "phone"} - held
    builder.people.guesses += [g for g in builder.contacts([(target, alias)], held=held)
                               if g.field.removeprefix("patient.") in wanted]


def linked(builder: Builder, to: str | None = None) -> tuple[Ref, Ref] | None:
    """A link table whose rows point at the visit and at a person-like table that holds a name and
    an email or phone (the booking's users): (the link's reference to the visit, its reference to
    the person); None when the visit has none. A link to a practitioner's table is not one.
    ``to``: a table the visit's own reference already says holds people (polyrefs.py): only links
    to it, which count without an email or phone column of its own (kept in rows elsewhere)."""
    main = builder.plan.main
    for ref in builder.owned(main.name):
        if ref.table == main.name:
            continue
        # Of a link row's people, the patients' or contacts' table before a login table: a CRM's
        # participant row names a person or a user (a colleague), in whatever order its columns
        # (or its declared keys) come; a booking tool whose patients log in has users only.
        onwards = sorted(builder.schema.refs(ref.table), key=lambda r: _login_rank(builder.schema.tables[r.target]))
        for onward in onwards:
            if onward.target in (main.name, ref.table) or audit(onward.column):
                continue
            person = builder.schema.tables[onward.target]
            if kind_of(person.name) == "provider" or person.key is None or to not in (None, person.name):
                continue
            names = name_columns(person)[0]
            if names and (to or _roles(person.columns)) and filled(builder.run, builder.q, person, names):
                return ref, onward
    return None


def _login_rank(table: Table) -> int:
    """0 a patients' table, 1 another person table, 2 a login (users) table."""
    return 0 if kind_of(table.name) == "patient" else 2 if words(table.name) & USER else 1


def place_linked(builder: Builder, link: Ref, onward: Ref, named: polyrefs.Polymorphic | None = None) -> None:
    """Join the person the visit's first link row names (the lowest level first: the owner before
    a participant, then by the person's key) and propose it as the patient: id, name, phone, email.
    ``named``: the visit's polymorphic reference to that person's table; the link row of the
    person it names comes first (polyrefs.py)."""
    plan, people, q = builder.plan, builder.people, builder.q
    table, person = builder.schema.tables[link.table], builder.schema.tables[onward.target]
    organizer = _organizer(builder, onward)
    besides = "" if organizer is None else f" AND cs_l.{q(onward.column)} NOT IN ({organizer[0]})"
    typed = "" if onward.typed is None else f" AND cs_l.{q(onward.typed[0])} = {onward.typed[1]}"
    # the practice's own people listed beside the patient: the persons a login points at
    # (staffpersons.py), else, where the persons are the logins, those on nearly every visit (staffrows.py)
    logins = staffpersons.passed_over(builder, table.name, link.column, onward, typed)
    if logins is not None:
        besides += f" AND cs_l.{q(onward.column)} NOT IN ({logins[0]})"
    whole = bool(WHOLE.search(table.columns[onward.column]))
    told = logins is not None or organizer is not None or named is not None or onward.typed is not None \
        or level_column(table, link.column, onward.column) is not None  # the rows say who is who already
    staff = None if told else staffrows.find(builder, table, link.column, onward.column, whole)
    if staff is not None:
        besides += f" AND cs_l.{q(onward.column)} NOT IN ({staff.literals})"
        people.not_patients += f" AND cs_l.{q(onward.column)} NOT IN ({staff.literals})"
    groups = grouprows.not_persons(builder, person, onward.target_column)
    if groups is not None:  # a group invited beside the staff is no patient (grouprows.py)
        besides += f" AND cs_l.{q(onward.column)} NOT IN ({groups[0]})"
        people.not_patients += f" AND cs_l.{q(onward.column)} NOT IN ({groups[0]})"
    live = softdelete.live_links(table, "cs_l", q, plan.dialect)
    besides += live + typed  # typed: the rows of the patients' type only (typedrefs.py)
    per_occurrence = occurrences.replies(builder.run, plan, table, (link.column, onward.column))
    ranked = level_column(table, link.column, onward.column)
    role = None if ranked is None else patients_role(builder.run, q, table, ranked, onward.column)
    labelled = None if ranked is None else optionroles.read(builder, table, ranked)
    if labelled is not None and labelled.patient is not None:
        role = labelled.patient  # the role's own words say it: a target's, a client's
    if role is not None:
        besides += f" AND cs_l.{q(str(ranked))} = {role}"
    first = "" if named is None else named.names(q, f"cs_l.{q(onward.column)}")
    if per_occurrence is not None:  # a reply for this occurrence before the series' (occurrences.py)
        besides += per_occurrence[0]
        first = f"({first}) OR {per_occurrence[1]}" if first else per_occurrence[1]
    alias, level = join_first_linked(builder, person, table, link.column, f"a.{q(link.target_column)}", onward, "t",
                                     besides, first)
    order = ([f"CASE WHEN {first} THEN 0 ELSE 1 END"] if first else []) + \
        ([f"cs_l.{q(level)}"] if level else []) + [f"cs_l.{q(onward.column)}"]
    linkstatus.place(builder, table.name, link.column, f"a.{q(link.target_column)}", order, besides)
    out_id = plan.add(alias, str(person.key), "patient_id", person.name, person.columns[str(person.key)])
    rank = ""
    if named is not None:
        rank = f"the one the visit's own {named.id_column!r} names where its {named.type_column!r} is {named.value}, "
    if labelled is not None and role is not None and role == labelled.patient:
        rank += f"{level!r} {role}, the role its label in {labelled.where} gives the one the visit is for, then "
    elif role is not None:
        rank += (f"{level!r} {role}, the role with the most persons (the others' few persons see or enter many "
                 "visits: staff), then ")
    elif level:
        rank += f"the lowest {level!r}, then "
    passed = "" if organizer is None else f" other than the organizer's own ({organizer[1]}, who is listed too)"
    if logins is not None:
        passed += f" that is no login's own person ({logins[1]}: the staff)"
    if staff is not None:
        passed = f" that is not staff's ({len(staff.keys)} person(s) on nearly every visit, the doctors)"
    if groups is not None:
        passed += f" nor a group ({groups[1]})"
    head = "the visit names no patient" if named is None else \
        f"the visit's {named.id_column!r} names rows of several tables (by {named.type_column!r})"
    why = (f"{head}: table {table.name!r} links it to {person.name!r} ({link.column!r}, "
           f"{onward.column!r}); the person of its first row{passed} ({rank}the lowest {onward.column!r}) is the "
           "patient; the others (participants) are not imported and get no reminder unless mapped")
    people.guesses.append(Guess("patient.external_id", out_id, 0.75, why, {"from": out_id}))
    people.patient_tables.add(person.name)
    people.persons[person.name] = alias  # its own deleted flag withdraws its visits, whatever its name
    people.handled.add(link.column)
    names = name_columns(person)[0]
    outs = [plan.add(alias, c, f"patient_{c}", person.name, person.columns[c]) for c in names]
    people.guesses.append(Guess("patient.name", " + ".join(outs), 0.8, f"the linked person's {', '.join(names)}",
                                {"from": outs[0]} if len(outs) == 1 else {"concat": outs}))
    roles = _filled_roles(builder, person)
    for role, column in roles.items():
        out = plan.add(alias, column, f"patient_{role}", person.name, person.columns[column])
        people.guesses.append(Guess(f"patient.{role}", out, 0.8, f"the linked person's {column!r}", {"from": out}))
    for column in contactlists.named_columns(person, set(roles.values())):
        plan.add(alias, column, f"patient_{column}", person.name, person.columns[column])  # read by its values later
    people.notes.append(f"the patient: {why}")
    # an email or phone the person's row lacks: in rows of its own (a contact's phones), else in a
    # shared table by a typed link (typedlinks.py)
    people.guesses += [g for g in builder.contacts([(person, alias)], held=set(roles))
                       if g.field.removeprefix("patient.") in ("email", "phone") and g.field.removeprefix("patient.")
                       not in roles]
    placed = {g.field for g in people.guesses}
    people.guesses += typedlinks.place(builder, person, alias, tuple(
        k for k in ("email", "phone") if k not in roles and f"patient.{k}" not in placed))
    if labelled is not None and ranked is not None:
        optionroles.place_doctor(builder, link, onward, str(ranked), labelled)
    if staff is not None:
        staffrows.place_doctor(builder, table, link, onward, staff, live)


def _organizer(builder: Builder, onward: Ref) -> tuple[str, str] | None:
    """The visit's organizer as a person of the attendees' table: a users row the visit names
    (``calendar_event.user_id``) that points at that same table (``res_users.partner_id`` ->
    ``res_partner``), as (a subquery giving that person's key, what was followed); None when the
    visit names no such user. Why: a calendar lists its organizer's own contact among the
    attendees, and with the lowest key first that contact (an early row) would be taken for the
    patient on every visit."""
    q, main = builder.q, builder.plan.main
    for ref in builder.schema.refs(main.name):
        if ref.target in (main.name, onward.target) or audit(ref.column) or not words(ref.target) & USER:
            continue
        users = builder.schema.tables[ref.target]
        hop = next((r for r in builder.schema.refs(users.name)
                    if r.target == onward.target and r.target_column == onward.target_column
                    and not audit(r.column)), None)
        if hop is None:
            continue
        sql = (f"SELECT cs_u.{q(hop.column)} FROM {q(users.name)} AS cs_u WHERE cs_u.{q(ref.target_column)} = "
               f"a.{q(ref.column)} AND cs_u.{q(hop.column)} IS NOT NULL")
        return sql, f"{main.name}.{ref.column} -> {users.name}.{hop.column}"
    return None
