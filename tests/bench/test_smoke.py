"""Every benchmark runs at a tiny size (``--smoke``) and prints a complete table. Nothing
here looks at a time: the figures are checked for shape, never for speed."""

from __future__ import annotations

import importlib

import pytest

from bench.__main__ import workloads


@pytest.mark.parametrize("name", workloads())
def test_workload_runs_at_smoke_size(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    tables = module.main(["--smoke", "--quiet"])
    assert tables, f"{name} produced no table"
    for table in tables:
        assert table.rows, f"{table.title}: no rows"
        for row in table.rows:
            missing = [c for c in table.columns if c not in row]
            assert not missing, f"{table.title}: row {row} lacks {missing}"
