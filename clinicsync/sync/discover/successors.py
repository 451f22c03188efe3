"""Whether a source reschedules by successor rows, read from its data.

A product that keeps the old row of a move (its status a word such as ``rescheduled``) and books
a new row naming it (``rescheduled_from``, Bahmni's ``related_appointment_id``) needs the pair
read as one moved visit: the mapping's ``replaces`` on the naming column, the word mapped to
cancelled (docs/mappings.md, "Status words"). discover proposes that only when the data shows
it: a column of the visit table that refers to the table's own key, and rows carrying the word
that such a column names. Otherwise the word stays unmapped and the proposal asks
(``scoring.rescheduled_note``)."""

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
