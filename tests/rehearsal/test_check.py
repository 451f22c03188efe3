"""`clinicsync check` rehearses every path: it reads the whole source (a bad row in the middle
or at the end is found, each reason with an example position), ends with one summary line,
exits 1 when records would be quarantined, and names what a sample cannot show: locations
without a place, a status page nobody can open, SMS without a reply prompt."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.cli.demo import DOCTORS, generate_rows
from tests.rehearsal.support import csv_connector, mapping, row, visit_start, write_export

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = re.compile(r"^checked: (\d+) sources, (\d+) records sampled, (\d+) would be quarantined"
                     r"(?: \(reasons: (.+)\))?, (\d+) problems$")


@pytest.fixture
def demo(tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shipped demo, as a new user runs it: settings.yaml and `clinicsync demo reset`."""
    shutil.copy(ROOT / "settings.yaml", tmp_path / "settings.yaml")
    monkeypatch.setenv("CLINICSYNC_STORE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    run = cli(tmp_path / "settings.yaml")
    run("demo", "reset")
    return run


def test_check_on_the_demo_ends_with_a_summary_and_fails_on_its_six_bad_rows(demo: Any) -> None:
    _, out, _ = demo("check", expect=1)
    last = out.strip().splitlines()[-1]
    found = SUMMARY.match(last)
    assert found, last
    sources, sampled, quarantined, reasons, problems = found.groups()
    assert (sources, quarantined, problems) == ("1", "6", "0")
    assert int(sampled) == len(generate_rows(visit_start().date()))  # the whole file, not its first 20
    assert {"external_id", "start", "end", "status", "patient.external_id"} <= {
        part.rsplit(" x", 1)[0] for part in reasons.split(", ")}
    text = " ".join(out.split())
    for *_, location in DOCTORS:  # no clinic.places in the demo: every location is named
        assert f"location {location!r}" in text and "has no entry in clinic.places" in text
    assert "no reply prompt" in text  # the demo has no server.public_url
    assert "Quill" not in out and "+1" not in out  # no patient data
    demo("check", "--allow-quarantined")


def test_a_place_for_every_location_silences_the_warning(demo: Any, tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    locations = sorted({location for *_, location in DOCTORS})
    places = "".join(f"    {location!r}: {{address: 1 Main Street}}\n" for location in locations[:-1])
    settings.write_text(settings.read_text().replace("clinic:\n", f"clinic:\n  places:\n{places}", 1))
    _, out, _ = demo("check", "--json", expect=1)
    places_found = [f["message"] for f in json.loads(out)["findings"] if f["part"] == "places"]
    assert len(places_found) == 1 and repr(locations[-1]) in places_found[0]


@pytest.fixture
def export(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path], cli: Any) -> Callable[..., Any]:
    def configure(rows: list[dict[str, str]], extra: str = "") -> Any:
        write_export(drop_dir / "export.csv", rows)
        return cli(write_settings(csv_connector(drop_dir, mapping(tmp_path)), extra=extra))

    return configure


def test_a_bad_row_in_the_middle_and_one_at_the_end_are_found(export: Callable[..., Any], drop_dir: Path) -> None:
    start = visit_start()
    rows = [row(n, start) for n in range(3000)]
    rows[1500]["status"] = "maybe"  # line 1502 of the file
    rows[-1]["start"] = "soon-ish"  # line 3001
    _, out, _ = export(rows)("check", "--json", expect=1)
    sample = json.loads(out)["connectors"][0]["sample"]
    assert sample["whole"] and sample["records"] == 3000 and sample["mapped"] == 2998
    assert sample["positions"] == {"first": "export.csv:2", "middle": "export.csv:1502", "last": "export.csv:3001"}
    examples = {reason.split(":")[0]: where for reason, where in sample["examples"].items()}
    assert examples == {"status": "export.csv:1502", "start": "export.csv:3001"}
    assert (drop_dir / "export.csv").exists()  # nothing archived
    _, capped, _ = export(rows)("check", "--json", "--max-records", "100")  # a cap says it stopped
    connector = json.loads(capped)["connectors"][0]
    assert connector["sample"]["records"] == 100 and "stopped after 100 records" in connector["note"]


def test_a_server_without_status_page_users_is_pointed_out(export: Callable[..., Any]) -> None:
    rows = [row(1, visit_start())]
    _, out, _ = export(rows, "server: {public_url: 'https://clinic.example'}\n")("check", "--json")
    findings = {f["part"]: f["message"] for f in json.loads(out)["findings"]}
    assert "nobody can open /ui" in findings["status page"]
    assert "reply prompt" not in findings  # public_url is set: SMS ask for a reply
    _, quiet, _ = export(rows)("check", "--json")  # no server: no status page to open
    assert "status page" not in {f["part"] for f in json.loads(quiet)["findings"]}
