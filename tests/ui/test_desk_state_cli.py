"""One status everywhere (issue 67, observation 3): a visit the front desk recorded as a no-show
is a no-show in `appointments show`, `appointments list` and their JSON, as it is on the pages,
with the source's own status beside it. Through the real desk action and the real CLI."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.desk.actions import record_action, seen_of
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import appointment, put
from tests.ui.test_desk import DESK

pytestmark = pytest.mark.anyio
A = Appointment.__table__  # type: ignore[attr-defined]


async def test_a_desk_no_show_is_the_visits_state_in_the_cli_and_its_json(
        desk: tuple[httpx.AsyncClient, dict[str, int]], store: Store, tmp_path: Path, cli: Any) -> None:
    client, ids = desk
    target = ids["A8"]
    with store.engine.connect() as connection:
        start = connection.execute(select(A.c.start_utc).where(A.c.id == target)).scalar_one()
    settings = load_settings(tmp_path / "settings.yaml")
    record_action(settings, store, target, "no_show", "deskmain", "front_desk", start + timedelta(minutes=20),
                  seen=seen_of(store, [target])[target].digest)
    page = (await client.get(f"/ui/appointments/{target}", headers=DESK)).text
    assert 'id="desk-state"><span class="badge desk-state no-show">no-show</span>' in page
    run = cli(tmp_path / "settings.yaml")
    _, shown, _ = run("appointments", "show", "csv:A8")
    status = next(line for line in shown.splitlines() if line.lstrip().startswith("status"))
    assert "no-show" in status and "booked" in status.split("no-show", 1)[1], shown  # the desk's, then the source's
    _, listed, _ = run("appointments", "list", "--all", "--format", "plain")
    row = next(line for line in listed.splitlines() if "csv:A8" in line)
    assert "no-show" in row, listed
    _, raw, _ = run("appointments", "show", "csv:A8", "--json")
    data = orjson.loads(raw)
    assert (data["status"], data["desk_state"]) == ("booked", "no-show")
    _, raw, _ = run("appointments", "list", "--all", "--json")
    states = {(r["external_id"], r["desk_state"]) for r in orjson.loads(raw)["items"]}
    assert ("A8", "no-show") in states and ("A5", None) in states


async def test_show_takes_an_id_one_source_alone_has(
        desk: tuple[httpx.AsyncClient, dict[str, int]], store: Store, tmp_path: Path, cli: Any) -> None:
    """`appointments show A8` was refused ("give CONNECTOR:EXTERNAL_ID") where only csv has A8."""
    run = cli(tmp_path / "settings.yaml")
    _, shown, _ = run("appointments", "show", "A8")
    assert re.search(r"appointment\s+csv:A8", shown), shown
    code, _, err = run("appointments", "show", "A999", expect=None)
    assert code == 1
    put(store, appointment("A8", datetime(2026, 12, 1, 15, tzinfo=UTC)), connector="sql")
    code, _, err = run("appointments", "show", "A8", expect=None)
    assert code == 2 and "csv:A8" in err and "sql:A8" in err, err  # two sources: it asks which
