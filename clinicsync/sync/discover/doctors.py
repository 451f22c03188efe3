"""Who owns a visit's calendar when the visit does not name a practitioner outright: a person
reached through the rows the visit books (slot -> schedulable resource -> user/staff/person), the
booking's owner user, else the ward, department, room or resource that owns the visit.

Why: a booking tool's visit names a slot, the slot a resource, the resource the user who is the
practitioner; stopping at the resource gives every visit a "doctor" with no name or email, so no
agenda or calendar reaches anyone. And a product with no practitioner at all (a ward's clinic)
still has one calendar per ward: proposing the ward, said so, beats leaving the owner empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import attributerows, listplaces, logins, personrow, softdelete, userchild
from clinicsync.sync.discover.graph import Ref, Table, audit, words
from clinicsync.sync.discover.kinds import TEXT, USER, WHOLE, Builder, filled, join_first_linked, kind_of, name_columns
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import stem_of
from clinicsync.sync.discover.values import profile
from clinicsync.sync.discover.vocab import name_tokens, token_role

MAX_HOPS = 3  # booking -> slot -> resource -> user
BOOKED = frozenset({"slot", "slots", "timeslot", "resource", "resources", "schedule", "schedules", "calendar",
                     "calendars", "availability", "shift", "shifts", "roster", "agenda", "chair", "column"})
_OWNER = re.compile(r"^(owner|organi[sz]er|host|assignee|assigned(_?to)?|user)(_?((u?u|g)?id|ref|key)|_?user(_?id)?)?$",
                    re.I)
_ELSE = re.compile(r"^(refer|guarant|emergenc|kin$|nok$|guardian|contact|insur|relative|parent|spouse|billing|"
                   r"payer|cancel|previous|original)")  # a word of the column's name that begins so
_UNIT = frozenset({"ward", "wards", "department", "departments", "dept", "room", "rooms", "unit", "units",
                   "resource", "resources", "theatre", "theater", "bay", "chair", "clinic", "clinics", "team",
                   "teams", "servicio", "sala", "station"})
_LABEL = re.compile(r"name|label|title|description|display|nombre", re.I)
# A book of visits kept per doctor: the calendar, agenda or diary a visit is booked in. Named by
# the visit's own reference with no practitioner in reach, it owns the visit like a ward does
# (a desktop EMR's agenda: ``EVENTS.CAL_ID`` -> ``CALENDAR``, labelled 'Agenda Dr Morel', its user
# kept in another database). Rejected: the rest of ``BOOKED`` ('slot', 'shift', 'availability'),
# a time's row many doctors share, whose label names no one.
_BOOKS = frozenset({"calendar", "calendars", "agenda", "agendas", "diary", "diaries", "agendamento"})


def bare(column: str, table: Table) -> str:
    """A column's name without the table's mark that products put on every column
    (``OC_PLANNING_USERUID`` of ``OC_PLANNING``, ``VST_ACTIVE`` where most columns begin ``VST_``),
    so that an owner user written ``USERUID`` is read as one."""
    if column.lower().startswith(table.name.lower() + "_"):
        return column[len(table.name) + 1:]
    head = column.split("_", 1)[0]
    shared = sum(1 for c in table.columns if c.split("_", 1)[0].lower() == head.lower() and "_" in c)
    return column.split("_", 1)[1] if "_" in column and shared >= max(3, 0.6 * len(table.columns)) else column


def _owner(column: str, table: Table) -> bool:
    return bool(_OWNER.match(bare(column, table))) or _row_user(column, table)


def _row_user(column: str, table: Table) -> bool:
    """A user column named after the row itself: the row's user is its owner (``fk_user_action``
    of an ``actioncomm`` table, ``appointment_user`` of ``appointment``), not who typed or changed it."""
    mine = words(column)
    if not mine & USER or audit(column):
        return False
    rest = mine - USER - {"fk", "id", "uid", "ref", "key"}
    return bool(rest) and all(any(t.startswith(w) for t in words(table.name)) for w in rest)


def _label(table: Table) -> str | None:
    """The text column that names a room, a service or a resource (``name``, ``label``), the
    calendar's name when such a unit owns it; None when the table has none."""
    return next((c for c, t in table.columns.items() if _LABEL.search(c) and TEXT.search(t) and not audit(c)), None)


