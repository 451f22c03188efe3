"""Rows the source marks deleted, imported as live visits.

Many schemas never delete a row: they set ``voided``, ``deleted``, ``is_deleted`` or
``retired`` (or clear ``active``), or stamp ``deleted_at``. A query that does not filter on
it imports every such row as booked, and its patient is reminded of a visit that was
withdrawn. Seen on the raw record's own columns (top-level keys, matched by name); any
such row mapped to a live status fails `check`, naming the column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from clinicsync.common.soft_delete import meaning
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.ingest.plausibility.finding import Finding, share

# A column's kind here, from what its name means (clinicsync/common/soft_delete.py, the names
# `discover` writes its condition for).
_KINDS = {"gone": "flag", "gone_at": "stamp", "alive": "active"}
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _truth(value: Any) -> bool | None:
    """A flag's truth, None when it is no flag value (empty, or a word we do not know)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, bytes):  # MySQL BIT(1)
        return any(value)
    if isinstance(value, str):  # also a BIT(1) the SQL connector hands over as hex: "01" / "00"
        word = value.strip().lower()
        if word.isdigit():
            return int(word) != 0
        return True if word in _TRUE else False if word in _FALSE else None
    return None


def keep_clause(column: str, siblings: Sequence[str] = ()) -> str:
    """The query condition that leaves out the rows ``column`` marks deleted (``siblings``: the
    other columns of its table or record, for a table-prefixed name)."""
    said = meaning(column, siblings)
    if said == "gone_at":
        return f"`WHERE {column} IS NULL`"
    if said == "alive":
        return f"`WHERE {column} = 1` (or `{column}`)"
    return f"`WHERE NOT {column}` (or `{column} = 0`)"


def watched(keys: tuple[Any, ...]) -> tuple[tuple[str, str], ...]:
    """Of a record's columns, those that can mark it deleted, each with its kind (a
    table-prefixed name too: ``APT_ACTIVE`` among ``APT_ID``, ``APT_START``)."""
    found = []
    names = [key for key in keys if isinstance(key, str)]
    for key in keys:
        said = meaning(key, names) if isinstance(key, str) else None
        if said is not None:
            kind = _KINDS[said]
            found.append((key, kind))
    return tuple(found)


def deleted_by(record: Mapping[str, Any], columns: tuple[tuple[str, str], ...] | None = None) -> str | None:
    """The column that marks this raw row deleted, if one does (``columns``: ``watched``'s
    answer for this record's keys, when the caller remembers it)."""
    for key, kind in watched(tuple(record)) if columns is None else columns:
        value = record.get(key)
        if kind == "flag" and _truth(value) is True:
            return key
        if kind == "stamp" and (isinstance(value, date) or (isinstance(value, str) and value.strip()
                                                             and value.strip("0-: ") != "")):
            return key
        if kind == "active" and _truth(value) is False:
            return key
    return None


class SoftDeleted:
    def __init__(self) -> None:
        self.live = 0  # mapped visits with a live status
        self.columns: Counter[str] = Counter()  # column -> live visits it marks deleted
        self.keys: tuple[str, ...] = ()  # the columns of the first record that had one, for the fix's wording
        self._shapes: dict[tuple[Any, ...], tuple[tuple[str, str], ...]] = {}  # a row's keys -> watched columns

    def add(self, record: Mapping[str, Any] | None, appointment: NormalizedAppointment) -> None:
        if appointment.status not in ACTIVE_STATUSES:
            return
        self.live += 1
        if not isinstance(record, Mapping):
            return
        keys = tuple(record)  # a flat source's rows share their keys: classified once
        columns = self._shapes.get(keys)
        if columns is None:
            columns = self._shapes[keys] = watched(keys) if len(self._shapes) < 1_000 else ()
        if columns:
            column = deleted_by(record, columns)
            if column is not None:
                self.columns[column] += 1
                self.keys = self.keys or tuple(k for k in keys if isinstance(k, str))

    def summary(self) -> dict[str, Any]:
        return {"live": self.live, "marked_deleted": dict(self.columns)}

    def findings(self) -> list[Finding]:
        if not self.columns:
            return []
        count = sum(self.columns.values())
        named = ", ".join(f"`{c}` on {n}" for c, n in self.columns.most_common())
        first = self.columns.most_common(1)[0][0]
        return [Finding("soft_deleted", "error", "status",
                        f"status: {share(count, self.live)} visits mapped to a live status come from rows the source "
                        f"marks deleted ({named}): their patients would be reminded of withdrawn visits. Leave them "
                        f"out in the connector's query ({keep_clause(first, self.keys)})")]
