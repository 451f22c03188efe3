"""The strict per-record CSV reader and the per-file encoding detection, on their own."""

from __future__ import annotations

import codecs
import hashlib
import io
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinicsync.connectors import csv_records
from clinicsync.connectors.csv_records import (
    BLOCK_BYTES,
    KNOWN_PROBLEM,
    MAX_LINE_CHARS,
    CsvRecords,
    Record,
    Utf8Lines,
    _Lines,
    block_bodies,
)
from clinicsync.connectors.text_encoding import MARK_ERRORS, inspect_file


def read(content: str, width: int = 3) -> list[Record]:
    reader = CsvRecords(io.StringIO(content, newline=""), "utf-8")
    reader.width = width
    return list(reader)


def summary(records: list[Record]) -> list[tuple[int, list[str] | str]]:
    return [(r.line, r.fields if r.fields is not None else "problem") for r in records]


@pytest.mark.parametrize(("content", "expected"), [
    ("a,b,c\r\nd,e,f\r\n", [(1, ["a", "b", "c"]), (2, ["d", "e", "f"])]),
    ('a,"b\r\nb2",c\r\nd,e,f\r\n', [(1, ["a", "b\r\nb2", "c"]), (3, ["d", "e", "f"])]),  # a value over lines
    ('a,"b\r\nd,e,f\r\ng,h,i\r\n', [(1, "problem"), (2, ["d", "e", "f"]), (3, ["g", "h", "i"])]),  # never closed
    ('a,b,"c\r\nd,e,f\r\n', [(1, "problem"), (2, ["d", "e", "f"])]),
    ('a,"b\r\nd,"e,f\r\n', [(1, "problem"), (2, "problem")]),  # two stray quotes do not pair up
    ('a,"b\r\nd,e,"f, g"\r\n', [(1, "problem"), (2, ["d", "e", "f, g"])]),  # a later quoted value is its own
    ('"Smith" Jr,b,c\r\n', [(1, ["Smith Jr", "b", "c"])]),  # lenient on one line, as before
    ("a,b\x00,c\r\nd,e,f\r\n", [(1, "problem"), (2, ["d", "e", "f"])]),
    ("\r\na,b,c\r\n", [(1, []), (2, ["a", "b", "c"])]),  # blank lines are the caller's to skip
])
def test_records_and_resynchronization(content: str, expected: list[tuple[int, list[str] | str]]) -> None:
    assert summary(read(content)) == expected


def test_problems_name_no_value() -> None:
    records = read('A1,"Ana Lima\r\nA2,Bo Chen,x\r\n')
    assert records[0].problem is not None and "Ana" not in records[0].problem and "quote" in records[0].problem
    assert records[0].raw is not None and "Ana Lima" in records[0].raw  # the raw line is for staff


def test_an_overlong_line_is_skipped_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("a,b,c\n" + "x" * (MAX_LINE_CHARS * 3) + "\nd,e,f\n", encoding="utf-8")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = CsvRecords(handle, "utf-8")
        records = list(reader)
    assert summary(records) == [(1, ["a", "b", "c"]), (2, "problem"), (3, ["d", "e", "f"])]
    assert records[1].problem is not None and "longer than" in records[1].problem
    assert records[1].raw is not None and len(records[1].raw) < 5000


def test_long_broken_lines_that_begin_alike_keep_raw_texts_apart() -> None:
    """The raw text is clipped for staff; what was cut is summed up by its length and digest,
    so the quarantine (which knows a row without an id by its raw text) keeps both."""
    long = "x" * 200_000  # over the csv module's field limit: each line is a problem of its own
    records = read(f"{long}1,b,c\r\n{long}2,b,c\r\n{long}2,b,c\n")
    assert [r.problem is not None for r in records] == [True, True, True]
    first, second, again = (r.raw or "" for r in records)
    assert first != second and second == again  # the same line, whatever its line end
    assert first.startswith('"xxx') and len(first) < 5000 and "200,005 characters read; digest " in first


