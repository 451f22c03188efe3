"""Defence in depth behind the connectors' readers: a value from a source that is several
lines of CSV-like text (another patient's row, a broken export's tail) is never put into
a message. The CSV reader already quarantines such records; this guard holds for every
source and for data stored before the reader did.

A value is refused when it holds a line break and either a line that looks like CSV (two
or more of one delimiter: , ; tab |) or three or more non-empty lines. A two-line address
("Main Street Clinic" / "Second floor, room 4") passes. The reason names the field,
never its value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clinicsync.sync.reminders.render import TemplateProblem

_BREAK = re.compile("[\n\r\v\f\x85\u2028\u2029]")
_DELIMITERS = (",", ";", "\t", "|")
MAX_LINES = 2


class UnsafeSourceText(TemplateProblem):
    """A source value that must not go into a message (the message fails on every channel,
    with this reason on the reminder); names the field only."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(
            f"not sent: the appointment's {field} from the source holds several lines of CSV-like text (a broken "
            "export or record?); fix the record at the source")


def suspicious(value: str) -> bool:
    """Whether ``value`` is multi-line content that looks like rows of data."""
    if not _BREAK.search(value):
        return False
    lines = [line for line in _BREAK.split(value) if line.strip()]
    if len(lines) > MAX_LINES:
        return True
    return any(line.count(d) >= 2 for line in lines for d in _DELIMITERS)


def check_source_values(values: Iterable[tuple[str, str | None]]) -> None:
    """Raise UnsafeSourceText for the first (field, value) that is ``suspicious``."""
    for field, value in values:
        if value and suspicious(value):
            raise UnsafeSourceText(field)
