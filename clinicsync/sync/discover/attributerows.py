"""A patient kept as attribute rows: the visit reaches (over a hop or two) a row that holds no
name or contact column of its own, because the product stores each of a person's attributes as a
row of another table: (the person's key, the attribute's key, the value), the attribute's key
naming a row of a definitions table whose label says what it is ("First name", "Mobile number").
A public-health tracker's tracked entities, a configurable registry's people, keep this shape.

Why: discover follows a patient only to tables or columns named for a person, or whose own
columns are a person's (personshape.py); the key/value reader (metarows.py) needs a key column
holding the attribute's name as text. Here the key is a number naming a definition, so the
patient, name and phone were all left out and nobody could be reminded.

The rule, read from the data, never from a product's names: from the visit, over at most
``MAX_HOPS`` references that are no audit column and lead to no doctor's or login's table, a
table P whose rows are the parents of an attribute table A (A refers to P and to a definitions
table D with a text label; A has one text value column), where the values of one definition
parse as phone numbers (80 % of at least ``MIN_VALUES``): P's rows are people. Its key is the
patient's id; the phone definition (a mobile's label first), and the definitions whose labels are
a given and a family name (or a full name), are each joined once as the patient's fields.
Rejected: reading every definition as a column (a registry keeps dozens: national ids, birth
dates); taking P without a phone among its attributes (an order's line items look the same).

The same rows beside a person table the visit names directly (``beside``): a practice EHR keeps
patients and doctors as bare rows of one table and every name, phone and email as a typed value
row. The column naming the person there is often neither declared nor named for it (``toID``),
so it is found by its values: the whole-number column of an attribute-shaped table that holds
``COVERS`` of the persons the visits name, the one naming the most persons first (who typed the
values names a handful of staff). Each field is the person's current row only (``current``):
rows flagged deleted (softdelete.py) or replaced (history.superseded) are left out and the newest
of the rest is taken, so an old mobile is never texted and a visit is never read twice. A family
name kept twice (the name in use, the birth name) reads the name in use, else the birth name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import history, softdelete
from clinicsync.sync.discover.contacts.contactrows import code_literal
from clinicsync.sync.discover.graph import Ref, Table, audit, words
from clinicsync.sync.discover.kinds import TEXT, USER, WHOLE, kind_of
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.values import profile
from clinicsync.sync.discover.vocab import name_tokens, token_role

MAX_HOPS = 2
MIN_VALUES = 5
COVERS = 0.8  # of the visits' persons an unnamed column must hold
SAMPLE = 2000  # attribute rows read to learn the definitions' values
_VALUE = re.compile(r"(?i)^(value|val|attribute_?value|attr_?value|field_?value)$")
_LABEL = re.compile(r"(?i)^(name|label|display_?name|title|short_?name)$")
_BIRTH = re.compile(r"(?i)birth|maiden|geburt|naissance|nacimiento")
_MOBILE = re.compile(r"(?i)mobile|cell|movil|celular|sms|handy|portable|whatsapp")


@dataclass(frozen=True)
class Found:
    path: list[Ref]  # from the visit to the person table
    values: Ref  # attribute rows -> the person table
    definition: Ref  # attribute rows -> the definitions table
    value_column: str
    label_column: str
    fields: dict[str, tuple[Any, str]]  # "phone" / "email" / "first" / "last" / "birth" / "full" -> (code, label)


def _attribute_table(builder: Any, person: Table, child: Ref) -> tuple[Ref, str, str] | None:
    """(the reference to the definitions, the value column, the label column) of ``child``'s
    table, when it is an attribute table of ``person``'s rows."""
    table = builder.schema.tables[child.table]
    values = [c for c, t in table.columns.items() if TEXT.search(t) and _VALUE.match(c)]
    for ref in builder.schema.refs(child.table):
        definitions = builder.schema.tables.get(ref.target)
        if ref.column == child.column or definitions is None or ref.target in (person.name, child.table) \
                or audit(ref.column) or len(values) != 1:
            continue
        label = next((c for c, t in definitions.columns.items() if _LABEL.match(c) and TEXT.search(t)), None)
        if label is not None:
            return ref, values[0], label
    return None