def test_many_stray_quotes_stay_linear() -> None:
    """Each line opening a quote it never closes: every line is read a bounded number of times."""
    lines = 20_000
    began = time.process_time()
    records = read('x,y,"z\r\n' * lines)
    spent = time.process_time() - began
    assert len(records) == lines and all(r.problem for r in records)
    assert spent < 60  # a hang guard only (bounded re-reading is ~100 lines per record)


def test_undecodable_bytes_mark_their_line_only(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("a,b,c\nLucía,2,3\n".encode() + b"Luc\xeda,2,3\n" + "Zoë,5,6\n".encode())
    with path.open(encoding="utf-8", errors=MARK_ERRORS, newline="") as handle:
        records = list(CsvRecords(handle, "utf-8"))
    assert summary(records) == [(1, ["a", "b", "c"]), (2, ["Lucía", "2", "3"]), (3, "problem"),
                                (4, ["Zoë", "5", "6"])]
    assert records[2].problem is not None and "UTF-8" in records[2].problem


@pytest.mark.parametrize(("content", "encoding"), [
    ("a,b\nLucía,Muñoz\n".encode(), "utf-8"),
    (b"a,b\nplain ascii\n", "utf-8"),
    (codecs.BOM_UTF8 + "a,b\nLucía\n".encode(), "utf-8-sig"),
    ("a,b\nLucía,Muñoz\n".encode() + b"stray \xed byte\n", "utf-8"),  # mostly UTF-8: stays UTF-8
    ("a,b\nLucía,Muñoz,José\n".encode("cp1252"), "cp1252"),  # a Windows export
    ("a,b\nLucía\n".encode("latin-1") + b"\x81", "latin-1"),  # cp1252 leaves 0x81 undefined
    (codecs.BOM_UTF16_LE + "a,b\nLucía\n".encode("utf-16-le"), "utf-16"),
    (codecs.BOM_UTF16_BE + "a,b\nLucía\n".encode("utf-16-be"), "utf-16"),
    ("a,b\nLucía Muñoz\n".encode("utf-16-le"), "utf-16-le"),  # no BOM: the NUL pattern
    ("a,b\nLucía Muñoz\n".encode("utf-16-be"), "utf-16-be"),
    (b"a,b\nA1,x\x00y\n", "utf-8"),  # one NUL is not UTF-16
])
def test_encoding_detection(tmp_path: Path, content: bytes, encoding: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    assert inspect_file(path, "auto").encoding == encoding
    assert inspect_file(path, "cp1252").encoding == "cp1252"  # a declared encoding wins


def _strict_only(content: str, delimiter: str) -> list[Record]:
    """Every record through ``next_record``: the reader as it was before plain lines were split."""
    reader = CsvRecords(io.StringIO(content, newline=""), "utf-8")
    reader.delimiter, reader.width = delimiter, 3
    return list(iter(reader.next_record, None))


_PIECES = st.sampled_from(["a", "b c", " ", "", '"', '""', ",", ";", "\t", "\r\n", "\n", "\r", "\x00", "é",
                           "\udc80", "x" * 40])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(_PIECES, max_size=40).map("".join), st.sampled_from([",", ";", "\t"]))
def test_plain_lines_split_exactly_as_the_strict_parser_reads_them(content: str, delimiter: str) -> None:
    """The hot loop splits a line with no quote at the delimiter instead of parsing it; on any
    text (quotes, blank lines, NULs, unreadable bytes, every line end) the records, their lines
    and their problems are the ones the strict parser alone gives."""
    reader = CsvRecords(io.StringIO(content, newline=""), "utf-8")
    reader.delimiter, reader.width = delimiter, 3
    assert list(reader) == _strict_only(content, delimiter)


# Reading a UTF-8 file from its bytes (Utf8Lines): the same lines, records and recognized lines
# as a text stream gives, on awkward files (issue 32).

_BYTE_PIECES = st.sampled_from([
    b"a", b"b c", b" ", b",", b";", b"\t", b'"', b'""', b"\r\n", b"\n", b"\r", b"\r\r", b"\x00",
    "é".encode(), "€".encode(), "😀".encode(), b"\xed", b"\xc3", b"\xff", b"\xe2\x82", b"\xf0\x9f",
    b"x" * 40, codecs.BOM_UTF8])
_BYTE_FILES = st.lists(_BYTE_PIECES, max_size=40).map(b"".join)


def _text_stream(content: bytes, encoding: str = "utf-8") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(content), encoding=encoding, errors=MARK_ERRORS, newline="")