def unit_label(table: Table) -> str | None:
    """The label of a ward's, a room's or a resource's table (its name says one), else None."""
    return _label(table) if words(table.name) & _UNIT else None


def _person_like(builder: Builder, name: str) -> bool:
    return kind_of(name) in ("provider", "person") or bool(words(name) & USER) or _accounts(builder, name)


def _accounts(builder: Builder, name: str) -> bool:
    """A users table named otherwise (``Personnes``): its rows sign in (logins.py)."""
    table = builder.schema.tables.get(name)
    return table is not None and logins.holds_logins(table)


def named(builder: Builder, table: Table) -> bool:
    columns = name_columns(table)[0]
    return bool(columns) and filled(builder.run, builder.q, table, columns)


def someone_else(column: str) -> bool:
    """A column naming a person who is not the one seeing the patient: a referrer, a guarantor,
    a relative, who cancelled (``referring_staff_id``, ``guarantor_id``)."""
    return any(_ELSE.match(w) for w in words(column))


def person_path(builder: Builder, first: Ref) -> list[Ref] | None:
    """The references from the visit to the deepest person-like row with a name, over at most
    ``MAX_HOPS`` (a resource that names its user goes on to the user); None when none is reached.
    Past the first hop the patient's table may be reached: a hospital keeps staff and patients in
    one person table, and a user row pointing at it names the doctor's person, not the patient."""
    path = [first]
    best = path if _person_like(builder, first.target) and named(builder, builder.schema.tables[first.target]) \
        else None
    seen = {builder.plan.main.name, first.target}
    while len(path) < MAX_HOPS:
        nxt = next((r for r in builder.schema.refs(path[-1].target)
                    if r.target not in seen and not audit(r.column)
                    and (_person_like(builder, r.target)
                         or name_columns(builder.schema.tables[r.target])[1] == "parts")),
                   None)  # a person table may be named otherwise ('Admin'): its given and family names say it;
        # a lone 'name' is any row's (a schedule's, an availability's) and says no person
        if nxt is None:
            break
        path = [*path, nxt]
        seen.add(nxt.target)
        if named(builder, builder.schema.tables[nxt.target]):
            best = path
    if best is None and len(path) < MAX_HOPS:
        onward = _through(builder, path[-1].target, seen, MAX_HOPS - len(path))
        best = None if onward is None else [*path, *onward]
    if best is None:  # a provider row whose name its person holds (personrow.py)
        best = personrow.reach(builder, first, {builder.plan.main.name, first.target}, MAX_HOPS - 1,
                               lambda t: _person_like(builder, t), someone_else)
    if best is None and _person_like(builder, first.target) \
            and attributerows.beside(builder, builder.schema.tables[first.target], first.column, 1) is not None:
        best = [first]  # a person named by typed value rows (attributerows.py)
    if best is None:  # a user without a name, named by rows of its own (userchild.py)
        best = next((path[:at + 1] for at, r in enumerate(path) if _person_like(builder, r.target)
                     and userchild.named_child(builder, builder.schema.tables[r.target]) is not None), None)
    return best


def _through(builder: Builder, start: str, seen: set[str], hops: int) -> list[Ref] | None:
    """The shortest chain of references from ``start`` to a named person-like row, through rows
    whose names say nothing (Django's ``emr_schedulableresource``, a word run together: the
    resource names its user but no name says it is one); None within ``hops``. Who entered a row,
    a referrer or a relative is never a hop."""
    level: list[tuple[str, list[Ref]]] = [(start, [])]
    for _ in range(hops):
        below: list[tuple[str, list[Ref]]] = []
        for table, chain in level:
            for ref in builder.schema.refs(table):
                if ref.target in seen or audit(ref.column) or someone_else(ref.column) \
                        or any(r.target == ref.target for r in chain):
                    continue
                if _person_like(builder, ref.target) and named(builder, builder.schema.tables[ref.target]):
                    return [*chain, ref]
                below.append((ref.target, [*chain, ref]))
        level = below
    return None


