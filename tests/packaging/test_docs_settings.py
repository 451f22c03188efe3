"""The settings files the docs present as complete are run, so docs and defaults cannot drift
apart again (issue 57 obs 6: getting-started's minimal file named no notifier, notifiers.md
said the default was the dry-run outbox, and every reminder was skipped "no reachable channel"
while `check` said 0 problems).

A complete file is a ```yaml block whose first line is a comment naming `settings.yaml`. Each
is written as it stands into a folder of its own; only what points outside the test is
changed: a `store.url` naming a server path goes to the test's folder, and `connectors: []`
("your sources here"), or no `connectors:` at all (discover adds the key), gets one CSV drop
folder holding a visit two days ahead. Then what an
admin runs: `check`, `sync --once` (the quiet baseline plans its reminders) and `remind --once`
at the 1-day reminder's time. With no `notifiers:` key the reminder must be a file in the
dry-run outbox beside the settings, and `check` and `remind` must say that it is one.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.conftest import ROOT, seed_sqlite_store

PAGES = ("getting-started.md", "configuration.md", "notifiers.md")
_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)
_COMPLETE = re.compile(r"\A#[^\n]*settings\.yaml")
HEADER = ("appointment_id,start,duration_minutes,timezone,status,type,location,patient_id,patient_name,"
          "patient_phone,doctor_id,doctor_email\n")


def complete_blocks() -> list[Any]:
    found = []
    for page in PAGES:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            if _COMPLETE.match(match.group(1)):
                line = text.count("\n", 0, match.start()) + 1
                found.append(pytest.param(match.group(1), id=f"{page}:{line}"))
    return found


BLOCKS = complete_blocks()


def test_the_pages_present_complete_files() -> None:
    """Each page keeps its complete file (a block renamed away would silently stop being run)."""
    assert {str(b.id).split(":")[0] for b in BLOCKS} == set(PAGES)


def _site(block: str, folder: Path, request: pytest.FixtureRequest) -> tuple[Path, datetime]:
    """The block as a settings file in ``folder``, with a store there and a source of one visit."""
    data = yaml.safe_load(block)
    store = folder / ".clinicsync" / "clinicsync.db"  # the default beside the file
    if "store" in data:
        store = folder / "store.db"
        data["store"]["url"] = f"sqlite:///{store}"
    seed_sqlite_store(store, request)  # migrated already: what `db upgrade` leaves
    zone = data["clinic"]["timezone"]
    start = (datetime.now(ZoneInfo(zone)) + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    if not data.get("connectors"):
        drop = folder / "drop"
        drop.mkdir()
        (drop / "export.csv").write_text(
            HEADER + f"v1,{start:%Y-%m-%d %H:%M},30,,booked,Follow-up,Main Street,p1,Ana Ruiz,"
                     "(212) 555-0142,dr-a,dr.a@clinic.example.org\n", encoding="utf-8")
        data["connectors"] = [{"name": "frontdesk", "kind": "csv", "mapping": "csv_default", "drop_dir": "drop",
                               "settle_seconds": 0}]
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path, start


@pytest.mark.parametrize("block", BLOCKS)
def test_a_documented_complete_settings_file_runs_and_its_messages_land_where_the_docs_say(
        block: str, tmp_path: Path, cli: Any, request: pytest.FixtureRequest) -> None:
    path, start = _site(block, tmp_path, request)
    run = cli(path)
    _, out, _ = run("check", "--offline")
    flat = " ".join(out.split())
    assert "0 would be quarantined" in flat
    data = yaml.safe_load(block)
    if "notifiers" not in data:
        _, out, _ = run("check", "--json")
        assert any("the default (the settings name no notifiers)" in n["detail"] and n["kind"] == "outbox"
                   for n in yaml.safe_load(out)["notifiers"])
    _, out, _ = run("sync", "--once")
    due = start - timedelta(days=1) + timedelta(minutes=1)
    _, out, err = run("remind", "--once", "--at", due.isoformat())
    assert "sent 1," in out
    if "notifiers" not in data:
        outbox = tmp_path / ".clinicsync" / "outbox"
        assert [p.suffix for p in outbox.glob("*/*")] == [".json"]  # the 1-day SMS, as a file
        (sms,) = outbox.glob("*/*")
        assert json.loads(sms.read_text(encoding="utf-8"))["body"].startswith(f"{data['clinic']['name']}: ")
        said = " ".join(err.split())
        assert "go to the dry-run outbox (the settings name no notifiers: the default)" in said
        assert "none reached a patient" in said
