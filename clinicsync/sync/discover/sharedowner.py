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
from clinicsync.sync.discover import doctors, sharedrow
from clinicsync.sync.discover.graph import Ref, Table, audit, words
from clinicsync.sync.discover.kinds import USER, WHOLE, Builder, kind_of, stems

SHARE = 0.8  # of the distinct owners of the visits' shared rows, found as the users table's keys
SAMPLE = 2000  # visits whose owners are read
DISTINCT = 100  # owners asked for at most
_OWNER = re.compile(r"(owner|assignee|assigned(_?to)?|user)(_?(u?u|g)?id|_?ref|_?key|_?no|_?user(_?id)?)?$", re.I)
# a word of who entered or changed the row, whole or run together with others (``smcreatorid``)
_RECORDER = re.compile(r"creat|author|modif|chang|updat|edit(ed|or)|writ|void|retir|delet|entered|recorded|recorder|"
                       r"cancel|last_?(user|modif|edit|chang|updat)", re.I)
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # safe inside '…' (no quote, no colon)
_NUMBER = re.compile(r"-?[0-9]{1,18}")


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
        ref = _users_ref(builder, shared, key, column)
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


def _users_ref(builder: Builder, shared: Table, key: str, column: str) -> Ref | None:
    """The reference from the shared row's ``column`` to a users or staff table: declared (or
    found by valuerefs.py), else the one such table whose keys hold the owners of the visits'
    rows (at least ``SHARE`` of them), the table the column's name points at among several."""
    declared = next((r for r in builder.schema.refs(shared.name) if r.column == column), None)
    if declared is not None:
        return declared
    values = _owners(builder, shared, key, column)
    if not values:
        return None
    whole_owner = bool(WHOLE.search(shared.columns[column]))
    matched = []
    for table in builder.schema.tables.values():
        if table.key is None or table.name in (shared.name, builder.plan.main.name) \
                or not (words(table.name) & USER or kind_of(table.name) == "provider"):
            continue
        whole_key = bool(WHOLE.search(table.columns[table.key]))
        if (whole_owner and not whole_key) or (whole_key and not all(_NUMBER.fullmatch(v) for v in values)):
            continue  # a number never matches a text key; a text key is compared with quoted codes
        literals = ", ".join(v if whole_key else f"'{v}'" for v in values)
        q = builder.q
        held = builder.run(f"SELECT COUNT(*) FROM {q(table.name)} WHERE {q(table.key)} IN ({literals})")[0][0]
        if int(held) >= SHARE * len(values) and doctors.named(builder, table):
            as_text = builder.plan.dialect == "postgresql" and whole_key and not whole_owner
            matched.append(Ref(shared.name, column, table.name, table.key, declared=False, by_values=True,
                               as_text=as_text))
    if len(matched) > 1:  # the one whose name shares a word with the column's (``user_id`` -> ``users``)
        matched = [r for r in matched if stems(r.target) & stems(column)]
    return matched[0] if len(matched) == 1 else None


def _owners(builder: Builder, shared: Table, key: str, column: str) -> list[str]:
    """The distinct owners of the visits' shared rows (not every record's: a contact's owner says
    nothing of the diary), read from at most ``SAMPLE`` visits (a join on the two keys, cheap on
    any size), as plain codes only; none when any is not one."""
    q, main = builder.q, builder.plan.main
    rows = builder.run(first_rows(
        f"SELECT cs_e.{q(column)} FROM {q(main.name)} AS cs_a JOIN {q(shared.name)} AS cs_e ON "
        f"cs_e.{q(key)} = cs_a.{q(str(main.key))} WHERE cs_e.{q(column)} IS NOT NULL", SAMPLE, builder.plan.dialect))
    values = sorted({str(r[0]).strip() for r in rows if str(r[0]).strip()})
    return values[:DISTINCT] if all(_PLAIN.fullmatch(v) for v in values) else []
