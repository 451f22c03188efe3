"""`sync --once`'s report: piped (cron's log) it is written as plain aligned columns without
importing rich (cli/terminal.py, issue 60); on a terminal rich draws the table as before. Either
way an error is shown as the text it is: brackets in it are not read as markup."""

from __future__ import annotations

import io
import sys

import pytest

from clinicsync.sync.cli import main as cli_main
from clinicsync.sync.cli.context import out_console
from clinicsync.sync.ingest.engine import Counts
from clinicsync.sync.ingest.reports import ConnectorReport, RunReport

ERROR = "connection refused [Errno 111] to db:5432"


def _report() -> RunReport:
    return RunReport("abc123", {"north-pm": ConnectorReport(Counts(fetched=294, created=288, quarantined=6)),
                                "south-db": ConnectorReport(error=ERROR),
                                "east": ConnectorReport(skipped="skipped: another worker is polling it right now")})


def test_piped_the_report_is_plain_columns_with_the_error_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TTY_COMPATIBLE", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    cli_main._print_report(_report(), [("webhook", "3 pushed today")])
    lines = out.getvalue().splitlines()
    assert lines[0] == "sync run abc123"
    assert lines[1].split() == ["connector", "fetched", "created", "updated", "rescheduled", "cancelled", "deleted",
                                "unchanged", "quarantined", "error"]
    assert lines[2].split() == ["north-pm", "294", "288", "0", "0", "0", "0", "0", "6"]
    assert lines[3].endswith(ERROR) and lines[3].startswith("south-db ")
    assert lines[4].endswith("skipped") and lines[5].startswith("webhook ") and lines[5].endswith("3 pushed today")
    assert lines[6] == "east: skipped: another worker is polling it right now"
    assert all(line == line.rstrip() for line in lines)  # greppable: no trailing blanks
    assert len({line.index("fetched") for line in lines[1:2]} | {lines[2].index("294")}) == 1  # aligned


def test_on_a_terminal_rich_draws_the_table_and_keeps_the_brackets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    size = (out_console._width, out_console._height)
    out_console.size = (240, 40)  # a wide terminal: no cell cut
    try:
        with out_console.capture() as captured:
            cli_main._print_report(_report(), [])
    finally:
        out_console._width, out_console._height = size
    text = captured.get()
    assert "sync run abc123" in text and "north-pm" in text and "288" in text
    assert "[Errno 111]" in text  # a Text cell: not taken for a style tag
    assert "━" in text or "─" in text or "│" in text  # rich's box: a table drawn, not plain columns
