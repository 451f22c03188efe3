"""A CSV reader that is strict per record and never lets one broken record cost another.

Python's csv module, left to itself, lets a quote that is never closed run to the end of
the file (every later row becomes part of one value), and stops the whole file at the
first field over its size limit. Here each record is read on its own, from the physical
lines of the file:

- A record is one line, or several when a quoted value holds line breaks. Such a record
  must parse strictly and have the header's number of fields; no line inside it may be a
  complete row on its own, and no line after its first may open a quoted value after a
  delimiter (that line is a row whose quote a stray one would "close"); it may span at
  most ``MAX_RECORD_LINES`` lines.
- A record that fails is reported as ``Record(problem=...)`` at its first line, and the
  reader resynchronizes: it starts again at the line after that first line, so the rows
  an unbalanced quote had swallowed are read as the rows they are.
- A line with bytes its encoding cannot read, or with a NUL (a binary or mis-declared
  UTF-16 file), or longer than ``MAX_LINE_CHARS``, is a problem of its own record only.

Reading is linear and streaming: at most one record's lines (bounded) are held, and a
line is read again only when the record that had taken it fails.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections import deque
from collections.abc import Callable, Iterator
from itertools import repeat
from typing import BinaryIO, NamedTuple, Protocol, TextIO

import orjson

from clinicsync.connectors.text_encoding import MARK_ERRORS, display_name, undecodable

MAX_FIELD_CHARS = csv.field_size_limit()  # 131,072 unless a site raised it
MAX_RECORD_LINES = 100
MAX_LINE_CHARS = 1 << 20
RAW_LIMIT = 4096  # characters of a broken line kept for staff in the quarantine


class Record(NamedTuple):
    """One record: its fields, or why it could not be read (never its values). A named
    tuple: one is made per row, and a tuple is the cheapest immutable record."""

    line: int  # where it starts (1-based); a run of known lines (KNOWN_PROBLEM): how many
    fields: list[str] | None
    problem: str | None = None
    raw: str | None = None  # the first line, as JSON text for the quarantine (staff only)


def _clipped_mark(text: str) -> str:
    """What stands for the part of a line that is not kept: its length and a digest of the
    whole, so that two long lines that begin alike are still told apart (the quarantine
    knows a row without an id by its raw text)."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"… [{len(text):,} characters read; digest {digest}]"


class _Line(NamedTuple):
    number: int
    text: str
    problem: str | None = None


class _BrokenLine(Exception):
    def __init__(self, line: _Line) -> None:
        self.line = line


class _TooManyLines(Exception):
    pass


def _raw(text: str) -> str:
    """A line as JSON text: control characters escaped, unreadable bytes as U+FFFD, bounded.
    Its line break is left out: it is not part of what the row says, and the same broken row
    re-exported with other line ends must read as the same quarantine item (sync.quarantine)."""
    text = text.rstrip("\r\n")
    clipped = text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + _clipped_mark(text)
    cleaned = clipped.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> '?'
    return orjson.dumps(cleaned).decode()


class LineSource(Protocol):
    """What the reader reads lines from: a text stream opened with ``newline=""`` (and
    ``MARK_ERRORS``), or ``Utf8Lines``, which gives the same lines from bytes."""

    def readline(self, size: int = -1, /) -> str: ...


_READ_CHUNK = 1 << 20
# A plain block's most bytes: each of its lines is then within the csv module's field limit.
BLOCK_BYTES = min(1 << 16, MAX_FIELD_CHARS)
_strip_newline = bytes.rstrip
_new_tuple = tuple.__new__


