"""Raw-record fingerprints: an unchanged source row is recognized before it is mapped.

A daily export repeats yesterday's rows byte for byte in a new file; mapping each of them
again only to learn that nothing changed cost ~0.8 of a first ingest. Each appointment row
now keeps ``source_fingerprint``: a digest of the raw record it was mapped from *and* of
the run's mapping epoch — everything besides the record that decides what the record maps
to (the compiled mapping's content, the source zone, the phone region, the connector's
settings, the mapping code and the libraries it relies on). A record whose fingerprint
equals the stored one of the appointment it names maps to exactly what is stored, so
mapping and storing it can be skipped; any change to the record, the mapping or those
settings changes the fingerprint and the record is mapped again.

Why that is safe even though the id is only *peeked* before mapping: the stored
fingerprint describes the record that produced the row's current content (the store sets
it on every write of content and clears it on a deletion), so a match at the peeked id
means this record — same bytes, same epoch — maps to that row as it stands. A peek that
guesses wrong finds no match and the record is simply mapped.
"""

from __future__ import annotations

import hashlib
import re
import zoneinfo
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from clinicsync.common import timeutil
from clinicsync.connectors.base import Batch, ConnectorSettings, RawRecord
from clinicsync.mappings import engine as mapping_engine
from clinicsync.mappings.engine import CompiledMapping
from clinicsync.sync.config.settings.per_load import once_per_load
from clinicsync.sync.store.known_prints import HALVES, KnownPrints
from clinicsync.sync.store.quarantine import Sighting

# Bump when what goes into a fingerprint changes meaning: every stored one stops matching.
FORMAT = 1
_DIGEST_SIZE = 16  # 32 hex characters, the column's width
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
# A plain CSV line's digest (line_hasher); a new tag makes every stored line fingerprint stale.
LINE_FORMAT = b"csv-line/2\x00"
_USERINFO = re.compile(r"(://)[^/@\s]*@")


_VALUES = (datetime, date, time, timedelta, Decimal, str, int, float)


def _tagged(value: Any) -> Any:
    """A plain value JSON has no type for (a date-time, a Decimal, a str subclass), written
    with its type so that it never hashes like a plain string of the same text. Anything
    else (an object whose repr need not show its content) refuses: the record is not
    fingerprinted, so it is always mapped."""
    if isinstance(value, _VALUES):
        return ["\x00" + type(value).__qualname__, repr(value)]
    raise TypeError(type(value).__name__)


class Fingerprinter:
    """Digests raw records under one mapping epoch (one per connector per run)."""

    def __init__(self, epoch: bytes) -> None:
        self.epoch = epoch
        self._seed = hashlib.blake2b(epoch, digest_size=_DIGEST_SIZE)

    def __call__(self, data: Mapping[str, Any]) -> str | None:
        """The record's fingerprint; None when it cannot be written canonically (then it is
        always mapped). A dict's key order counts: a reordered header is a changed record."""
        try:
            encoded = orjson.dumps(data, default=_tagged, option=_OPTIONS)
        except TypeError:
            return None
        digest = self._seed.copy()
        digest.update(encoded)
        return digest.hexdigest()


def line_hasher(epoch: bytes, delimiter: str, header: Sequence[str]) -> Any:
    """The blake2b state a file's line digests start from (``copy()`` it, ``update`` the line's
    UTF-8 bytes without its line break): the epoch, the delimiter and the header go into the hash
    function's parameter block (its 16-byte salt and personalization, both from one 32-byte
    digest of them), not into its input. A line of W1's ~215 bytes then costs two compressions,
    not the three it cost after ~250 bytes of epoch and header fed as data: half the
    digest's time in a re-export. Other parameters make another function, so a line digest never
    equals a dict fingerprint (``Fingerprinter``: salt and personalization zero). ``LINE_FORMAT``
    changed the stored fingerprint of every plain line once: the first re-export after it maps
    its rows again, finds them unchanged by content and writes only their new fingerprints,
    as after a mapping change."""
    context = hashlib.blake2b(LINE_FORMAT + len(epoch).to_bytes(2, "big") + epoch
                              + "\x00".join([delimiter, *header]).encode("utf-8", "surrogatepass"),
                              digest_size=32).digest()
    return hashlib.blake2b(digest_size=_DIGEST_SIZE, salt=context[:16], person=context[16:])


