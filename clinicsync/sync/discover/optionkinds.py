"""A visit-kind code read through the shared list table that holds its words: the kinds that are
no visits (an email, a text message, a task) left out.

Why: a CRM's activity table keeps meetings beside phone calls and emails, each a number whose
word is a list of the shared option table (optionlists.py: 'Meeting', 'Phone Call', 'Email').
When every row names a contact, the rows alone (eventkinds.py) cannot tell a meeting from an
email logged against the same person; the labels can. A kind whose label says a message or a
task is left out; a phone call too, said so (a call logged is no booked phone visit, and the
admin who books phone visits as calls puts it back); any other kind is read, one added later too
(the query names the kinds left out, never those kept).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clinicsync.sync.discover.eventkinds import KIND_WORDS, left_out
from clinicsync.sync.discover.graph import Schema, Table, audit, words
from clinicsync.sync.discover.kindwords import NOT_VISITS, VISITS, is_call
from clinicsync.sync.discover.optionlists import choose, option_lists
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.vocab import name_tokens

MAX_KINDS = 40  # distinct values of a kind code
def _said(texts: tuple[str, ...]) -> set[str]:
    return {w.replace("-", "") for t in texts for w in words(t.replace("e-mail", "email").replace("E-mail", "email"))}


def _call(texts: tuple[str, ...]) -> bool:
    """A label that says a phone call (kindwords.py: 'Phone Call', not 'Video call')."""
    return any(is_call(t) for t in texts)


def _kind_list(labels: Sequence[tuple[str, ...]]) -> bool:
    """A list of event kinds: a visit's label beside a message's or a call's."""
    said = [_said(t) for t in labels]
    return any(s & VISITS for s in said) and any(s & NOT_VISITS or _call(t) for s, t in zip(said, labels, strict=True))


def kind_filter(run: Run, q: Callable[[str], str], schema: Schema, main: Table,
                dialect: str) -> tuple[str, str] | None:
    """The condition that leaves out the visit table's kinds whose label says a message, a task
    or a call (``a.activity_type_id NOT IN (2, 3)``) and the note saying which; None when no kind
    column's codes are a list of event kinds."""
    for column in main.columns:
        if column in main.primary_key or audit(column) or not set(name_tokens(column)) & KIND_WORDS:
            continue
        rows = run(f"SELECT {q(column)}, COUNT(*) FROM {q(main.name)} GROUP BY {q(column)}")
        counts = {None if v is None else str(v).strip(): int(n) for v, n in rows}
        codes = [c for c in counts if c is not None]
        if not 1 < len(codes) <= MAX_KINDS or not all(c.lstrip("-").isdigit() for c in codes):
            continue
        option = choose(option_lists(schema, run, q, dialect), column, main.name, codes, _kind_list)
        if option is None:
            continue
        # every code of the list that says no visit, those no row holds yet too (a first email next week)
        out = {c: t for c, t in option.labels.items() if c.lstrip("-").isdigit() and not _said(t) & VISITS
               and (_said(t) & NOT_VISITS or _call(t))}
        if not out:
            continue
        others: dict[str | None, tuple[int, int]] = {c: (counts.get(c, 0), 0) for c in out}
        condition = left_out(f"a.{q(column)}", others, column in main.nullable)
        kinds = ", ".join(f"{c} {out[c][0]!r} ({counts.get(c, 0)} rows)" for c in sorted(out, key=int))
        calls = [repr(out[c][0]) for c in out if _call(out[c]) and not _said(out[c]) & NOT_VISITS]
        note = (f"{column!r} is a kind code read through table {option.table!r}, list {option.group!r}: {kinds} "
                "are no visits: left out of the query; any other kind is read")
        if calls:
            note += (f"; {', '.join(calls)} left out too, not guessed to be a phone visit: if the clinic books phone "
                     "visits as calls, take it out of the list")
        return condition, note
    return None