def _names_a_doctor(builder: Builder, table: str) -> bool:
    """A row the visit is booked into that names its doctor (a session's ``chir_id``): what the
    visit books, whatever the session table is called."""
    return any(kind_of(r.column) == "provider" and not audit(r.column) and not someone_else(r.column)
               for r in builder.schema.refs(table))


def _staff(builder: Builder, table: str) -> bool:
    return kind_of(table) == "provider" or bool(words(table) & USER) or _accounts(builder, table)


def _shared_owner(ref: Ref, stand_ins: set[str], main: Table) -> bool:
    """A reference to the patients' own table that is the visit's owner: passed over for the
    patient (a handful of persons over many visits) and named for the row's owner (``userid``).
    A practice that keeps its doctors and patients as rows of one people table (a type column
    tells them apart) names both from the visit."""
    return ref.column in stand_ins and _owner(ref.column, main)


def candidates(builder: Builder) -> list[Ref]:
    """The visit's references that may lead to its practitioner: what it books (a slot, a
    resource) first, then its owner user, then a staff or users table it names (not the
    patient's, nor a referrer's, a guarantor's or a relative's)."""
    main = builder.plan.main
    people = builder.people
    # A stand-in passed over for the patient (a handful of values over many visits) is what a doctor
    # column looks like: kept when its name says owner, or when it points at a staff or users table
    # (LibreHealth's ``pc_aid`` -> ``users``: a practice's doctors are a few of its users).
    refs = [r for r in builder.schema.refs(main.name)
            if (r.column not in people.handled
                or (r.column in people.stand_ins and (_owner(r.column, main) or _staff(builder, r.target))))
            and r.target != main.name
            and (r.target not in builder.people.patient_tables or _shared_owner(r, people.stand_ins, main))
            and (not audit(r.column) or _owner(r.column, main))]

    def rank(ref: Ref) -> int:
        if someone_else(ref.column):
            return 9  # a referrer, a guarantor, a relative: a person, not the one who sees the patient
        if words(ref.target) & BOOKED or words(ref.column) & BOOKED or _names_a_doctor(builder, ref.target) \
                or listplaces.list_of(builder.schema, main, ref):  # the list the visit has a place on
            return 0
        if _owner(ref.column, main):
            return 1
        return 2 if _staff(builder, ref.target) else 9

    ranked = [r for r in sorted(refs, key=rank) if rank(r) < 9]
    # Two columns naming the same users table at the same rank (whose diary, who booked): the
    # diary's owner first, by the rows (logins.owner_first).
    for at, ref in enumerate(ranked):
        same = [r for r in ranked[at:] if (rank(r), r.target) == (rank(ref), ref.target)]
        if len(same) >= 2 and same[0] is ref:
            order = logins.owner_first(builder.run, builder.q, main, [r.column for r in same])
            by_column = {r.column: r for r in same}
            rest = [r for r in ranked[at:] if r not in same]
            return [*ranked[:at], *(by_column[c] for c in order), *rest]
    return ranked


@dataclass(frozen=True)
class Origin:
    """A row joined to the visit one to one that holds the references to follow instead of the
    visit itself (a CRM's shared record row, sharedowner.py): the table, its alias, and what the
    proposal's reason says of it."""

    table: Table
    alias: str
    said: str
    # the references were found filled on the rows that are joined (the flagged organizer rows of
    # a participants table, most of whose other rows name a patient instead): not asked again of all
    checked: bool = False