def mapping_epoch(mapping: CompiledMapping, config: ConnectorSettings, source_zone: str,
                  default_region: str) -> bytes:
    """What, besides the record, decides what a record maps to. Secrets are left out: a
    pydantic ``SecretStr`` dumps masked, and a URL's user info is dropped."""
    described = {
        "format": FORMAT,
        "code": _code_digest(),
        "mapping": _preset_dump(mapping),
        "source_zone": source_zone,
        # the time convention and the places' zones decide a visit's instant and zone: a change maps every row again
        "stored_times": mapping.stored_times,
        "place_zones": mapping.place_zones,
        "default_region": default_region,
        "connector": _connector_dump(config),
    }
    return hashlib.blake2b(orjson.dumps(described, option=orjson.OPT_SORT_KEYS, default=str),
                           digest_size=_DIGEST_SIZE).digest()


# The key under which a connector's stored cursor keeps the read epoch it was read under.
EPOCH_KEY = "_read_epoch"


# The connector settings that decide which rows a read finds and what they hold (others, a
# poll's timeout or overlap, change how it reads, not what).
_READ_SETTINGS = ("url", "query_preset", "query", "table", "columns", "mode", "cursor_column", "timezone",
                  "stored_times")
# Settings that make other records of the same rows (a column read as JSON or iCalendar, a series
# row read as its sessions, each with an id of its own): part of the read when set, so that
# setting one re-reads the window as a correction, and a source that never set one keeps its epoch.
_SHAPE_SETTINGS = ("json_columns", "ical_columns", "series")


def read_epoch(mapping: CompiledMapping, config: ConnectorSettings) -> str:
    """What the user set that decides which rows a read finds and what they map to: the
    connector's query or table, its cursor column and time settings, the columns it reads as
    records of their own (``query``.), then the
    mapping (.``mapping``), not the code. When it differs from the epoch the cursor was read
    under, the next sync re-reads the source's window and records what changed as a correction
    (sync/store/changes.py ``as_correction``): an incremental read would otherwise see only the
    rows changed since, and a fix would never reach the visits already stored. An upgrade of
    clinicsync re-maps (``mapping_epoch``) but does not re-read."""
    dumped = _connector_dump(config)
    read = {key: value for key, value in dumped.items() if key in _READ_SETTINGS}
    read.update({key: dumped[key] for key in _SHAPE_SETTINGS if dumped.get(key)})
    mapped = {"mapping": _preset_dump(mapping),
              "stored_times": mapping.stored_times, "place_zones": mapping.place_zones}
    return ".".join(hashlib.blake2b(orjson.dumps(part, option=orjson.OPT_SORT_KEYS, default=str),
                                    digest_size=_DIGEST_SIZE).hexdigest() for part in (read, mapped))


def query_changed(before: str, now: str) -> bool:
    """Whether two read epochs differ in what the query reads (not only in the mapping): rows
    stored as the query read them then are not the rows it reads now."""
    return before.split(".")[0] != now.split(".")[0]


