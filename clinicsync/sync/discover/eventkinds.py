"""An agenda table mixing event kinds: the kinds whose rows do not carry the patient are left out.

Why: a general ERP/CRM agenda keeps meetings beside phone calls, emails and automatic events
("invoice validated", the majority of rows), all in one table with a kind code. Leaving out the
rows that name no patient drops most of them, but a call or an email logged against a contact
names one too, and is no visit. When one or a few kinds carry the patient on (nearly) every row
and the other kinds mostly do not, those other kinds are left out, said so with the figures.
A kind that says a phone call, or an email, a note, a task or an outing (kindwords.py: ``call``,
``Email``, ``Lunch``) names the contact on every row and is left out all the same, unless no other
kind names the patient (then those are what the table holds).

The query names the kinds left out (``code NOT IN (...)``), never the kinds kept: a visit kind
the clinic adds after discover ran ("Video consultation") is read like the others (its rows
that name no patient are left out with every such row, people.py's open-slot rule). A list of
kept kinds would drop a new visit kind silently, forever; a new kind that is no visit shows in
the imported visits, and the admin adds it to the list. A row without a kind (NULL) is read unless the rows
without one were among those left out (``x NOT IN (...)`` is never true for NULL, so it is said).

How, kept cheap: only the visit table's short text columns whose name says a kind (type, code,
kind, category; glued to the word before it too: ``activitytype``) are asked, one grouped count
each; a column with more than ``MAX_KINDS`` values is no kind code. Only plain codes (letters,
digits, inner spaces, ``. _ -``) are ever written into the query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from clinicsync.sync.discover.graph import Table, audit
from clinicsync.sync.discover.kinds import TEXT
from clinicsync.sync.discover.kindwords import is_call, is_no_visit
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.vocab import name_tokens

MAX_KINDS = 20  # distinct values of a kind code
CARRY = 0.9  # of a visit kind's rows that name the patient
OTHERS = 0.5  # at most, of the other kinds' rows that name one
KIND_WORDS = frozenset({"type", "code", "kind", "category", "tipo", "categoria", "genre", "art"})
# a kind word glued to the word before it (Vtiger's ``activitytype``, ``eventcategory``); only
# the longer words, so that no ``start`` ends in ``art``
_GLUED_KIND = re.compile(r"[a-z](type|kind|category|categoria|tipo)$", re.I)
_PLAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,48}[A-Za-z0-9._-])?")


def kind_filter(run: Run, q: Callable[[str], str], main: Table, patient: str, named: str) -> tuple[str, str] | None:
    """The condition that leaves out the kinds of rows not carrying the patient
    (``a.code NOT IN ('AC_OTH_AUTO', 'AC_TEL')``) and the note saying which, with their counts;
    None when no kind column splits the rows so. ``named``: the SQL condition on alias-free
    ``patient`` that a row names one."""
    for column, type_name in main.columns.items():
        if column == patient or column in main.primary_key or audit(column) or not TEXT.search(type_name) \
                or not (set(name_tokens(column)) & KIND_WORDS or _GLUED_KIND.search(column)):
            continue
        rows = run(f"SELECT {q(column)}, COUNT(*), COUNT(CASE WHEN {named} THEN 1 END) FROM {q(main.name)} "
                   f"GROUP BY {q(column)}")
        if len(rows) > MAX_KINDS or len(rows) < 2:
            continue
        counts = {None if v is None else str(v): (int(n), int(p)) for v, n, p in rows}
        visits = {v for v, (n, p) in counts.items() if p >= CARRY * n and p > 0}
        calls = {v for v in visits if is_call(v)}  # they name the contact called: no visits all the same
        logged = {v for v in visits if is_no_visit(v)}  # an email, a note, a lunch logged against the contact
        if not visits - calls - logged:  # nothing else names the patient: the calls are what the table holds
            calls, logged = set(), set()
        visits -= calls | logged
        others = {v: c for v, c in counts.items() if v not in visits | calls | logged}
        rest_rows = sum(n for n, _ in others.values())
        rest_named = sum(p for _, p in others.values())
        if rest_named > OTHERS * rest_rows:
            others = {}
        left = {**others, **{v: counts[v] for v in calls | logged}}
        if not visits or not left or not all(_PLAIN.fullmatch(v) for v in left if v is not None):
            continue
        return left_out(f"a.{q(column)}", left, column in main.nullable), _note(column, others, calls, logged,
                                                                                counts)
    return None


def left_out(column: str, others: dict[str | None, tuple[int, int]], nullable: bool) -> str:
    """The SQL that keeps every row but those of ``others``' kinds: ``NOT IN`` is never true for
    a NULL kind, so a row without one (in a column that allows it) is read only through an
    explicit ``IS NULL``, written unless NULL is among the kinds left out."""
    codes = sorted(v for v in others if v is not None)
    if not codes:
        return f"{column} IS NOT NULL"
    literals = ", ".join(f"'{v}'" for v in codes)
    listed = f"{column} NOT IN ({literals})"
    return listed if None in others or not nullable else f"({column} IS NULL OR {listed})"


def _note(column: str, others: dict[str | None, tuple[int, int]], calls: set[str | None], logged: set[str | None],
          counts: dict[str | None, tuple[int, int]]) -> str:
    """What is left out and why, with the counts: each kind's rows and how many name someone."""
    def one(value: str | None, rows: int, named: int) -> str:
        who = "none naming the patient" if not named else f"{named} naming someone"
        return f"{'no kind' if value is None else repr(value)} ({rows} rows, {who})"

    def listed(values: Iterable[str | None]) -> str:
        return ", ".join(one(v, *counts[v]) for v in sorted(values, key=lambda v: (v is None, v or "")))
    said = []
    if others:
        said.append(f"{listed(others)} are no visits (a visit's kind names the patient on at least "
                    f"{round(100 * CARRY)}% of its rows)")
    if calls:
        said.append(f"{listed(calls)} are phone calls logged against the contact they were made to, no visits "
                    "(nor phone visits)")
    if logged:
        said.append(f"{listed(logged)} say an email, a note, a task or an outing logged against the contact, no visit")
    return (f"{column!r} mixes event kinds: {'; '.join(said)}: left out of the query; any other kind is read, one "
            "added later too (add it to the list if it is no visit)")