def follow(builder: Builder, refs: list[Ref], onward: bool = False, origin: Origin | None = None) -> bool:
    """Join the first of ``refs`` that reaches a named person, and propose that person as the
    practitioner (id, name; email from its columns); False when none does. ``onward``: only a
    person beyond the first row (a resource that names its user). ``origin``: the row ``refs``
    start from when it is not the visit's own."""
    q, plan = builder.q, builder.plan
    start, start_alias = (plan.main, "a") if origin is None else (origin.table, origin.alias)
    for first in refs:
        if not (origin is not None and origin.checked) and not filled(builder.run, q, start, [first.column]):
            continue  # a reference the visits leave empty (an optional calendar, a team) reaches nobody
        path = person_path(builder, first)
        if path is None or (onward and len(path) < 2):
            continue
        at, before = start_alias, start_alias
        for ref in path:
            before = at
            alias = plan.alias("d")
            table = builder.schema.tables[ref.target]
            plan.join(table, alias, plan.on(ref, alias, at))
            builder.stamp_row(table, alias)
            if ref is first and len(path) > 1:  # the booked slot's own columns (its start, its end), as a
                # plain reference's join would have read them: the visit's time may live only there
                plan.add_columns(table, alias, stem_of(ref.column, table.name), frozenset({ref.target_column}))
            at = alias
        end, last = builder.schema.tables[path[-1].target], path[-1]
        builder.people.handled.add(first.column)
        out = plan.add(at, last.target_column, "doctor_id", end.name, end.columns[last.target_column])
        typed = attributerows.beside(builder, end, first.column, 1) if not named(builder, end) else None
        typed_name = attributerows.place_names(builder, typed, at, "practitioner", "doctor") if typed else None
        if typed_name is None:  # named by its own columns: all of them (its email), for the scorer
            plan.add_columns(end, at, "doctor", frozenset({last.target_column}))
        hops = " -> ".join([plan.main.name, *([] if origin is None else [origin.table.name]),
                            *(r.target for r in path)])
        why = (f"followed {hops} ({', '.join(f'{r.column!r} {r.how}' for r in path)}) to the row with a "
               "person's name: the practitioner is that person, not the row the visit books")
        if origin is not None:
            why = f"{origin.said}; {why}"
        units = _units_beside(builder, path[-1], before, at) if len(path) > 1 else None
        if units is None:
            builder.people.guesses.append(Guess("practitioner.external_id", out, 0.8, why, {"from": out}))
        else:  # the resource names a room or a service instead of a user on some rows: that unit's calendar
            why += f"; where {path[-1].column!r} is empty, {units[2]}"
            builder.people.guesses.append(Guess("practitioner.external_id", f"{out} + {units[0]}", 0.8, why,
                                                {"from": [out, units[0]]}))
        if typed_name is not None:  # named by typed value rows, as the patients are (attributerows.py)
            builder.people.guesses.append(typed_name)
            builder.people.notes.append(f"the doctor: {why}")
            return True
        own = userchild.named_child(builder, end) if not named(builder, end) else None
        mine = [userchild.join(builder, own, at)] if own is not None else _person_joined(builder, end, at)
        if own is not None:  # the user's own named row: its name and email are the doctor's
            plan.add_columns(mine[0][0], mine[0][1], "doctor", frozenset({own.column, str(mine[0][0].key)}))
            why += f"; the user's name and email from its {own.table!r} row ({own.column!r})"
        named_guess = builder.name("doctor", [(end, at), *mine])
        if named_guess is not None:
            spec = named_guess.spec if units is None else {**named_guess.spec, "from": [units[1], *(
                [named_guess.spec["from"]] if isinstance(named_guess.spec.get("from"), str)
                else named_guess.spec.get("from") or [])]}
            source = named_guess.source if units is None else f"{units[1]} + {named_guess.source}"
            builder.people.guesses.append(Guess("practitioner.name", source, named_guess.confidence, named_guess.why,
                                                spec))
        builder.people.guesses.extend(builder.contacts([(end, at)], "practitioner"))
        builder.people.notes.append(f"the doctor: {why}")
        return True
    return False


