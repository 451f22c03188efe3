"""Which role of a link table is the patients'.

A CRM links an activity to its contacts by role (CiviCRM's ``civicrm_activity_contact``:
``record_type_id`` 1 the assignee, 2 who entered it, 3 the target), a booking tool to its users by
level (1 the owner, 2 a participant). Taking the lowest role as the patient made CiviCRM's
assignee — the doctor — every visit's patient. The data tells the roles apart: a clinic has a
handful of doctors and one or two desk staff, and many patients; so a role whose persons are few
for the visits it is on (fewer than one in ``FEW``) is no patient's, and when the lowest role is
such one, the role with the most distinct persons (at least ``MORE`` times as many) is taken.
A booking tool's owner level holds many persons: it stays the first, as before.
"""

from __future__ import annotations

from collections.abc import Callable

from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.probe import Run

FEW = 10  # visits per distinct person above which a role is staff's (a doctor sees many visits)
MORE = 3  # how many times the lowest role's distinct persons the patients' role has
MAX_ROLES = 12  # a level column with more values is an order, not a role


def patients_role(run: Run, quote: Callable[[str], str], links: Table, level: str, person: str) -> str | None:
    """The level value to keep the link rows to (a whole number, written as SQL), or None when
    the lowest level may be the patients' (or the column is no role)."""
    q = quote
    rows = run(f"SELECT {q(level)}, COUNT(*), COUNT(DISTINCT {q(person)}) FROM {q(links.name)} "
               f"WHERE {q(level)} IS NOT NULL GROUP BY {q(level)} ORDER BY {q(level)}")
    roles = [(row[0], int(row[1]), int(row[2])) for row in rows]
    if not 1 < len(roles) <= MAX_ROLES or not all(isinstance(r[0], int) for r in roles):
        return None
    lowest = roles[0]
    if lowest[1] < FEW * lowest[2]:
        return None  # many persons for its rows: it may well be the patients'
    best = max(roles, key=lambda r: r[2])
    return str(best[0]) if best[2] >= MORE * lowest[2] else None
