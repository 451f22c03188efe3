"""A visit's end told by its values alone, when no column's name says end: a second moment
that, on (nearly) every sampled visit, falls the same day a visit's length after the start, both
on the booking grid.

Why: some products name the end for something else: X2CRM keeps an event's end in
``completeDate`` (Unix seconds, as its start ``dueDate``), the calendar reading it as the end.
Neither "end" nor the start's name is in it (endcolumn.py reads those), so every visit took the
clinic's default length, and a 20-minute visit was shown and announced as 30.

The rule, from the values: among the sampled rows with a start, at least ``FILLED`` have a value
in the column; of those, ``SHARE`` end the same day ``5`` minutes to 12 hours after the start
(endcolumn's bounds); and both moments sit on the booking grid (whole 5 minutes, no seconds) on
``SHARE`` of them: a visit is booked on the grid, a stamp (a row's last change, when the desk
closed it) is taken to the second. Exactly one column must qualify; two leave the end out.
The lengths must differ (at least two on the sample): a second moment always the same minutes
after the start, unnamed, is as likely a fixed offset (a reminder's, a check-in's) as an end,
while booked visits vary with their kind. A column named for a change or a creation is never
looked at (its name says what it is).
"""

from __future__ import annotations

from collections.abc import Sequence

from clinicsync.sync.discover.endcolumn import FEWEST, SHARE, Moments, read_moment

FILLED = 0.5  # of the sampled rows with a start that hold a value in the end column (tasks share the table)
_SHORTEST, _LONGEST = 5, 12 * 60  # minutes: a visit's plausible length


def _on_grid(minutes: int, seconds: int) -> bool:
    return seconds == 0 and minutes % 5 == 0


def end_by_values(start: Moments, others: Sequence[Moments]) -> tuple[str, str] | None:
    """(the end column, why) when exactly one of ``others`` holds the visits' ends by its values."""
    found = []
    for column in others:
        if column.name == start.name:
            continue
        rows = [(read_moment(a, start), read_moment(b, column)) for a, b in zip(start.values, column.values,
                                                                                 strict=False)]
        dated = [(a, b) for a, b in rows if a is not None]
        pairs = [(a, b) for a, b in dated if b is not None]
        if len(pairs) < FEWEST or len(pairs) < FILLED * len(dated):
            continue
        ends = [(a, b) for a, b in pairs if a.date() == b.date()
                and _SHORTEST <= (b - a).total_seconds() / 60 <= _LONGEST
                and _on_grid(a.minute, a.second) and _on_grid(b.minute, b.second)]
        lengths = [round((b - a).total_seconds() / 60) for a, b in ends]
        if len(ends) >= SHARE * len(pairs) and len(set(lengths)) >= 2:
            found.append((column.name, f"by its values: {len(ends)} of {len(pairs)} sampled visits end the same day "
                                       f"{min(lengths)} to {max(lengths)} minutes after the start, on the booking "
                                       f"grid"))
    return found[0] if len(found) == 1 else None
