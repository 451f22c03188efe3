"""A table of the system's users told by its columns, not its name, and of two person columns
on a visit that both name such users, the one whose diary the visit is in.

Why: practice systems keep their doctors as the system's users, and not every product calls
that table ``users``: MedinTux's is ``Personnes`` (``Login``, ``PassWord`` beside ``Nom``,
``Prenom``), others ``utilisateurs``, ``intervenants``, ``staff_accounts``. A row with a login
and a password is an account that signs in: a staff member, whatever the table's name says.
And a visit naming users often names two (MedinTux's ``RDV_PrisAvec``, the doctor whose diary
it is, and ``RDV_PrisPar``, who took the booking; elsewhere ``booked_with``/``booked_by`` in a
language no word list knows): the diary's owner sees one patient at a time, so the same
person never has two visits at the same start, while the desk books many visits for one hour
across the doctors' diaries. Read from the rows, whatever the columns are called.

Rejected: a table with a login column only (a patient portal's ``FchPat_LoginPatient`` sits
on the patient's row); the password is what makes it an account table. Ordering the two
columns by their names' words first (``par``, ``by``): every language has its own, the rows do
not; the words only break a tie the rows leave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clinicsync.common.names import name_words
from clinicsync.sync.discover.graph import Table, audit, words
from clinicsync.sync.discover.kinds import TEXT
from clinicsync.sync.discover.probe import Run

_LOGIN = frozenset({"login", "username", "logon", "signin", "identifiant"})
_PASSWORD = frozenset({"password", "passwd", "pwd", "pass", "passe", "motdepasse", "mdp", "contrasena", "senha",
                       "kennwort"})
_WHEN = ("datetime", "timestamp")  # a start with its time of day (a day alone clashes all day long)


def holds_logins(table: Table) -> bool:
    """A table whose rows sign in: a text login column and a password column."""
    login = any(words(c) & _LOGIN and TEXT.search(t) for c, t in table.columns.items())
    return login and any(words(c) & _PASSWORD for c in table.columns)


def clashes(run: Run, q: Callable[[str], str], table: Table, column: str) -> int:
    """Rows of ``table`` that share both ``column``'s value and a start with another row, summed
    over the table's date-time columns that record no change (``created``, ``updated``)."""
    total = 0
    for when, type_name in table.columns.items():
        if not any(k in type_name.lower() for k in _WHEN) or audit(when) or when == column \
                or words(when) & {"created", "updated", "modified", "changed", "deleted", "stamp"}:
            continue
        rows = run(f"SELECT COUNT(*) FROM (SELECT {q(column)}, {q(when)} FROM {q(table.name)} "
                   f"WHERE {q(column)} IS NOT NULL AND {q(when)} IS NOT NULL "
                   f"GROUP BY {q(column)}, {q(when)} HAVING COUNT(*) > 1) AS clash")
        total += int(rows[0][0]) if rows else 0
    return total


def owner_first(run: Run, q: Callable[[str], str], table: Table, columns: Sequence[str]) -> list[str]:
    """``columns`` (each naming the same users table) with the diary's owner first: the one whose
    values clash least with the starts, when it clashes strictly less than every other; where the
    rows do not tell (a solo practice: nobody's visits clash), a column whose name ends in a word
    for "by" (``PrisPar``, ``booked_by``, ``reservado_por``) goes last: it says who did it."""
    if len(columns) < 2:
        return list(columns)
    counted = {c: clashes(run, q, table, c) for c in columns}
    best = min(columns, key=lambda c: counted[c])
    if sum(counted[c] == counted[best] for c in columns) > 1:
        return sorted(columns, key=_by_whom)  # stable: the order given, who-did-it columns last
    return [best, *(c for c in columns if c != best)]


_BY = frozenset({"by", "par", "por", "von", "da", "door"})  # the last word of "booked by" in several languages


def _by_whom(column: str) -> bool:
    parts = name_words(column)
    return bool(parts) and parts[-1].lower() in _BY
