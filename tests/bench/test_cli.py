"""``python -m bench``'s command line: the help lists every workload, each workload's own
options reach it alone, and the size flags follow one rule. Argument parsing only: nothing
here runs a workload."""

from __future__ import annotations

import pytest

from bench import __main__ as bench_cli
from bench import harness
from bench.harness import LOAD_COLUMN, Table


def test_help_lists_every_workload_and_the_shared_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_cli.main(["--help"]) == 0
    shown = capsys.readouterr().out
    for name in bench_cli.workloads():
        line = next((ln for ln in shown.splitlines() if f" {name} " in ln), "")
        assert line.split(name, 1)[1].strip(), f"{name} has no one-line purpose in --help"
    assert "--smoke" in shown and "--no-postgres" in shown
    assert "--rounds ROUNDS" not in shown  # W7's own option belongs to `w7 --help`


@pytest.mark.parametrize("argv", [["w7", "--help"], ["--only", "w7", "--help"]])
def test_a_workload_help_shows_its_own_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_cli.main(argv) == 0
    shown = capsys.readouterr().out
    assert "--rounds ROUNDS" in shown and "--rows ROWS" not in shown


def test_rows_and_sizes_combine_each_workload_taking_its_own() -> None:
    runs = dict(bench_cli.plan(["--only", "w1,m1,w6,w7", "--rows", "300", "--sizes", "100,200", "--smoke"]))
    assert runs["w1_csv_ingest"] == ["--rows", "300", "--smoke"]
    assert runs["m1_memory"] == ["--sizes", "100,200", "--smoke"]
    assert runs["w6_end_to_end"] == ["--sizes", "100,200", "--smoke"]
    assert runs["w7_cli_start"] == ["--smoke"]


def test_one_size_flag_alone_reaches_the_other_kind_of_workload() -> None:
    assert dict(bench_cli.plan(["w1", "m1", "--rows", "300"])) == {
        "w1_csv_ingest": ["--rows", "300"], "m1_memory": ["--sizes", "300"]}
    assert dict(bench_cli.plan(["w1", "m1", "--sizes=100,2000"])) == {
        "w1_csv_ingest": ["--rows", "2000"], "m1_memory": ["--sizes=100,2000"]}


@pytest.mark.parametrize(("argv", "message"), [
    (["--rows", "0"], "--rows: '0': a size must be at least 1 row"),
    (["--sizes", "100,lots"], "--sizes: 'lots' is not a whole number of rows"),
    (["w7", "--rows", "5"], "--rows is not an option of w7"),
    (["w9"], "no workload 'w9'"),
    (["w7", "--rounds", "many"], "w7: argument --rounds: invalid int value: 'many'"),
])
def test_a_bad_command_line_is_one_line_and_exit_2(argv: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_cli.main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error


def test_a_ratio_column_gets_the_load_beside_it() -> None:
    table = Table("t", ["case", "ratio", "goal"])
    table.add(case="a", ratio=1.0, goal="")
    assert table.columns == ["case", "ratio", LOAD_COLUMN, "goal"]
    assert float(table.rows[0][LOAD_COLUMN].split("-")[0]) >= 0


def test_each_row_gets_the_load_of_its_own_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "LOADS", [])
    table = Table("M1-like", ["rows", "cpu_first_per_pandas", "goal"])
    assert table.columns == ["rows", "cpu_first_per_pandas", LOAD_COLUMN, "goal"]
    harness.LOADS.extend([1.0, 2.0])  # what run_case records around the first size's cases
    table.add(rows=1, cpu_first_per_pandas=5.0, goal="")
    harness.LOADS.extend([3.0, 3.001])
    table.add(rows=2, cpu_first_per_pandas=5.0, goal="")
    table.add(rows=3, cpu_first_per_pandas=5.0, goal="")  # no case since: the same measurements
    assert [row[LOAD_COLUMN] for row in table.rows] == ["1.00-2.00", "3.00", "3.00"]
