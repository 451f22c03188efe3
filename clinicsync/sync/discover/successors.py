"""Whether a source reschedules by successor rows, read from its data.

A product that keeps the old row of a move (its status a word such as ``rescheduled``) and books
a new row naming it (``rescheduled_from``, Bahmni's ``related_appointment_id``) needs the pair
read as one moved visit: the mapping's ``replaces`` on the naming column, the word mapped to
cancelled (docs/mappings.md, "Status words"). discover proposes that only when the data shows
it: a column of the visit table that refers to the table's own key, and rows carrying the word
that such a column names. Otherwise the word stays unmapped and the proposal asks
(``scoring.rescheduled_note``).

A product may keep no such column: it books the new row for the same patient at the moment it
marks the old one (the old row's change stamp and the new row's creation stamp agree). Where the
data shows that for nearly every row with the word (``creation_rule``), the proposal reads the
old row's id with a correlated subquery (``replaces_id``) and maps ``replaces`` to it: the same
engine, the same one moved visit. Where it shows it for only some, it asks with the counts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clinicsync.common.vocabulary import RESCHEDULED_WORDS, status_key
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import stamps
from clinicsync.sync.discover.graph import Schema, Table
from clinicsync.sync.discover.proposal import StatusWord

SAME_MOMENT = 5  # seconds between the old row's change and the new row's creation: one save
CONSISTENT = 0.9  # share of the moved rows that must have exactly one such successor
FEWEST = 3  # moved rows needed to read a rule at all


def moved_words(words: Sequence[StatusWord]) -> list[str]:
    """The unmapped words that say a visit moved (``vocabulary.RESCHEDULED_WORDS``)."""
    return [w.value for w in words if w.status is None and status_key(w.value) in RESCHEDULED_WORDS]


def successor_rule(run: Callable[[str], list[tuple[Any, ...]]], quote: Callable[[str], str], schema: Schema,
                   main: Table, status_expr: str | None, words: Sequence[StatusWord]) -> tuple[str, list[str]] | None:
    """(the column naming the replaced row, the moved words its rows carry), or None when the
    sample shows no such rule (no self-reference, no moved word, or no row with it named)."""
    moved = moved_words(words)
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


@dataclass(frozen=True)
class CreationRule:
    """Successors found by the same patient and the same moment: the subquery that reads a new
    row's predecessor (None when the evidence is not consistent), the words, and the counts."""

    expression: str | None
    words: list[str]
    moved: int  # rows with a moved word
    followed: int  # of them, with exactly one successor row
    changed: str
    created: str


def seconds_apart(x: str, y: str, dialect: str) -> str:
    """Seconds between two date-time expressions, in the dialect's own arithmetic (SQL Server's
    ``DATEDIFF_BIG``: plain ``DATEDIFF`` overflows its int past 68 years of seconds)."""
    if dialect == "postgresql":
        return f"ABS(EXTRACT(EPOCH FROM ({x} - {y})))"
    if dialect in ("mysql", "mariadb"):
        return f"ABS(TIMESTAMPDIFF(SECOND, {x}, {y}))"
    if dialect == "mssql":
        return f"ABS(DATEDIFF_BIG(SECOND, {x}, {y}))"
    return f"ABS(julianday({x}) - julianday({y})) * 86400"


def creation_rule(run: Callable[[str], list[tuple[Any, ...]]], quote: Callable[[str], str], main: Table,
                  dialect: str, status_column: str | None, patient_column: str | None,
                  words: Sequence[StatusWord]) -> CreationRule | None:
    """The "same patient, a new row created when the old one changed" pattern, read from the
    whole table: for each row carrying a moved word, the other rows of the same patient created
    within ``SAME_MOMENT`` seconds of the old row's last change (a successor moved again since
    carries the word itself: a chain). None when the
    table lacks what the rule reads (a key, the patient and status columns of its own, a change
    stamp and a creation stamp) or no row carries the word."""
    moved = moved_words(words)
    columns = stamps.stamp_columns(main)
    changed = next((c for c in columns if stamps.is_change(c)), None)
    created = next((c for c in reversed(columns) if not stamps.is_change(c) and stamps.is_creation(c)), None)
    if not moved or main.key is None or status_column not in main.columns or patient_column not in main.columns \
            or changed is None or created is None:
        return None
    table, key, status, patient = quote(main.name), quote(main.key), quote(status_column), quote(patient_column)
    named = ", ".join("'" + w.replace("'", "''") + "'" for w in moved)

    def successors(old: str, new: str) -> str:
        """The condition that row ``new`` is the successor of row ``old``."""
        return (f"{new}.{patient} = {old}.{patient} AND {new}.{key} <> {old}.{key} AND {old}.{status} IN ({named}) "
                f"AND {seconds_apart(f'{new}.{quote(created)}', f'{old}.{quote(changed)}', dialect)} <= {SAME_MOMENT}")

    found = run(f"SELECT COUNT(*), COUNT(CASE WHEN (SELECT COUNT(*) FROM {table} AS n WHERE "
                f"{successors('o', 'n')}) = 1 THEN 1 END) FROM {table} AS o WHERE o.{status} IN ({named})")
    total, followed = (int(found[0][0]), int(found[0][1])) if found else (0, 0)
    if total == 0:
        return None
    consistent = total >= FEWEST and followed >= CONSISTENT * total
    expression = ("(" + first_rows(f"SELECT o.{key} FROM {table} AS o WHERE {successors('o', 'a')} "
                                   f"ORDER BY o.{quote(changed)} DESC, o.{key} DESC", 1, dialect) + ")"
                  ) if consistent else None
    return CreationRule(expression, moved, total, followed, changed, created)


def creation_note(rule: CreationRule, column: str | None) -> str:
    """What the proposal says of the same-patient, same-moment reading: the rule it wrote, or
    the evidence it found too thin to write one."""
    words = ", ".join(repr(w) for w in rule.words)
    seen = (f"{rule.followed} of {rule.moved} row(s) with {words} have exactly one new row of the same patient "
            f"created within {SAME_MOMENT} s of the old row's {rule.changed!r}")
    if column is not None:
        return (f"{seen}: the source moves a visit by booking a new row, so `replaces` reads {column!r} (the old "
                f"row's id, found by patient and {rule.created!r}) and the word(s) map to cancelled (the pair is one "
                "moved visit, announced once); the subquery reads the patient's rows for every row read: keep an "
                "index on the visit table's patient column")
    return (f"{seen}: too few to read as a rule. If the source books a new row when it moves a visit, add to the "
            "query a column naming the old row, map `replaces` to it and the word(s) to cancelled")