class Utf8Lines:
    """A UTF-8 file's lines from its bytes: ``readline`` gives exactly the lines a text stream
    (``newline=""``, ``MARK_ERRORS``) gives, and ``plain_block`` hands the import's hot loop
    whole runs of plain lines as bytes, so that an unchanged line is fingerprinted from its
    raw bytes (its UTF-8 text, byte for byte) with no decode, no encode and no call per line.

    Why the lines are the same: a text stream with ``newline=""`` ends a line at ``\n``,
    ``\r\n`` or a lone ``\r``, and UTF-8 never uses those bytes inside a character, so a line
    is the same bytes either way and its text is those bytes decoded on their own (an
    undecodable byte is marked alike: a sequence never spans a line break). Anything a byte
    search cannot settle at once (a line longer than the size asked for, a ``\r`` at the
    end of what is read) is read by a real text stream over the same file from the same
    byte, and bytes take over again at the next position it reports as clean (no decoder
    state: ``tell()`` is a plain byte offset)."""

    def __init__(self, raw: BinaryIO, skip_bom: bool = False, valid: bool = False) -> None:
        """``skip_bom``: a leading UTF-8 byte-order mark is not text (the utf-8-sig codec);
        ``valid``: the whole file is known to decode strictly (text_encoding.inspect_file),
        so blocks need no check of their own."""
        self.raw = raw
        self._buf = b""
        self._pos = 0
        self._base = 0  # the file offset of _buf[0]
        self._eof = False
        self._valid = valid
        self._text: io.TextIOWrapper | None = None
        self._in_text = False
        if skip_bom:
            self._fill(len(codecs.BOM_UTF8))
            if self._buf.startswith(codecs.BOM_UTF8):
                self._pos = len(codecs.BOM_UTF8)

    def _fill(self, need: int) -> None:
        """At least ``need`` bytes after the position, or all that is left."""
        while not self._eof and len(self._buf) - self._pos < need:
            chunk = self.raw.read(max(_READ_CHUNK, need))
            if not chunk:
                self._eof = True
                break
            self._base += self._pos
            self._buf = self._buf[self._pos:] + chunk
            self._pos = 0

    def readline(self, size: int = -1, /) -> str:
        """The next line (line break kept) of at most ``size`` characters, "" at the end: a
        text stream's ``readline(size)``. Read from bytes when the line, break included, is
        found within ``size - 1`` bytes (so it has fewer characters than ``size``)."""
        if size < 1:
            raise ValueError("Utf8Lines.readline needs a size (the reader's line cap)")
        if self._in_text:
            return self._text_line(size)
        self._fill(size)
        buf, pos = self._buf, self._pos
        reach = min(len(buf), pos + size - 1)
        newline = buf.find(b"\n", pos, reach)
        ret = buf.find(b"\r", pos, newline if newline >= 0 else reach)
        if ret >= 0:
            if buf[ret + 1:ret + 2] == b"\n":
                stop = ret + 2
            elif ret + 1 < len(buf) or self._eof:
                stop = ret + 1  # a lone CR ends a line, as in text mode
            else:
                return self._text_line(size)
        elif newline >= 0:
            stop = newline + 1
        elif self._eof and len(buf) - pos < size:
            stop = len(buf)  # the last line, without a line break (or nothing: "")
        else:
            return self._text_line(size)  # a long line: cut where text mode cuts it
        if stop - pos >= size:
            return self._text_line(size)
        self._pos = stop
        return buf[pos:stop].decode("utf-8", MARK_ERRORS)

    def _text_line(self, size: int) -> str:
        """One ``readline`` through a text stream over the same file, from the same byte."""
        text = self._text
        if text is None:
            text = self._text = io.TextIOWrapper(self.raw, encoding="utf-8", errors=MARK_ERRORS, newline="")
        if not self._in_text:
            text.seek(self._base + self._pos)
            self._in_text = True
        line = text.readline(size)
        cookie = text.tell()
        if cookie >> 64 == 0:  # a plain byte offset, the decoder holding nothing back: bytes again
            self._in_text = False
            self.raw.seek(cookie)
            self._buf, self._pos, self._base, self._eof = b"", 0, cookie, False
        return line

    def plain_block(self) -> bytes:
        """The whole lines from here on, up to ``BLOCK_BYTES``, that are plainly one record
        each (``_Lines.is_plain``: no quote, no NUL, valid UTF-8, within the field limit), as
        one ``bytes`` ending with a line break; b"" when the next line is not such a line
        (the caller then reads it with ``readline``). Searches of the whole block in C."""
        if self._in_text:
            return b""
        self._fill(BLOCK_BYTES)
        buf, pos = self._buf, self._pos
        stop = buf.rfind(b"\n", pos, pos + BLOCK_BYTES) + 1
        for mark in (b'"', b"\x00"):
            if stop <= pos:
                return b""
            at = buf.find(mark, pos, stop)
            if at >= 0:
                stop = buf.rfind(b"\n", pos, at) + 1
        if stop <= pos:
            return b""
        block = buf[pos:stop]
        if not self._valid and not block.isascii():
            try:
                block.decode()
            except UnicodeDecodeError as exc:  # up to the line holding the first undecodable byte
                block = block[:block.rfind(b"\n", 0, exc.start) + 1]
        self._pos = pos + len(block)
        return block

    def close(self) -> None:
        """Let go of the text stream (if one was made) without closing the file under it."""
        if self._text is not None:
            self._text.detach()
            self._text = None


def block_bodies(block: bytes) -> list[bytes]:
    """A plain block's lines without their line breaks, split as text mode splits them (at
    ``\n``, ``\r\n`` and a lone ``\r``: ``bytes.splitlines`` knows exactly these); a block
    without CR is split by a C line iterator, a good deal faster than ``split``."""
    if b"\r" in block:
        return block.splitlines()
    return list(map(_strip_newline, io.BytesIO(block), repeat(b"\n")))


