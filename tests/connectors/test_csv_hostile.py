"""Hostile and broken CSV exports (issue 16): a malformed record is quarantined with its
line and a reason that repeats no value, the reader picks up at the next record, and no
good row is lost or merged into another. Run on SQLite and PostgreSQL stores."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.connectors.csv_support import Run, appointments, csv_lines, quarantine, rows, write_drop, write_raw


def stored_by_id(run: Run) -> dict[str, dict[str, object]]:
    return {a["external_id"]: a for a in appointments(run)}


def assert_no_value_in_reasons(run: Run, data: list[dict[str, str]]) -> None:
    """Reasons name fields and lines, never a patient's data."""
    values = {v for row in data for k, v in row.items() if k.startswith("patient_") and len(v) > 3}
    for entry in quarantine(run):
        assert not any(v in entry["reason"] for v in values), entry["reason"]


def test_an_unclosed_quote_in_the_last_column_swallows_nothing(sync: Callable[[str], Run], drop_dir: Path) -> None:
    """Observation 1: `"Main Street` without its closing quote took the rest of the file
    into that patient's location (and their SMS)."""
    data = rows(10)
    lines = csv_lines(data)
    lines[3] = lines[3].rstrip("\r\n").rsplit(",", 1)[0] + ',"Main Street\r\n'  # data row 3 (file line 4)
    write_raw(drop_dir, "a.csv", lines)
    run = sync("")
    report = run()
    assert (report["created"], report["quarantined"]) == (9, 1)
    (entry,) = quarantine(run)
    assert entry["position"] == "a.csv:4" and "quote" in entry["reason"]
    stored = stored_by_id(run)
    assert set(stored) == {r["appointment_id"] for n, r in enumerate(data) if n != 2}
    for row in data:
        if row["appointment_id"] in stored:
            assert stored[row["appointment_id"]]["location"] == row["location"]
    assert_no_value_in_reasons(run, data)


def test_an_unclosed_quote_in_a_middle_column_loses_no_good_row(sync: Callable[[str], Run], drop_dir: Path) -> None:
    """Observation 1: with the quote in a middle column, 5 of 10 good rows were lost."""
    data = rows(11)
    lines = csv_lines(data)
    cells = lines[6].rstrip("\r\n").split(",")
    cells[8] = '"' + cells[8]  # patient_name opens a quote it never closes
    lines[6] = ",".join(cells) + "\r\n"
    write_raw(drop_dir, "a.csv", lines)
    run = sync("")
    report = run()
    assert (report["created"], report["quarantined"]) == (10, 1)
    assert quarantine(run)[0]["position"] == "a.csv:7"
    assert_no_value_in_reasons(run, data)


def test_a_quoted_value_over_lines_is_one_record(sync: Callable[[str], Run], drop_dir: Path) -> None:
    """A legitimate multi-line value (CR/LF inside quotes) stays one record."""
    data = rows(5)
    data[1] = {**data[1], "location": "Main Street Clinic\r\nSecond floor, room 4"}
    write_drop(drop_dir, "a.csv", data)
    run = sync("")
    report = run()
    assert (report["created"], report["quarantined"]) == (5, 0)
    assert stored_by_id(run)[data[1]["appointment_id"]]["location"] == "Main Street Clinic\nSecond floor, room 4"


def test_rows_caught_inside_a_stray_quote_are_not_merged(sync: Callable[[str], Run], drop_dir: Path) -> None:
    """A stray quote that a later quoted value would close: the rows between are full rows,
    so the span is not one record."""
    data = rows(6)
    data[4] = {**data[4], "location": "Suite 5, Main"}  # written quoted: "Suite 5, Main"
    lines = csv_lines(data)
    lines[2] = lines[2].rstrip("\r\n").rsplit(",", 1)[0] + ',"Annex\r\n'
    write_raw(drop_dir, "a.csv", lines)
    run = sync("")
    report = run()
    assert (report["created"], report["quarantined"]) == (5, 1)
    assert stored_by_id(run)[data[4]["appointment_id"]]["location"] == "Suite 5, Main"


def test_an_oversized_field_is_quarantined_and_the_rest_imports(sync: Callable[[str], Run], drop_dir: Path) -> None:
    """Observation 3: a field over 131,072 characters dropped the rest of the file."""
    data = rows(8)
    data[2] = {**data[2], "type": "x" * 140_000}
    write_drop(drop_dir, "a.csv", data)
    run = sync("")
    report = run()
    assert (report["created"], report["quarantined"]) == (7, 1)
    (entry,) = quarantine(run)
    assert entry["position"] == "a.csv:4" and "131072" in entry["reason"].replace(",", "")
    assert run()["fetched"] == 0


