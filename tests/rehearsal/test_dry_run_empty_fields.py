"""`sync --once --dry-run` says when a mapped field is empty on every record of the run — a
misspelt column maps without an error — once per field, with a count and no patient data."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.rehearsal.support import csv_connector, mapping, row, visit_start, write_export


def test_a_misspelt_phone_column_is_named_once(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path],
                                               cli: Any) -> None:
    rows = [row(n, visit_start()) for n in range(40)]
    write_export(drop_dir / "export.csv", rows)
    run = cli(write_settings(csv_connector(drop_dir, mapping(tmp_path, phone_column="patient_phnoe"))))
    _, out, err = run("sync", "--once", "--dry-run")
    warned = [line for line in err.splitlines() if "patient.phone" in line]
    assert warned == ["warning: export: patient.phone is empty on all 40 records mapped in this run — check the "
                      "column name in the mapping"]
    assert "patient.name" not in err  # filled fields are not named
    assert all(r["patient_name"] not in out + err and r["patient_phone"] not in out + err for r in rows)
    _, report, _ = run("sync", "--once", "--dry-run", "--json")
    empty = json.loads(report)["empty_fields"]["export"]
    assert "patient.phone" in empty["fields"] and empty["records"] == 40


def test_the_right_column_draws_no_warning(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path],
                                           cli: Any) -> None:
    write_export(drop_dir / "export.csv", [row(n, visit_start()) for n in range(5)])
    run = cli(write_settings(csv_connector(drop_dir, mapping(tmp_path))))
    _, _, err = run("sync", "--once", "--dry-run")
    assert "patient.phone" not in err
