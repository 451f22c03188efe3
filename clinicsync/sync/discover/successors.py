"""Whether a source reschedules by successor rows, read from its data.

A product that keeps the old row of a move (its status a word such as ``rescheduled``) and books
a new row naming it (``rescheduled_from``, Bahmni's ``related_appointment_id``) needs the pair
read as one moved visit: the mapping's ``replaces`` on the naming column, the word mapped to
cancelled (docs/mappings.md, "Status words"). discover proposes that only when the data shows
it: a column of the visit table that refers to the table's own key, and rows carrying the word
that such a column names; or, with no such column, rows of the same patient created as a
row with the word last changed (``implied_successor``). Otherwise the word stays unmapped and the
proposal asks (``scoring.rescheduled_note``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from clinicsync.common.vocabulary import RESCHEDULED_WORDS, status_key
from clinicsync.sync.discover.graph import Schema, Table
from clinicsync.sync.discover.proposal import StatusWord


def successor_rule(run: Callable[[str], list[tuple[Any, ...]]], quote: Callable[[str], str], schema: Schema,
                   main: Table, status_expr: str | None, words: Sequence[StatusWord]) -> tuple[str, list[str]] | None:
    """(the column naming the replaced row, the moved words its rows carry), or None when the
    sample shows no such rule (no self-reference, no moved word, or no row with it named)."""
    moved = [w.value for w in words if w.status is None and status_key(w.value) in RESCHEDULED_WORDS]
    if not moved or main.key is None or status_expr is None or not status_expr.startswith("a."):
        return None  # a status read from a joined table: the rule is not looked for
    key = quote(main.key)
    table = quote(main.name)
    for ref in schema.refs(main.name):
        if ref.target != main.name or ref.target_column != main.key or ref.column == main.key:
            continue
        column = quote(ref.column)
        named = ", ".join("'" + w.replace("'", "''") + "'" for w in moved)
        # status_expr reads the visit table as "a" (ReadPlan): the old rows, named by a newer row.
        found = run(f"SELECT COUNT(*) FROM {table} AS a WHERE {status_expr} IN ({named}) AND EXISTS "
                    f"(SELECT 1 FROM {table} AS n WHERE n.{column} = a.{key})")
        if found and found[0][0]:
            return ref.column, moved
    return None


def successor_note(column: str, words: Sequence[str]) -> str:
    """What the proposal says of a successor rule it read."""
    return (f"status word(s) {', '.join(repr(w) for w in words)} mark the old row of a move: newer rows name it "
            f"in {column!r}, so `replaces` reads {column!r} and the word(s) map to cancelled (the pair is one "
            "moved visit, announced once)")


WITHIN = "INTERVAL '2' MINUTE"  # a move's two writes, one transaction apart (SQL's interval: PostgreSQL, MySQL)
_SHARE = 0.8  # of the rows with the word, how many must have a successor for the rule to hold


def implied_successor(run: Callable[[str], list[tuple[Any, ...]]], quote: Callable[[str], str], main: Table,
                      status_expr: str | None, words: Sequence[StatusWord], patient: str | None,
                      created: str | None, changed: str | None) -> tuple[str, list[str]] | None:
    """A move kept as two rows with no column naming the old one (CARE's reschedule: the old
    booking's status set to ``rescheduled`` and a new booking made for the same patient in the
    same transaction): (the SQL of the old row's key, read on the new row; the moved words) when
    most rows with the word have a row of the same patient created within minutes of their last
    change, else None. Needs the visit's own patient column and its created and changed stamps."""
    moved = [w.value for w in words if w.status is None and status_key(w.value) in RESCHEDULED_WORDS]
    if not moved or main.key is None or status_expr is None or not status_expr.startswith("a.") \
            or None in (patient, created, changed):
        return None
    t, key, who = quote(main.name), quote(main.key), quote(str(patient))
    made, touched, status = quote(str(created)), quote(str(changed)), status_expr[2:]
    named = ", ".join("'" + w.replace("'", "''") + "'" for w in moved)
    total, followed = run(
        f"SELECT COUNT(*), COUNT(CASE WHEN EXISTS (SELECT 1 FROM {t} AS n WHERE n.{who} = a.{who} "
        f"AND n.{key} <> a.{key} AND n.{made} BETWEEN a.{touched} - {WITHIN} AND a.{touched} + {WITHIN}) THEN 1 END) "
        f"FROM {t} AS a WHERE {status_expr} IN ({named})")[0]
    if not total or int(followed) < _SHARE * int(total):
        return None
    old = (f"(SELECT MIN(o.{key}) FROM {t} AS o WHERE o.{who} = a.{who} AND o.{key} <> a.{key} AND o.{status} IN "
           f"({named}) AND o.{touched} BETWEEN a.{made} - {WITHIN} AND a.{made} + {WITHIN})")
    return old, moved


def implied_note(words: Sequence[str], patient: str) -> str:
    """What the proposal says of a successor rule read from the patients and the stamps."""
    return (f"status word(s) {', '.join(repr(w) for w in words)} mark the old row of a move: no column names it, but "
            f"a row of the same patient ({patient!r}) is created within two minutes of each one's last change, so "
            "`replaces` reads that old row's id on the new row and the word(s) map to cancelled (the pair is one "
            "moved visit, announced once)")
