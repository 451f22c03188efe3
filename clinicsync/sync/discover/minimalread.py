"""The proposed query reads what the mapping uses, and no more.

Why: to place fields, discover samples every column of the visit's table and of each table it
joins (the patient's, the doctor's), and the query it built selected them all. The connector then
read them on every poll, and a row set aside (quarantined) keeps what was read: a patient table's
social security number, birth date, race, address or free-text comments, and a visit's clinical
notes, stored in clinicsync although no field uses them. Only the columns the mapping reads, the
connector's own (its cursor, the JSON columns) and the columns named for a phone or an email
(which `check`'s "nobody to remind" finding names when the mapping misses them) stay in the query;
the others are left out and listed by name in a note, so the admin who wants one adds it back.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

from clinicsync.mappings.paths import top_column
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.vocab import name_tokens, token_role

_PATH_KEYS = frozenset({"from", "concat", "date", "time"})
LISTED = 12  # column names the note lists before it counts the rest


def _paths(spec: Any, key: str | None = None) -> Iterator[str]:
    """The paths a field's spec reads (``from``, ``concat``, ``date``, ``time``, nested too)."""
    if isinstance(spec, Mapping):
        for name, value in spec.items():
            yield from _paths(value, str(name))
    elif isinstance(spec, list):
        for item in spec:
            yield from _paths(item, key)
    elif isinstance(spec, str) and key in _PATH_KEYS:
        yield spec


def used(fields: Mapping[str, Any], connector: Mapping[str, Any]) -> set[str]:
    """The query's columns the mapping and the connector read."""
    out = {top_column(path) for spec in fields.values() for path in _paths(spec)}
    out |= {str(c) for c in connector.get("json_columns") or ()}
    series = connector.get("series") or {}
    out |= {str(v) for k, v in series.items() if k in ("rule", "id", "start", "end", "timezone_column")}
    out |= {str(c) for c in series.get("exdates") or ()}
    if connector.get("cursor_column"):
        out.add(str(connector["cursor_column"]))
    return out


def _contact(name: str) -> bool:
    return bool({token_role(t) for t in name_tokens(name)} & {"phone", "email"})


def prune(plan: ReadPlan, keep: Collection[str]) -> list[str]:
    """Leave out of ``plan``'s SELECT every column not in ``keep`` (nor named for a phone or an
    email); the columns left out, in the query's order."""
    dropped = [out for out in plan.select if out not in keep and not _contact(out)]
    for out in dropped:
        del plan.select[out]
    return dropped


def note(dropped: list[str]) -> str:
    """What the query no longer reads, by name (never a value)."""
    shown = ", ".join(dropped[:LISTED]) + (f" and {len(dropped) - LISTED} more" if len(dropped) > LISTED else "")
    return (f"the query reads only the columns the mapping uses: {len(dropped)} sampled column(s) are not read "
            f"({shown}); add one to the query's SELECT if you map it")
