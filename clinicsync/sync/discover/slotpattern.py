"""A visit's length kept as a time pattern: a text of one character per time slot ('/XXXX/':
'X' the provider's slots, '/' the assistant's), no end and no length column beside it.

Why: the scorer finds no end nor length and every visit is taken as the clinic's default (30
minutes), while the pattern says each visit's own length: a crown prep of sixteen slots and an
emergency of six were both half an hour, and the hours after each were shown free.

How a pattern is told: a text column of the visit's own row whose sampled values use two or three
characters in all, no digit nor space, in runs (a character repeated), of three lengths or more.
How long one slot is, is not written in the row, nor anywhere in the database (the product's code
knows it). It is read from the schedule: two visits in a row of one chair (or doctor, or any
whole-number column the visits share) on one day, the second starting as the first ends, say it:
the gap between their starts is the first's characters times the slot's minutes. The slot is the
one of 5, 10 or 15 minutes that ``MIN_PAIRS`` such pairs or more agree on (``AGREE`` of them);
the length is then read as ``CHAR_LENGTH(pattern) * minutes``. When the schedule does not say
(few visits back to back), nothing is guessed: the default length stays and the note names the
pattern and what to write, the slot's minutes being the one thing the admin must give.

Rejected: taking a slot of 5 minutes because a known product stores its pattern so (a guess by
product, wrong for a fork that stores 10-minute slots); reading the slot from the starts' grid
(starts on the quarter hour say nothing of 5-minute slots); the length as the pattern's 'X'
alone (the assistant's slots are the visit's time too).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.kinds import TEXT, WHOLE
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan

SLOTS = (5, 10, 15)  # minutes a slot may last
MIN_VALUES = 10  # filled sampled values a pattern needs
MIN_LENGTHS = 3  # distinct lengths among them: a pattern's length varies with the visit
MAX_SYMBOLS = 3  # characters used in all the values
MIN_PAIRS = 8  # back-to-back visits that agree on a slot's minutes
AGREE = 0.8  # of the pairs that fit some slot, the share that fits the one chosen
READ = 2000  # visits read for the back-to-back pairs
OUT = "length_minutes"
_RUN = re.compile(r"(.)\1")
_NOT_SYMBOL = re.compile(r"[\d\s]")


def is_pattern(values: Sequence[str | None]) -> bool:
    """Whether ``values`` are time patterns: few characters in all, in runs, lengths that vary."""
    filled = [v for v in values if v]
    if len(filled) < MIN_VALUES or any(_NOT_SYMBOL.search(v) for v in filled):
        return False
    symbols = set("".join(filled))
    runs = sum(1 for v in filled if _RUN.search(v))
    return len(symbols) <= MAX_SYMBOLS and runs >= 0.8 * len(filled) and len({len(v) for v in filled}) >= MIN_LENGTHS


def pattern_column(plan: ReadPlan, values: Mapping[str, Sequence[str | None]], unplaced: Sequence[str]) -> str | None:
    """The visit's own unplaced text column that holds time patterns, if one does."""
    for column in unplaced:
        type_name = plan.main.columns.get(column)
        if type_name is not None and TEXT.search(type_name) and is_pattern(values.get(column, ())):
            return column
    return None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None


def slot_minutes(rows: Sequence[Sequence[Any]]) -> tuple[int | None, int]:
    """The slot's minutes the back-to-back visits of ``rows`` (start, pattern, then the columns
    visits are grouped by) agree on, and how many pairs fit a slot at all; None when they do not
    agree (or too few do)."""
    best: tuple[int | None, int] = (None, 0)
    for group in range(2, len(rows[0]) if rows else 2):
        by_day: dict[tuple[Any, Any], list[tuple[datetime, int]]] = {}
        for row in rows:
            start = _moment(row[0])
            if start is not None and row[1] and row[group] not in (None, 0, "0", ""):
                by_day.setdefault((row[group], start.date()), []).append((start, len(str(row[1]))))
        votes: Counter[int] = Counter()
        for visits in by_day.values():
            visits.sort()
            for (first, length), (second, _) in pairwise(visits):
                gap = (second - first).total_seconds() / 60
                votes.update(s for s in SLOTS if gap == length * s)
        if votes:
            slot, count = votes.most_common(1)[0]
            if count >= MIN_PAIRS and count >= AGREE * sum(votes.values()) and count > best[1]:
                best = (slot, count)
    return best


def _length_sql(dialect: str) -> str:
    return {"sqlite": "LENGTH", "mssql": "LEN"}.get(dialect, "CHAR_LENGTH")


def placed(run: Callable[[str], list[tuple[Any, ...]]], plan: ReadPlan, guesses: list[Guess], unplaced: list[str],
           values: Mapping[str, Sequence[str | None]], notes: list[str]) -> tuple[list[Guess], list[str]]:
    """``guesses`` with ``duration_minutes`` read from the visit's time pattern when no end nor
    length of its own was placed and the schedule says a slot's minutes; else as they came, with
    the note that names the pattern and what is missing (the scorer's default-length note replaced)."""
    current = next((g for g in guesses if g.field == "duration_minutes"), None)
    start = next((g for g in guesses if g.field == "start"), None)
    if any(g.field == "end" for g in guesses) or (current is not None and "value" not in current.spec) \
            or start is None or start.spec.get("from") not in plan.main.columns:
        return guesses, unplaced
    column = pattern_column(plan, values, unplaced)
    if column is None:
        return guesses, unplaced
    q = plan.quote
    groups = [c for c, t in plan.main.columns.items() if WHOLE.search(t) and c not in plan.main.primary_key]
    rows = run(first_rows(f"SELECT a.{q(start.spec['from'])}, a.{q(column)}"
                          + "".join(f", a.{q(c)}" for c in groups)
                          + f" FROM {q(plan.main.name)} AS a WHERE a.{q(start.spec['from'])} IS NOT NULL"
                          + f" ORDER BY a.{q(start.spec['from'])} DESC", READ, plan.dialect))
    slot, pairs = slot_minutes(rows)
    lengths = sorted({len(v) for v in values.get(column, ()) if v})
    said = (f"{column!r} holds time patterns (one character a slot: {lengths[0]} to {lengths[-1]} "
            f"characters in the sample)")
    notes[:] = [n for n in notes if not n.startswith("no end or duration column")]
    if slot is None:
        notes.append(f"{said}; how many minutes a slot lasts is not in the database and the schedule does not "
                     f"say it (too few visits back to back): visits are taken as the default length until you "
                     f"add `{_length_sql(plan.dialect)}(a.{q(column)}) * <minutes of a slot> AS {OUT}` to the "
                     f"query and map `duration_minutes: {{from: {OUT}}}`")
        return guesses, unplaced
    out = plan.expr(f"{_length_sql(plan.dialect)}(a.{q(column)}) * {slot}", OUT, plan.main.name, "INTEGER")
    guess = Guess("duration_minutes", out, 0.75,
                  f"{said}; a slot lasts {slot} minutes: {pairs} visits in a row of one schedule start as "
                  f"the one before ends after its characters x {slot} minutes", {"from": out})
    notes.append(f"{said}: the length is its characters x {slot} minutes, read from {pairs} back-to-back visits "
                 "(the database keeps no slot length): check it against one visit you know")
    return [g for g in guesses if g.field != "duration_minutes"] + [guess], [u for u in unplaced if u != column]
