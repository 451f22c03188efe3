"""Of several tables that each hold a visit column's text values once (a patient's GUID kept on
the patient index and on the patient's sheet), the one that names the person, and the others
as its one-to-one extensions.

Why: MedinTux names the patient on its diary by a text GUID that two tables hold once each,
``IndexNomPrenom.FchGnrl_IDDos`` (the index: the patient's family and given names) and
``fchpat.FchPat_GUID_Doss`` (the sheet: birth date, address, phones, a maiden name and the
insured's names, mostly empty). The values alone cannot tell them apart; leaving the reference
out left every visit without its patient. The row that names the person on (nearly) every
matched row is the person's own; the others hold the same keys once each, so they are rows of
the same person, joined to it one to one: their phones are the person's.

When both name the person (a user's account and its profile row, each holding the login once),
the one whose rows sign in (a login and a password: logins.holds_logins) is the person's own,
the profile its extension; unless one of them holds the value as its key (an address book's
contact id, which an account row only refers to): that is no login.
Rejected: taking the table with more columns (the sheet) or the one whose column says ``guid``
(both do, in other words); choosing when the named shares are close (nothing says which).
"""

from __future__ import annotations

from collections.abc import Callable

from clinicsync.sync.discover.graph import Ref, Schema
from clinicsync.sync.discover.kinds import name_columns
from clinicsync.sync.discover.logins import holds_logins
from clinicsync.sync.discover.probe import Run

NAMED = 0.9  # of the matched rows whose name columns are all filled, on the chosen table
LEAD = 0.3  # by how much the chosen table's share is ahead of every other's


def _named_share(run: Run, q: Callable[[str], str], schema: Schema, table: str, column: str,
                 literals: str) -> float:
    """Of ``table``'s rows holding one of ``literals`` in ``column``, the share whose person
    name columns (kinds.name_columns) are all filled; 0 for a table naming no one."""
    names = name_columns(schema.tables[table])[0]
    if not names:
        return 0.0
    filled = " AND ".join(f"{q(n)} IS NOT NULL AND TRIM({q(n)}) <> ''" for n in names)
    rows = run(f"SELECT COUNT(*), SUM(CASE WHEN {filled} THEN 1 ELSE 0 END) FROM {q(table)} "
               f"WHERE {q(column)} IN ({literals})")
    total, named = (rows[0] if rows else (0, 0))
    return float(named or 0) / int(total) if total else 0.0


def person_of(run: Run, q: Callable[[str], str], schema: Schema, owner: str, column: str,
              targets: list[tuple[str, str]], literals: str) -> list[Ref]:
    """The reference from ``owner.column`` to the target that names the person, and each other
    target's column to it (its one-to-one extension rows); none when the shares do not decide."""
    shares = sorted(((_named_share(run, q, schema, t, c, literals), t, c) for t, c in targets), reverse=True)
    (best, table, key), rest = shares[0], shares[1:]
    accounts = [(n, t, c) for n, t, c in shares if n >= NAMED and holds_logins(schema.tables[t])]
    keyed = any(c in schema.tables[t].primary_key for t, c in targets)  # one holds it as its key: the others refer
    if best >= NAMED and len(accounts) == 1 and not keyed:  # a user's account and its profile rows, all naming the user
        (best, table, key), rest = accounts[0], [s for s in shares if s != accounts[0]]
    elif best < NAMED or any(best - share < LEAD for share, _, _ in rest):
        return []
    out = [Ref(owner, column, table, key, declared=False, by_values=True)]
    return out + [Ref(t, c, table, key, declared=False, by_values=True) for _, t, c in rest
                  if not any(r.column == c for r in schema.refs(t))]
