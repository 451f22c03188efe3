"""The CSV drop connector builds a first import's rows on a faster path (csv_records._block:
a Record made by tuple.__new__; csv_drop: the row's dict by a dict display of the header, _row_dict); what it
yields must be exactly what the plain constructors give, for every row of a generated export
(bad rows, blank lines and odd line ends included)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from bench.data import write_export
from clinicsync.connectors.base import RawRecord
from clinicsync.connectors.csv_drop import _DISPLAY_COLUMNS, CsvDropConnector, CsvDropSettings, _row_dict
from clinicsync.connectors.csv_records import CsvRecords, Record, Utf8Lines


def _export(folder: Path) -> Path:
    """bench/data.py's export, with a blank line, a CRLF line and a quoted multi-line row added."""
    path = folder / "export.csv"
    write_export(path, 600)
    lines = path.read_bytes().split(b"\n")
    header = lines[0].split(b",")
    quoted = b",".join(
        b'"x\ny"' if name == b"location" else value for name, value in zip(header, lines[5].split(b","), strict=True)
    )
    lines[10:10] = [b"", lines[3].replace(b"A0", b"B0") + b"\r", quoted.replace(b"A0", b"C0")]
    path.write_bytes(b"\n".join(lines))
    return path


def _expected(path: Path) -> list[RawRecord]:
    """The rows as the csv module reads them, each as RawRecord's own constructor builds it."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = []
        for fields in reader:
            line = reader.line_num - sum(field.count("\n") for field in fields)
            if fields and any(f.strip() for f in fields) and len(fields) == len(header):
                rows.append(RawRecord(dict(zip(header, fields, strict=True)), f"{path.name}:{line}"))
    return rows


def test_rows_are_what_the_constructors_build(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    path = _export(drop)
    expected = _expected(path)
    settings: Any = CsvDropSettings(name="w1", mapping="csv_default", drop_dir=drop, settle_seconds=0, batch_size=97)
    connector = CsvDropConnector(settings)
    got = [record for batch in connector.fetch(None) for record in batch.records]
    assert len(got) == len(expected) > 500
    for mine, theirs in zip(got, expected, strict=True):
        assert type(mine) is RawRecord
        assert mine == theirs and vars(mine) == vars(theirs)
        assert list(mine.data) == list(theirs.data)


def test_plain_block_records_are_records(tmp_path: Path) -> None:
    path = _export(tmp_path)
    with path.open("rb") as raw:
        reader = CsvRecords(Utf8Lines(raw), "utf-8")
        records = list(reader)
    with path.open(newline="", encoding="utf-8") as handle:
        reference = list(CsvRecords(handle, "utf-8"))  # the text path: Record's own constructor
    assert records == reference and len(records) > 500
    for mine, theirs in zip(records, reference, strict=True):
        assert type(mine) is Record and mine._asdict() == theirs._asdict()


ODD_NAMES = ["appointment_id", "it's", 'say "hi"', "back\\slash", "{brace}", "new\nline", "tab\t", "\x00nul",
             "caf\u00e9", "\U0001f600", "\udcff lone surrogate", "", " spaced ", "v0", "lambda", "__import__('os')",
             "'}; x = {'", "\\x41"]


def test_a_row_dict_of_any_header_is_zip_s() -> None:
    """_row_dict writes the header's names into a dict display as their repr: any name (quotes,
    backslashes, braces, control characters, lone surrogates, a name that is code or a
    parameter's name) gives zip's dict, keys, values and order; so do wide headers, built by zip."""
    for header in (ODD_NAMES, ODD_NAMES[:1], [f"c{i}" for i in range(_DISPLAY_COLUMNS + 1)]):
        row = [f"value {i}" for i in range(len(header))]
        made = _row_dict(header)(*row)
        assert made == dict(zip(header, row, strict=True))
        assert list(made.items()) == list(zip(header, row, strict=True))


def test_every_batch_says_its_records_hold_only_text(tmp_path: Path) -> None:
    """What Batch.texts vouches for (the mapping then skips its type tests): every value of every
    record the connector yields is exactly a str, bad rows, odd line ends and a mid-file BOM included."""
    drop = tmp_path / "drop"
    drop.mkdir()
    path = _export(drop)
    path.write_bytes(path.read_bytes().replace(b"\nA0", "\n\ufeffA0".encode(), 1))
    settings: Any = CsvDropSettings(name="w1", mapping="csv_default", drop_dir=drop, settle_seconds=0, batch_size=97)
    batches = list(CsvDropConnector(settings).fetch(None))
    assert len(batches) > 5 and all(batch.texts for batch in batches)
    values = [value for batch in batches for record in batch.records for value in record.data.values()]
    assert len(values) > 10_000 and {type(value) for value in values} == {str}
