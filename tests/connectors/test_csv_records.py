"""The strict per-record CSV reader and the per-file encoding detection, on their own."""

from __future__ import annotations

import codecs
import io
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinicsync.connectors.csv_records import MAX_LINE_CHARS, CsvRecords, Record
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
