"""The doctor kept as the owner user of the visit's shared record row: a CRM's activity names no
practitioner of its own, but its entity row (one per record, the same key: Vtiger's
``vtiger_crmentity``) holds the user it is assigned to (``smownerid`` -> ``vtiger_users``), and
that user is the doctor whose diary the meeting is in.

Why: without it every visit of such a CRM reaches no doctor, so no agenda or calendar is sent
and `check` fails, though the schema holds the doctor one join away. The owner is told from the
row's other users by its name (owner, assigned, assignee, a user column), never a column that
records who created or changed the row (``smcreatorid``, ``modifiedby``, ``modified_user_id``:
graph.py's ``audit`` rule, also with the words run together); and the users table from its
values when no key is declared: the owners of the visits' rows are that table's keys. A CRM also
assigns records to a group (Vtiger's ``vtiger_groups``, ids from the same sequence): a visit
owned by a group reaches no user, so ``SHARE`` asks most of the owners, not all, to be users.
"""

from __future__ import annotations

import re

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import diarykeeper, doctors, sharedrow
from clinicsync.sync.discover.graph import Ref, Table, audit, words
from clinicsync.sync.discover.kinds import TEXT, USER, WHOLE, Builder, kind_of, stems
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.vocab import name_tokens

SHARE = 0.8  # of the distinct owners of the visits' shared rows, found as the users table's keys
SAMPLE = 2000  # visits whose owners are read
DISTINCT = 100  # owners asked for at most
_OWNER = re.compile(r"(owner|assignee|assigned(_?to)?|user)(_?(u?u|g)?id|_?ref|_?key|_?no|_?user(_?id)?)?$", re.I)
# a word of who entered or changed the row, whole or run together with others (``smcreatorid``)
_RECORDER = re.compile(r"creat|author|modif|chang|updat|edit(ed|or)|writ|void|retir|delet|entered|recorded|recorder|"
                       r"cancel|last_?(user|modif|edit|chang|updat)", re.I)
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # safe inside '…' (no quote, no colon)
_NUMBER = re.compile(r"-?[0-9]{1,18}")
# a table of logins, whatever its word
_ACCOUNT = frozenset({"account", "accounts", "login", "logins", "principal", *USER})


def recorder(column: str) -> bool:
    """A column naming who created or changed the row, never whom it is assigned to: the audit
    rule (``creator``, ``voided_by``, ``created_by``), the owner words aside, or such a word run
    together with others (``smcreatorid``, ``modifiedby``, ``modified_user_id``)."""
    return bool(_RECORDER.search(column)) or (audit(column) and "owner" not in column.lower())


def owner_columns(table: Table) -> list[str]:
    """The shared row's columns that may name the user the record is assigned to, in table order."""
    return [c for c in table.columns if c not in table.primary_key and _OWNER.search(c) and not recorder(c)]


def follow(builder: Builder) -> bool:
    """Where the visit shares its key with an entity row, follow that row's owner user to the
    users row and propose that person as the practitioner (id, name, email: doctors.follow);
    False when the visit has no shared row, or its row no owner that reaches a named user."""
    plan = builder.plan
    found = sharedrow.shared_table(plan.main, builder.schema.tables, builder.schema.refs(plan.main.name))
    if found is None:
        return False
    shared, key = found
    passed = [c for c in shared.columns if c not in shared.primary_key and recorder(c)
              and (audit(c) or _OWNER.search(c) or c.lower().endswith(("id", "by")))]
    for column in owner_columns(shared):
        ref = _users_ref(builder, shared, column, _owners(builder, shared, f"cs_e.{builder.q(key)} = "
                                                  f"cs_a.{builder.q(str(builder.plan.main.key))}", column))
        if ref is None:
            continue
        state = plan.state()
        alias = sharedrow.joined(plan, shared, key)
        builder.stamp_row(shared, alias)  # the row's stamps move when the visit is given to another doctor
        said = (f"the visit names no doctor, but its {shared.name!r} row (the same key: the record's shared row) "
                f"holds the user it is assigned to ({column!r})"
                + (f"; {', '.join(map(repr, passed))} record who created or changed the row, never the doctor"
                   if passed else ""))
        if doctors.follow(builder, [ref], origin=doctors.Origin(shared, alias, said)):
            return True
        plan.restore(state)
    return False


