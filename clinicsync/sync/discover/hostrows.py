"""The host among a visit's attendee rows: a groupware calendar keeps the organizer (the doctor
whose calendar it is) as an attendee row of every event, beside the patient, marked by a 0/1 flag
(``is_organizer``); often with a lower key than the patient's, so "the first attendee by key" was
the doctor, and every visit was the doctor's own.

Found by values, not by the flag's name: a 0/1 column of the attendee table whose set rows name
few people for many visits (the staff: at most a fifth as many distinct people, by email or
name, as flagged rows) while its unset rows name many. The patient is then picked among the
unset rows; the proposal says so."""

from __future__ import annotations

import re

from clinicsync.sync.discover import softdelete
from clinicsync.sync.discover.graph import Ref, Table, audit
from clinicsync.sync.discover.kinds import Builder, name_columns

_FLAG = re.compile(r"bool|bit|tinyint|^int|smallint|integer", re.I)
_FEW = 0.2
_LEAST = 5


def _person(table: Table) -> str | None:
    """The column that tells one attendee from another: an email, else the name."""
    email = next((c for c in table.columns if re.search(r"e_?mail", c, re.I)), None)
    names = name_columns(table)[0]
    return email or (names[0] if names else None)


def host_flag(builder: Builder, ref: Ref) -> tuple[str, str] | None:
    """(the condition keeping the rows that are no host, over ``cs_r``; what to say) or None."""
    table = builder.schema.tables[ref.table]
    person = _person(table)
    if person is None:
        return None
    q = builder.q
    for column, type_name in table.columns.items():
        if column in (ref.column, table.key, person) or audit(column) or not _FLAG.search(type_name):
            continue
        rows = builder.run(f"SELECT {q(column)}, COUNT(*), COUNT(DISTINCT {q(person)}) FROM {q(table.name)} "
                           f"GROUP BY {q(column)}")
        counts = {str(r[0]): (int(r[1]), int(r[2])) for r in rows}
        if set(counts) - {"0", "1", "True", "False"} or not counts:
            continue
        flagged = counts.get("1") or counts.get("True")
        unflagged = counts.get("0") or counts.get("False")
        if flagged is None or unflagged is None or flagged[0] < _LEAST:
            continue
        if flagged[1] <= _FEW * flagged[0] and unflagged[1] > 2 * flagged[1]:
            said = (f"{table.name}.{column} set marks the host (the doctor or organizer: {flagged[1]} "
                    f"distinct people on {flagged[0]} rows): the patient is the first attendee without it")
            return f"NOT ({softdelete.truthy(table, column, 'cs_r', q(column), builder.plan.dialect)})", said
    return None