def _person_joined(builder: Builder, end: Table, at: str) -> list[tuple[Table, str]]:
    """The person row that names ``end`` (a provider row without a name of its own), joined; none
    when ``end`` names itself."""
    ref = personrow.person_of(builder, end)
    if ref is None:
        return []
    person = builder.schema.tables[ref.target]
    alias = builder.plan.alias("d")
    builder.plan.join(person, alias, builder.plan.on(ref, alias, at))
    builder.stamp_row(person, alias)
    return [(person, alias)]


_PLACE = _UNIT | {"location", "locations", "service", "services"}


def _joined_units(builder: Builder, refs: Iterable[Ref], at: str) -> Iterator[tuple[Ref, Table, str, str]]:
    """Each of ``refs`` (from the row joined as ``at``) whose table has a label (a ward's, a room's,
    a service's name), joined and its change stamp read, as (reference, table, label column,
    alias); joined only when asked for the next one, so a caller that takes the first joins one.
    The unit-owner and the user-or-room rules both reach their units so."""
    plan = builder.plan
    for ref in refs:
        if audit(ref.column):
            continue
        table = builder.schema.tables[ref.target]
        label = _label(table)
        if label is None:
            continue
        alias = plan.alias("d")
        plan.join(table, alias, plan.on(ref, alias, at))
        builder.stamp_row(table, alias)
        yield ref, table, label, alias


def _units_beside(builder: Builder, last: Ref, hop_alias: str, person_alias: str) -> tuple[str, str, str] | None:
    """A resource that names its user on some rows and a room, location or service on the others
    (CARE's schedulable resource: a practitioner, a location or a healthcare service): the unit's
    key (prefixed with its table, so it never meets a person's key) and its name, read only where
    no person is, as (key column, name column, what was said); None when every row names a person
    or the resource names no such unit. Not on SQLite (no CONCAT before 3.44)."""
    q, plan = builder.q, builder.plan
    hop = builder.schema.tables[last.table]
    if plan.dialect == "sqlite" or last.column not in hop.nullable:
        return None
    total, named = builder.run(f"SELECT COUNT(*), COUNT({q(last.column)}) FROM {q(hop.name)}")[0]
    if int(named) >= int(total):
        return None
    keys, names, said = [], [], []
    places = (r for r in builder.schema.refs(hop.name)
              if r is not last and (words(r.column) & _PLACE or words(r.target) & _PLACE))
    for ref, table, label, alias in _joined_units(builder, places, hop_alias):
        nobody = f"{person_alias}.{q(last.target_column)} IS NULL AND {alias}.{q(ref.target_column)} IS NOT NULL"
        keys.append(f"CASE WHEN {nobody} THEN CONCAT('{table.name}-', {alias}.{q(ref.target_column)}) END")
        names.append(f"CASE WHEN {nobody} THEN {alias}.{q(label)} END")
        said.append(f"{ref.column!r} ({table.name}.{label})")
    if not keys:
        return None
    key = plan.expr(keys[0] if len(keys) == 1 else f"COALESCE({', '.join(keys)})", "owner_key", hop.name, "VARCHAR")
    name = plan.expr(names[0] if len(names) == 1 else f"COALESCE({', '.join(names)})", "owner_name", hop.name,
                     "VARCHAR")
    return key, name, (f"the visit's {' or '.join(said)} owns its calendar (see getting-started: when the doctor is "
                       "a ward, a room or a resource)")


