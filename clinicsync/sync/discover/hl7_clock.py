"""How an HL7 v2 sender writes its times without an offset, for `discover` on SIU files:
``stored_times: local`` (HL7's own rule: a time without an offset is the sender's local time,
v2.5 section 2.A.22) or ``utc`` (an interface engine or cloud scheduler on a UTC clock that
leaves the offset out). The SQL form of this bug was seen: a source writing UTC read as
the clinic's local time stores every visit hours off, and `check` passes it. The feed's zone
(``--timezone``, else clinic.timezone) stays the visits' zone either way.

Evidence, each a reason in words (no value of a patient's message), judged as clock.py judges
a database's (its ``read_stamps``, ``read_hours`` and thresholds):

* MSH-7 (the message's own time) with an offset: ``+0000`` where the visits' zone is not at
  UTC says the sender's clock is UTC; the visits' zone's own offset says local;
* the newest file's newest MSH-7 without an offset, against the time the file was written
  (its mtime): a message cannot be made after the file that holds it, so a reading that puts
  it hours after the file is the wrong one, and one that puts it minutes before points to its
  convention (an export copied later says nothing: neither reading is near);
* the visits' start hours in both readings: one that puts some at night where the other
  keeps them all in the day is the wrong one.

None of it: HL7's rule stands (local), with a note naming ``--stored-times``. Conflicting
evidence: ``ClockUnclear`` asks for the flag, as for a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.common.timeutil import TimeError, zone
from clinicsync.mappings.transforms import TransformError, as_hl7_datetime
from clinicsync.sync.discover.clock import Clock, Evidence, read_hours
from clinicsync.sync.discover.file_clock import decide_by_rule, read_write_time, written_at


@dataclass(frozen=True)
class SentFile:
    """One file of the feed: when it was written (naive UTC) and its messages' MSH-7 texts."""

    written: datetime
    sent: tuple[str, ...]


def sent_file(path: Path, sent: Iterable[str]) -> SentFile:
    return SentFile(written_at(path), tuple(sent))


def _parsed(text: str) -> datetime | None:
    try:
        return as_hl7_datetime(text)
    except TransformError:
        return None


def read_sent_offsets(files: Sequence[SentFile], visit_zone: str, evidence: Evidence) -> None:
    """MSH-7s that carry an offset, against the visits' zone's offset at that moment (a moment
    the zone itself is at UTC, London in winter, tells nothing)."""
    try:
        tz = zone(visit_zone)
    except TimeError:
        return
    at_utc = matching = 0
    for text in (t for f in files for t in f.sent):
        moment = _parsed(text)
        if moment is None or moment.tzinfo is None:
            continue
        offset, local = moment.utcoffset(), moment.astimezone(tz).utcoffset()
        if local == timedelta(0):
            continue
        if offset == local:
            matching += 1
        elif offset == timedelta(0):
            at_utc += 1
    if at_utc and not matching:
        evidence.utc.append(f"{at_utc} message time(s) (MSH-7) carry +0000, not {visit_zone}'s offset: the "
                            "sender's clock keeps UTC")
    elif matching and not at_utc:
        evidence.local.append(f"{matching} message time(s) (MSH-7) carry {visit_zone}'s own offset: the sender "
                              "keeps local time")


def read_newest_file(files: Sequence[SentFile], visit_zone: str, evidence: Evidence) -> None:
    """The newest file's newest MSH-7 without an offset against the file's write time."""
    if files:
        newest = max(files, key=lambda f: f.written)
        read_write_time([("message time (MSH-7)", m) for t in newest.sent if (m := _parsed(t)) is not None],
                        newest.written, visit_zone, evidence)


def naive_starts(texts: Iterable[str]) -> list[datetime]:
    """The appointment times written without an offset, as written."""
    return [m for t in texts if (m := _parsed(t)) is not None and m.tzinfo is None]


def settle_hl7_clock(files: Sequence[SentFile], start_texts: Iterable[str], visit_zone: str | None,
                     given: str | None) -> Clock:
    """The convention of a feed whose appointment times carry no offset (the caller asks only
    then). Without a zone there is nothing to read local time in: HL7's rule, or ``given``."""
    evidence = Evidence()
    if visit_zone is not None and not given:
        read_sent_offsets(files, visit_zone, evidence)
        read_newest_file(files, visit_zone, evidence)
        read_hours(naive_starts(start_texts), visit_zone, evidence)
    return decide_by_rule(evidence, given, "sender", "feed",
                          "HL7 reads a time without an offset as the sender's local time")