class _Lines:
    """Physical lines of a text stream (line breaks kept), numbered, checked, with push-back."""

    def __init__(self, handle: LineSource, encoding: str) -> None:
        self.handle = handle
        self.encoding = display_name(encoding)
        self.number = 0
        self.pending: deque[_Line] = deque()

    def next(self) -> _Line | None:
        if self.pending:
            return self.pending.popleft()
        text = self.handle.readline(MAX_LINE_CHARS + 1)
        if not text:
            return None
        return self.checked(text)

    @staticmethod
    def is_plain(text: str) -> bool:
        """A line that is plainly one record: no quote (so it cannot open or continue a
        multi-line value), short enough that no field can exceed the csv module's limit,
        ASCII or free of unreadable bytes, no NUL."""
        return ('"' not in text and len(text) <= MAX_FIELD_CHARS and "\x00" not in text
                and (text.isascii() or not undecodable(text)))

    def checked(self, text: str) -> _Line:
        """A line just read, numbered, with its problem if it has one."""
        self.number += 1
        problem = None
        if len(text) > MAX_LINE_CHARS and not text.endswith(("\n", "\r")):
            while (rest := self.handle.readline(MAX_LINE_CHARS)) and not rest.endswith(("\n", "\r")):
                pass  # skip the rest of the line, holding no more of it than one piece
            problem = f"the line is longer than {MAX_LINE_CHARS:,} characters"  # its first piece is kept
        elif "\x00" in text:
            problem = "the line holds a NUL byte (a binary file, or UTF-16 read as another encoding?)"
        elif undecodable(text):
            problem = (f"the line holds bytes that are not {self.encoding} (set `encoding:` for this "
                       "connector, or export the file as UTF-8)")
        return _Line(self.number, text, problem)

    def peek(self) -> _Line | None:
        line = self.next()
        if line is not None:
            self.pending.appendleft(line)
        return line

    def push_back(self, lines: list[_Line]) -> None:
        self.pending.extendleft(reversed(lines))


# What recognized lines read as (``CsvRecords.recognize``): ``Record(n, None, KNOWN_PROBLEM)``
# stands for ``n`` consecutive plain lines the caller knows, nothing built of them.
KNOWN_PROBLEM = "known unchanged"
KNOWN = Record(1, None, KNOWN_PROBLEM)

# (line number of bodies[0], bodies, start, stop) -> the first index in [start, stop) whose
# line is not known (stop: all are).
Recognize = Callable[[int, list[bytes], int, int], int]