def _fields(builder: Any, child: Ref, definition: Ref, value: str, label: str) -> dict[str, tuple[Any, str]]:
    """The definitions that are the person's phone and name, by their labels and values."""
    q = builder.q
    rows = builder.run(first_rows(
        f"SELECT v.{q(definition.column)}, d.{q(label)}, v.{q(value)} FROM {q(child.table)} AS v "
        f"JOIN {q(definition.target)} AS d ON d.{q(definition.target_column)} = v.{q(definition.column)}",
        SAMPLE, builder.plan.dialect))
    by_code: dict[Any, tuple[str, list[str | None]]] = {}
    for code, name, text in rows:
        if code is not None and name is not None and code_literal(code) is not None:
            by_code.setdefault(code, (str(name), []))[1].append(None if text is None else str(text))
    found: dict[str, tuple[Any, str]] = {}
    phones, emails = [], []
    for code, (name, texts) in by_code.items():
        roles = {token_role(t) for t in name_tokens(name.replace(" ", "_"))}
        p = profile(texts, builder.region)
        if p.present >= MIN_VALUES and p.share("phone") >= 0.8 and "fax" not in name.lower():
            phones.append((0 if _MOBILE.search(name) else 1, -p.present, code, name))
        elif p.present >= MIN_VALUES and p.share("email") >= 0.8:
            emails.append((-p.present, code, name))  # the one most people have: theirs, not the staff's
        elif "first_name" in roles and "first" not in found:
            found["first"] = (code, name)
        elif "last_name" in roles and _BIRTH.search(name) and "birth" not in found:
            found["birth"] = (code, name)  # the name given at birth: the one in use when none other is
        elif "last_name" in roles and "last" not in found:
            found["last"] = (code, name)
        elif roles == {"name"} and "full" not in found:
            found["full"] = (code, name)
    if "birth" in found and "last" not in found:
        found["last"] = found.pop("birth")
    if emails:
        _, code, name = sorted(emails, key=lambda x: x[0])[0]
        found["email"] = (code, name)
    if phones:
        _, _, code, name = sorted(phones, key=lambda x: x[:2])[0]
        found["phone"] = (code, name)
    return found


def _live(builder: Any, attributes: Table, inner: str) -> list[str]:
    """The conditions that keep ``attributes``' rows (as ``inner``) neither deleted nor replaced."""
    q = builder.q
    gone = softdelete.flag(attributes, builder.plan.dialect)
    live = [softdelete.kept(gone, inner, q(gone.column))] if gone is not None else []
    return live + [f"COALESCE(UPPER(TRIM({inner}.{q(c)})), '') NOT IN ('Y', 'YES', 'T', 'TRUE', '1', 'OUI')"
                   for c in history.superseded(attributes)]


def current(builder: Any, attributes: Table, alias: str, on: str) -> str:
    """The join condition that picks a person's one current row of an attribute (``on``: the
    person and the definition, written on ``alias``): where the rows are flagged deleted or
    replaced (a changed value keeps its old row flagged 'y'), only the unflagged, and of those the
    newest by key, so an old mobile is never texted and no visit is read twice."""
    q, inner = builder.q, "v"
    live = _live(builder, attributes, inner)
    if not live:
        return on
    conditions = [on.replace(f"{alias}.", f"{inner}."), *live]
    if attributes.key is None:
        return " AND ".join([on, *(c.replace(f"{inner}.", f"{alias}.") for c in conditions[1:])])
    key = q(str(attributes.key))
    return (f"{alias}.{key} = (SELECT MAX({inner}.{key}) FROM {q(attributes.name)} AS {inner} "
            f"WHERE {' AND '.join(conditions)})")


