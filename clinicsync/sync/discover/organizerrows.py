"""The doctor kept as the organizer among a visit's participant rows: a calendar's event names no
practitioner of its own, but its participants (child rows pointing at the event) flag the one who
organizes it (``isOrganizer``, ``is_organizer``, ``host``), and that row names the staff member or
user who is the doctor (Twenty's ``calendarEventParticipant.workspaceMemberId``).

Why: without it every visit of such a calendar reaches no doctor, so no agenda or calendar is sent
and `check` fails, though the schema holds the doctor on the organizer's row. The organizer's row
is chosen by its flag (the first by key, a removed one passed over), and its reference followed to
a named person as every doctor's reference is (doctors.follow); the patient stays the first other
row that names a person (attendees.py: the organizer's row names a member, no person).
"""

from __future__ import annotations

import re

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import doctors, softdelete
from clinicsync.sync.discover.graph import audit
from clinicsync.sync.discover.kinds import Builder

SHARE = 0.8  # of the flagged rows that name someone through the reference followed
_ORGANIZER = re.compile(r"^(is_?)?(organi[sz]er|host)$", re.I)
_FLAG_TYPE = re.compile(r"bool|bit|tinyint|smallint|int", re.I)


def follow(builder: Builder) -> bool:
    """Where the visit's participant rows flag an organizer, join the first flagged row of each
    visit and follow its reference to the named person, proposed as the practitioner; False when
    no child table of the visit has such a flag, or its rows reach no named person."""
    plan, q, schema = builder.plan, builder.q, builder.schema
    main = plan.main
    if main.key is None:
        return False
    for link in schema.children(main.name):
        table = schema.tables[link.table]
        flag = next((c for c, t in table.columns.items() if _ORGANIZER.search(c) and _FLAG_TYPE.search(t)), None)
        if flag is None or table.key is None:
            continue
        flagged = softdelete.truthy(table, flag, "cs_o", q(flag), plan.dialect)
        live = softdelete.live_links(table, "cs_o", q, plan.dialect)
        for ref in schema.refs(table.name):
            if ref.target == main.name or audit(ref.column):
                continue
            rows, named = builder.run(f"SELECT COUNT(*), COUNT(cs_o.{q(ref.column)}) FROM {q(table.name)} AS cs_o "
                                      f"WHERE {flagged}{live}")[0]
            if not rows or int(named) < SHARE * int(rows):
                continue
            state = plan.state()
            alias = plan.alias("o")
            first = first_rows(f"SELECT cs_o.{q(str(table.key))} FROM {q(table.name)} AS cs_o WHERE "
                               f"cs_o.{q(link.column)} = a.{q(link.target_column)} AND {flagged}{live} "
                               f"ORDER BY cs_o.{q(str(table.key))}", 1, plan.dialect)
            plan.join(table, alias, f"{alias}.{q(str(table.key))} = ({first})")
            said = (f"the visit names no doctor, but its {table.name!r} rows flag the organizer ({flag!r}): the "
                    f"doctor is the one the organizer's row names ({ref.column!r})")
            if doctors.follow(builder, [ref], origin=doctors.Origin(table, alias, said, checked=True)):
                return True
            plan.restore(state)
    return False
