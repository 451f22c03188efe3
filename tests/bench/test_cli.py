"""``python -m bench``'s command line: the help lists every workload, each workload's own
options reach it alone, and the size flags follow one rule. Argument parsing only: nothing
here runs a workload."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

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
    (["w7", "--rounds", "many"], "w7: argument --rounds: 'many' is not a whole number of rounds"),
    (["w1", "--rounds", "0"], "w1: argument --rounds: '0': at least 1 round"),
    (["m1", "--rounds", "3"], "--rounds is not an option of m1"),
    (["s1", "--sizes", "100"], "s1: argument --sizes: '100': two sizes or more"),
    (["s1", "--pushes", "0"], "s1: argument --pushes: '0': at least 1 push"),
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


def test_rounds_are_interleaved_and_each_figure_is_the_median() -> None:
    order: list[str] = []
    seconds = {"a": iter([3.0, 1.0, 2.0]), "b": iter([10.0, 30.0, 20.0])}

    def case(name: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            order.append(name)
            return {"cpu_seconds": next(seconds[name]), "writes": 7, "label": name}
        return run

    figures = harness.interleaved([("a", case("a")), ("b", case("b"))], rounds=3)
    assert order == ["a", "b", "a", "b", "a", "b"]
    assert figures["a"] == {"cpu_seconds": 2.0, "writes": 7, "label": "a", "cpu_seconds_spread": 1.0, "rounds": 3}
    assert figures["b"]["cpu_seconds"] == 20.0 and figures["b"]["rounds"] == 3


def test_w1_and_w7_and_s1_take_the_shared_rounds() -> None:
    runs = dict(bench_cli.plan(["w1", "w7", "s1", "--rounds", "3", "--smoke"]))
    assert runs == {"w1_csv_ingest": ["--rounds", "3", "--smoke"], "w7_cli_start": ["--rounds", "3", "--smoke"],
                    "s1_scale": ["--rounds", "3", "--smoke"]}


def test_a_workload_that_finds_a_failure_makes_the_run_exit_1(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    judged = SimpleNamespace(arguments=lambda: harness.common_arguments(""),
                             main=lambda argv: [Table("S1 scale: judged", ["case"], failed=True)])
    monkeypatch.setattr(bench_cli, "workloads", lambda: ["s1_scale"])
    monkeypatch.setattr(bench_cli, "_module", lambda name: judged)
    assert bench_cli.main(["s1"]) == 1
    assert "bench: FAIL: S1 scale: judged" in capsys.readouterr().err


@pytest.mark.parametrize(("growth", "failed"), [(1.10, False), (1.20, True)])
def test_the_scale_test_fails_when_cost_per_row_rises_more_than_15_percent(
        growth: float, failed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The verdict, on figures made up here: the largest size costs ``growth`` times the smallest."""
    from bench import s1_scale

    def fake_case(target: str, rows: int, pushes: int) -> dict[str, Any]:
        factor = growth if rows == 1000 else 1.0
        return {"rows": rows, "created": rows, "rerun_unchanged": rows, "peak_rss_mb": 1.0,
                "first_us_per_row": 60.0 * factor, "rerun_us_per_row": 20.0, "push_us": 5000.0 * factor}

    monkeypatch.setattr(s1_scale, "run_case", fake_case)
    table = s1_scale.scale_table((100, 1000), pushes=1, rounds=1, judged=True)
    assert table.failed is failed
    verdicts = {row["figure"]: row["verdict"] for row in table.rows if row["verdict"]}
    assert verdicts["re-export (unchanged rows), per row"] == "ok"
    expected = "FAIL" if failed else "ok"
    assert verdicts["first import, per row"] == verdicts["one REST push, per push"] == expected


def test_the_scale_test_notes_peak_rss_to_a_tenth_of_a_megabyte(monkeypatch: pytest.MonkeyPatch) -> None:
    """The median of two rounds' peaks (199.3 and 200.0) is printed as 199.6 or 199.7, not 199.64999999999998."""
    from bench import s1_scale

    peaks = iter([199.3, 199.3, 199.3, 200.0, 200.0, 200.0])

    def fake_case(target: str, rows: int, pushes: int) -> dict[str, Any]:
        return {"rows": rows, "created": rows, "rerun_unchanged": rows, "peak_rss_mb": next(peaks),
                "first_us_per_row": 60.0, "rerun_us_per_row": 20.0, "push_us": 5000.0}

    monkeypatch.setattr(s1_scale, "run_case", fake_case)
    table = s1_scale.scale_table((100, 1000), pushes=1, rounds=2, judged=True)
    notes = [note for note in table.notes if "peak RSS" in note]
    assert len(notes) == 2
    assert all(note.endswith(("peak RSS 199.6 MB", "peak RSS 199.7 MB")) for note in notes), notes