def _unnamed(builder: Any, person: Table, visit_column: str, least: int) -> list[Ref]:
    """References to ``person`` that neither the schema nor a name gives, held by a table shaped
    as attribute rows (a definitions reference, one value column): its whole-number column that
    holds (``COVERS`` of) the persons the visits name. Why: such a column (``toID``) names any
    table whose keys 1, 2, 3 … its values are among, so no reference was learned for it."""
    q, main = builder.q, builder.plan.main.name
    found: list[tuple[int, Ref]] = []
    total = builder.run(f"SELECT COUNT(DISTINCT {q(visit_column)}) FROM {q(main)}")[0][0] or 0
    if total < least:
        return []
    for table in builder.schema.tables.values():
        if table.name in (person.name, main) or not any(
                _attribute_table(builder, person, Ref(table.name, c, person.name, str(person.key)))
                for c in table.columns):
            continue
        for column, type_name in table.columns.items():
            if column == table.key or audit(column) or not WHOLE.search(type_name) \
                    or any(r.column == column for r in builder.schema.refs(table.name)):
                continue
            held = builder.run(f"SELECT COUNT(DISTINCT m.{q(visit_column)}) FROM {q(main)} AS m WHERE "
                               f"m.{q(visit_column)} IN (SELECT v.{q(column)} FROM {q(table.name)} AS v)")[0][0]
            if held >= COVERS * total:
                persons = builder.run(f"SELECT COUNT(DISTINCT {q(column)}) FROM {q(table.name)}")[0][0] or 0
                found.append((-int(persons), Ref(table.name, column, person.name, str(person.key), declared=False,
                                                 by_values=True)))
    # the column naming the most persons first: the rows' subject, not their author (who typed the
    # values holds a handful of staff ids, who they are about every person's)
    return [ref for _, ref in sorted(found, key=lambda x: x[0])]


def beside(builder: Any, person: Table, visit_column: str, least: int = MIN_VALUES) -> Found | None:
    """The attribute rows of ``person``, a table the visit names its patient in directly, when
    they hold the person's phone: a product that keeps every person as a bare row (a type, a
    login) and each of their fields as a typed value row."""
    if person.key is None:
        return None
    return _first_with_phone(builder, person, [], [*builder.schema.children(person.name),
                                                   *_unnamed(builder, person, visit_column, least)])


def _first_with_phone(builder: Any, person: Table, path: list[Ref], children: list[Ref]) -> Found | None:
    """Of ``children`` (references to ``person``), the first attribute table whose definitions
    hold a phone, found with ``path`` from the visit; None when none does."""
    for child in children:
        if audit(child.column) or child.table in (builder.plan.main.name, person.name):
            continue
        shape = _attribute_table(builder, person, child)
        if shape is None:
            continue
        fields = _fields(builder, child, *shape)
        if "phone" in fields:
            return Found(path, child, shape[0], shape[1], shape[2], fields)
    return None


def find(builder: Any) -> Found | None:
    """The visit's path to a table whose rows are people by their attribute rows, or None."""
    main = builder.plan.main
    level: list[tuple[str, list[Ref]]] = [(main.name, [])]
    for _ in range(MAX_HOPS):
        below: list[tuple[str, list[Ref]]] = []
        for table, path in level:
            for ref in builder.schema.refs(table):
                if ref.target == main.name or audit(ref.column) or any(r.target == ref.target for r in path) \
                        or kind_of(ref.target) == "provider" or words(ref.target) & USER:
                    continue
                chain = [*path, ref]
                person = builder.schema.tables[ref.target]
                if person.key is not None and (
                        found := _first_with_phone(builder, person, chain, builder.schema.children(ref.target))):
                    return found
                below.append((ref.target, chain))
        level = below
    return None