@contextmanager
def _read_chunk(size: int) -> Iterator[None]:
    """Utf8Lines reading the file in pieces of ``size`` bytes, and blocks of at most that many
    (when small): every line boundary, CR and multi-byte character falls across a read or a
    block's end somewhere."""
    saved = csv_records._READ_CHUNK, csv_records.BLOCK_BYTES
    csv_records._READ_CHUNK = size
    csv_records.BLOCK_BYTES = min(size * 5, saved[1])
    try:
        yield
    finally:
        csv_records._READ_CHUNK, csv_records.BLOCK_BYTES = saved


@settings(max_examples=400, deadline=None, derandomize=True)
@given(_BYTE_FILES, st.lists(st.one_of(st.integers(1, 14), st.just(0)), max_size=30),
       st.sampled_from([1, 2, 3, 7, 64, 1 << 20]), st.booleans())
def test_bytes_give_the_lines_a_text_stream_gives(content: bytes, steps: list[int], chunk: int,
                                                  bom: bool) -> None:
    """Any bytes (lone CRs, CRLF, NULs, undecodable and cut-off sequences, a BOM), read line by
    line with any size cap (small caps: lines cut where text mode cuts them, across reads) or
    as plain blocks (step 0): the same text as ``TextIOWrapper(newline="")`` reads."""
    text = _text_stream(content, "utf-8-sig" if bom else "utf-8")
    with _read_chunk(chunk):
        lines = Utf8Lines(io.BytesIO(content), skip_bom=bom)
        for size in steps:
            if size:
                assert lines.readline(size) == text.readline(size)
                continue
            block = lines.plain_block()
            assert block == b"" or block.endswith(b"\n")
            for body in block_bodies(block):
                line = text.readline(MAX_LINE_CHARS + 1)
                assert _Lines.is_plain(line) and line.rstrip("\r\n") == body.decode()
        while line := text.readline(99):
            assert lines.readline(99) == line
        assert lines.readline(99) == ""


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["a", "é,b", "€", "😀", " ", ",", "\r\n", "\n", "\r", '"', "\x00"]),
                max_size=40).map("".join))
def test_a_file_known_valid_is_split_the_same_without_a_check(content: str) -> None:
    raw = content.encode()
    checked, trusted = Utf8Lines(io.BytesIO(raw)), Utf8Lines(io.BytesIO(raw), valid=True)
    while (block := checked.plain_block()) or checked.readline(99):
        assert block == trusted.plain_block()
        if not block:
            trusted.readline(99)
    assert trusted.plain_block() == b"" and trusted.readline(99) == ""


def _expanded(records: list[Record]) -> list[Record | str]:
    """Runs of known lines as one marker per line: the text path gives them one by one."""
    out: list[Record | str] = []
    for record in records:
        out.extend(["known"] * record.line if record.problem == KNOWN_PROBLEM else [record])
    return out


