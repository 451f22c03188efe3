"""The embedded default runs end to end through the CLI."""

import json
from datetime import date, timedelta
from pathlib import Path

from clinicsync.sync.cli.demo import generate_rows, write_csv
from tests.conftest import ROOT


def test_root_settings_import_the_sample(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    settings = (ROOT / "settings.yaml").read_text()
    drop = tmp_path / "drop"  # what `clinicsync demo reset` writes to examples/drop
    write_csv(generate_rows(date.today() + timedelta(days=1)), drop / "appointments.csv")
    (tmp_path / "settings.yaml").write_text(settings.replace("drop_dir: examples/drop", f"drop_dir: {drop}"))
    run = cli(tmp_path / "settings.yaml")
    _, out, _ = run("sync", "--once", "--json")
    first = json.loads(out)["connectors"]["demo-csv"]
    assert first["created"] > 200 and first["quarantined"] == 6 and first["error"] is None  # six bad rows
    _, out, _ = run("sync", "--once", "--json")
    again = json.loads(out)["connectors"]["demo-csv"]
    assert again["created"] == again["updated"] == 0
