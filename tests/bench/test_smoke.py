"""Every benchmark runs at a tiny size (``--smoke``) and prints a complete table. Nothing
here looks at a time: the figures are checked for shape, never for speed."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from bench import harness
from bench.__main__ import workloads

# Tables a workload must print (title prefixes), beyond "at least one".
EXPECTED = {
    "w1_csv_ingest": ["W1 CSV ingest", "W1 against dlt"],  # dlt: the bench extra, installed with --all-extras
    "m1_memory": ["M1 memory and scaling", "M1 memory of the whole first sync"],
    "w6_end_to_end": ["W6 end to end"],
    "m2_mapping_cpu": ["M2 mapping CPU"],
    "s1_scale": ["S1 scale"],
    "w8_push_api": ["W8 push path"],
}


def test_the_end_to_end_workload_and_the_scale_test_are_registered() -> None:
    assert {"w6_end_to_end", "s1_scale"} <= set(workloads())


# The workload whose smoke run keeps a fresh interpreter per case (bench/harness.py's child
# path, as bench/run runs every case); the others run their cases in the test's process.
CHILD_PATH = "w5_plan_reminders"


@pytest.mark.parametrize("name", workloads())
def test_workload_runs_at_smoke_size(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if name != CHILD_PATH:
        monkeypatch.setenv(harness.IN_PROCESS_ENV, "1")
    module = importlib.import_module(f"bench.{name}")
    tables = module.main(["--smoke", "--quiet"])
    assert tables, f"{name} produced no table"
    titles = [table.title for table in tables]
    for prefix in EXPECTED.get(name, []):
        assert any(title.startswith(prefix) for title in titles), f"{name}: no table {prefix!r} in {titles}"
    for table in tables:
        assert table.rows, f"{table.title}: no rows"
        for row in table.rows:
            missing = [c for c in table.columns if c not in row]
            assert not missing, f"{table.title}: row {row} lacks {missing}"


def test_the_push_instruction_count_script_prepares_and_pushes(tmp_path: Path) -> None:
    """bench/push_instructions.py (run under callgrind by hand): a store with a few imported
    rows, then its warm-up and counted pushes all land as new appointments of the source."""
    from sqlalchemy import create_engine, text

    from bench import push_instructions
    from bench.s1_scale import CONNECTOR

    folder = tmp_path / "store"
    push_instructions.prepare(folder, 50)
    count = "SELECT COUNT(*) FROM appointment WHERE connector = :c"
    engine = create_engine(f"sqlite:///{folder / 'store.db'}")
    with engine.connect() as connection:
        imported = connection.execute(text(count), {"c": CONNECTOR}).scalar_one()
    push_instructions.push(folder, 2)
    with engine.connect() as connection:
        pushed = connection.execute(text(count), {"c": CONNECTOR}).scalar_one() - imported
    assert imported > 0 and pushed == push_instructions.WARM_UP + 2
    engine.dispose()


def test_the_push_instruction_count_script_runs_w8s_requests_and_the_baseline(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bench/push_instructions.py's ``w8`` (W8's requests into either app, without valgrind: no
    wait at READY/DONE) and ``baseline`` (S1's requests into the yardstick): every request lands."""
    import structlog
    from sqlalchemy import create_engine, text

    from bench import push_instructions

    logging = structlog.get_config()  # w8 logs warnings only, as W8's servers: not for the tests after this one
    try:
        for app, endpoint in (("clinicsync", "rest"), ("clinicsync", "calcom"), ("baseline", "rest")):
            push_instructions.w8(app, endpoint, tmp_path / f"{app}-{endpoint}", 2)
            assert f"{app} {endpoint}: " in capsys.readouterr().out
    finally:
        structlog.configure(**logging)
    engine = create_engine(f"sqlite:///{tmp_path / 'clinicsync-rest' / 'store.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM appointment")).scalar_one() == 32
    engine.dispose()
    push_instructions.baseline(tmp_path / "yardstick", 2)
    engine = create_engine(f"sqlite:///{tmp_path / 'yardstick' / 'baseline.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM bench_w8_baseline")).scalar_one() == \
            push_instructions.WARM_UP + 2
    engine.dispose()