def _recognizer(seen: list[tuple[int, bytes]]) -> Callable[[int, list[bytes], int, int], int]:
    """Knows a line when its bytes' digest is even; notes every line it is asked about."""
    def recognize(first: int, bodies: list[bytes], start: int, stop: int) -> int:
        for at in range(start, stop):
            seen.append((first + at, bodies[at]))
            if hashlib.blake2b(bodies[at]).digest()[0] % 2:
                return at
        return stop
    return recognize


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_BYTE_FILES, st.sampled_from([",", ";", "\t"]), st.integers(1, 5), st.sampled_from([2, 64, 1 << 20]))
def test_records_from_bytes_are_the_records_from_text(content: bytes, delimiter: str, budget: int,
                                                      chunk: int) -> None:
    """The whole reader (hot loop, strict parser, resynchronization, problems) over bytes and
    over a text stream: the same records, and the same lines recognized, from the same bytes;
    no run of known lines longer than the budget."""
    results = []
    for bytes_source in (False, True):
        seen: list[tuple[int, bytes]] = []
        with _read_chunk(chunk):
            reader = CsvRecords(Utf8Lines(io.BytesIO(content)) if bytes_source else _text_stream(content), "utf-8")
            reader.delimiter, reader.width, reader.budget = delimiter, 3, budget
            reader.recognize = _recognizer(seen)
            records = list(reader)
        assert all(r.line <= budget for r in records if r.problem == KNOWN_PROBLEM)
        known = [at for at, body in seen if not hashlib.blake2b(body).digest()[0] % 2]
        results.append((_expanded(records), [pair for pair in seen if pair[1]], known))
    (text_records, text_seen, text_known), (byte_records, byte_seen, byte_known) = results
    assert byte_records == text_records and byte_known == text_known
    assert [pair for pair in byte_seen if pair[0] in set(text_known)] == [
        pair for pair in text_seen if pair[0] in set(text_known)]


@pytest.mark.parametrize("tail", ["\n", "\r\n", "\r", "\rd,e,f\n", "é\n", "€€\r\n"])
@pytest.mark.parametrize("filler", ["x", "é", "€", "😀"])
def test_an_overlong_line_from_bytes_is_cut_as_text_mode_cuts_it(tmp_path: Path, filler: str, tail: str) -> None:
    """Over MAX_LINE_CHARS characters (not bytes: a multi-byte filler is longer in bytes): the
    same problem record, the same first piece kept for staff, the same next records."""
    path = tmp_path / "long.csv"
    body = filler * (MAX_LINE_CHARS + 3)
    path.write_bytes(("a,b,c\n" + body + tail + "g,h,i\r\n" + '"j\r\nk",l,m\n' + "n,o,p").encode())
    with path.open(encoding="utf-8", errors=MARK_ERRORS, newline="") as handle:
        expected = list(CsvRecords(handle, "utf-8"))
    with path.open("rb") as raw:
        lines = Utf8Lines(raw)
        got = list(CsvRecords(lines, "utf-8"))
        lines.close()
    assert got == expected
    assert expected[1].problem is not None and "longer than" in expected[1].problem
    assert [r.fields for r in expected[-3:]] == [["g", "h", "i"], ["j\r\nk", "l", "m"], ["n", "o", "p"]]


def test_a_line_over_a_block_is_read_and_split_the_same(tmp_path: Path) -> None:
    """A plain line longer than a block (but within the field limit) goes the text path."""
    long = "y" * (BLOCK_BYTES + 10)
    content = f"a,b,c\r\n1,{long},3\r\n4,5,6\r\n".encode()
    with io.BytesIO(content) as raw:
        records = list(CsvRecords(Utf8Lines(raw), "utf-8"))
    assert [r.fields for r in records] == [["a", "b", "c"], ["1", long, "3"], ["4", "5", "6"]]


@pytest.mark.parametrize("tail", [b"\xa9xyz", b"xyz"])
def test_a_character_cut_by_a_chunk_and_an_ascii_chunk_is_not_valid_utf8(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail: bytes) -> None:
    """A chunk ending half-way into a character, then an all-ASCII chunk: the decoder must see
    the ASCII chunk, or the next chunk's continuation byte completes the character and an
    invalid file passes as valid UTF-8 (then the byte reader raises mid-import). Found in review."""
    from clinicsync.connectors import text_encoding

    monkeypatch.setattr(text_encoding, "_CHUNK", 4)
    path = tmp_path / "cut.csv"
    path.write_bytes(b"abc\xc3" + b"defg" + tail)
    assert not inspect_file(path, "auto").valid_utf8  # read as text, undecodable bytes marked
