"""Provider `ics`: one RFC 5545 file per doctor, for clinics without Google (and the demo).

Each appointment is a VEVENT whose UID derives from the same deterministic id as a Google
event. A change bumps SEQUENCE, so calendar apps that subscribe to the file replace the
old version; a cancellation keeps the VEVENT with STATUS:CANCELLED so they remove it.
Each file is written once per run, atomically (temp file + rename), from the events the
store keeps for it (sync/calendar/ics_state.py): a run renders what it changes, and writes
the files it changed whole. Past events leave: at each write of a file, and at most once a
day for a file nothing else writes, the events whose visit ended more than
``calendar.ics.keep_past_days`` ago are deleted from the store and so from the file (their
links stay: see :meth:`IcsCalendar.flush`), so a file holds the visits ahead and that many
days of history, not every visit ever written.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Connection, Engine, select

from clinicsync.common.memo import kept
from clinicsync.common.types import utcnow
from clinicsync.sync.calendar import ics_text
from clinicsync.sync.calendar.ics_state import IcsRow, IcsState, write_atomically
from clinicsync.sync.calendar.provider import (
    PRIVATE_CONNECTOR,
    PRIVATE_EXTERNAL_ID,
    PRIVATE_HASH,
    PRIVATE_MARK,
    EventContent,
    Op,
    Outcome,
    RemoteEvent,
    Target,
)
from clinicsync.sync.calendar.vtimezone import vtimezone
from clinicsync.sync.config.settings.calendar import IcsSettings
from clinicsync.sync.store.tables import LINKS

if TYPE_CHECKING:
    from icalendar import Component

log = structlog.get_logger("clinicsync.calendar")
PRODID = "-//clinicsync//calendar//EN"
UID_DOMAIN = "clinicsync"
# X- properties carry what Google keeps in extendedProperties.private.
_X = {PRIVATE_MARK: "X-CLINICSYNC", PRIVATE_CONNECTOR: "X-CLINICSYNC-CONNECTOR",
      PRIVATE_EXTERNAL_ID: "X-CLINICSYNC-EXTERNAL-ID", PRIVATE_HASH: "X-CLINICSYNC-HASH"}


def uid_for(event_id: str) -> str:
    return f"{event_id}@{UID_DOMAIN}"


# A caller's writes that must commit with the events (the links they settle): given the
# transaction, one file's operations and their outcomes.
Bookkeeping = Callable[[Connection, Sequence[Op], Sequence[Outcome]], None]


class IcsCalendar:
    """Events are kept in the store (sync/calendar/ics_state.py) as they are written; a push
    renders only the events it changes, and :meth:`flush` writes each changed file once.

    ``store_engine``: the store the events are kept in (None: a private one); there,
    :meth:`push` takes the caller's bookkeeping and runs it in the transaction that stores
    each file's events (sync/calendar/push.py: one write per event for the link, where a
    provider outside the store needs a pending row, then an update)."""

    def __init__(self, settings: IcsSettings, engine: Engine | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        """``clock``: what "now" is for retiring past events (tests move it)."""
        self.directory = settings.directory
        self.keep = timedelta(days=settings.keep_past_days)
        self.clock = clock
        self.state = IcsState(engine)
        self.store_engine = engine
        self.names: dict[str, str] = {}  # calendar id -> whose it is (X-WR-CALNAME), from this run's targets
        self._fresh: dict[str, bool] = {}  # calendar id -> it held no event when this run first wrote to it

    def path(self, target: Target) -> Path:
        return self.directory / f"{target.calendar_id}.ics"

    def push(self, ops: Sequence[Op], bookkeeping: Bookkeeping | None = None) -> list[Outcome]:
        """Each file's operations, its events stored with ``bookkeeping`` in one transaction
        (an operation whose file fails is not given to ``bookkeeping``: its outcome says why)."""
        by_file: dict[Target, list[Op]] = defaultdict(list)
        for op in ops:
            by_file[op.target].append(op)
            if op.target.name:
                self.names[op.target.calendar_id] = op.target.name
        outcomes: list[Outcome] = []
        for target, group in by_file.items():
            try:
                outcomes.extend(self._apply(target, group, bookkeeping))
            except (OSError, ValueError) as exc:  # an unreadable or unwritable file fails its ops only
                outcomes.extend(Outcome(op.key, False, error=f"ics file: {type(exc).__name__}") for op in group)
        return outcomes

    def _apply(self, target: Target, ops: Sequence[Op], bookkeeping: Bookkeeping | None = None) -> list[Outcome]:
        self.state.adopt_once(target.calendar_id, self.path(target))
        uids = [uid_for(op.event_id) for op in ops]
        rows = self.state.existing(target.calendar_id, uids)
        gone = self._retired_sequences(ops, uids, rows)
        now = utcnow()
        stamp = ics_text.utc_stamp(now)
        outcomes = []
        changed: dict[str, IcsRow] = {}
        for op, uid in zip(ops, uids, strict=True):
            old = changed.get(uid) or rows.get(uid)
            if op.kind == "delete":
                if old is not None and not old.cancelled:
                    old = changed[uid] = _cancelled(old, now)
                # The sequence written, as for an event kept: booked again after its row was
                # retired, it comes back newer than the cancellation (_retired_sequences).
                outcomes.append(Outcome(op.key, True, "deleted", str(old.sequence) if old is not None else None))
                continue
            assert op.content is not None
            sequence = old.sequence + 1 if old is not None else gone.get(op.key, 0)
            changed[uid] = IcsRow(uid, sequence, op.content.cancelled, ics_text.tzid_for(op.content.timezone),
                                  _vevent(op, uid, sequence, now, stamp), old.id if old is not None else None,
                                  op.content.end)
            outcomes.append(Outcome(op.key, True, "present", str(sequence)))
        also = None if bookkeeping is None else lambda connection: bookkeeping(connection, ops, outcomes)
        if changed:
            self.state.save(target.calendar_id, changed.values(), also)
        elif also is not None:
            with self.state.engine.begin() as connection:
                also(connection)
        return outcomes

    def _retired_sequences(self, ops: Sequence[Op], uids: Sequence[str], rows: dict[str, IcsRow]) -> dict[int, int]:
        """The next sequence of each event written before whose row is gone (retired from the
        file, its appointment since moved back into the stage's window at the source: rare),
        from its link's etag (the sequence last written): by the operation's key (its link).
        The event comes back newer than the version calendar apps last saw."""
        keys = [op.key for op, uid in zip(ops, uids, strict=True)
                if op.kind != "delete" and op.key > 0 and uid not in rows]
        if not keys or self.store_engine is None:
            return {}
        with self.store_engine.connect() as connection:
            found = connection.execute(select(LINKS.c.id, LINKS.c.etag).where(LINKS.c.id.in_(keys))).all()
        return {id_: int(etag) + 1 for id_, etag in found if etag is not None and etag.isdigit()}

    def insert_new(self, target: Target, events: Sequence[tuple[str, EventContent, str]],
                   bookkeeping: Callable[[Connection], None]) -> bool:
        """A first push's events into one file, none known to the store: ``(event id, content,
        content hash)`` each, written as the table's rows in one pass and stored with
        ``bookkeeping`` (their links) in one transaction, as :meth:`push` stores inserts but
        without an :class:`Op`, :class:`Outcome` or :class:`IcsRow` per event. False, having
        written nothing, when the file already holds one of them (an adopted file, another
        worker): the caller sends them as operations instead. Raises what :meth:`push` turns
        into a failed outcome (an unreadable or unwritable file)."""
        if target.name:
            self.names[target.calendar_id] = target.name
        calendar_id = target.calendar_id
        self.state.adopt_once(calendar_id, self.path(target))
        uids = [f"{event_id}@{UID_DOMAIN}" for event_id, _, _ in events]  # uid_for, inline
        fresh = self._fresh.get(calendar_id)
        if fresh is None:  # once per run and file, after its adoption: did it hold no event at all?
            fresh = self._fresh[calendar_id] = self.state.empty(calendar_id)
        # A file empty when this run began holds only this run's events since: one per appointment,
        # so none of a first push's (a uid is the appointment's); else ask the store.
        if not fresh and self.state.existing(calendar_id, uids):
            return False
        stamp = ics_text.utc_stamp(utcnow())
        tzid_for, text = ics_text.tzid_for, _vevent_text
        # Our event ids and content hashes never need escaping or folding: checked for the round
        # at once (one match over its lines) rather than each value in :func:`_vevent_text`.
        plain = _PLAIN_LINES.fullmatch("\n".join([*uids, *(digest for _, _, digest in events)])) is not None

        flags = [content.cancelled for _, content, _ in events]
        cancelled = flags[0] if flags and flags.count(flags[0]) == len(flags) else None  # one flag: shared
        rows: list[tuple[Any, ...]]
        if cancelled is not None:  # ics_state.FIRST
            rows = [(uid, tzid_for(content.timezone), text(content, digest, uid, 0, stamp, plain))
                    for uid, (_, content, digest) in zip(uids, events, strict=True)]
        else:  # ics_state.FLAGGED
            rows = [(uid, content.cancelled, tzid_for(content.timezone), text(content, digest, uid, 0, stamp, plain))
                    for uid, (_, content, digest) in zip(uids, events, strict=True)]
        self.state.insert_new(calendar_id, rows, [content.end for _, content, _ in events], bookkeeping, cancelled)
        return True

    def flush(self) -> None:
        """Write every file the store holds changes for, once (temp file + rename). Also
        files left unwritten by a run that stopped between its pushes and this.

        Each file written first loses its events whose visit ended more than ``keep_past_days``
        ago; a file nothing else writes is checked for such events once a day (an indexed
        look-up), and written only if one went. Their links are left as they are: the stage,
        `calendar status` and `calendar reconcile` only read appointments inside the window
        (``past_days`` <= ``keep_past_days``), so nothing sees them missing or adds them back; an
        appointment moved back into the window at the source is patched, and its event written
        again (:meth:`_retired_sequences`). A crash between the retirement's transaction and the
        write leaves the file dirty: the next run writes it."""
        failed: list[str] = []
        now = self.clock()
        before = now - self.keep
        for calendar_id, dirty in self.state.due(now - _DAILY):
            target = Target("ics", "", calendar_id)
            if not dirty and self.state.holds_past(calendar_id, before):
                try:  # not written this run: a file edited by hand since keeps its own events
                    self.state.adopt_once(calendar_id, self.path(target))
                except (OSError, ValueError) as exc:  # as a push to it would: tried again next run
                    log.error("calendar.ics_read_failed", calendar=calendar_id, error=type(exc).__name__)
                    continue
            retired = self.state.retire(calendar_id, before, now)
            if not dirty and not retired:
                continue  # checked for the day: nothing to retire, nothing to write
            if retired:
                log.info("calendar.ics_retired", calendar=calendar_id, events=retired)
            seen = self.state.version(calendar_id)  # before its events are read
            try:
                written = write_atomically(self.path(target), self._document(calendar_id))
            except OSError as exc:  # stays dirty: the next run writes it; the others are written now
                log.error("calendar.ics_write_failed", calendar=calendar_id, error=type(exc).__name__)
                failed.append(calendar_id)
                continue
            if not self.state.written(calendar_id, written, seen):
                log.warning("calendar.ics_overlap", calendar=calendar_id,
                            detail="another writer changed this file's events while it was written: "
                                   "it is written again by the next run")
        if failed:
            raise OSError(f"could not write {len(failed)} .ics file(s) under {self.directory}; "
                          "they are written at the next run once the directory is writable")

    def _document(self, calendar_id: str) -> Iterator[bytes]:
        head = _header(self.calendar_name(calendar_id))
        yield head[:-len(_END)]
        scan = self.state.scan(calendar_id)
        for tzid in self.state.tzids(calendar_id, scan):
            yield vtimezone(tzid)
        for rows in self.state.vevents(calendar_id, scan=scan):  # a thousand events at a time, not one by one
            yield "".join([row[0] for row in rows]).encode("utf-8")
        yield _END

    def calendar_name(self, calendar_id: str) -> str:
        """What a subscribed calendar is called in the doctor's app: the doctor's name (obs 14:
        it was the file's name, an email address); the file's name when no event of this run
        gave one (a file written again by a later run that changed none of its events keeps
        the name it was written with)."""
        known = self.names.get(calendar_id)
        if known:
            return known
        path = self.directory / f"{calendar_id}.ics"
        try:
            with path.open("rb") as handle:
                head = handle.read(4096)
        except OSError:
            return calendar_id
        found = _CALNAME.search(head)
        if not found:
            return calendar_id
        escaped = found.group(1).decode("utf-8", "replace")  # TEXT: "\\," is a comma (RFC 5545 3.3.11)
        return _ESCAPED.sub(lambda m: " " if m.group(1) in "nN" else m.group(1), escaped).strip() or calendar_id

    def list_events(self, target: Target, since: datetime) -> list[RemoteEvent]:
        path = self.path(target)
        if not path.exists():
            return []
        from icalendar import Calendar

        out = []
        for event in Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
            private = {key: str(event[prop]) for key, prop in _X.items() if prop in event}
            if private.get(PRIVATE_MARK) != "1":
                continue
            start, end = _utc(event.decoded("dtstart")), _utc(event.decoded("dtend"))
            if end is not None and end < since:
                continue
            uid = str(event["uid"])
            out.append(RemoteEvent(
                event_id=uid.removesuffix(f"@{UID_DOMAIN}"),
                cancelled=str(event.get("status", "")).upper() == "CANCELLED",
                start=start, end=end, summary=str(event.get("summary", "")), private=private))
        return out

    def close(self) -> None:
        """Nothing is held open between pushes; a file still owed is written now."""
        self.flush()


_END = b"END:VCALENDAR\r\n"
_DAILY = timedelta(days=1)  # how often a file nothing writes is checked for past events to retire


_CALNAME = re.compile(rb"^X-WR-CALNAME:([^\r\n]*)", re.MULTILINE)
_ESCAPED = re.compile(r"\\(.)")


def _header(name: str) -> bytes:
    """The calendar's own properties, as icalendar writes them (ending in END:VCALENDAR)."""
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    data = calendar.to_ical()
    assert data.endswith(_END)
    return data


def _cancelled(old: IcsRow, now: datetime) -> IcsRow:
    """Kept with STATUS:CANCELLED (calendar apps then remove it), newer than before."""
    from icalendar import Component, Event

    event = Event.from_ical(old.vevent)
    assert isinstance(event, Component)
    _bump(event, now)
    event["status"] = "CANCELLED"
    event["transp"] = "TRANSPARENT"
    return IcsRow(old.uid, old.sequence + 1, True, old.tzid, event.to_ical().decode("utf-8"), old.id, old.ends_at)


def _bump(event: Component, now: datetime) -> None:
    event["sequence"] = int(event.get("sequence", 0)) + 1
    event.pop("dtstamp", None)
    event.add("dtstamp", now)
    event.pop("last-modified", None)
    event.add("last-modified", now)


def _vevent(op: Op, uid: str, sequence: int, now: datetime, stamp: str | None = None) -> str:
    """The event as text (sync/calendar/ics_text.py): what icalendar's Event would write.
    ``stamp``: ``now`` as DTSTAMP writes it, when the caller formatted it once for its ops."""
    assert op.content is not None
    return _vevent_text(op.content, op.content_hash or "", uid, sequence, stamp or ics_text.utc_stamp(now))


def _vevent_text(content: EventContent, digest: str, uid: str, sequence: int, stamp: str,
                 plain: bool = False) -> str:
    """:func:`_vevent` from the content and its hash (a first push has no :class:`Op`).
    Most of an event's lines repeat across events: its title, its description and the lines
    from its place to its connector (:func:`_tail`) are written once per distinct value for
    the run; the rest is checked as it is, and a line that cannot need escaping or folding
    (our UIDs, the hash: a short run of letters, digits, ``@``) is not checked at all.
    ``plain``: the caller found ``uid`` and ``digest`` to be such runs already (a first push
    checks a round's at once: two regular expression calls here cost ~4,000 instructions an
    event)."""
    line = ics_text.line
    attendees = "".join([line(f"ATTENDEE:mailto:{email}") + "\r\n" for email in content.attendees])
    description = ""
    if content.description:
        description = (_DESCRIPTIONS.get(content.description)
                       or ics_text.prop("DESCRIPTION", content.description)) + "\r\n"
    summary = _SUMMARIES.get(content.summary) or ics_text.prop("SUMMARY", content.summary)  # never "": has a name
    return (f"BEGIN:VEVENT\r\n{summary}\r\n"
            f"{_times(content.start, content.end, content.timezone)}\r\nDTSTAMP:{stamp}\r\n"
            f"{f'UID:{uid}' if plain or _PLAIN.fullmatch(uid) else line(f'UID:{ics_text.text(uid)}')}\r\n"
            f"SEQUENCE:{sequence}\r\n{attendees}"
            f"{description}LAST-MODIFIED:{stamp}\r\n{_tail(content)}\r\n"
            f"{line(f'{_X[PRIVATE_EXTERNAL_ID]}:{ics_text.raw(content.external_id)}')}\r\n"
            f"{f'{_HASH}{digest}' if plain or _PLAIN.fullmatch(digest) else line(f'{_HASH}{ics_text.raw(digest)}')}"
            "\r\nEND:VEVENT\r\n")


# A value written as it is on a line of its own (no TEXT escaping, no folding): ASCII letters,
# digits, "@", "." and "-", short enough for any property name we write it under.
_PLAIN = re.compile(r"[A-Za-z0-9@.-]{0,50}", re.ASCII)
_PLAIN_LINES = re.compile(r"(?:[A-Za-z0-9@.-]{0,50}\n)*[A-Za-z0-9@.-]{0,50}", re.ASCII)  # each line _PLAIN
_HASH = f"{_X[PRIVATE_HASH]}:"
_SUMMARIES, _DESCRIPTIONS = ics_text.props("SUMMARY"), ics_text.props("DESCRIPTION")  # the run's written lines


_TAIL_MEMO = 20_000  # written tails kept per run
_tails: dict[tuple[Any, ...], str] = {}


def _tail(content: EventContent) -> str:
    """The lines from LOCATION to X-CLINICSYNC-CONNECTOR, remembered per run by what they say
    (a practice's events share their places, statuses and source)."""
    key = (content.location, content.visit_mode, content.join_url, content.dial_in, content.cancelled,
           content.patient_cancelled, content.connector)
    found = _tails.get(key)
    if found is None:
        found = kept(_tails, key, _written_tail(content), _TAIL_MEMO)
    return found


def _written_tail(content: EventContent) -> str:
    lines = []
    where = content.where  # a video visit's join link, who calls whom for a phone visit, else the place
    if where:
        lines.append(ics_text.prop("LOCATION", where))
    # Kept-but-cancelled (cancelled_action: mark_cancelled) is iCalendar's own STATUS:CANCELLED;
    # a patient's cancellation the source still holds booked is STATUS:TENTATIVE (still busy).
    lines.append(_STATUS[content.status])
    if content.visit_mode == "video" and content.join_url:
        # a URI value: not TEXT-escaped (no spaces or breaks in it)
        lines.append(ics_text.line(f"URL:{content.join_url}"))
    lines += [_MARK, _raw_prop(_X[PRIVATE_CONNECTOR], content.connector)]
    return "\r\n".join(lines)


_STATUS = {"cancelled": "STATUS:CANCELLED\r\nTRANSP:TRANSPARENT", "tentative": "STATUS:TENTATIVE\r\nTRANSP:OPAQUE",
           "confirmed": "STATUS:CONFIRMED\r\nTRANSP:OPAQUE"}
_MARK = f"{_X[PRIVATE_MARK]}:1"


def _times(start: datetime, end: datetime, zone_name: str) -> str:
    """The DTSTART and DTEND lines (in the zone, or UTC's Z form); each local time is placed
    once per instant and zone (ics_text.wall_time). Not remembered per slot: a practice's
    appointments seldom share both their start and their end. The lines' heads are worked out
    once per zone (:func:`_heads`): when short and ASCII, no line of a time needs folding."""
    first, second, plain = _heads(zone_name)
    if first is None or second is None:
        first_line, second_line = f"DTSTART:{ics_text.utc_stamp(start)}", f"DTEND:{ics_text.utc_stamp(end)}"
    else:
        known = ics_text.local_times(zone_name)  # looked up here: a call each only on a miss
        first_line = f"{first}{known.get(start) or ics_text.wall_time(start, zone_name)}"
        second_line = f"{second}{known.get(end) or ics_text.wall_time(end, zone_name)}"
    if plain:
        return f"{first_line}\r\n{second_line}"
    return f"{ics_text.line(first_line)}\r\n{ics_text.line(second_line)}"


@lru_cache(maxsize=256)
def _heads(zone_name: str) -> tuple[str | None, str | None, bool]:
    """``("DTSTART;TZID=…:", "DTEND;TZID=…:", plain)`` for a zone (``None`` heads: UTC's Z form);
    ``plain``: a line with a wall time (15 characters, or a UTC stamp's 16) cannot need folding."""
    tzid = ics_text.tzid_for(zone_name)
    if tzid is None:
        return None, None, True
    first, second = f"DTSTART;TZID={tzid}:", f"DTEND;TZID={tzid}:"
    return first, second, first.isascii() and len(first) + 16 < ics_text.LIMIT


@lru_cache(maxsize=256)
def _raw_prop(name: str, value: str) -> str:
    """An X- property line of a value that repeats (the connector's name)."""
    return ics_text.line(f"{name}:{ics_text.raw(value)}")


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None  # an all-day event someone added by hand
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
