"""The visit's own time of day over its session's.

Practice systems book a visit into a doctor's session (Mediboard's ``plageconsult``, a clinic
block, a surgery list): the session row holds the day, its opening and closing times and the
doctor; the visit row holds only its own time (``heure``) within it. The scorer sees the joined
session's ``debut``/``fin`` named as a start and an end, and by name they outrank a bare ``heure``:
every visit of a morning would start at the session's 09:00 and end at its 12:00. A time of day
on the visit's own row is the visit's; a joined row's time is shared by every visit booked into
it. So the visit's own clock wins for the start, and an end time read from a joined row beside
the visit's own start time is that row's end, not the visit's: it is left out (the visit's length
then comes from its own columns or a default length), said so.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Protocol, TypeVar


class _Sample(Protocol):
    @property
    def table(self) -> str | None: ...


class _Column(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def sample(self) -> _Sample: ...


class _Placed(Protocol):
    @property
    def column(self) -> _Column: ...

    @property
    def field(self) -> str: ...


P = TypeVar("P", bound=_Placed)


def prefer_own_clock(placed: MutableMapping[str, P], candidates: Iterable[P], used: set[str],
                     notes: list[str]) -> None:
    """``placed`` corrected in place: the start's time of day from the visit's own row when the
    scorer took a joined row's, and an end time of a joined row dropped beside the visit's own
    start time."""
    clock = placed.get("start.time")
    if clock is None:
        return
    if clock.column.sample.table is not None:
        own = next((c for c in candidates if c.field == "start.time" and c.column.sample.table is None
                    and c.column.name not in used), None)
        if own is None:
            return
        used.discard(clock.column.name)
        placed["start.time"] = own
        used.add(own.column.name)
        notes.append(f"start: the visit's own time of day {own.column.name!r}, not {clock.column.name!r} of the "
                     f"joined {clock.column.sample.table!r} row that every visit booked into it shares")
    end = placed.get("end.time")
    shared = end.column.sample.table if end is not None else None
    if end is not None and shared is not None:
        del placed["end.time"]
        used.discard(end.column.name)
        notes.append(f"end: {end.column.name!r} is when the joined {shared!r} row ends, not each visit: left out "
                     "(the visit's length comes from its own columns, else the default length)")
