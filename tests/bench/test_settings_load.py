"""bench/settings_load.py writes settings that load: N written sources and an N-row fleet give
the same N sources (a bench that measured a refused file would measure an error)."""

from __future__ import annotations

from pathlib import Path

from bench.settings_load import fleet, written
from clinicsync.sync.config.settings import load_settings


def test_the_bench_files_load_to_the_same_number_of_sources(tmp_path: Path) -> None:
    (tmp_path / "written.yaml").write_text(written(50))
    (tmp_path / "fleet.yaml").write_text(fleet(50, tmp_path))
    full, listed = load_settings(tmp_path / "written.yaml"), load_settings(tmp_path / "fleet.yaml")
    assert len(full.connectors) == len(listed.connectors) == len(listed.sites) == 50
    assert listed.connector("p00007").url == "postgresql://reader@db0.example/d7"  # type: ignore[attr-defined]
