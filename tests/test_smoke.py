"""The embedded default runs end to end through the CLI."""

import json
from pathlib import Path

from tests.conftest import ROOT


def test_root_settings_import_the_sample(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    settings = (ROOT / "settings.yaml").read_text()
    (tmp_path / "settings.yaml").write_text(settings.replace("drop_dir: examples/drop",
                                                             f"drop_dir: {ROOT / 'examples' / 'drop'}"))
    run = cli(tmp_path / "settings.yaml")
    _, out, _ = run("sync", "--once", "--json")
    first = json.loads(out)["connectors"]["demo-csv"]
    # six deliberately bad rows: five quarantined; BAD-PHONE's unusable phone is dropped with a note
    assert first["created"] > 200 and first["quarantined"] == 5 and first["error"] is None
    _, out, _ = run("appointments", "show", "demo-csv:BAD-PHONE", "--json")
    assert json.loads(out)["notes"] == ["patient.phone: dropped (not a valid phone number (region US))"]
    _, out, _ = run("sync", "--once", "--json")
    again = json.loads(out)["connectors"]["demo-csv"]
    assert again["created"] == again["updated"] == 0