def test_an_oversized_quoted_field_over_lines_is_quarantined(sync: Callable[[str], Run], drop_dir: Path) -> None:
    data = rows(6)
    data[1] = {**data[1], "location": ("y" * 1000 + "\n") * 200}
    write_drop(drop_dir, "a.csv", data)
    run = sync("")
    report = run()
    assert report["created"] == 5
    assert report["quarantined"] >= 1 and "a.csv:3" in {q["position"] for q in quarantine(run)}


def test_one_stray_byte_quarantines_its_row_only(sync: Callable[[str], Run], drop_dir: Path) -> None:
    """Observation 4: one byte that is not UTF-8 made the whole file cp1252 (mojibake)."""
    data = [{**r, "patient_name": "Lucía Muñoz"} for r in rows(6)]
    lines: list[str | bytes] = list(csv_lines(data))
    broken = str(lines[3]).replace("Lucía", "Luc")
    lines[3] = broken.encode().replace(b"Luc", b"Luc\xeda", 1)  # a cp1252 byte in a UTF-8 file
    write_raw(drop_dir, "a.csv", lines)
    run = sync("")
    report = run()
    assert (report["created"], report["quarantined"]) == (5, 1)
    (entry,) = quarantine(run)
    assert entry["position"] == "a.csv:4" and "UTF-8" in entry["reason"]
    assert {a["patient"]["name"] for a in appointments(run)} == {"Lucía Muñoz"}


@pytest.mark.parametrize(("encoding", "bom"), [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
                                               ("utf-16-le", b""), ("utf-16-be", b"")])
def test_utf16_exports_are_read(sync: Callable[[str], Run], drop_dir: Path, encoding: str, bom: bytes) -> None:
    """Observation 4: UTF-16 exports (Excel's "Unicode text") were quarantined whole."""
    data = [{**r, "patient_name": "Lucía Muñoz"} for r in rows(5)]
    write_raw(drop_dir, "a.csv", [bom, "".join(csv_lines(data, delimiter="\t")).encode(encoding)])
    run = sync("")
    assert run()["created"] == 5
    assert {a["patient"]["name"] for a in appointments(run)} == {"Lucía Muñoz"}


def test_a_declared_encoding_is_honoured(sync: Callable[[str], Run], drop_dir: Path) -> None:
    """cp1252 bytes that happen to be valid UTF-8 ("Ã©"): only the setting can tell."""
    data = [{**r, "location": "CafÃ© Annex"} for r in rows(3)]
    write_drop(drop_dir, "a.csv", data, encoding="cp1252")
    run = sync("  encoding: cp1252\n")
    assert run()["created"] == 3
    assert {a["location"] for a in appointments(run)} == {"CafÃ© Annex"}


def test_a_nul_byte_quarantines_its_row_and_the_connector_goes_on(sync: Callable[[str], Run],
                                                                  drop_dir: Path) -> None:
    """Observation 2: one NUL stopped a CSV connector for good on PostgreSQL."""
    data = rows(6)
    lines = csv_lines(data)
    lines[2] = lines[2].replace(data[1]["patient_name"], data[1]["patient_name"][:2] + "\x00" + "x", 1)
    write_raw(drop_dir, "a.csv", lines)
    run = sync("")
    report = run()
    assert (report["created"], report["quarantined"], report["error"]) == (5, 1, None)
    assert "NUL" in quarantine(run)[0]["reason"]
    later = [{**r, "appointment_id": "B" + r["appointment_id"]} for r in rows(3)]
    write_drop(drop_dir, "b.csv", later)
    assert (run()["created"], run()["error"]) == (3, None)


def test_exports_joined_by_cat_keep_their_ids_without_the_second_bom(sync: Callable[[str], Run],
                                                                      drop_dir: Path) -> None:
    """Two BOM-led exports joined with `cat`: the second BOM starts a row, not its id (it made
    a second appointment, U+FEFF + the id, and so a second patient's reminders)."""
    data = rows(4)
    lines: list[str | bytes] = list(csv_lines(data))
    lines[0] = codecs.BOM_UTF8 + str(lines[0]).encode()
    lines[3] = codecs.BOM_UTF8 + str(lines[3]).encode()  # where the second file began
    write_raw(drop_dir, "a.csv", lines)
    run = sync("")
    assert run()["created"] == 4
    assert set(stored_by_id(run)) == {r["appointment_id"] for r in data}