def calendar_owner(builder: Builder) -> bool:
    """The doctor as the owner user of the calendar the visit is in: the visit refers to a
    calendar's row (a groupware's folder or container: ``cal_events.container_id`` ->
    ``container``), and that row names the user who owns it (``container.owner_id`` ->
    ``accounts``), whose name and email are the doctor's (doctors.follow). False when no row the
    visit refers to names an owner that reaches a named user.

    Why: such a visit names no practitioner of its own; the person who keeps the diary is one
    join further, on the calendar's row, as a CalDAV server's collection names its owner
    (icalusers.py, for events kept as iCalendar text). The owner is told from the row's other
    users by its name, never a column of who created or changed it (``recorder``)."""
    plan, schema = builder.plan, builder.schema
    main = plan.main
    for ref in schema.refs(main.name):
        if ref.target == main.name or audit(ref.column) or ref.column in builder.people.handled \
                or ref.target in builder.people.patient_tables:
            continue
        calendar = schema.tables[ref.target]
        on = f"cs_e.{builder.q(ref.target_column)} = cs_a.{builder.q(ref.column)}"
        for column in owner_columns(calendar):
            if column in main.columns:  # every row of the schema has one: who entered it (OpenClinica's
                continue  # ``owner_id``), not whose calendar a row is
            users = _users_ref(builder, calendar, column, _owners(builder, calendar, on, column))
            if users is None or users.target == main.name or not (words(users.target) & _ACCOUNT
                                                                  or kind_of(users.target) == "provider"):
                continue
            if users.target in builder.people.patient_tables and not diarykeeper.keeps_diary(builder, calendar, on,
                                                                                             column):
                continue  # an owner among the patients' people (a course's booker) keeps no diary
            state = plan.state()
            alias = plan.alias("e")
            plan.join(calendar, alias, plan.on(ref, alias, "a"))
            builder.stamp_row(calendar, alias)  # the row's stamps move when the calendar is given to another
            said = (f"the visit names no doctor, but the {calendar.name!r} row it is in ({ref.column!r}: its "
                    f"calendar) names the user who owns it ({column!r})")
            if doctors.follow(builder, [users], origin=doctors.Origin(calendar, alias, said, checked=True)):
                builder.people.handled.add(ref.column)
                _honorific(builder, users)
                diarykeeper.room_place(builder, calendar, alias)
                if users.target in builder.people.patient_tables:
                    diarykeeper.staff_left_out(builder, calendar, column)
                return True
            plan.restore(state)
    return False


def _users_ref(builder: Builder, shared: Table, column: str, values: list[str]) -> Ref | None:
    """The reference from the shared row's ``column`` to a users or staff table: declared (or
    found by valuerefs.py), else the one such table whose keys hold ``values``, the owners of
    the visits' rows (at least ``SHARE`` of them), the table the column's name points at among
    several."""
    declared = next((r for r in builder.schema.refs(shared.name) if r.column == column), None)
    if declared is not None:
        return declared
    if not values:
        return None
    whole_owner = bool(WHOLE.search(shared.columns[column]))
    matched = []
    for table in builder.schema.tables.values():
        if table.key is None or table.name in (shared.name, builder.plan.main.name) \
                or not (words(table.name) & _ACCOUNT or kind_of(table.name) == "provider"):
            continue
        whole_key = bool(WHOLE.search(table.columns[table.key]))
        if (whole_owner and not whole_key) or (whole_key and not all(_NUMBER.fullmatch(v) for v in values)):
            continue  # a number never matches a text key; a text key is compared with quoted codes
        literals = ", ".join(v if whole_key else f"'{v}'" for v in values)
        q = builder.q
        held = builder.run(f"SELECT COUNT(*) FROM {q(table.name)} WHERE {q(table.key)} IN ({literals})")[0][0]
        if int(held) >= SHARE * len(values) and (doctors.named(builder, table) or any(
                doctors.named(builder, builder.schema.tables[r.target]) for r in builder.schema.refs(table.name)
                if not audit(r.column) and r.target != table.name)):  # a login names its person
            as_text = builder.plan.dialect == "postgresql" and whole_key and not whole_owner
            matched.append(Ref(shared.name, column, table.name, table.key, declared=False, by_values=True,
                               as_text=as_text))
    if len(matched) > 1:  # the one whose name shares a word with the column's (``user_id`` -> ``users``)
        matched = [r for r in matched if stems(r.target) & stems(column)]
    return matched[0] if len(matched) == 1 else None


def _owners(builder: Builder, shared: Table, on: str, column: str) -> list[str]:
    """The distinct owners of the visits' shared rows (not every record's: a contact's owner says
    nothing of the diary), read from at most ``SAMPLE`` visits (a join on keys ``on``, the visit
    ``cs_a`` and the row ``cs_e``: cheap on any size), as plain codes only; none when any is not one."""
    q, main = builder.q, builder.plan.main
    rows = builder.run(first_rows(
        f"SELECT cs_e.{q(column)} FROM {q(main.name)} AS cs_a JOIN {q(shared.name)} AS cs_e ON "
        f"{on} WHERE cs_e.{q(column)} IS NOT NULL", SAMPLE, builder.plan.dialect))
    values = sorted({str(r[0]).strip() for r in rows if str(r[0]).strip()})
    return values[:DISTINCT] if all(_PLAIN.fullmatch(v) for v in values) else []