def unit_owner(builder: Builder) -> bool:
    """No practitioner in reach: the ward, department, room or resource the visit names owns its
    calendar (its id and name as the doctor's), said so in the reason; so does the calendar or
    agenda table it is booked in (``_BOOKS``); False when there is none."""
    plan, main = builder.plan, builder.plan.main
    units = (r for r in builder.schema.refs(main.name)
             if r.column not in builder.people.handled and r.target != main.name
             and (words(r.target) & (_UNIT | _BOOKS) or words(r.column) & _UNIT))
    typed = _doctor_typed(builder)
    for ref, table, label, alias in _joined_units(builder, units, "a"):
        builder.people.handled.add(ref.column)
        if typed is not None:  # the doctor is named on the visit itself: the unit is where the visit is
            if not any(g.field == "location" for g in builder.people.guesses):
                out = plan.add(alias, label, "place_name", table.name, table.columns[label])
                builder.people.guesses.append(Guess(
                    "location", out, 0.7, f"column {label!r} of {table.name!r}, the {ref.column!r} the visit names "
                    f"({ref.how}): the visit's doctor is typed in {typed!r}, so the unit is where it is, not whose "
                    "calendar", {"from": out}))
            return False
        name = plan.add(alias, label, "doctor_name", table.name, table.columns[label])
        length = next((c for c, t in table.columns.items() if WHOLE.search(t) and not audit(c)
                       and any(token_role(w) == "duration" for w in name_tokens(c))), None)
        if length is not None:  # the ward's default visit length: read where a visit has none (lengths.py)
            plan.add(alias, length, f"owner_{length}", table.name, table.columns[length])
        why = (f"no practitioner in this schema: the {table.name!r} row the visit names ({ref.column!r}, {ref.how}) "
               "owns its calendar, so each of them gets its own calendar and agenda (see getting-started: when the "
               "doctor is a ward, a room or a resource)")
        builder.people.guesses.append(Guess("practitioner.external_id", ref.column, 0.7, why, {"from": ref.column}))
        builder.people.guesses.append(Guess("practitioner.name", name, 0.7, f"column {label!r} of {table.name!r}",
                                            {"from": name}))
        email = _email_column(builder, table, label)
        if email is not None:  # the unit's own address: its agenda's (as a booked resource's, parent_link)
            out_email = plan.add(alias, email, "doctor_email", table.name, table.columns[email])
            builder.people.guesses.append(Guess("practitioner.email", out_email, 0.7, f"column {email!r} of "
                                                f"{table.name!r}: its values are emails", {"from": out_email}))
        _unit_place(builder, table, alias)
        builder.people.notes.append(f"the doctor: {why}")
        return True
    return False


def _doctor_typed(builder: Builder) -> str | None:
    """The visit's own text column that names its doctor (``to_staff_name``, ``doctor_name``: a
    practitioner's word and a name's, filled on most rows), None when it has none: a ward or a
    department the visit names is then where the visit is, and the doctor's calendar stays the
    doctor's (the scorer places the name)."""
    main, q = builder.plan.main, builder.q
    for column, type_name in main.columns.items():
        tokens = name_tokens(column)
        if TEXT.search(type_name) and kind_of(column) == "provider" and not audit(column) \
                and "name" in {token_role(t) for t in tokens} and filled(builder.run, q, main, [column]):
            return column
    return None


def _unit_place(builder: Builder, unit: Table, at: str) -> None:
    """Where a unit that owns the calendar is (a room's area, building or site): the one labelled
    row the unit refers to, its label the visit's location, since the unit's own name now names
    the doctor. Nothing when the unit refers to none, or to several such rows (not guessed)."""
    refs = [r for r in builder.schema.refs(unit.name) if r.target != unit.name and not audit(r.column)
            and r.target in builder.schema.tables and _label(builder.schema.tables[r.target]) is not None]
    if len(refs) != 1 or any(g.field == "location" for g in builder.people.guesses):
        return
    ref, plan = refs[0], builder.plan
    place = builder.schema.tables[ref.target]
    label = _label(place)
    assert label is not None
    alias = plan.alias("d")
    plan.join(place, alias, plan.on(ref, alias, at))
    builder.stamp_row(place, alias)
    out = plan.add(alias, label, "place_name", place.name, place.columns[label])
    builder.people.guesses.append(Guess("location", out, 0.7, f"column {label!r} of {place.name!r}, the "
                                        f"{unit.name!r} row's ({ref.column!r}): where the unit that owns the "
                                        "calendar is", {"from": out}))


