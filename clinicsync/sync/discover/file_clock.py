"""How a file source (an HL7 feed, a CSV export) writes its times without an offset, decided
from what its files show (hl7_clock.py, csv_clock.py gather the evidence; clock.py's judges
weigh it, as they weigh a database's). A file has no clock to ask, but it has the time it was
written: a stamp inside it read one way as made hours after the file rules that reading out,
and one read as made minutes before points to it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from clinicsync.sync.discover.clock import HORIZON, Clock, Evidence, by_evidence, read_stamps

WRITE_TIME = "the file's write time"


def written_at(path: Path) -> datetime:
    """When the file was last written, as naive UTC (how clock.py compares)."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)


def read_write_time(stamps: Sequence[tuple[str, datetime]], written: datetime, visit_zone: str,
                    evidence: Evidence) -> None:
    """The newest of ``stamps`` (what, when: naive, as written; one further than HORIZON past
    the file is a planned date or test data) read both ways against the file's write time."""
    kept = [(what, s) for what, s in stamps if s.tzinfo is None and s <= written + HORIZON]
    if kept:
        read_stamps(kept, written, visit_zone, evidence, clock=WRITE_TIME)


def decide_by_rule(evidence: Evidence, given: str | None, source: str, read: str, rule: str) -> Clock:
    """The convention: given, shown by the evidence, else the source's ``rule`` (local), with a
    note naming the flag. Evidence both ways asks for the flag (clock.py ``by_evidence``). ``source``: who
    writes (the sender); ``read``: what was read (the feed)."""
    shown = by_evidence(evidence, given, f"cannot tell whether the {source} writes its times in UTC or in local time",
                        f"the {source} writes UTC without an offset", f"the {source} writes local time")
    if shown is not None:
        return shown
    return Clock("local", f"{rule}, and nothing in the {read} said otherwise (if the {source} writes UTC, "
                          "give --stored-times utc)")