def split_cursor(stored: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """A stored cursor as the connector gave it (None: none) and the read epoch kept in it."""
    if stored is None:
        return None, None
    cursor = {key: value for key, value in stored.items() if key != EPOCH_KEY}
    epoch = stored.get(EPOCH_KEY)
    return cursor or None, epoch if isinstance(epoch, str) else None


def with_epoch(cursor: Mapping[str, Any] | None, epoch: str) -> dict[str, Any]:
    """The cursor to store: the connector's, and the read epoch it was read under."""
    return {**(cursor or {}), EPOCH_KEY: epoch}


def _connector_dump(config: ConnectorSettings) -> dict[str, Any]:
    """The connector's settings as the epochs describe them (no URL user info), dumped once per
    settings object: the service's every poll describes its source, and the dump and the walk
    over it were a good part of an idle poll's CPU. Settings are not changed in place once loaded;
    a change is a new load, hence a new object. Never changed by its readers."""
    dumped: dict[str, Any] = once_per_load(config, "epoch_dump",
                                           lambda loaded: _without_userinfo(loaded.model_dump(mode="json")))
    return dumped


def _preset_dump(mapping: CompiledMapping) -> dict[str, Any]:
    """The mapping's preset as the epochs describe it, once per compiled mapping (never changed
    once built: mappings/engine.py ``load_mapping``). Never changed by its readers."""
    dumped: dict[str, Any] = once_per_load(mapping, "epoch_preset",
                                           lambda loaded: loaded.preset.model_dump(mode="json", by_alias=True))
    return dumped


def _without_userinfo(value: Any) -> Any:
    if isinstance(value, str):
        return _USERINFO.sub(r"\1", value)
    if isinstance(value, dict):
        return {k: _without_userinfo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_userinfo(v) for v in value]
    return value


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """The mapping code and what it leans on: an upgrade that changes how a record maps (a
    transform fixed, new time-zone rules, a newer numbering plan) re-maps every record once."""
    digest = hashlib.blake2b(digest_size=_DIGEST_SIZE)
    for folder in (Path(mapping_engine.__file__).parent, Path(timeutil.__file__).parent):
        for path in sorted(folder.glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    for package in ("clinicsync", "phonenumbers", "tzdata", "email-validator"):
        try:
            digest.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}=-".encode())
    digest.update(_system_zone_rules().encode())
    return digest.hexdigest()


def _system_zone_rules() -> str:
    """The version line of the system's time-zone database, which zoneinfo reads first."""
    for folder in zoneinfo.TZPATH:
        try:
            with open(Path(folder) / "tzdata.zi", encoding="utf-8") as handle:
                return handle.readline().strip()
        except OSError:
            continue
    return "-"


@dataclass
class Unchanged:
    """A batch's fingerprints (one per record, None: not fingerprinted) and the records known
    unchanged before mapping (index in ``batch.records`` -> the appointment id it names).
    ``lines``: a flat source's lines recognized before a record was built of them
    (LineRecognizer); ``recognizer`` builds one after all when a mapped record names its id."""

    fingerprints: list[str | None]
    skipped: dict[int, str] = field(default_factory=dict)
    lines: RecognizedLines = field(default_factory=lambda: RecognizedLines())
    recognizer: LineRecognizer | None = None
    sightings: list[Sighting] = field(default_factory=list)  # known-bad lines, left out

    @property
    def count(self) -> int:
        """Records left out as unchanged (they count as fetched and unchanged)."""
        return len(self.skipped) + len(self.lines)

    def skipped_ids(self, batch: Batch, among: set[str] | None = None) -> set[str]:
        """The ids the skipped records are known by (appointment id and the connector's own
        record id): their open quarantine items resolve as a mapped record's would.
        ``among``: only those of these ids (the ids with open items, usually few): a
        re-export's thousands of recognized lines are then tested, not gathered."""
        ids = set(self.skipped.values())
        ids.update(rid for index in self.skipped if (rid := batch.records[index].record_id))
        if among is None:
            ids.update(self.lines.ids)
            return ids
        ids &= among
        if among:
            ids.update(self.lines.ids_among(among))
        return ids


def unchanged_records(batch: Batch, mapping: CompiledMapping, fingerprint: Fingerprinter,
                      stored: Callable[[Sequence[str]], Mapping[str, str]],
                      recognizer: LineRecognizer | None = None) -> Unchanged:
    """Fingerprint each record and look the ids they name up in bulk (``stored``: id ->
    fingerprint of live appointments). Never skipped: a deletion (it is applied, not
    compared), a record without an id or fingerprint, and records that name the same id as
    another of the batch (the last of them must win, so all are mapped).

    ``recognizer``: the connector's line recognizer, which already fingerprinted the batch's
    plain lines (and left out those it knew). When it holds the connector's fingerprints, a
    record it fingerprinted and did not know is not looked up again: only the others are."""
    records = batch.records
    if recognizer is None:
        prints = [None if record.delete else fingerprint(record.data) for record in records]
        lines = RecognizedLines()
        sightings: list[Sighting] = []
        asked = [printed is not None for printed in prints]
    else:
        given, lines, sightings = recognizer.take()
        if len(given) != len(records):  # a batch the recognizer did not see whole: print as usual
            given = [None] * len(records)
        prints = [printed if printed is not None or record.delete else fingerprint(record.data)
                  for record, printed in zip(records, given, strict=True)]
        cached = recognizer.known is not None
        asked = [printed is not None and not (cached and line is not None)
                 for printed, line in zip(prints, given, strict=True)]
    if not any(asked):
        return Unchanged(prints, lines=lines, recognizer=recognizer, sightings=sightings)
    ids = [_peek(mapping, record.data) if ask else None for record, ask in zip(records, asked, strict=True)]
    named = Counter(i for i in ids if i is not None)
    named.update(lines.ids)
    if not named:
        return Unchanged(prints, lines=lines, recognizer=recognizer, sightings=sightings)
    known = stored([i for i, ask in zip(ids, asked, strict=True) if ask and i is not None and named[i] == 1])
    skipped = {index: external_id for index, (external_id, printed) in enumerate(zip(ids, prints, strict=True))
               if external_id is not None and printed is not None and known.get(external_id) == printed
               and named[external_id] == 1}
    return Unchanged(prints, skipped, lines, recognizer, sightings)


def _peek(mapping: CompiledMapping, data: Mapping[str, Any]) -> str | None:
    """The id the record names, read as the mapping reads it; None when it cannot be read
    (odd input never stops a run: the record is then simply mapped)."""
    try:
        return mapping.peek_id(data)
    except Exception:
        return None


# Above this many rows, a run does not hold the connector's fingerprints in memory (~32 bytes
# each, sync/store/known_prints.py: ~130 MB at this limit, ~32 MB at M1's million rows) but looks each
# batch's ids up as before, at the cost of splitting each line and an indexed lookup per row.
KNOWN_LIMIT = 4_000_000


class SkippedLine(NamedTuple):
    """A flat source's line known unchanged before anything was built of it: where it stood
    (``kept``: records of the batch before it), its text, and the appointment it is stored as."""

    kept: int
    number: int
    body: str
    external_id: str
    fingerprint: str  # hex, the stored form


class RecognizedLines:
    """A batch's recognized lines, column by column: their rows in the known index (``index``,
    the one their file was recognized by), and the line numbers and bytes a line needs only if
    it is mapped after all (its fingerprint is then computed again from ``seed``, the state its
    file's line digests start from). Per line one row is appended; the numbers and bytes of a
    run of lines are added with one ``extend`` each (a tuple per line, retained, used to be a
    third of the line test). ``ids`` (the external ids the lines are stored as) are sliced from
    the index when first asked for: a re-export's batch usually needs none of them, only those
    with open quarantine items (``ids_among``: by row). Iterating gives ``SkippedLine``s, built
    then; ``kept`` comes from the line numbers of the batch's kept records (``kept_numbers``, in
    file order)."""

    __slots__ = ("_ids", "bodies", "index", "kept_numbers", "numbers", "rows", "seed")

    def __init__(self, seed: Any = None) -> None:
        self.rows: list[int] = []
        self._ids: list[str] = []  # the ids of rows[:len(_ids)], sliced so far
        self.numbers: list[int] = []
        self.bodies: list[bytes] = []  # UTF-8, without the line break
        self.kept_numbers: list[int] = []
        self.seed = seed  # a blake2b state (LineRecognizer.start_file)
        self.index: KnownPrints | None = None  # what ``rows`` are rows of (LineRecognizer.start_file)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ids(self) -> list[str]:
        """The lines' external ids, in order (sliced from the index on first use)."""
        named, rows = self._ids, self.rows
        if len(named) < len(rows):
            assert self.index is not None
            named.extend(self.index.names(rows[len(named):]))
        return named

    def ids_among(self, among: set[str]) -> set[str]:
        """The lines' ids that are in ``among`` (the record ids of open quarantine items). When
        the index noted the rows of all of them as it was read (``KnownPrints.wanted``), they are
        found by row, without an id per line; else by the ids."""
        index = self.index
        if index is not None and among <= index.wanted:
            return {name for name in index.names(index.wanted_rows.intersection(self.rows)) if name in among}
        return among.intersection(self.ids)

    def __iter__(self) -> Iterator[SkippedLine]:
        for at in range(len(self.rows)):
            yield self._line(at)

    def _line(self, at: int) -> SkippedLine:
        number, body = self.numbers[at], self.bodies[at]
        digest = self.seed.copy()
        digest.update(body)
        return SkippedLine(bisect_left(self.kept_numbers, number), number, body.decode("utf-8", "surrogatepass"),
                           self.ids[at], digest.hexdigest())

    def take_named(self, ids: Collection[str]) -> list[SkippedLine]:
        """Remove and return the lines whose id is in ``ids`` (a mapped record names them)."""
        found = [at for at, external_id in enumerate(self.ids) if external_id in ids]
        if not found:
            return []
        taken = [self._line(at) for at in found]
        keep = [at for at in range(len(self._ids)) if self._ids[at] not in ids]
        self._ids, self.rows = [self._ids[at] for at in keep], [self.rows[at] for at in keep]
        self.numbers, self.bodies = [self.numbers[at] for at in keep], [self.bodies[at] for at in keep]
        return taken

    def copy(self) -> RecognizedLines:
        copied = RecognizedLines(self.seed)
        copied.rows, copied._ids, copied.numbers, copied.bodies = self.rows[:], self._ids[:], self.numbers[:], \
            self.bodies[:]
        copied.kept_numbers, copied.index = self.kept_numbers[:], self.index
        return copied

    def clear(self) -> None:
        for column in (self.rows, self._ids, self.numbers, self.bodies, self.kept_numbers):
            column.clear()


class LineRecognizer:
    """Recognizes a flat source's unchanged lines from their bytes, before a dict or record is
    built of them: a re-export of 100,000 unchanged rows then costs a digest and a
    lookup per line. The connector (connectors/csv_drop.py) calls ``start_file``'s line test
    for runs of plain lines (one line, one record: no quote), then ``kept`` for each record it
    keeps; the engine takes what it gathered with each batch (``take``).

    A line's fingerprint (``line_hasher``) is the epoch's, the file's delimiter and header, and the line's text
    as UTF-8 (its line break left out, so a re-export with other line ends matches). It names
    its record exactly: a plain line's fields are its text split at the delimiter, and the
    header and delimiter are in the digest. ``known``: the fingerprints of the connector's live
    rows (digest -> external id, sync/store/known_prints.py) read once for the run; None when the
    source is too large to hold them (``KNOWN_LIMIT``): then nothing is recognized here and the
    engine compares each batch's fingerprints with the store, as for other sources. A row this
    run already wrote (``touched``) is not recognized by its fingerprint at the start of the run."""

    def __init__(self, fingerprint: Fingerprinter,
                 load: Callable[[], KnownPrints | None],
                 load_open: Callable[[], tuple[dict[str, tuple[int, str | None]], set[str]]] | None = None) -> None:
        self._epoch = fingerprint.epoch
        self._load = load
        self._loaded = False
        self._known: KnownPrints | None = None
        # Open quarantine items: by fingerprint (item id, record id), and the record ids they name.
        bad, self.open_ids = load_open() if load_open is not None else ({}, set())
        self._bad = bad
        self._sightings: list[Sighting] = []
        self.touched: set[str] = set()
        self._header: list[str] = []
        self._delimiter = ","
        self._name = ""
        self._prints: list[str | None] = []
        self._lines = RecognizedLines()
        self._pending: tuple[int, str] | None = None

    @property
    def known(self) -> KnownPrints | None:
        """The stored fingerprints (digest -> external id), read when the first file is (an
        unchanged file costs nothing)."""
        if not self._loaded:
            self._known, self._loaded = self._load(), True
        return self._known

    def reload(self) -> None:
        """Rows were deleted: read the stored fingerprints again when next needed."""
        self._loaded, self._known = False, None

    def start_file(self, name: str, header: Sequence[str],
                   delimiter: str) -> Callable[[int, list[bytes], int, int], int]:
        """Begin a file; returns its line test (``recognize``), a closure over what it needs,
        so that the test of a re-export's lines reads no attributes."""
        known = self.known  # read now, outside the per-line loop
        self._name, self._header, self._delimiter = name, list(header), delimiter
        seed = line_hasher(self._epoch, delimiter, header)
        copy = seed.copy
        index = known or KnownPrints().finish()
        found_parts = index.parts()
        unfound_parts = KnownPrints().finish().parts()  # once the run reads the fingerprints again
        unpack = HALVES.unpack
        touched, bad = self.touched, self._bad
        lines = self._lines
        lines.seed = seed  # a batch's lines all come from one file: a file ends with its own batch
        lines.index = index
        keep_row = lines.rows.append
        keep_numbers, keep_bodies = lines.numbers.extend, lines.bodies.extend
        sight = self._sightings.append
        if not known and not bad:  # nothing stored, nothing known bad (a first import): no line is found
            return self._fresh(first_print=copy)

        def recognize(first: int, bodies: list[bytes], start: int, stop: int) -> int:
            """The index of the first of ``bodies[start:stop]`` (``first``: the line number of
            ``bodies[0]``) that is not a stored row's record byte for byte (nor a known-bad
            one's); those before it are left out. The per-line cost of a re-export: a digest
            and its lookup in the known index (inlined: KnownPrints.finder), and its row appended
            (the id is sliced only if the run wrote some rows already: ``touched``)."""
            # Rows deleted (the run reads them again for the next file): nothing is found meanwhile.
            # Fast locals, not the closure's cells, in the per-line loop.
            table, high, low, shift, mask, offsets, ids = found_parts if self._known is not None else unfound_parts
            run = start  # the first line of the current run of recognized lines
            for at in range(start, stop):
                digest = copy()
                digest.update(bodies[at])
                raw = digest.digest()
                top, bottom = unpack(raw)
                slot = top >> shift
                row = table[slot]
                while row:  # most often one slot (the table is at most half full)
                    if high[row] == top and low[row] == bottom:
                        break
                    slot = (slot + 1) & mask
                    row = table[slot]
                if row and not (touched and ids[offsets[row]:offsets[row + 1]] in touched):
                    keep_row(row)
                    continue
                printed = raw.hex()  # the stored form
                item = bad.get(printed) if bad else None
                if run < at:
                    keep_numbers(range(first + run, first + at))
                    keep_bodies(bodies[run:at])
                run = at + 1
                if item is not None:  # a known-bad record again: a sighting, not a mapping
                    sight(Sighting(item[0], f"{name}:{first + at}", item[1]))
                    continue
                self._pending = (first + at, printed)
                return at
            if run < stop:
                keep_numbers(range(first + run, first + stop))
                keep_bodies(bodies[run:stop])
            return stop

        return recognize

    def _fresh(self, first_print: Callable[[], Any]) -> Callable[[int, list[bytes], int, int], int]:
        """``recognize`` when the connector has no stored fingerprint and no open known-bad line:
        the first line asked about is never found, so it is the answer, with its fingerprint
        pending for ``kept`` — what the full test does then, without its lookup, run and
        sighting bookkeeping (a first import asks once per line)."""

        def recognize(first: int, bodies: list[bytes], start: int, stop: int) -> int:
            if start >= stop:
                return stop
            digest = first_print()
            digest.update(bodies[start])
            self._pending = (first + start, digest.hexdigest())
            return start

        return recognize

    def kept(self, number: int) -> None:
        """The connector kept line ``number`` as the batch's next record."""
        pending = self._pending
        self._prints.append(pending[1] if pending is not None and pending[0] == number else None)
        self._lines.kept_numbers.append(number)

    def take(self) -> tuple[list[str | None], RecognizedLines, list[Sighting]]:
        """The batch just yielded: its records' fingerprints (None: not a plain line), its
        recognized lines and its known-bad lines. Emptied in place: the file's line test holds
        these lists."""
        taken = self._prints[:], self._lines.copy(), self._sightings[:]
        for gathered in (self._prints, self._lines, self._sightings):
            gathered.clear()
        self._pending = None
        return taken

    def record(self, line: SkippedLine) -> RawRecord:
        """A recognized line as the connector would have kept it (its batch maps it after all)."""
        return RawRecord(dict(zip(self._header, line.body.split(self._delimiter), strict=False)),
                         f"{self._name}:{line.number}")
