"""A user row without a name whose name and email are on rows of its own that refer to it: a
webmail's ``users`` (the login only) and its ``identities`` (``user_id``, ``name``, ``email``, a
``standard`` flag for the one used by default), a system's accounts and their profiles.

Why: a calendar owned by such a user (``calendars.user_id`` -> ``users``) reached no named
person, so the calendar's own label was taken for the doctor ("Agenda Anouk Visser"), and the
login row's text for where the visit is: the doctor had no email, the agenda reached nobody.
The user's rows that name a person are the user's own: the doctor's name and email are read
from one of them, the default one first (a flag named default, standard, primary or main, then
the lowest key), a deleted one never.

When: the reached table names no one (kinds.name_columns finds none, or none filled) and exactly
one table refers to it with filled name columns and at most ``OWN`` rows a user on average (a
user's address book names many other people: its rows are not the user's); that table is no
visit's and no patient's.
"""

from __future__ import annotations

from clinicsync.sync.discover import softdelete
from clinicsync.sync.discover.graph import Ref, Table, audit, words
from clinicsync.sync.discover.kinds import WHOLE, Builder, filled, name_columns

OWN = 2  # rows per user, at most on average, of a table of the user's own names (not its address book)
_DEFAULT = frozenset({"default", "standard", "primary", "main", "preferred", "is_default"})


def named_child(builder: Builder, user: Table) -> Ref | None:
    """The one reference to ``user`` from a table of rows that name a person, None when there is
    none or several (not guessed)."""
    plan, found = builder.plan, []
    booked = {r.target for r in builder.schema.refs(plan.main.name)}  # the visit's calendar: a user's too, no name
    for ref in builder.schema.children(user.name):
        child = builder.schema.tables.get(ref.table)
        if child is None or child.key is None or child.name in (plan.main.name, *booked) or audit(ref.column) \
                or child.name in builder.people.patient_tables or ref.target_column != user.key:
            continue
        columns = name_columns(child)[0]
        if not columns or not filled(builder.run, builder.q, child, columns):
            continue
        rows, users = builder.run(f"SELECT COUNT(*), COUNT(DISTINCT {builder.q(ref.column)}) FROM "
                                  f"{builder.q(child.name)}")[0]
        if int(users) and int(rows) <= OWN * int(users):  # a user's own few rows, not its address book
            found.append(ref)
    return found[0] if len(found) == 1 else None


def join(builder: Builder, ref: Ref, at: str) -> tuple[Table, str]:
    """``ref``'s table joined to the user row at ``at`` by its default live row: (table, alias)."""
    q, plan = builder.q, builder.plan
    child = builder.schema.tables[ref.table]
    key = str(child.key)
    flags = [c for c, t in child.columns.items() if WHOLE.search(t) and words(c) & _DEFAULT]
    order = ", ".join([*(f"cs_i.{q(c)} DESC" for c in flags), f"cs_i.{q(key)}"])
    live = softdelete.live_links(child, "cs_i", q, plan.dialect)
    first = (f"SELECT cs_i.{q(key)} FROM {q(child.name)} AS cs_i WHERE cs_i.{q(ref.column)} = "
             f"{at}.{q(ref.target_column)}{live} ORDER BY {order}")
    alias = plan.alias("d")
    one = f"{first} LIMIT 1" if plan.dialect != "mssql" else first.replace("SELECT ", "SELECT TOP 1 ", 1)
    plan.join(child, alias, f"{alias}.{q(key)} = ({one})")
    return child, alias
