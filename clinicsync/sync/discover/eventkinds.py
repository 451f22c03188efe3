"""An agenda table mixing event kinds: only the kinds whose rows carry the patient are visits.

Why: a general ERP/CRM agenda keeps meetings beside phone calls, emails and automatic events
("invoice validated", the majority of rows), all in one table with a kind code. Leaving out the
rows that name no patient drops most of them, but a call or an email logged against a contact
names one too, and is no visit. When one or a few kinds carry the patient on (nearly) every row
and the other kinds mostly do not, only those kinds are read, said so with the figures.

How, kept cheap: only the visit table's short text columns whose name says a kind (type, code,
kind, category) are asked, one grouped count each; a column with more than ``MAX_KINDS`` values
is no kind code. Only plain codes (letters, digits, ``. _ -``) are ever written into the query.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from clinicsync.sync.discover.graph import Table, audit
from clinicsync.sync.discover.kinds import TEXT
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.vocab import name_tokens

MAX_KINDS = 20  # distinct values of a kind code
CARRY = 0.9  # of a visit kind's rows that name the patient
OTHERS = 0.5  # at most, of the other kinds' rows that name one
_KIND_WORDS = frozenset({"type", "code", "kind", "category", "tipo", "categoria", "genre", "art"})
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}")


def kind_filter(run: Run, q: Callable[[str], str], main: Table, patient: str, named: str) -> tuple[str, str] | None:
    """The condition that keeps only the kinds of rows carrying the patient (``a.code IN ('AC_RDV')``)
    and the note saying so; None when no kind column splits the rows so. ``named``: the SQL
    condition on alias-free ``patient`` that a row names one."""
    for column, type_name in main.columns.items():
        if column == patient or column in main.primary_key or audit(column) or not TEXT.search(type_name) \
                or not set(name_tokens(column)) & _KIND_WORDS:
            continue
        rows = run(f"SELECT {q(column)}, COUNT(*), COUNT(CASE WHEN {named} THEN 1 END) FROM {q(main.name)} "
                   f"GROUP BY {q(column)}")
        if len(rows) > MAX_KINDS or len(rows) < 2:
            continue
        counts = {None if v is None else str(v): (int(n), int(p)) for v, n, p in rows}
        visits = {v for v, (n, p) in counts.items() if v is not None and p >= CARRY * n and p > 0}
        rest_rows = sum(n for v, (n, _) in counts.items() if v not in visits)
        rest_named = sum(p for v, (_, p) in counts.items() if v not in visits)
        if not visits or not rest_rows or rest_named > OTHERS * rest_rows \
                or not all(_PLAIN.fullmatch(v) for v in visits if v is not None):
            continue
        kept = sorted(v for v in visits if v is not None)
        literals = ", ".join(f"'{v}'" for v in kept)
        note = (f"{column!r} mixes event kinds: only {', '.join(map(repr, kept))} rows carry the patient "
                f"({sum(counts[v][1] for v in kept)} of {sum(counts[v][0] for v in kept)} rows); the "
                f"{rest_rows} rows of other kinds ({rest_named} naming someone) are no visits: left out of the query")
        return f"a.{q(column)} IN ({literals})", note
    return None