def place(builder: Any, found: Found, at: str = "a", person: Table | None = None) -> None:
    """Join the path and the attribute rows once per field; the patient's guesses added (``at``,
    ``person``: the patient's row already joined, for rows found ``beside`` it)."""
    plan, people = builder.plan, builder.people
    for ref in found.path:
        alias = plan.alias("t")
        plan.join(builder.schema.tables[ref.target], alias, plan.on(ref, alias, at))
        builder.stamp_row(builder.schema.tables[ref.target], alias)
        at = alias
    if person is None:
        person = builder.schema.tables[found.path[-1].target]
        people.handled.add(found.path[0].column)
        people.patient_tables.update(r.target for r in found.path)
        hops = " -> ".join([plan.main.name, *(r.target for r in found.path)])
        why = (f"followed {hops}: its rows are people by their attribute rows in {found.values.table!r} "
               f"(keyed by {found.definition.column!r}, named in {found.definition.target!r}.{found.label_column})")
        key = plan.add(at, str(person.key), "patient_id", person.name, person.columns[str(person.key)])
        people.guesses.append(Guess("patient.external_id", key, 0.85, why, {"from": key}))
    outs = _join_fields(builder, found, at, ("phone", "email", "first", "last", "full"), "patient")
    label = _labels(found)
    people.guesses.append(Guess("patient.phone", outs["phone"], 0.85,
                                f"the attribute {label['phone']!r} of {found.values.table!r}: its values are "
                                "phone numbers", {"from": outs["phone"]}))
    if "email" in outs:
        people.guesses.append(Guess("patient.email", outs["email"], 0.85,
                                    f"the attribute {label['email']!r} of {found.values.table!r}: its values are "
                                    "email addresses, the most people's", {"from": outs["email"]}))
    name = _name_guess(found, outs, "patient")
    if name is not None:
        people.guesses.append(name)


def place_names(builder: Any, found: Found, at: str, field: str, stem: str) -> Guess | None:
    """The name of the person joined as ``at`` (a practitioner kept in the patients' own table)
    from the attribute rows ``found``; the guess of ``field`` (``practitioner``), None without one."""
    return _name_guess(found, _join_fields(builder, found, at, ("first", "last", "full"), stem), field)


def _labels(found: Found) -> dict[str, str]:
    return {f: found.fields[f][1] + (f" (else {found.fields['birth'][1]!r})" if f == "last" and "birth" in
                                     found.fields else "") for f in found.fields}


def _join_fields(builder: Any, found: Found, at: str, fields: tuple[str, ...], stem: str) -> dict[str, str]:
    """Each of ``fields`` found joined once (its current row) to the person at ``at``; the output
    column of each, named ``<stem>_<field>``."""
    plan, q = builder.plan, builder.q
    attributes = builder.schema.tables[found.values.table]
    outs: dict[str, str] = {}
    for field in fields:
        if field not in found.fields:
            continue
        code, _ = found.fields[field]
        alias = plan.alias("t")
        person_on = f"{alias}.{q(found.values.column)} = {at}.{q(found.values.target_column)}"
        kind = f"{alias}.{q(found.definition.column)} = {code_literal(code)}"
        if field == "last" and "birth" in found.fields:  # the name in use, else the birth name
            w = "w"
            used = " AND ".join([f"{w}.{q(found.values.column)} = {at}.{q(found.values.target_column)}",
                                 f"{w}.{q(found.definition.column)} = {code_literal(code)}",
                                 f"COALESCE({w}.{q(found.value_column)}, '') <> ''",
                                 *_live(builder, attributes, w)])
            kind = (f"({kind} OR ({alias}.{q(found.definition.column)} = {code_literal(found.fields['birth'][0])} "
                    f"AND NOT EXISTS (SELECT 1 FROM {q(attributes.name)} AS {w} WHERE {used})))")
        plan.join(attributes, alias, current(builder, attributes, alias, f"{person_on} AND {kind}"))
        outs[field] = plan.add(alias, found.value_column, f"{stem}_{field}", attributes.name,
                               attributes.columns[found.value_column])
    return outs


def _name_guess(found: Found, outs: dict[str, str], field: str) -> Guess | None:
    """``field``.name from the name attributes joined (given and family, else a full name)."""
    parts = [outs[f] for f in ("first", "last") if f in outs] if "first" in outs and "last" in outs else \
        [outs["full"]] if "full" in outs else []
    if not parts:
        return None
    label = _labels(found)
    names = " and ".join(repr(label[f]) for f in ("first", "last", "full") if f in outs and outs[f] in parts)
    spec: dict[str, Any] = {"from": parts[0]} if len(parts) == 1 else {"concat": parts}
    return Guess(f"{field}.name", " + ".join(parts), 0.85, f"the attribute(s) {names} of {found.values.table!r}",
                 spec)
