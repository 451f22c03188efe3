"""Lists on a terminal 120 columns wide (issue 58, obs 10): one line a row (rows wrapped to 2-3
lines), the quarantine position's row number never cut, `-o wide` for the other columns, and
`reminders list` opening on what is failing or due next, not on last week's sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.cli.context import out_console
from clinicsync.sync.cli.output import fitted_widths
from clinicsync.sync.config.settings import load_settings
from tests.cli.conftest import Run

WIDTH = 120


@pytest.fixture
def terminal() -> Iterator[None]:
    """stdout as a 120-column terminal (the runner's is a pipe)."""
    forced, size = out_console._force_terminal, (out_console._width, out_console._height)
    out_console._force_terminal = True
    out_console.size = (WIDTH, 40)
    try:
        yield
    finally:
        out_console._force_terminal = forced
        out_console._width, out_console._height = size


def rows_of(table: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("│").split("│")] for line in table.splitlines()
            if line.startswith("│")]


def test_quarantine_rows_take_one_line_and_keep_their_position(run: Run, terminal: None) -> None:
    _, out, _ = run("quarantine", "list", "-n", "5")
    assert all(len(line) <= WIDTH for line in out.splitlines()), out
    rows = rows_of(out)
    assert len(rows) == 5, out  # one line each: a wrapped reason made 2-6 lines a row
    assert all(re.fullmatch(r"export\.csv:\d+", row[-1]) for row in rows), out  # the row number, whole
    assert any(row[-2].endswith("…") or len(row[-2]) < 40 for row in rows)
    assert "last seen" not in out and "times in" not in out  # no time shown: no zone named
    _, wide, _ = run("quarantine", "list", "-n", "5", "-o", "wide")
    assert "last seen" in wide and "seen" in wide and "unknown status word" in wide


def test_appointments_list_is_one_line_a_row_with_whole_ids_and_times(run: Run, terminal: None) -> None:
    _, out, _ = run("appointments", "list", "-n", "8")
    rows = rows_of(out)
    assert len(rows) == 8 and all(len(line) <= WIDTH for line in out.splitlines()), out
    assert all(re.fullmatch(r"emr:A\d+", row[-1]) for row in rows), out
    assert all(re.search(r"\d{4}, \d{1,2}:\d\d\s[AP]M", row[0]) for row in rows), out  # the time, not cut


def test_reminders_list_opens_on_what_is_due_next(run: Run, terminal: None) -> None:
    """The big store's window holds sent reminders of last week and pending ones ahead: the
    pending come first (soonest due), then the rest; failing and unknown would come before."""
    _, out, _ = run("reminders", "list", "-n", "30")
    statuses = [row[4] for row in rows_of(out)]
    assert statuses and set(statuses[:20]) == {"pending"}, out
    assert "failing and unknown first" in out


def test_fitted_widths_cut_only_the_long_texts() -> None:
    # id and position kept, a status short; the reason and the doctor share what is left
    assert fitted_widths([2, 9, 90, 30, 20], [True, False, False, False, True], 80) == [2, 9, 25, 24, 20]
    assert fitted_widths([2, 9, 20], [True, False, False], 80) == [2, 9, 20]  # it fits: nothing cut


def test_appointments_show_gives_local_times_labelled_and_the_appointments_story(run: Run) -> None:
    """`appointments show` printed UTC only, and none of what happened to the visit."""
    _, out, _ = run("appointments", "show", "emr:A1")
    assert re.search(r"start\s+\w{3}, \w{3} \d{1,2}, \d{4}, \d{1,2}:\d\d\s[AP]M", out), out
    assert re.search(r"times in\s+America/New_York \(E[SD]T, UTC-0[45]:00\)", out), out
    assert "Z" not in out.split("answer")[0]  # no UTC time above the story
    assert "answers: none" in out and "desk actions: none" in out and re.search(r"source\s+emr *\n", out)
    assert re.search(r"reminders:\n  .*reminder 1d  patient  sms  sent", out), out
    _, utc, _ = run("appointments", "show", "emr:A1", "--utc")
    assert re.search(r"start\s+\d{4}-\d\d-\d\d \d\d:\d\dZ", utc) and "times in     UTC" in utc, utc
    _, data, _ = run("appointments", "show", "emr:A1", "--json")
    assert '"reminders"' in data and '"desk_actions"' in data and '"answers"' in data


def test_a_connector_label_is_the_clinics_name_for_its_system(tmp_path: Path, cli: Any) -> None:
    """The desk was told "cancel it in csv" (the connector's kind): `label:` names the system."""
    settings = tmp_path / "settings.yaml"
    settings.write_text("clinic:\n  timezone: America/New_York\nstore:\n  url: sqlite:///x.db\nconnectors:\n"
                        "  - {name: ehr, kind: csv, mapping: csv_default, drop_dir: drop, label: OpenEMR}\n"
                        "  - {name: book, kind: csv, mapping: csv_default, drop_dir: drop2}\n", encoding="utf-8")
    labelled, plain = load_settings(settings).connectors
    assert (labelled.system_name(), plain.system_name()) == ("OpenEMR", "csv")
    settings.write_text(settings.read_text().replace("label: OpenEMR", "label: ''"), encoding="utf-8")
    _, _, err = cli(settings)("check", expect=2)
    assert "label" in err


def test_at_80_columns_no_id_or_time_is_cut(run: Run) -> None:
    """gh's and kubectl's default table on a narrow terminal: the other texts give way, the id
    (what `appointments show` needs) and the time are whole, every line within 80 columns."""
    forced, size = out_console._force_terminal, (out_console._width, out_console._height)
    out_console._force_terminal = True
    out_console.size = (80, 40)
    try:
        _, out, _ = run("appointments", "list", "-n", "8")
    finally:
        out_console._force_terminal = forced
        out_console._width, out_console._height = size
    rows = rows_of(out)
    assert len(rows) == 8 and all(len(line) <= 80 for line in out.splitlines()), out
    assert all(re.fullmatch(r"emr:A\d+", row[-1]) for row in rows), out
    assert all(re.search(r"\d{4}, \d{1,2}:\d\d\s[AP]M", row[0]) for row in rows), out
    assert "-o wide for" in " ".join(out.split()), out  # the columns left out are named
