"""A visit marked done by a 0/1 flag instead of a status word: Laravel hospital apps keep
``is_completed`` on the appointment and no status column at all.

Why: with no status column the status is left out and every visit is imported as booked, so a
visit the desk already ticked off as seen is still shown as upcoming on the doctor's agenda (and
its follow-ups never see it as attended). A flag whose name says done and whose values are only
0 and 1 is the one thing the row says about its state, so it is read as one expression:
``fulfilled`` when the flag is set, else ``booked``. Unlike a cancellation flag, a done flag's 1
is NOT the usual value (most rows are ahead of their visit): no majority is asked. Only when the
scorer placed no status and no cancellation flag was found: a real status column stands.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from clinicsync.sync.discover.graph import Table, audit
from clinicsync.sync.discover.kinds import WHOLE
from clinicsync.sync.discover.probe import Run, value_counts
from clinicsync.sync.discover.proposal import Guess, StatusWord
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.vocab import name_tokens

OUT = "status"  # the expression's output column
DONE = frozenset({"completed", "complete", "done", "attended", "finished", "concluded", "fulfilled", "realizado",
                  "realizada", "atendido", "atendida", "concluido", "concluida", "erledigt", "termine"})
FILLER = frozenset({"is", "has", "was", "flag"})  # ``is_completed``, ``done_flag``
_BOOL = re.compile(r"bool|bit", re.I)
_SET = {"1", "True", "true", "t"}
_UNSET = {"0", "False", "false", "f"}


@dataclass(frozen=True)
class Done:
    column: str
    sql: str  # the status expression over the visit's row (alias ``a``)
    set_rows: int

    def guess(self, out: str) -> Guess:
        return Guess("status", out, 0.75,
                     f"0/1 flag {self.column!r} of the visit's row (set on {self.set_rows} row(s)) and no status "
                     "column: fulfilled when set, else booked", {"from": out})

    def words(self) -> list[StatusWord]:
        """The expression's two words, as the status words' sample (their meaning is known)."""
        return [StatusWord("booked", "booked", 0, 0.75), StatusWord("fulfilled", "fulfilled", 0, 0.75)]


def _says_done(column: str) -> bool:
    tokens = set(name_tokens(column))
    return bool(tokens & DONE) and tokens <= DONE | FILLER


def find(run: Run, quote: Callable[[str], str], main: Table) -> Done | None:
    """The visit table's one done flag (a read per candidate column), or None; two: None (which
    one the desk ticks is not known)."""
    found: list[Done] = []
    for column, type_name in main.columns.items():
        if not (WHOLE.search(type_name) or _BOOL.search(type_name)) or column in main.primary_key \
                or audit(column) or not _says_done(column):
            continue
        counts = value_counts(run, quote, main.name, column)
        if not counts or not set(counts) <= _SET | _UNSET:
            continue
        test = "IS TRUE" if _BOOL.search(type_name) and not WHOLE.search(type_name) else "= 1"
        found.append(Done(column, f"CASE WHEN a.{quote(column)} {test} THEN 'fulfilled' ELSE 'booked' END",
                          sum(n for v, n in counts.items() if v in _SET)))
    return found[0] if len(found) == 1 else None


def placed(run: Run, plan: ReadPlan, guesses: list[Guess],
           unplaced: list[str]) -> tuple[list[Guess], list[str], Done | None]:
    """The status read from the visit's done flag where the scorer placed no status; the flag
    taken off ``unplaced``."""
    if any(g.field == "status" for g in guesses):
        return guesses, unplaced, None
    done = find(run, plan.quote, plan.main)
    if done is None:
        return guesses, unplaced, None
    out = plan.expr(done.sql, OUT, plan.main.name, "VARCHAR(16)")
    return [*guesses, done.guess(out)], [u for u in unplaced if u != done.column], done