def parent_link(builder: Builder) -> bool:
    """The doctor booked by the visit's parent row through a link table: an occurrence of a
    series (``reservation_instances.series_id``) whose series books a resource or a practitioner
    (``reservation_resources``: series, resource). The first linked row by its level, then its key,
    owns the calendar (a person where it is one, else the resource or room, said so); False when
    no parent books one."""
    q, plan, main = builder.q, builder.plan, builder.plan.main
    for ref in builder.schema.refs(main.name):
        if ref.column in builder.people.handled or audit(ref.column) or ref.target == main.name:
            continue
        for link in builder.schema.children(ref.target):
            if link.table in (main.name, ref.target) or link.table in builder.people.patient_tables \
                    or any(r.target in builder.people.patient_tables for r in builder.schema.refs(link.table)):
                continue  # a row about a patient of its own (a request for a visit) links nothing to this visit
            onward = next((r for r in builder.schema.refs(link.table) if r.target not in (ref.target, main.name)
                           and not audit(r.column) and (words(r.target) & (_UNIT | BOOKED)
                                                        or kind_of(r.target) == "provider")), None)
            if onward is None:
                continue
            table, links = builder.schema.tables[onward.target], builder.schema.tables[link.table]
            label = _label(table)
            if label is None and not name_columns(table)[0]:
                continue
            alias, level = join_first_linked(builder, table, links, link.column, f"a.{q(ref.column)}", onward, "d",
                                             softdelete.live_links(links, "cs_l", q, plan.dialect))
            out = plan.add(alias, onward.target_column, "doctor_id", table.name, table.columns[onward.target_column])
            plan.add_columns(table, alias, "doctor", frozenset({onward.target_column}))  # its email, for the scorer
            why = (f"the visit's {ref.target!r} row ({ref.column!r}) books {table.name!r} through {links.name!r}: "
                   f"the first one booked{f' by {level!r}' if level else ''} owns the visit's calendar (see "
                   "getting-started: when the doctor is a ward, a room or a resource)")
            builder.people.guesses.append(Guess("practitioner.external_id", out, 0.7, why, {"from": out}))
            named = builder.name("doctor", [(table, alias)])
            if named is not None:
                builder.people.guesses.append(Guess("practitioner.name", named.source, named.confidence,
                                                    named.why, named.spec))
            elif label is not None:
                name = plan.add(alias, label, "doctor_name", table.name, table.columns[label])
                builder.people.guesses.append(Guess("practitioner.name", name, 0.7,
                                                    f"column {label!r} of {table.name!r}", {"from": name}))
            email = _email_column(builder, table, label)
            if email is not None:
                out_email = plan.add(alias, email, "doctor_email", table.name, table.columns[email])
                builder.people.guesses.append(Guess("practitioner.email", out_email, 0.75, f"column {email!r} of "
                                                    f"{table.name!r}: its values are emails", {"from": out_email}))
            builder.people.notes.append(f"the doctor: {why}")
            return True
    return False


def _email_column(builder: Builder, table: Table, skip: str | None) -> str | None:
    """A text column of ``table`` whose filled values are emails whatever its name (a resource's
    ``contact_info``): the calendar owner's address for its agenda."""
    q = builder.q
    for column, type_name in table.columns.items():
        if column == skip or not TEXT.search(type_name) or audit(column):
            continue
        rows = builder.run(first_rows(f"SELECT {q(column)} FROM {q(table.name)} WHERE {q(column)} IS NOT NULL", 50,
                                      builder.plan.dialect))
        values = [str(r[0]) for r in rows if r[0] is not None and str(r[0]).strip()]
        if values and profile(values).share("email") >= 0.8:
            return column
    return None
