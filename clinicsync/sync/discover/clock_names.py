"""A visit's start column that says UTC in its own name (``start_datetime_utc``, ``StartUtc``,
``start_gmt``), for `discover`'s time convention (clock.py).

Why the name decides: booking plugins keep the visit's instant in a column named UTC beside
their other date-times, which are the site's wall clock (LatePoint writes ``created_at`` in the
site's zone and ``start_datetime_utc`` in UTC on the same row). The stamps then say "local",
and the convention they decide would read every start hours off. The column's own name is the
better witness for the visits' times; the start hours (read both ways, as `check` reads them)
may still overrule it — then discover stops and asks. The stamps that disagree are write
times only; ``booked_at`` read from them would be hours off, so it is left out with the
reason (never placed against its own sampled evidence).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from clinicsync.sync.discover.proposal import Proposal

UTC_NAMED = re.compile(r"(^|_)(utc|gmt)($|_)|[a-z](Utc|UTC|Gmt|GMT)($|[A-Z_])")


def utc_named_start(proposal: Proposal) -> str | None:
    """The start's one source column when its name says UTC; None otherwise (a date with a
    time, a concat, Unix seconds: each has its own rule)."""
    spec = ((proposal.mapping or {}).get("fields") or {}).get("start")
    if not isinstance(spec, Mapping) or spec.get("type") == "unix_seconds":
        return None
    column = spec.get("from")
    return column if isinstance(column, str) and UTC_NAMED.search(column) else None


def named_reason(column: str, stamps_local: list[str]) -> str:
    """Why ``stored_times: utc``: the name, and what the other stamps said if they disagreed."""
    why = f"the visits' start column '{column}' says UTC in its name"
    if stamps_local:
        why += f" (the write stamps keep local time: {'; '.join(stamps_local)})"
    return why


def drop_local_booked_at(proposal: Proposal, column: str) -> None:
    """``booked_at`` left out when the write stamps keep local time and the connector reads UTC:
    read as UTC it would be hours off. Its column goes back to the unplaced ones, with a note."""
    fields = (proposal.mapping or {}).get("fields") or {}
    spec = fields.pop("booked_at", None)
    if spec is None:
        return
    source = spec.get("from") if isinstance(spec, Mapping) else None
    proposal.guesses = [g for g in proposal.guesses if g.field != "booked_at"]
    if isinstance(source, str) and source not in proposal.unplaced:
        proposal.unplaced.append(source)
    proposal.notes.append(f"booked_at: left out, not guessed: '{source}' keeps the site's local time while the "
                          f"visits are read as UTC ('{column}'); one connector reads one convention")