class CsvRecords:
    """Records of one file, the header first. Set ``delimiter`` before reading, and ``width``
    (the header's number of fields) after the header: it lets a record over several lines
    be checked before it is trusted. ``recognize``: the caller's test of plain lines (their
    UTF-8 bytes without the line break, see ``Recognize``); a run of lines it knows is read as
    one ``Record(n, None, KNOWN_PROBLEM)`` of at most ``budget`` lines, without being split
    (the import's unchanged rows, sync/ingest/fingerprint.py LineRecognizer)."""

    def __init__(self, handle: TextIO | LineSource, encoding: str) -> None:
        self.lines = _Lines(handle, encoding)
        self.delimiter = ","
        self.width: int | None = None
        self.recognize: Recognize | None = None
        self.budget = 1 << 30
        self._taken: list[_Line] = []
        self._reader: Iterator[list[str]] | None = None

    def first_line(self) -> str:
        """The first line's text, for sniffing the delimiter (it is read again as the header)."""
        line = self.lines.peek()
        return "" if line is None else line.text

    def _feed(self) -> Iterator[str]:
        while True:
            if len(self._taken) >= MAX_RECORD_LINES:
                raise _TooManyLines
            line = self.lines.next()
            if line is None:
                return
            self._taken.append(line)
            if line.problem is not None:
                raise _BrokenLine(line)
            yield line.text

    def _strict(self) -> Iterator[list[str]]:
        if self._reader is None:
            self._reader = csv.reader(self._feed(), delimiter=self.delimiter, strict=True)
        return self._reader

    def _resync(self, first: _Line, problem: str) -> Record:
        """``first`` line's record failed: report it, and read again from the line after it."""
        self._reader = None  # a reader whose feed raised is spent
        later = [line for line in self._taken if line.number > first.number]
        self.lines.push_back(later)
        return Record(first.number, None, problem, _raw(first.text))

    def _lenient(self, text: str) -> list[str]:
        """One line the strict parser refused (e.g. `"Smith" Jr`), read as csv always has."""
        return next(csv.reader([text], delimiter=self.delimiter), [])

    def _is_row(self, text: str) -> bool:
        try:
            return len(self._lenient(text)) == self.width
        except csv.Error:
            return False

    def _opens_a_value(self, text: str) -> bool:
        """Whether the line's first quote opens a value after a delimiter: then the line is a
        row of its own whose quote another line's stray quote would otherwise "close". A
        line continuing a quoted value closes it before any delimiter, or holds doubled quotes."""
        at = text.find('"')
        return at > 0 and text[at - 1] == self.delimiter and text[at + 1:at + 2] != '"'

    def next_record(self) -> Record | None:
        self._taken = []
        try:
            fields = next(self._strict(), None)
        except _BrokenLine as broken:
            first = self._taken[0]
            if broken.line is first:
                self._reader = None
                assert first.problem is not None
                return Record(first.number, None, first.problem, _raw(first.text))
            return self._resync(first, _UNCLOSED)
        except _TooManyLines:
            return self._resync(self._taken[0], _UNCLOSED)
        except csv.Error as exc:
            first = self._taken[0]
            if len(self._taken) > 1:
                return self._resync(first, _UNCLOSED)
            self._reader = None
            if "field larger than field limit" in str(exc):
                return Record(first.number, None, f"a value is longer than {MAX_FIELD_CHARS:,} characters",
                              _raw(first.text))
            if "unexpected end of data" in str(exc):
                return Record(first.number, None, _UNCLOSED, _raw(first.text))
            try:
                return Record(first.number, self._lenient(first.text))
            except csv.Error:
                return Record(first.number, None, f"unreadable CSV ({exc})", _raw(first.text))
        if fields is None:
            return None
        first = self._taken[0]
        if len(self._taken) > 1 and (
                (self.width is not None and len(fields) != self.width)
                or any(self._is_row(line.text) for line in self._taken[1:-1])
                or any(self._opens_a_value(line.text) for line in self._taken[1:])):
            return self._resync(first, _UNCLOSED)
        return Record(first.number, fields)

    def __iter__(self) -> Iterator[Record]:
        """Plain lines (see ``_Lines.is_plain``) are split at once: for a line with no quote
        the csv module's strict parse is exactly a split at the delimiter (a blank line gives
        no fields). Every other line is pushed back, checked, for ``next_record``. Most
        exports are all plain lines, and this is the import's hot loop: it reads the stream
        itself rather than through a method call per line; from ``Utf8Lines`` it takes whole
        blocks of plain lines as bytes (``_block``)."""
        lines, delimiter = self.lines, self.delimiter
        handle = lines.handle
        readline, limit, pending = handle.readline, MAX_LINE_CHARS + 1, lines.pending
        plain_block: Callable[[], bytes] | None = getattr(handle, "plain_block", None)
        recognize = self.recognize
        while True:
            if not pending:
                if plain_block is not None:
                    block = plain_block()
                    if block:
                        bodies = block_bodies(block)
                        first = lines.number + 1
                        lines.number += len(bodies)
                        yield from self._block(first, bodies)
                        continue
                text = readline(limit)
                # _Lines.is_plain, inlined: the hot loop of every import
                if text and '"' not in text and len(text) <= MAX_FIELD_CHARS and "\x00" not in text and (
                        text.isascii() or not undecodable(text)):
                    lines.number += 1
                    body = text.rstrip("\r\n")
                    if body and recognize is not None and recognize(
                            lines.number, [body.encode("utf-8", "surrogatepass")], 0, 1):
                        yield KNOWN
                    else:
                        yield Record(lines.number, body.split(delimiter) if body else [])
                    continue
                if text:
                    pending.append(lines.checked(text))
            record = self.next_record()
            if record is None:
                return
            yield record

    def _block(self, first: int, bodies: list[bytes]) -> Iterator[Record]:
        """The records of a plain block's lines (``first``: the number of the first): runs of
        lines the caller knows as one record each, the others split (valid UTF-8: checked). A
        blank line is never asked about, as in the text path."""
        recognize, delimiter = self.recognize, self.delimiter
        at, count = 0, len(bodies)
        blanks = bodies.count(b"")
        blank = bodies.index(b"") if blanks else count
        while at < count:
            if at == blank:
                yield Record(first + at, [])
                at += 1
                blanks -= 1
                blank = bodies.index(b"", at) if blanks else count
                continue
            if recognize is not None:
                stop = at + self.budget
                found = recognize(first, bodies, at, stop if stop < blank else blank)
                if found > at:
                    yield Record(found - at, None, KNOWN_PROBLEM)
                    at = found
                    continue
            # a new row of a first import: Record's own __new__ is a Python call with defaults
            yield _new_tuple(Record, (first + at, bodies[at].decode().split(delimiter), None, None))
            at += 1


_UNCLOSED = ("a quoted value is not closed where it should be (an unbalanced quote?); the lines after it "
             "are read as rows of their own")
