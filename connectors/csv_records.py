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

import csv
import hashlib
from collections import deque
from collections.abc import Callable, Iterator
from typing import NamedTuple, TextIO

import orjson

from clinicsync.connectors.text_encoding import display_name, undecodable

MAX_FIELD_CHARS = csv.field_size_limit()  # 131,072 unless a site raised it
MAX_RECORD_LINES = 100
MAX_LINE_CHARS = 1 << 20
RAW_LIMIT = 4096  # characters of a broken line kept for staff in the quarantine


class Record(NamedTuple):
    """One record: its fields, or why it could not be read (never its values). A named
    tuple: one is made per row, and a tuple is the cheapest immutable record."""

    line: int  # where it starts (1-based)
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


class _Lines:
    """Physical lines of a text stream (line breaks kept), numbered, checked, with push-back."""

    def __init__(self, handle: TextIO, encoding: str) -> None:
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


# What a recognized line reads as (``CsvRecords.recognize``): one shared record, nothing built.
KNOWN_PROBLEM = "known unchanged"
KNOWN = Record(0, None, KNOWN_PROBLEM)


class CsvRecords:
    """Records of one file, the header first. Set ``delimiter`` before reading, and ``width``
    (the header's number of fields) after the header: it lets a record over several lines
    be checked before it is trusted. ``recognize`` (line number, text without its line
    break) -> True: a plain line the caller already knows, read as ``KNOWN`` without being
    split (the import's unchanged rows, sync/fingerprint.py LineRecognizer)."""

    def __init__(self, handle: TextIO, encoding: str) -> None:
        self.lines = _Lines(handle, encoding)
        self.delimiter = ","
        self.width: int | None = None
        self.recognize: Callable[[int, str], bool] | None = None
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
        itself rather than through a method call per line."""
        lines, delimiter = self.lines, self.delimiter
        readline, limit, pending = lines.handle.readline, MAX_LINE_CHARS + 1, lines.pending
        recognize = self.recognize
        while True:
            if not pending:
                text = readline(limit)
                # _Lines.is_plain, inlined: the hot loop of every import
                if text and '"' not in text and len(text) <= MAX_FIELD_CHARS and "\x00" not in text and (
                        text.isascii() or not undecodable(text)):
                    lines.number += 1
                    body = text.rstrip("\r\n")
                    if body and recognize is not None and recognize(lines.number, body):
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


_UNCLOSED = ("a quoted value is not closed where it should be (an unbalanced quote?); the lines after it "
             "are read as rows of their own")
