"""A visit cancelled by 0/1 flags instead of a status word: the PHP hospital apps keep
``userStatus`` (0 once the patient cancelled) and ``doctorStatus`` (0 once the doctor did) on the
visit, both 1 while it stands.

Why: read as a status column, the flag's words '1' and '0' are unknown to the status vocabulary
and every visit is quarantined; left out, a cancelled visit is imported as booked and reminded.
So each whole-number column of the visit's own row whose name says a status and whose values,
over the whole table, are only 0 and 1 with 1 the most common (a standing visit is the usual
one) is a cancellation flag, and the status is read as one expression: ``cancelled`` when any
flag is 0, else ``booked``. NULL counts as not cancelled. A column with any other value (a
status code 0..4) is no flag and stays the scorer's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clinicsync.sync.discover.graph import Table, audit
from clinicsync.sync.discover.kinds import WHOLE
from clinicsync.sync.discover.probe import Run, value_counts
from clinicsync.sync.discover.proposal import Guess, StatusWord
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.vocab import name_tokens, token_role

OUT = "status"  # the expression's output column


@dataclass(frozen=True)
class Flags:
    columns: list[str]  # the flags, in table order
    sql: str  # the status expression over the visit's row (alias ``a``)
    counts: dict[str, int]  # 0 rows per flag
    why: str = ""  # what the expression reads, when it is no 0/1 flag (cancelstamps.py)

    def guess(self, out: str) -> Guess:
        if self.why:
            return Guess("status", out, 0.8, self.why, {"from": out})
        flags = " or ".join(f"{c!r} is 0" for c in self.columns)
        counts = ", ".join(f"{c!r} 0 on {n} row(s)" for c, n in self.counts.items())
        return Guess("status", out, 0.8,
                     f"0/1 flag(s) of the visit's row ({counts}; 1 on most rows): cancelled when {flags}, "
                     "else booked", {"from": out})

    def words(self, sampled: list[StatusWord]) -> list[StatusWord]:
        """The expression's two words, as the status words' sample (their meaning is known)."""
        return [StatusWord("booked", "booked", 0, 0.8), StatusWord("cancelled", "cancelled", 0, 0.8), *sampled]


def _named_status(column: str) -> bool:
    return any(token_role(t) == "status" for t in name_tokens(column))


def find(run: Run, quote: Callable[[str], str], main: Table) -> Flags | None:
    """The visit table's cancellation flags (one read per candidate column), or None."""
    found: dict[str, int] = {}
    for column, type_name in main.columns.items():
        if not WHOLE.search(type_name) or column in main.primary_key or audit(column) or not _named_status(column):
            continue
        counts = value_counts(run, quote, main.name, column)
        if not counts or not set(counts) <= {"0", "1"} or counts.get("1", 0) <= counts.get("0", 0):
            continue
        found[column] = counts.get("0", 0)
    if not found:
        return None
    cancelled = " OR ".join(f"COALESCE(a.{quote(c)}, 1) = 0" for c in found)
    return Flags(list(found), f"CASE WHEN {cancelled} THEN 'cancelled' ELSE 'booked' END", found)


def placed(run: Run, plan: ReadPlan, guesses: list[Guess],
           unplaced: list[str]) -> tuple[list[Guess], list[str], Flags | None]:
    """The status read from the visit's flags where the scorer placed one of them, or nothing, as
    the status (a real status column it placed stands); the flags taken off ``unplaced``."""
    current = next((g for g in guesses if g.field == "status"), None)
    flags = find(run, plan.quote, plan.main)
    if flags is None or (current is not None and current.source not in flags.columns):
        return guesses, unplaced, None
    out = plan.expr(flags.sql, OUT, plan.main.name, "VARCHAR(16)")
    kept = [g for g in guesses if g.field != "status"] + [flags.guess(out)]
    return kept, [u for u in unplaced if u not in flags.columns], flags