def account_person(builder: Builder) -> bool:
    """The doctor as the visit's own owner when that owner is an account and the account's person
    is the address-book row that carries the account's id in a unique column (``owner`` ->
    ``contacts.account_id``: groupware keeps each user's own contact so). Proposed as the
    practitioner: the owner's id, the person's name and email. False when the visit has no owner
    column, or its owners (at least ``SHARE`` of the distinct ones) are no such person's.

    Why: the owner's account row names no one (a login, a password), and the person row refers
    to the account, not the account to it, so no path from the visit reaches a name; every visit
    then had no doctor and `check` failed."""
    plan, q = builder.plan, builder.q
    main = plan.main
    for column in owner_columns(main):
        if not WHOLE.search(main.columns[column]) or column in builder.people.handled:
            continue
        rows = builder.run(first_rows(f"SELECT DISTINCT {q(column)} FROM {q(main.name)} WHERE {q(column)} IS NOT NULL",
                                      DISTINCT, plan.dialect))
        values = sorted({str(r[0]).strip() for r in rows})
        if not values or not all(_NUMBER.fullmatch(v) for v in values):
            continue
        for table in builder.schema.tables.values():
            held = [u for u in table.unique if words(u) & _ACCOUNT and WHOLE.search(table.columns[u])]
            if table.name == main.name or not held or not doctors.named(builder, table):
                continue
            unique = held[0]
            found = builder.run(f"SELECT COUNT(*) FROM {q(table.name)} WHERE {q(unique)} IN ({', '.join(values)})")
            if int(found[0][0]) < SHARE * len(values):
                continue
            alias = plan.alias("d")
            plan.join(table, alias, f"{alias}.{q(unique)} = a.{q(column)}")
            builder.stamp_row(table, alias)
            plan.add_columns(table, alias, "doctor", frozenset({unique}))
            builder.people.handled.add(column)
            why = (f"the visit's owner {column!r} is an account: {table.name}.{unique!r} (unique) carries it on "
                   "that account's own person row, whose name and email are the doctor's")
            builder.people.guesses.append(Guess("practitioner.external_id", column, 0.8, why, {"from": column}))
            named_as = builder.name("doctor", [(table, alias)])
            if named_as is not None:
                builder.people.guesses.append(_titled(builder, table, alias, named_as,
                                                      f"{q(unique)} IN ({', '.join(values)})"))
            builder.people.guesses.extend(builder.contacts([(table, alias)], "practitioner"))
            builder.people.notes.append(f"the doctor: {why}")
            return True
    return False


def _honorific(builder: Builder, users: Ref) -> None:
    """The calendar owner's name with the honorific the person row keeps apart (``_titled``),
    counted over the owners' own person rows: the users row, or the person it names."""
    guesses = builder.people.guesses
    at = next((n for n, g in enumerate(guesses) if g.field == "practitioner.name"), None)
    parts = [] if at is None else (guesses[at].spec.get("concat") or [guesses[at].spec.get("from")])
    selected = builder.plan.select.get(str(parts[0])) if parts else None
    if at is None or selected is None:
        return
    alias = selected.split(".", 1)[0]
    table = builder.schema.tables[builder.plan.tables_of[str(parts[0])]]
    q = builder.q
    owners = f"SELECT cs_o.{q(users.column)} FROM {q(users.table)} AS cs_o"
    if table.name != users.target:  # the users row names its person (``accounts.contact_id``)
        hop = next((r for r in builder.schema.refs(users.target) if r.target == table.name), None)
        if hop is None:
            return
        owners = (f"SELECT cs_p.{q(hop.column)} FROM {q(users.target)} AS cs_p WHERE cs_p.{q(hop.column)} "
                  f"IS NOT NULL AND cs_p.{q(users.target_column)} IN ({owners})")
        guesses[at] = _titled(builder, table, alias, guesses[at], f"{q(hop.target_column)} IN ({owners})")
        return
    guesses[at] = _titled(builder, table, alias, guesses[at], f"{q(users.target_column)} IN ({owners})")


_HONORIFIC = frozenset({"prefix", "honorific", "salutation"})


def _titled(builder: Builder, table: Table, alias: str, named_as: Guess, owners: str) -> Guess:
    """The doctor's name with the honorific the person row keeps apart (vCard's ``n_prefix``:
    "Dr."), when it is filled there: a patient reads "Dr. Weber" in the reminder, as the desk says
    it. The name as it is when the row has no such column, or the owners' rows (``owners``, a
    condition) leave it empty on most."""
    parts = named_as.spec.get("concat") or ([named_as.spec["from"]] if isinstance(named_as.spec.get("from"), str)
                                            else None)
    q = builder.q
    column, counts = None, (0, 0)
    for candidate in (c for c in table.columns if set(name_tokens(c)) & _HONORIFIC and TEXT.search(table.columns[c])):
        # the first such column the owners' rows fill (an address book keeps a salutation beside N's prefix)
        column = candidate
        counts = builder.run(f"SELECT COUNT(*), COUNT({q(column)}) FROM {q(table.name)} WHERE {owners}")[0]
        if int(counts[0]) and 2 * int(counts[1]) >= int(counts[0]):
            break
    if column is None or parts is None or 2 * int(counts[1]) < int(counts[0]) or not int(counts[0]):
        return Guess("practitioner.name", named_as.source, named_as.confidence, named_as.why, named_as.spec)
    out = builder.plan.add(alias, column, f"doctor_{column}", table.name, table.columns[column])
    return Guess("practitioner.name", " + ".join([out, *parts]), named_as.confidence,
                 f"{named_as.why}, after its honorific {column!r}", {**named_as.spec, "concat": [out, *parts]}
                 if "concat" in named_as.spec else {"concat": [out, *parts]})
